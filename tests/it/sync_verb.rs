//! The sync verb and its runner, through the binary on the simulator: stage names checked
//! before anything runs, a stage's missing or stopped guest named with the remedy while the
//! other stages still run, a missing stage module reported (not a crash), the summary, the exit
//! code; and the DNS stage converging to reads only.

use crate::support::phoenix::{copy_dir, events, ok, root, sim, stderr, Sandbox};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A phoenix home (plans/, stdlib/, etc/) copied from this checkout, so a test can add or
/// change stage modules on disk the way an operator would.
fn home(sb: &Sandbox) -> PathBuf {
    let h = sb.dir.path().join("home");
    for d in ["plans", "stdlib", "etc"] {
        copy_dir(&root().join(d), &h.join(d));
    }
    h
}

fn run_in(sb: &Sandbox, home: &Path, args: &[&str]) -> Output {
    sb.command(&home.join("etc"), args).env("PHOENIX_HOME", home).output().expect("phoenix runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_unknown_stage_is_a_usage_error_with_the_closest_name() {
    let sb = Sandbox::new();
    let out = sb.run(&root().join("etc"), &["sync", "dsn"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unknown sync stage `dsn`"), "{err}");
    assert!(err.contains("did you mean `dns`?"), "{err}");
    assert!(err.contains("stages: all, certs, dns, firewall, portainer, traefik, nginx, stacks"), "{err}");
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "nothing may change");
    let none = sb.run(&root().join("etc"), &["sync"]);
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
}

#[test]
fn a_stage_whose_guest_is_missing_fails_with_the_remedy_and_the_others_still_run() {
    let sb = Sandbox::new();
    let h = home(&sb);
    let sync = h.join("stdlib/sync");
    // Stages written the way the contract says; an `audit` stage is in the order but has no
    // module (on disk or built in), on purpose.
    for s in ["traefik", "nginx"] {
        let _ = std::fs::remove_file(sync.join(format!("{s}.rhai")));
    }
    let runner = h.join("stdlib/sync.rhai");
    let text = std::fs::read_to_string(&runner).unwrap();
    let text = text.replace("\"nginx\", \"stacks\"]", "\"nginx\", \"stacks\", \"audit\"]");
    assert!(text.contains("\"audit\""), "the runner's order() was found");
    std::fs::write(&runner, text).unwrap();
    std::fs::write(
        sync.join("traefik.rhai"),
        "fn needs() { [#{ id: 102, role: \"traefik\", running: true }] }\nfn run() { log::info(\"traefik stage ran\"); }\n",
    )
    .unwrap();
    std::fs::write(sync.join("nginx.rhai"), "fn run() { throw \"nginx -t: bad directive\"; }\n").unwrap();
    ok(&run_in(&sb, &h, &["setup"]));

    let out = run_in(&sb, &h, &["sync", "all"]);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("traefik    failed: guest 102 (traefik) does not exist: phoenix create 102"), "{text}");
    assert!(!text.contains("traefik stage ran"), "a blocked stage must not run: {text}");
    assert!(text.contains("certs      failed: guest 103 (ca) does not exist: phoenix create 103"), "{text}");
    assert!(text.contains("audit      failed: stdlib/sync/audit.rhai does not exist"), "{text}");
    assert!(text.contains("firewall   ok"), "{text}");
    assert!(text.contains("nginx      failed: nginx -t: bad directive"), "{text}");
    assert!(text.contains("dns        ok"), "{text}");
    assert!(
        text.contains("portainer  failed: guest 1001 (portainer server) does not exist: phoenix create 1001"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("6 sync stage(s) failed: certs, portainer, traefik, nginx, stacks, audit"),
        "{}",
        stderr(&out)
    );
    // DNS ran although other stages failed (the rehearsal did not stop the apply).
    let state = sim(&sb);
    assert!(state["files"]["/etc/dnsmasq.d/phoenix.conf"].is_object(), "dnsmasq file written");

    // Once the guest exists but is stopped, the remedy is to start it.
    ok(&run_in(&sb, &h, &["create", "102"]));
    ok(&run_in(&sb, &h, &["stop", "102"]));
    let out = run_in(&sb, &h, &["sync", "traefik"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("guest 102 (traefik) is stopped: phoenix start 102"), "{text}");
    ok(&run_in(&sb, &h, &["start", "102"]));
    let out = run_in(&sb, &h, &["sync", "traefik"]);
    ok(&out);
    assert!(stdout(&out).contains("traefik stage ran"), "{}", stdout(&out));
}

#[test]
fn dns_stage_writes_checked_records_then_only_reads() {
    let sb = Sandbox::new();
    let etc = root().join("etc");
    let first = sb.run(&etc, &["sync", "dns", "--output", "json"]);
    ok(&first);
    let state = sim(&sb);
    let conf = state["files"]["/etc/dnsmasq.d/phoenix.conf"]["content"].as_str().expect("file content").to_string();
    assert!(conf.contains("host-record=qdrant.lab.example.internal,10.20.0.20\n"), "{conf}");
    assert!(conf.contains("host-record=ca.lab.example.internal,10.20.0.10\n"), "{conf}");
    assert!(conf.contains("server=9.9.9.9\nserver=1.1.1.1\n"), "{conf}");
    assert_eq!(state["host_units"]["dnsmasq.service"]["active"], true);
    // The candidate was checked by dnsmasq before it was written.
    let commands = sb.sim_commands();
    let test_at =
        commands.iter().position(|(a, _)| a.first().is_some_and(|p| p == "dnsmasq")).expect("dnsmasq --test ran");
    let write_at = commands
        .iter()
        .position(|(a, _)| a.iter().any(|x| x.contains("/etc/dnsmasq.d/phoenix.conf")) && a[0] != "file.read")
        .expect("conf written");
    assert!(test_at < write_at, "checked before installed: {commands:?}");

    sb.clear_sim_log();
    let again = sb.run(&etc, &["sync", "dns", "--output", "json"]);
    ok(&again);
    let changes: Vec<_> = events(&again).into_iter().filter(|e| e["event"] == "action").collect();
    assert!(changes.is_empty(), "converged: {changes:?}");
    let writes: Vec<_> = sb.sim_commands().into_iter().filter(|(_, m)| *m).collect();
    assert!(writes.is_empty(), "a converged DNS stage sends only reads: {writes:?}");
}

#[test]
fn dns_stage_refuses_a_configuration_dnsmasq_rejects_and_installs_nothing() {
    let sb = Sandbox::new();
    let h = home(&sb);
    ok(&run_in(&sb, &h, &["sync", "dns"]));
    // An operator's override that breaks the file: dnsmasq's own check must stop it.
    let stage = h.join("stdlib/sync/dns.rhai");
    let text = std::fs::read_to_string(&stage).unwrap();
    let broken = text.replace(
        "let files = edge::dns_files(file::read(\"/etc/resolv.conf\"));",
        "let files = edge::dns_files(file::read(\"/etc/resolv.conf\")); files.conf += \"no-such-option\\n\";",
    );
    assert_ne!(text, broken, "the stage text changed shape; update this test");
    std::fs::write(&stage, broken).unwrap();
    let before = sim(&sb)["files"]["/etc/dnsmasq.d/phoenix.conf"].clone();
    let out = run_in(&sb, &h, &["sync", "dns"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("dnsmasq: bad option at line"), "{}", stdout(&out));
    assert_eq!(sim(&sb)["files"]["/etc/dnsmasq.d/phoenix.conf"], before, "the previous file stays");
}

#[test]
fn dns_stage_skips_when_dns_server_is_not_enabled() {
    let sb = Sandbox::new();
    let h = home(&sb);
    let hv = h.join("etc/phoenix_hypervisor_config.json");
    let text = std::fs::read_to_string(&hv)
        .unwrap()
        .replace("\"enabled\": true,\n    \"upstream_servers\"", "\"enabled\": false,\n    \"upstream_servers\"");
    std::fs::write(&hv, text).unwrap();
    let out = run_in(&sb, &h, &["sync", "dns"]);
    ok(&out);
    assert!(stdout(&out).contains("dns_server.enabled is not true"), "{}", stdout(&out));
    assert!(sb.sim_commands().iter().all(|(_, m)| !m));
}

#[test]
fn dry_run_shows_the_file_diff_old_to_new() {
    let sb = Sandbox::new();
    let h = home(&sb);
    ok(&run_in(&sb, &h, &["sync", "dns"]));
    let hv = h.join("etc/phoenix_hypervisor_config.json");
    let text =
        std::fs::read_to_string(&hv).unwrap().replace("[\"9.9.9.9\", \"1.1.1.1\"]", "[\"9.9.9.9\", \"8.8.8.8\"]");
    std::fs::write(&hv, text).unwrap();
    sb.clear_sim_log();
    let dry = run_in(&sb, &h, &["sync", "dns", "--dry-run"]);
    ok(&dry);
    let out = stdout(&dry);
    assert!(
        out.contains("--- a/etc/dnsmasq.d/phoenix.conf\n") || out.contains("--- a/etc/dnsmasq.d/phoenix.conf"),
        "{out}"
    );
    assert!(out.contains("-server=1.1.1.1") && out.contains("+server=8.8.8.8"), "{out}");
    assert!(out.contains("-nameserver 1.1.1.1") && out.contains("+nameserver 8.8.8.8"), "{out}");
    assert!(!out.contains("+host-record"), "only the changed lines and their context: {out}");
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "a dry-run only reads");
}

#[test]
fn letsgo_ends_with_the_sync_a_guest_asks_for() {
    let sb = Sandbox::new();
    let h = home(&sb);
    // Stages of other work replaced by ones that only say they ran: this test is about the
    // hand-over from letsgo (VM 1002 declares trigger_sync_on_completion).
    for s in ["certs", "firewall", "portainer", "traefik", "nginx", "stacks"] {
        std::fs::write(
            h.join(format!("stdlib/sync/{s}.rhai")),
            format!("fn run() {{ log::info(\"stage {s} ran\"); }}\n"),
        )
        .unwrap();
    }
    ok(&run_in(&sb, &h, &["setup"]));
    let out = run_in(&sb, &h, &["letsgo"]);
    ok(&out);
    let text = stdout(&out);
    assert!(text.contains("sync requested by 1002: sync all"), "{text}");
    for s in ["certs", "firewall", "portainer", "traefik", "nginx", "stacks"] {
        assert!(text.contains(&format!("stage {s} ran")), "{s}: {text}");
    }
    let summary = text.split("== Sync summary").nth(1).expect("a sync summary");
    assert!(summary.contains("dns        ok") && summary.contains("stacks     ok"), "{summary}");
}

#[test]
fn stage_modules_are_checked_before_a_run_and_needs_is_optional() {
    let sb = Sandbox::new();
    let h = home(&sb);
    // A stage without needs() (optional: the runner calls it inside `try`) passes the check.
    std::fs::write(h.join("stdlib/sync/nginx.rhai"), "fn run() { log::info(\"nginx\"); }\n").unwrap();
    let out = run_in(&sb, &h, &["check"]);
    ok(&out);
    // A typo inside a stage is found by the pre-flight check through the runner's import.
    std::fs::write(h.join("stdlib/sync/nginx.rhai"), "fn run() { log::infoo(\"nginx\"); }\n").unwrap();
    let out = run_in(&sb, &h, &["sync", "dns"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("log::infoo") && stderr(&out).contains("nginx.rhai"), "{}", stderr(&out));
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "nothing ran");
}

#[test]
fn dry_run_shows_the_diff_of_a_file_pushed_into_a_guest() {
    let sb = Sandbox::new();
    let h = home(&sb);
    ok(&run_in(&sb, &h, &["setup"]));
    ok(&run_in(&sb, &h, &["create", "102"]));
    let stage = |text: &str| {
        let body = format!(
            "fn run() {{ guest::push(102, \"/etc/phoenix-note.conf\", #{{ content: \"a = 1\\nb = {text}\\nc = 3\\n\", mode: \"0644\" }}); }}\n"
        );
        std::fs::write(h.join("stdlib/sync/nginx.rhai"), body).unwrap();
    };
    stage("2");
    ok(&run_in(&sb, &h, &["sync", "nginx"]));
    stage("20");
    let dry = run_in(&sb, &h, &["sync", "nginx", "--dry-run"]);
    ok(&dry);
    let out = stdout(&dry);
    assert!(out.contains("--- a/etc/phoenix-note.conf") && out.contains("-b = 2") && out.contains("+b = 20"), "{out}");
    assert!(out.contains(" a = 1"), "context lines: {out}");
}
