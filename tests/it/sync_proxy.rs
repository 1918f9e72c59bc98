//! The Traefik and Nginx sync stages (stdlib/sync/traefik.rhai, nginx.rhai) through the binary
//! on the simulator, with the edge given as a plan value (the shape `config::edge()` returns):
//! the dry-run of the first sync equals its apply; files are put in place by rename, nginx's
//! candidate is checked with `nginx -t` before it goes live and nginx reloaded; a second sync
//! and a dry-run change nothing and send only reads (one read per managed file); a candidate
//! nginx refuses leaves the live files alone and fails with nginx's own message.

use crate::support::phoenix::{actions, root, stderr, test_container, Sandbox, UBUNTU_CT};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

/// Create and start the two containers, install nginx in the gateway, and put the files the
/// certificate stage and the trusted_ca feature would have installed.
const PREPARE: &str = r#"
import "features" as features;
for id in [201, 202] {
    pct::ensure_defined(id);
    pct::ensure_running(id);
    pct::wait_network(id, 60);
}
features::apply("nginx", 201);
for f in ["/etc/nginx/ssl/gateway.crt", "/etc/nginx/ssl/gateway.key", "/usr/local/share/ca-certificates/phoenix-root-ca.crt"] {
    guest::push(201, f, #{ content: `test material for ${f}\n`, mode: "0600" });
}
"#;

/// The two stages on a literal edge; `ARGS[0] == "more"` adds a route.
const SYNC: &str = r#"
import "sync/traefik" as traefik;
import "sync/nginx" as nginx;
let edge = #{
    domain: "lab.example.internal",
    ca: (),
    traefik: #{ id: 202, name: "traefik", ip: "10.20.0.102" },
    gateway: #{ id: 201, name: "gateway", ip: "10.20.0.101" },
    routes: [
        #{ name: "ca", host: "ca.lab.example.internal", declared_in: "test",
           upstream: #{ Server: #{ scheme: "Https", ip: "10.20.0.10", port: 9000, guest: 103 } } },
        #{ name: "traefik", host: "traefik.lab.example.internal", declared_in: "test", upstream: "TraefikDashboard" },
    ],
    dns_records: [],
};
if ARGS.len() > 0 && ARGS[0] == "more" {
    edge.routes.push(#{ name: "qwen", host: "qwen.lab.example.internal", declared_in: "test",
        upstream: #{ Server: #{ scheme: "Http", ip: "10.20.0.41", port: 8000, guest: 241 } } });
}
if ARGS.len() > 0 && ARGS[0] == "hostile" {
    edge.routes.push(#{ name: "evil", host: "evil.lab.example.internal;\n} server {", declared_in: "test",
        upstream: #{ Server: #{ scheme: "Http", ip: "10.20.0.41", port: 8000, guest: 241 } } });
}
traefik::apply(edge, #{ dashboard_allow: ["10.20.0.0/24"], dashboard_depth: 1 });
nginx::apply(edge);
"#;

/// The stages as `phoenix sync` runs them: `needs()`, then `run()` on the configuration's edge.
const RUN: &str = r#"
import "sync/traefik" as traefik;
import "sync/nginx" as nginx;
print(`needs: ${traefik::needs()} ${nginx::needs()}`);
traefik::run();
nginx::run();
"#;

fn container(id: u32, features: &[&str]) -> Value {
    test_container(id, UBUNTU_CT, json!({ "features": features }))
}

struct Lab {
    sb: Sandbox,
    config: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let sb = Sandbox::new();
        let config = sb.dir.path().join("etc");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::copy(root().join("etc/phoenix_hypervisor_config.json"), config.join("phoenix_hypervisor_config.json"))
            .unwrap();
        let mut traefik = container(202, &["traefik"]);
        traefik["traefik_service"] = json!({"name": "traefik", "port": 8080});
        let mut ollama = container(240, &[]);
        ollama["traefik_service"] = json!({"name": "ollama", "port": 11434});
        let lxc = json!({"lxc_configs": {"201": container(201, &["nginx"]), "202": traefik, "240": ollama}});
        std::fs::write(config.join("phoenix_lxc_configs.json"), lxc.to_string()).unwrap();
        std::fs::write(config.join("phoenix_vm_configs.json"), r#"{"vms": []}"#).unwrap();
        std::fs::write(sb.dir.path().join("prepare.rhai"), PREPARE).unwrap();
        std::fs::write(sb.dir.path().join("sync.rhai"), SYNC).unwrap();
        std::fs::write(sb.dir.path().join("run.rhai"), RUN).unwrap();
        let lab = Lab { sb, config };
        let setup = lab.phoenix(&["setup"]);
        assert!(setup.status.success(), "setup failed: {}", stderr(&setup));
        let prep = lab.plan("prepare.rhai", false, &[]);
        assert!(prep.status.success(), "prepare failed: {}", stderr(&prep));
        lab
    }

    fn phoenix(&self, args: &[&str]) -> Output {
        self.sb.command(&self.config, args).env("PHOENIX_HOME", root()).output().expect("phoenix runs")
    }

    fn plan(&self, name: &str, dry_run: bool, args: &[&str]) -> Output {
        let plan = self.sb.dir.path().join(name).display().to_string();
        let mut a = vec!["--output", "json"];
        if dry_run {
            a.push("--dry-run");
        }
        a.extend(["run", plan.as_str()]);
        a.extend(args);
        self.phoenix(&a)
    }

    fn file(&self, id: u32, path: &str) -> Option<String> {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(self.sb.sim_state()).unwrap()).unwrap();
        s["guests"][id.to_string()]["files"][path]["content"].as_str().map(String::from)
    }

    fn edit_file(&self, id: u32, path: &str, content: Option<&str>) {
        let mut s: Value = serde_json::from_str(&std::fs::read_to_string(self.sb.sim_state()).unwrap()).unwrap();
        let files = s["guests"][id.to_string()]["files"].as_object_mut().unwrap();
        match content {
            Some(c) => files[path]["content"] = json!(c),
            None => {
                files.remove(path);
            }
        }
        std::fs::write(self.sb.sim_state(), s.to_string()).unwrap();
    }
}

const DYNAMIC: &str = "/etc/traefik/dynamic/phoenix-edge.yml";
const GATEWAY: &str = "/etc/nginx/phoenix-gateway.conf";

#[test]
fn first_sync_checks_then_swaps_in_and_a_second_sync_only_reads() {
    let lab = Lab::new();
    let dry = lab.plan("sync.rhai", true, &[]);
    assert!(dry.status.success(), "dry-run failed: {}", stderr(&dry));
    let started = std::time::Instant::now();
    let first = lab.plan("sync.rhai", false, &[]);
    eprintln!("sim: first traefik+nginx sync took {} ms", started.elapsed().as_millis());
    assert!(first.status.success(), "sync failed: {}", stderr(&first));
    let done = actions(&first);
    assert_eq!(actions(&dry), done, "the dry-run of the first sync differs from its apply");

    // Order in the gateway: candidates, the check, the renames, one reload.
    let at =
        |needle: &str| done.iter().position(|a| a.contains(needle)).unwrap_or_else(|| panic!("{needle}: {done:#?}"));
    let check = at("nginx -t -q -c /etc/nginx/.phoenix-candidate/nginx.conf");
    assert!(at("file /etc/nginx/.phoenix-candidate/phoenix-gateway.conf") < check);
    assert!(check < at("mv -f /etc/nginx/.phoenix-candidate/phoenix-gateway.conf /etc/nginx/phoenix-gateway.conf"));
    assert!(check < at("mv -f /etc/nginx/.phoenix-candidate/nginx.conf /etc/nginx/nginx.conf"));
    assert!(at("mv -f /etc/nginx/.phoenix-candidate/nginx.conf") < at("systemctl reload-or-restart nginx"));
    assert_eq!(done.iter().filter(|a| a.contains("reload-or-restart")).count(), 1, "{done:#?}");
    assert!(
        at("file /etc/traefik/dynamic/.phoenix-edge.yml.new") < at("mv -f /etc/traefik/dynamic/.phoenix-edge.yml.new")
    );

    let dynamic = lab.file(202, DYNAMIC).expect("dynamic configuration in place");
    assert!(dynamic.contains("rule: \"Host(`ca.lab.example.internal`)\""), "{dynamic}");
    assert!(dynamic.contains("sourceRange: [\"10.20.0.0/24\"]"), "{dynamic}");
    assert_eq!(lab.file(202, "/etc/traefik/dynamic/.phoenix-edge.yml.new"), None, "candidate left behind");
    let gateway = lab.file(201, GATEWAY).expect("gateway file in place");
    assert!(gateway.contains("server_name traefik.lab.example.internal;"), "{gateway}");
    assert!(gateway.contains("proxy_pass https://10.20.0.102:443;"), "{gateway}");
    assert!(lab.file(201, "/etc/nginx/nginx.conf").is_some_and(|m| m.contains("include phoenix-gateway.conf;")));

    // Converged: no action, and the host sees only reads — one per managed file.
    lab.sb.clear_sim_log();
    let started = std::time::Instant::now();
    let again = lab.plan("sync.rhai", false, &[]);
    eprintln!("sim: converged traefik+nginx sync took {} ms", started.elapsed().as_millis());
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(actions(&again), Vec::<String>::new());
    let dry_again = lab.plan("sync.rhai", true, &[]);
    assert_eq!(actions(&dry_again), Vec::<String>::new());
    let cmds = lab.sb.sim_commands();
    let mutating: Vec<_> = cmds.iter().filter(|(_, m)| *m).collect();
    assert!(mutating.is_empty(), "a converged sync sent {mutating:?}");
    // Two runs (apply, dry-run): each reads each managed file once (the fact reader's
    // `test -f` and `cat`), and sends nothing else.
    let reads_of = |path: &str, tool: &str| {
        cmds.iter().filter(|(a, _)| a.last().is_some_and(|x| x == path) && a.iter().any(|x| x == tool)).count()
    };
    for path in [DYNAMIC, GATEWAY, "/etc/nginx/nginx.conf"] {
        assert_eq!((reads_of(path, "test"), reads_of(path, "cat")), (2, 2), "{path}: {cmds:#?}");
    }
    assert_eq!(cmds.len(), 12, "{cmds:#?}");
}

#[test]
fn a_candidate_nginx_refuses_stays_out_of_the_live_configuration() {
    let lab = Lab::new();
    let first = lab.plan("sync.rhai", false, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let live = lab.file(201, GATEWAY).unwrap();
    // The certificate the gateway names disappears; a new route makes a new configuration.
    lab.edit_file(201, "/etc/nginx/ssl/gateway.crt", None);
    let failed = lab.plan("sync.rhai", false, &["more"]);
    assert!(!failed.status.success(), "the sync went on past a refused configuration");
    // The report wraps long lines; nginx's message is read with the wrapping taken out.
    let err = stderr(&failed).replace("\n  │ ", "");
    for part in [
        "nginx: [emerg] cannot load certificate \"/etc/nginx/ssl/gateway.crt\"",
        "/etc/nginx/.phoenix-candidate/nginx.conf test failed",
    ] {
        assert!(err.contains(part), "nginx's message is not shown ({part}): {err}");
    }
    assert_eq!(lab.file(201, GATEWAY).as_deref(), Some(live.as_str()), "the live gateway file changed");
    let done = actions(&failed);
    assert!(!done.iter().any(|a| a.contains("mv -f /etc/nginx/.phoenix-candidate")), "{done:#?}");
    assert!(!done.iter().any(|a| a.contains("reload")), "{done:#?}");
    // Traefik's stage is independent of the gateway's check: its file has the new route.
    assert!(lab.file(202, DYNAMIC).is_some_and(|d| d.contains("qwen.lab.example.internal")));

    // Fixed, the next sync goes through.
    lab.edit_file(201, "/etc/nginx/ssl/gateway.key", Some("k\n"));
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(lab.sb.sim_state()).unwrap()).unwrap();
    s["guests"]["201"]["files"]["/etc/nginx/ssl/gateway.crt"] =
        s["guests"]["201"]["files"]["/etc/nginx/ssl/gateway.key"].clone();
    std::fs::write(lab.sb.sim_state(), s.to_string()).unwrap();
    let fixed = lab.plan("sync.rhai", false, &["more"]);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    assert!(lab.file(201, GATEWAY).is_some_and(|g| g.contains("server_name qwen.lab.example.internal;")));
}

#[test]
fn run_takes_the_edge_and_the_dashboard_guard_from_the_configuration() {
    let lab = Lab::new();
    let out = lab.plan("run.rhai", false, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(r#"needs: [#{"id": 202, "role": "traefik", "running": true}] [#{"id": 201, "role": "gateway", "running": true}]"#),
        "{err}"
    );
    let dynamic = lab.file(202, DYNAMIC).expect("dynamic configuration");
    // The host interface's network (10.20.0.2/24 in the example) guards the dashboard, read
    // from X-Forwarded-For as the gateway sets it.
    assert!(dynamic.contains("sourceRange: [\"10.20.0.0/24\"]\n        ipStrategy:\n          depth: 1"), "{dynamic}");
    assert!(dynamic.contains("rule: \"Host(`traefik.lab.example.internal`)\""), "{dynamic}");
    assert!(dynamic.contains("url: \"http://10.20.0.140:11434\""), "{dynamic}");
    let gateway = lab.file(201, GATEWAY).expect("gateway file");
    assert!(gateway.contains("server_name ollama.lab.example.internal;"), "{gateway}");
    assert!(gateway.contains("proxy_pass https://10.20.0.102:443;"), "{gateway}");
}

#[test]
fn a_gateway_without_nginx_is_named_with_the_remedy() {
    let lab = Lab::new();
    lab.edit_file(201, "/usr/sbin/nginx", None);
    let out = lab.plan("sync.rhai", false, &[]);
    assert!(!out.status.success());
    let err = stderr(&out).replace("\n  │ ", " ");
    assert!(err.contains("guest 201 (gateway) has no nginx: add \"nginx\" to its features"), "{err}");
    assert_eq!(lab.file(201, GATEWAY), None);
}

#[test]
fn a_hostile_name_is_refused_before_anything_runs() {
    let lab = Lab::new();
    lab.sb.clear_sim_log();
    let out = lab.plan("sync.rhai", false, &["hostile"]);
    assert!(!out.status.success());
    let err = stderr(&out).replace("\n  │ ", " ");
    assert!(err.contains("route evil host: not a DNS name"), "{err}");
    // The rehearsal failed, so the apply never started: reads only.
    let mutating: Vec<_> = lab.sb.sim_commands().into_iter().filter(|(_, m)| *m).collect();
    assert!(mutating.is_empty(), "{mutating:?}");
    assert_eq!(lab.file(202, DYNAMIC), None);
}
