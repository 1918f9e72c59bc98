//! Every compose file phoenix deploys, checked by the real docker-compose (Debian's
//! `docker-compose` package; PHOENIX_DOCKER_COMPOSE=<binary>): `docker-compose config -q`
//! accepts it, and its services, volumes and networks are those of the operator's file apart
//! from what phoenix edits (labels; the Portainer server's command, cert mount and AGENT_SECRET;
//! the bind source of a placed stack file), compared as parsed trees.

use crate::support::real_tools::tool;
use phoenix::generate::compose::{routing_labels, Compose, Routing};
use serde_norway::Value;
use std::path::Path;
use std::process::Command;

/// The example configuration's stacks.
fn example_stacks() -> Vec<(String, String, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/stacks");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&root).unwrap() {
        let dir = e.unwrap().path();
        let compose = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("phoenix.json")).unwrap()).unwrap();
        out.push((dir.file_name().unwrap().to_str().unwrap().to_string(), compose, manifest));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 3, "the example has its stacks");
    out
}

/// The routes a service's declared traefik labels name (router → host, the one service port).
fn routes_of(labels: &[serde_json::Value]) -> Vec<Routing> {
    let labels: Vec<&str> = labels.iter().map(|l| l.as_str().unwrap()).collect();
    let port = labels.iter().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        let s = k.strip_prefix("traefik.http.services.")?.strip_suffix(".loadbalancer.server.port")?;
        Some((s.to_string(), v.parse::<u16>().unwrap()))
    });
    labels
        .iter()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let r = k.strip_prefix("traefik.http.routers.")?.strip_suffix(".rule")?;
            let host = v.strip_prefix("Host(`")?.strip_suffix("`)")?;
            let (service_key, port) = port.clone()?;
            Some(Routing { router: r.into(), host: host.into(), service_key, port, https: false })
        })
        .collect()
}

/// What phoenix deploys for a stack: labels for every routed service, stack files rebound,
/// and for the Portainer server its TLS flags and AGENT_SECRET.
fn deployed(name: &str, compose: &str, manifest: &serde_json::Value) -> String {
    let mut c = Compose::parse(name, compose).unwrap();
    let env = &manifest["environments"]["production"];
    for (svc, s) in env["services"].as_object().unwrap() {
        let routes = routes_of(s["traefik_labels"].as_array().unwrap());
        if !routes.is_empty() {
            c.set_labels(svc, &routing_labels(&routes)).unwrap();
        }
    }
    for f in env["files"].as_array().unwrap() {
        let path = format!("/opt/phoenix/stacks/{name}/{}", f["source"].as_str().unwrap());
        assert_eq!(c.rebind(f["destination_in_container"].as_str().unwrap(), &path).unwrap(), 1);
    }
    if name == "portainer_service" {
        let svc = c.portainer_service().unwrap();
        c.portainer_tls(&svc, "/etc/portainer/certs", "/certs").unwrap();
        c.pass_env(&svc, "AGENT_SECRET").unwrap();
    }
    c.to_text().unwrap()
}

/// `docker-compose config -q` on `text` in a scratch project directory.
fn compose_config_ok(bin: &Path, name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), text).unwrap();
    let out = Command::new(bin)
        .current_dir(dir.path())
        .args(["--project-name", "phoenixcheck", "-f", "docker-compose.yml", "config", "-q"])
        .output()
        .expect("run docker-compose");
    assert!(
        out.status.success(),
        "docker-compose refused the deployed {name}:\n{}\n--- file ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap()
}

/// `v` with `services.<s>.<key>` removed for every (service, key) phoenix may edit.
fn strip(mut v: Value, edited: &[(&str, &str)]) -> Value {
    if let Some(Value::Mapping(services)) = v.get_mut("services") {
        for (s, k) in edited {
            if let Some(Value::Mapping(m)) = services.get_mut(*s) {
                m.remove(*k);
            }
        }
    }
    v
}

fn fixtures() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let labels = |svc: &str, host: &str, port: u16| {
        serde_json::json!({"environments": {"production": {"files": [], "services": {svc: {"traefik_labels": [
            format!("traefik.http.routers.{svc}.rule=Host(`{host}`)"),
            format!("traefik.http.services.{svc}.loadbalancer.server.port={port}"),
        ]}}}}})
    };
    vec![
        (
            "list_labels",
            "services:\n  web:\n    image: nginx:1.27\n    labels:\n      - com.example.team=lab\n      - traefik.http.routers.web.entrypoints=web\n    networks: [front, back]\n  db:\n    image: postgres:16\n    networks: [back]\n    volumes:\n      - type: volume\n        source: db\n        target: /var/lib/postgresql/data\nvolumes:\n  db: {}\nnetworks:\n  front: {}\n  back:\n    internal: true\n",
            labels("web", "web.lab.example.internal", 80),
        ),
        (
            "map_labels",
            "services:\n  app:\n    image: ghcr.io/example/app:1\n    labels:\n      com.example.owner: ops\n    ports: [\"8080:8080\"]\n    environment:\n      - MODE=prod\n",
            labels("app", "app.lab.example.internal", 8080),
        ),
        (
            "no_labels",
            "services:\n  api:\n    image: example/api:2\n    command: [\"serve\", \"--port\", \"7000\"]\n",
            labels("api", "api.lab.example.internal", 7000),
        ),
    ]
}

