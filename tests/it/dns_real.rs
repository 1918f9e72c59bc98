//! The generated dnsmasq configuration against the real dnsmasq: `dnsmasq --test` accepts the
//! file the DNS stage writes for the example configuration, and a real dnsmasq on a loopback
//! port serving it answers every record (`dig`). Needs the Debian packages dnsmasq (or
//! dnsmasq-base) and dnsutils (scripts/test installs them); without them the test is skipped
//! with its reason, except under CI=true where a missing tool fails it.

use crate::support::phoenix::{ok, root, sim, Sandbox};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tool's path, or None (a skip, unless CI is set: then a failure).
fn tool(name: &str, candidates: &[&str]) -> Option<String> {
    let found = candidates.iter().find(|p| std::path::Path::new(p).exists()).map(|p| p.to_string());
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "{name} is not installed, and CI=true requires the real validators (apt-get install dnsmasq dnsutils)"
        );
        eprintln!("skipped: {name} is not installed (apt-get install dnsmasq dnsutils; scripts/test does it)");
    }
    found
}

/// The dnsmasq file `sync dns` writes for the example, read back from the simulator.
fn generated_conf() -> String {
    let sb = Sandbox::new();
    ok(&sb.run(&root().join("etc"), &["sync", "dns"]));
    sim(&sb)["files"]["/etc/dnsmasq.d/phoenix.conf"]["content"].as_str().expect("dnsmasq file written").to_string()
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Kills the test's dnsmasq however the test ends.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dig(dig: &str, port: u16, name: &str) -> String {
    let out = Command::new(dig)
        .args(["@127.0.0.1", "-p", &port.to_string(), "+short", "+time=1", "+tries=1", name])
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn real_dnsmasq_accepts_the_file_and_answers_every_record() {
    let Some(dnsmasq) = tool("dnsmasq", &["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]) else { return };
    let Some(dig_bin) = tool("dig", &["/usr/bin/dig"]) else { return };
    let conf = generated_conf();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("phoenix.conf");
    std::fs::write(&file, &conf).unwrap();

    let started = Instant::now();
    let test = Command::new(&dnsmasq).arg("--test").arg("-C").arg(&file).output().expect("dnsmasq runs");
    let test_ms = started.elapsed().as_millis();
    let said = String::from_utf8_lossy(&test.stderr);
    assert!(
        test.status.success() && said.contains("syntax check OK"),
        "dnsmasq --test refused the file: {said}\n{conf}"
    );
    eprintln!("dnsmasq --test: {test_ms} ms");

    // The expected answers, from the file itself: every host-record line.
    let records: Vec<(String, String)> = conf
        .lines()
        .filter_map(|l| l.strip_prefix("host-record="))
        .map(|r| {
            let (name, ip) = r.rsplit_once(',').expect("name,ip");
            (name.to_string(), ip.to_string())
        })
        .collect();
    assert!(records.len() >= 10, "the example has many names: {records:?}");
    assert!(records.iter().any(|(n, ip)| n == "qdrant.lab.example.internal" && ip == "10.20.0.20"));

    // Served on loopback: the host address of the example is not this machine's, so the
    // listen-address line gives way to 127.0.0.1 (everything else is the file as written).
    let live: String = conf.lines().filter(|l| !l.starts_with("listen-address=")).map(|l| format!("{l}\n")).collect();
    let live_file = dir.path().join("live.conf");
    std::fs::write(&live_file, live).unwrap();
    let port = free_port();
    let child = Command::new(&dnsmasq)
        .args([
            "--no-daemon",
            "--bind-interfaces",
            "--listen-address",
            "127.0.0.1",
            "--no-hosts",
            "--user=root",
            "--pid-file=",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--conf-file={}", live_file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq starts");
    let _guard = Child(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    let (first, first_ip) = &records[0];
    while dig(&dig_bin, port, first) != *first_ip {
        assert!(Instant::now() < deadline, "dnsmasq did not answer on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    for (name, ip) in &records {
        assert_eq!(dig(&dig_bin, port, name), *ip, "{name}");
    }
    // The lab's domain is answered locally only: an unknown name is not forwarded.
    assert_eq!(dig(&dig_bin, port, "nobody.lab.example.internal"), "");
}
