//! The generated Nginx gateway, checked by the real nginx (Debian's; PHOENIX_NGINX=<binary>):
//! `nginx -t` accepts the main and gateway files, a candidate copy of them is checked in its
//! own directory (the relative include), and the running gateway carries an HTTPS request for
//! a routed name to a stand-in for Traefik with the Host header intact (the upstream verified
//! by name against the throwaway lab root), refuses the handshake for an unknown name,
//! redirects plain HTTP and still serves ACME challenges.

use crate::support::real_tools::{curl, https_echo, make_ca, make_leaf, tool, wait_for_port, Running};
use crate::support::sshd::free_port;
use phoenix::generate::nginx::{gateway_config, main_config, GatewayOptions, MainOptions, GATEWAY_FILE};
use phoenix::inventory::edge::{Edge, Route, Scheme, Upstream};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DOMAIN: &str = "lab.test";

fn edge() -> Edge {
    let route = |name: &str| Route {
        name: name.into(),
        host: format!("{name}.{DOMAIN}"),
        upstream: Upstream::Server { scheme: Scheme::Http, ip: Ipv4Addr::LOCALHOST, port: 1, guest: 100 },
        declared_in: format!("test {name}"),
    };
    Edge {
        domain: DOMAIN.into(),
        ca: None,
        traefik: None,
        gateway: None,
        routes: vec![route("portainer"), route("qwen")],
        dns_records: vec![],
    }
}

/// `nginx -t` of the main file in `dir` (its relative include resolves inside `dir`).
fn nginx_t(nginx: &Path, prefix: &Path, dir: &Path) -> Output {
    Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .expect("run nginx -t")
}

fn write_conf(dir: &Path, main: &str, gateway: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    std::fs::write(dir.join(GATEWAY_FILE), gateway).unwrap();
}