#[test]
fn real_docker_compose_accepts_every_deployed_file_and_structure_is_kept() {
    let Some(bin) = tool("docker-compose", "PHOENIX_DOCKER_COMPOSE") else { return };
    let mut all: Vec<(String, String, serde_json::Value)> = example_stacks();
    all.extend(fixtures().into_iter().map(|(n, c, m)| (n.to_string(), c.to_string(), m)));
    for (name, compose, manifest) in &all {
        // The operator's file itself is valid: a refusal below is phoenix's doing.
        compose_config_ok(&bin, &format!("{name} (as written)"), compose);
        let out = deployed(name, compose, manifest);
        compose_config_ok(&bin, name, &out);

        let before = yaml(compose);
        let after = yaml(&out);
        let mut edited: Vec<(&str, &str)> = Vec::new();
        let services: Vec<String> =
            before["services"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_string()).collect();
        for s in &services {
            edited.push((s, "labels"));
        }
        if name == "portainer_service" {
            edited.extend([("portainer", "command"), ("portainer", "volumes"), ("portainer", "environment")]);
            let cmd = after["services"]["portainer"]["command"].as_sequence().unwrap();
            let cmd: Vec<&str> = cmd.iter().map(|w| w.as_str().unwrap()).collect();
            assert_eq!(
                cmd,
                [
                    "-H",
                    "unix:///var/run/docker.sock",
                    "--sslcert",
                    "/certs/portainer.crt",
                    "--sslkey",
                    "/certs/portainer.key"
                ]
            );
            let vols = after["services"]["portainer"]["volumes"].as_sequence().unwrap();
            let mut want = before["services"]["portainer"]["volumes"].as_sequence().unwrap().clone();
            want.push(Value::from("/etc/portainer/certs:/certs:ro"));
            assert_eq!(vols, &want, "the cert dir is added read-only, the other mounts kept");
        }
        if name == "qdrant_service" {
            edited.push(("qdrant", "volumes"));
            let vols = after["services"]["qdrant"]["volumes"].as_sequence().unwrap();
            assert_eq!(vols[0], before["services"]["qdrant"]["volumes"][0]);
            assert_eq!(
                vols[1].as_str(),
                Some("/opt/phoenix/stacks/qdrant_service/config/production.yaml:/qdrant/config/production.yaml:ro")
            );
        }
        let refs: Vec<(&str, &str)> = edited.iter().map(|(s, k)| (*s, *k)).collect();
        assert_eq!(strip(after.clone(), &refs), strip(before.clone(), &refs), "{name}: only phoenix's keys changed");
        assert_eq!(after["volumes"], before["volumes"], "{name}: volumes");
        assert_eq!(after["networks"], before["networks"], "{name}: networks");

        // Every routed service got its router on websecure with TLS and its port.
        let env = &manifest["environments"]["production"];
        for (svc, s) in env["services"].as_object().unwrap() {
            for r in routes_of(s["traefik_labels"].as_array().unwrap()) {
                let labels = &after["services"][svc.as_str()]["labels"];
                let has = |k: &str, v: &str| match labels {
                    Value::Mapping(m) => m.get(k).and_then(Value::as_str) == Some(v),
                    Value::Sequence(seq) => seq.iter().any(|x| x.as_str() == Some(&format!("{k}={v}"))),
                    _ => false,
                };
                let router = format!("traefik.http.routers.{}", r.router);
                assert!(has(&format!("{router}.rule"), &format!("Host(`{}`)", r.host)), "{name}/{svc}: {labels:?}");
                assert!(has(&format!("{router}.entrypoints"), "websecure"), "{name}/{svc}");
                assert!(has(&format!("{router}.tls"), "true"), "{name}/{svc}");
                let port = format!("traefik.http.services.{}.loadbalancer.server.port", r.service_key);
                assert!(has(&port, &r.port.to_string()), "{name}/{svc}");
            }
        }
    }
}

/// The validator can fail: a file phoenix would never write is refused by it.
#[test]
fn real_docker_compose_refuses_a_broken_file() {
    let Some(bin) = tool("docker-compose", "PHOENIX_DOCKER_COMPOSE") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), "services:\n  a:\n    image: x\n    labels: 3\n").unwrap();
    let out = Command::new(bin).current_dir(dir.path()).args(["config", "-q"]).output().unwrap();
    assert!(!out.status.success());
}