#[test]
fn real_nginx_checks_and_serves_the_generated_gateway() {
    let Some(nginx) = tool("nginx", "PHOENIX_NGINX") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // nginx's workers (nobody when the test runs as root) read the ACME files.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    make_ca(d);
    let names: Vec<String> = edge().routes.iter().map(|r| r.host.clone()).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    make_leaf(d, "gateway", &name_refs);
    // The stand-in for Traefik presents a certificate for the routed names (as Traefik does).
    make_leaf(d, "traefik", &[&format!("*.{DOMAIN}")]);
    let Some((_traefik, traefik_port)) = https_echo("traefik", &d.join("traefik.crt"), &d.join("traefik.key")) else {
        panic!("python3 is needed for the HTTPS test upstream");
    };

    let prefix = d.join("prefix");
    std::fs::create_dir_all(&prefix).unwrap();
    let acme = d.join("acme");
    std::fs::create_dir_all(acme.join(".well-known/acme-challenge")).unwrap();
    std::fs::write(acme.join(".well-known/acme-challenge/token-1"), "token-1.thumbprint").unwrap();
    std::fs::write(d.join("mime.types"), "types {\n    text/plain txt;\n}\n").unwrap();
    let main = main_config(&MainOptions {
        user: None,
        pid: d.join("nginx.pid").display().to_string(),
        error_log: d.join("error.log").display().to_string(),
        access_log: d.join("access.log").display().to_string(),
        modules: None,
        mime_types: d.join("mime.types").display().to_string(),
    })
    .unwrap();
    let (http, https) = (free_port(), free_port());
    let mut opts = GatewayOptions::lab_defaults(format!("127.0.0.1:{traefik_port}"));
    opts.listen_addr = Some("127.0.0.1".into());
    opts.http_port = http;
    opts.https_port = https;
    opts.cert_file = d.join("gateway.crt").display().to_string();
    opts.key_file = d.join("gateway.key").display().to_string();
    opts.root_ca_file = d.join("ca.crt").display().to_string();
    opts.acme_root = acme.display().to_string();
    let gateway = gateway_config(&edge(), &opts).unwrap();

    let live: PathBuf = d.join("etc");
    write_conf(&live, &main, &gateway);
    let started = Instant::now();
    let check = nginx_t(&nginx, &prefix, &live);
    let took = started.elapsed();
    assert!(
        check.status.success(),
        "nginx -t refused the generated files:\n{}\n{gateway}",
        String::from_utf8_lossy(&check.stderr)
    );
    eprintln!("nginx: `nginx -t` of the generated configuration took {} ms", took.as_millis());

    // A candidate with a mistake, beside the live files: its check fails with nginx's own
    // message naming the candidate, and says nothing about the live files.
    let candidate = d.join("candidate");
    let broken = gateway.replace(&opts.cert_file, &d.join("missing.crt").display().to_string());
    write_conf(&candidate, &main, &broken);
    let bad = nginx_t(&nginx, &prefix, &candidate);
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "{msg}");
    assert!(msg.contains("[emerg]") && msg.contains("missing.crt"), "{msg}");
    // missing.crt is named only by the candidate's gateway file: the include resolved there.
    assert!(msg.contains(&format!("configuration file {}/nginx.conf test failed", candidate.display())), "{msg}");

    let _nginx = Running(
        Command::new(&nginx)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(live.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    );
    wait_for_port(https, Duration::from_secs(10));
    let ca = d.join("ca.crt");
    for host in &names {
        let got = curl(&format!("https://{host}:{https}/v1/models"), &format!("{host}:{https}"), &ca, &[]);
        let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
        assert_eq!(got.status, 200, "{host}: {} {} {log}", got.body, got.stderr);
        assert_eq!(got.body, format!("upstream=traefik host={host}\n"));
    }
    // A websocket upgrade is passed on; the original scheme and client are forwarded.
    let host = &names[0];
    let ws = curl(
        &format!("https://{host}:{https}/ws"),
        &format!("{host}:{https}"),
        &ca,
        &["--http1.1", "-H", "Upgrade: websocket", "-H", "Connection: Upgrade"],
    );
    let seen = ws.headers.to_ascii_lowercase();
    for h in [
        "x-seen-upgrade: websocket",
        "x-seen-connection: upgrade",
        "x-seen-x-forwarded-proto: https",
        "x-seen-x-forwarded-for: 127.0.0.1",
    ] {
        assert!(seen.contains(h), "{h} missing: {seen}");
    }
    let plain = curl(&format!("https://{host}:{https}/"), &format!("{host}:{https}"), &ca, &[]);
    assert!(plain.headers.to_ascii_lowercase().contains("x-seen-connection: close"), "{}", plain.headers);
    // An unknown name gets no certificate at all: the handshake is refused.
    let unknown = format!("unknown.{DOMAIN}");
    let got = curl(&format!("https://{unknown}:{https}/"), &format!("{unknown}:{https}"), &ca, &["-k"]);
    assert_eq!(got.status, 0, "{}", got.body);
    assert!(got.stderr.contains("unrecognized name"), "{}", got.stderr);
    // Plain HTTP: redirected, except ACME challenges.
    let host = &names[0];
    let got = curl(&format!("http://{host}:{http}/a?b=1"), &format!("{host}:{http}"), &ca, &[]);
    assert_eq!(got.status, 301, "{}", got.headers);
    assert!(got.headers.to_ascii_lowercase().contains(&format!("location: https://{host}/a?b=1")), "{}", got.headers);
    let got =
        curl(&format!("http://{host}:{http}/.well-known/acme-challenge/token-1"), &format!("{host}:{http}"), &ca, &[]);
    assert_eq!((got.status, got.body.as_str()), (200, "token-1.thumbprint"), "{}", got.stderr);
}

/// The production main file exactly as the stage writes it (Debian's paths, `user www-data`),
/// with the gateway for the example's names, passes `nginx -t`. Needs root (the user directive,
/// /var/log/nginx) and Debian's /etc/nginx/mime.types; skipped with the reason otherwise.
#[test]
fn real_nginx_accepts_the_production_main_file() {
    let Some(nginx) = tool("nginx", "PHOENIX_NGINX") else { return };
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref().ok() != Some("0") || !Path::new("/etc/nginx/mime.types").is_file() {
        eprintln!("SKIPPED: the production main file is checked only as root with Debian's /etc/nginx/mime.types");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    make_ca(d);
    make_leaf(d, "gateway", &["portainer.lab.test", "qwen.lab.test"]);
    let mut opts = GatewayOptions::lab_defaults("10.20.0.12:443".into());
    opts.cert_file = d.join("gateway.crt").display().to_string();
    opts.key_file = d.join("gateway.key").display().to_string();
    opts.root_ca_file = d.join("ca.crt").display().to_string();
    opts.acme_root = d.display().to_string();
    write_conf(d, &main_config(&MainOptions::debian()).unwrap(), &gateway_config(&edge(), &opts).unwrap());
    let started = Instant::now();
    // Debian's compiled-in prefix, where its modules-enabled files' relative module paths lead
    // (the stage runs `nginx -t -c <candidate>` without -p, so the same one).
    let check = nginx_t(&nginx, Path::new("/usr/share/nginx"), d);
    eprintln!("nginx: `nginx -t` of the production main file took {} ms", started.elapsed().as_millis());
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}
