//! Guest features (stdlib/features/*.rhai) through the binary on the simulator: each one
//! converges a fresh container, a second apply and a dry-run find nothing to do, and what it
//! installed is really there in the simulated guest (read back from the sim state file).

use crate::support::phoenix::{actions, events, root, stderr, test_container, Sandbox, UBUNTU_CT};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

/// The plan the tests run: create and start one container, then apply the features named on the
/// command line (`run plan.rhai <id> <feature>…`) in that order.
const PLAN: &str = r#"
import "features" as features;
let id = parse_int(ARGS[0]);
let names = [];
for i in 1..ARGS.len() { names.push(ARGS[i]); }
pct::ensure_defined(id);
pct::ensure_config(id, features::pct_features(names));
pct::ensure_running(id);
pct::wait_network(id, 60);
for f in names { features::apply(f, id); }
"#;

fn container(id: u32, extra: Value) -> Value {
    test_container(id, UBUNTU_CT, extra)
}

/// A configuration folder (the example host, a few containers) with the storages set up.
struct Lab {
    sb: Sandbox,
    config: PathBuf,
    plan: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let sb = Sandbox::new();
        let config = sb.dir.path().join("etc");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::copy(root().join("etc/phoenix_hypervisor_config.json"), config.join("phoenix_hypervisor_config.json"))
            .unwrap();
        let lxc = json!({"lxc_configs": {
            "200": container(200, json!({})),
            "201": container(201, json!({"gpu_assignment": "0", "traefik_service": {"name": "ollama", "port": 11500}})),
            "202": container(202, json!({"gpu_assignment": "0", "vllm_engine_config": {
                "ModelConfig": {"model": "Qwen/Qwen2.5-7B-Instruct-AWQ", "trust_remote_code": true, "dtype": "auto", "max_model_len": 16384, "enforce_eager": false},
                "CacheConfig": {"quantization": "awq", "gpu_memory_utilization": 0.6},
                "ParallelConfig": {"tensor_parallel_size": 1},
                "ServerConfig": {"host": "0.0.0.0", "port": 8000, "served_model_name": "qwen 7b"}
            }})),
            "203": container(203, json!({})),
            "204": container(204, json!({"features": ["step_ca"], "traefik_service": {"name": "ca", "port": 9000}})),
            "205": container(205, json!({})),
        }});
        std::fs::write(config.join("phoenix_lxc_configs.json"), serde_json::to_string_pretty(&lxc).unwrap()).unwrap();
        std::fs::write(config.join("phoenix_vm_configs.json"), r#"{"vms": []}"#).unwrap();
        let plan = sb.dir.path().join("features.rhai");
        std::fs::write(&plan, PLAN).unwrap();
        let lab = Lab { sb, config, plan };
        let setup = lab.phoenix(&["setup"]);
        assert!(setup.status.success(), "setup failed: {}", stderr(&setup));
        lab
    }

    fn phoenix(&self, args: &[&str]) -> Output {
        self.sb.command(&self.config, args).env("PHOENIX_HOME", root()).output().expect("phoenix runs")
    }

    /// Apply (or dry-run) the features on a container, JSON output.
    fn apply(&self, id: u32, features: &[&str], dry_run: bool) -> Output {
        let plan = self.plan.display().to_string();
        let ids = id.to_string();
        let mut args = vec!["--output", "json"];
        if dry_run {
            args.push("--dry-run");
        }
        args.extend(["run", plan.as_str(), ids.as_str()]);
        args.extend(features);
        self.phoenix(&args)
    }

    /// First apply changes something; a second apply and a dry-run change nothing. Returns the
    /// first apply's actions.
    fn converges(&self, id: u32, features: &[&str]) -> Vec<String> {
        let first = self.apply(id, features, false);
        assert!(first.status.success(), "first apply of {features:?} failed: {}", stderr(&first));
        let done = actions(&first);
        assert!(!done.is_empty(), "first apply of {features:?} did nothing");
        let second = self.apply(id, features, false);
        assert!(second.status.success(), "second apply failed: {}", stderr(&second));
        assert_eq!(actions(&second), Vec::<String>::new(), "second apply of {features:?} is not idempotent");
        let dry = self.apply(id, features, true);
        assert!(dry.status.success(), "dry-run failed: {}", stderr(&dry));
        assert_eq!(actions(&dry), Vec::<String>::new(), "dry-run on the converged guest plans changes");
        done
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.sb.sim_state()).expect("sim state file");
        serde_json::from_str(&text).expect("sim state is JSON")
    }

    fn guest(&self, id: u32) -> Value {
        self.state()["guests"][id.to_string()].clone()
    }

    fn edit_guest(&self, id: u32, edit: impl FnOnce(&mut Value)) {
        let mut s = self.state();
        edit(&mut s["guests"][id.to_string()]);
        std::fs::write(self.sb.sim_state(), serde_json::to_string(&s).unwrap()).unwrap();
    }
}

fn file(guest: &Value, path: &str) -> Option<String> {
    guest["files"][path]["content"].as_str().map(String::from)
}

fn has_file(guest: &Value, path: &str) -> bool {
    guest["files"].get(path).is_some()
}

fn unit(guest: &Value, name: &str) -> (bool, bool) {
    let u = &guest["os"]["units"][name];
    (u["enabled"] == true, u["active"] == true)
}

fn package(guest: &Value, name: &str) -> bool {
    guest["os"]["packages"].as_array().is_some_and(|p| p.iter().any(|x| x == name))
}

fn warnings(out: &Output) -> Vec<String> {
    let mut w: Vec<String> = events(out)
        .into_iter()
        .filter(|e| e["level"] == "warn" || e["event"] == "warn" || e["event"] == "warning")
        .map(|e| e.to_string())
        .collect();
    // Warnings may go to stderr instead of the JSON stream.
    w.extend(stderr(out).lines().filter(|l| l.contains("warn")).map(String::from));
    w
}

#[test]
fn base_setup_and_step_cli_install_from_the_smallstep_repository() {
    let lab = Lab::new();
    let done = lab.converges(200, &["base_setup", "step_cli"]);
    assert!(done.iter().any(|a| a.contains("apt-get update")), "{done:#?}");
    let g = lab.guest(200);
    assert!(package(&g, "jq") && package(&g, "step-cli"));
    assert!(has_file(&g, "/usr/bin/step"));
    assert_eq!(
        file(&g, "/etc/apt/sources.list.d/smallstep.list").as_deref(),
        Some(
            "deb [signed-by=/etc/apt/keyrings/smallstep.asc] https://packages.smallstep.com/stable/debian debs main\n"
        )
    );
    assert!(has_file(&g, "/etc/apt/keyrings/smallstep.asc"));
}

#[test]
fn docker_is_installed_and_enabled_with_nesting() {
    let lab = Lab::new();
    lab.converges(205, &["docker"]);
    let g = lab.guest(205);
    assert!(package(&g, "docker.io"));
    assert_eq!(unit(&g, "docker.service"), (true, true));
    let features = g["config"]["features"].as_str().unwrap_or("");
    assert!(features.contains("nesting=1") && features.contains("keyctl=1"), "features: {features}");
}

#[test]
fn nvidia_and_ollama_install_userspace_and_service() {
    let lab = Lab::new();
    let done = lab.converges(201, &["nvidia", "ollama"]);
    assert!(done.iter().any(|a| a.contains("--no-kernel-module")), "{done:#?}");
    assert!(done.iter().any(|a| a.contains("580.76.05")), "driver version from the host config: {done:#?}");
    let g = lab.guest(201);
    assert!(has_file(&g, "/usr/bin/nvidia-smi") && has_file(&g, "/usr/local/bin/ollama"));
    assert!(!has_file(&g, "/tmp/ollama-install.sh"), "installer left behind");
    assert_eq!(unit(&g, "ollama.service"), (true, true));
    assert_eq!(
        file(&g, "/etc/systemd/system/ollama.service.d/phoenix.conf").as_deref(),
        Some("# Managed by phoenix (ollama feature).\n[Service]\nEnvironment=OLLAMA_HOST=0.0.0.0:11500\n")
    );
}

#[test]
fn nvidia_without_gpu_passthrough_fails_clearly() {
    let lab = Lab::new();
    let out = lab.apply(200, &["nvidia"], false);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("gpu_assignment"), "{}", stderr(&out));
    assert_eq!(lab.guest(200)["files"].get("/usr/bin/nvidia-smi"), None);
}

#[test]
fn vllm_unit_comes_from_the_engine_config_and_restarts_only_on_change() {
    let lab = Lab::new();
    lab.converges(202, &["nvidia", "vllm"]);
    let g = lab.guest(202);
    assert!(has_file(&g, "/opt/vllm/bin/vllm"));
    assert_eq!(unit(&g, "vllm.service"), (true, true));
    let text = file(&g, "/etc/systemd/system/vllm.service").unwrap_or_default();
    let exec = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap_or_default();
    assert_eq!(
        exec,
        "ExecStart=/opt/vllm/bin/vllm serve Qwen/Qwen2.5-7B-Instruct-AWQ --dtype auto --max-model-len 16384 \
         --trust-remote-code --gpu-memory-utilization 0.6 --quantization awq --tensor-parallel-size 1 \
         --host 0.0.0.0 --port 8000 --served-model-name \"qwen 7b\""
    );

    // Drift in the unit: rewritten, reloaded and restarted once, then quiet again.
    lab.edit_guest(202, |g| g["files"]["/etc/systemd/system/vllm.service"]["content"] = json!("edited\n"));
    let fix = lab.apply(202, &["nvidia", "vllm"], false);
    assert!(fix.status.success(), "{}", stderr(&fix));
    let done = actions(&fix);
    assert_eq!(done.len(), 3, "{done:#?}");
    assert!(done[0].contains("file /etc/systemd/system/vllm.service"), "{done:#?}");
    assert!(done[1].contains("daemon-reload") && done[2].contains("systemctl restart vllm"), "{done:#?}");
    assert_eq!(file(&lab.guest(202), "/etc/systemd/system/vllm.service"), Some(text));
    assert_eq!(actions(&lab.apply(202, &["nvidia", "vllm"], false)), Vec::<String>::new());
}

#[test]
fn traefik_config_and_unit() {
    let lab = Lab::new();
    let first = lab.apply(203, &["traefik"], false);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!warnings(&first).iter().any(|w| w.contains("tar")), "tar is in the base image now: {}", stderr(&first));
    assert!(
        lab.guest(203)["files"].get("/opt/traefik/v3.3.4/traefik").is_some()
            || file(&lab.guest(203), "/opt/traefik/v3.3.4/traefik").is_some(),
        "the release archive was unpacked"
    );
    assert_eq!(actions(&lab.apply(203, &["traefik"], false)), Vec::<String>::new());
    assert_eq!(actions(&lab.apply(203, &["traefik"], true)), Vec::<String>::new());
    let g = lab.guest(203);
    let yml = file(&g, "/etc/traefik/traefik.yml").unwrap_or_default();
    assert!(yml.contains("directory: \"/etc/traefik/dynamic\""), "{yml}");
    assert!(!yml.contains("filename:"), "file provider must not set both filename and directory: {yml}");
    assert!(!yml.contains("insecure"), "{yml}");
    // TLS comes from the certificate stage (named in the dynamic file): no ACME resolver; no
    // dashboard route for 203, so no API either.
    assert!(yml.contains("websecure:\n    address: \":443\""), "{yml}");
    assert!(!yml.contains("caServer") && !yml.contains("api:"), "{yml}");
    assert_eq!(unit(&g, "traefik.service"), (true, true));
    let unit_text = file(&g, "/etc/systemd/system/traefik.service").unwrap_or_default();
    assert!(
        unit_text.contains("ExecStart=/opt/traefik/v3.3.4/traefik --configFile=/etc/traefik/traefik.yml"),
        "{unit_text}"
    );

    // A changed static config restarts Traefik once (the unit itself did not change).
    lab.edit_guest(203, |g| g["files"]["/etc/traefik/traefik.yml"]["content"] = json!("old\n"));
    let fix = actions(&lab.apply(203, &["traefik"], false));
    assert_eq!(fix.len(), 2, "{fix:#?}");
    assert!(fix[1].contains("systemctl restart traefik"), "{fix:#?}");
}

#[test]
fn trusted_ca_needs_the_ca_then_installs_its_root_once() {
    let lab = Lab::new();
    // The CA guest is not there yet: the guest fails, naming the CA guest (no silent "later
    // run" that no later run would do; the guest graph orders the CA first in a real plan).
    let early = lab.apply(203, &["trusted_ca"], false);
    assert!(!early.status.success(), "{}", stderr(&early));
    let flat: String = stderr(&early).chars().filter(|c| !c.is_whitespace() && *c != '│').collect();
    assert!(flat.contains("fromguest204,whichisnotrunning"), "{}", stderr(&early));
    assert!(actions(&early).iter().all(|a| !a.contains("ca-certificates")), "{:#?}", actions(&early));

    // The CA guest runs but has no root yet: the copy fails, naming the source (not a no-op).
    let ca = lab.apply(204, &[], false);
    assert!(ca.status.success(), "{}", stderr(&ca));
    let missing = lab.apply(203, &["trusted_ca"], false);
    assert!(!missing.status.success(), "{}", stderr(&missing));
    // (The diagnostic wraps long lines: compare without the layout.)
    let flat: String = stderr(&missing).chars().filter(|c| !c.is_whitespace() && *c != '│').collect();
    assert!(flat.contains("thesource204:/etc/step-ca/certs/root_ca.crtdoesnotexist"), "{}", stderr(&missing));

    // The CA guest holds its root (as `step ca init` would leave it).
    let root_v1 = "-----BEGIN CERTIFICATE-----\nMIIBroot1\n-----END CERTIFICATE-----\n";
    lab.edit_guest(204, |g| {
        g["files"]["/etc/step-ca/certs/root_ca.crt"] =
            json!({"content": root_v1, "mode": 0o644, "owner": "root", "group": "root"})
    });
    let done = lab.converges(203, &["trusted_ca"]);
    assert!(done.iter().any(|a| a.contains("update-ca-certificates")), "{done:#?}");
    let g = lab.guest(203);
    assert_eq!(file(&g, "/usr/local/share/ca-certificates/phoenix-root-ca.crt").as_deref(), Some(root_v1));
    assert_eq!(file(&g, "/etc/ssl/certs/phoenix-root-ca.pem").as_deref(), Some(root_v1));

    // A new root: pushed and the store refreshed again.
    let root_v2 = "-----BEGIN CERTIFICATE-----\nMIIBroot2\n-----END CERTIFICATE-----\n";
    lab.edit_guest(204, |g| g["files"]["/etc/step-ca/certs/root_ca.crt"]["content"] = json!(root_v2));
    let rotated = actions(&lab.apply(203, &["trusted_ca"], false));
    assert_eq!(rotated.len(), 2, "{rotated:#?}");
    assert_eq!(file(&lab.guest(203), "/etc/ssl/certs/phoenix-root-ca.pem").as_deref(), Some(root_v2));
}

#[test]
fn step_ca_initialises_once_and_converges() {
    let lab = Lab::new();
    let done = lab.converges(204, &["step_ca"]);
    assert!(done.iter().any(|a| a.contains("step ca init") || a.contains("ca init")), "{done:#?}");
    let g = lab.guest(204);
    assert!(
        file(&g, "/etc/step-ca/certs/root_ca.crt").is_some() || has_file(&g, "/etc/step-ca/certs/root_ca.crt"),
        "the CA root exists"
    );
    // The password never passes through phoenix: it is generated inside the guest.
    let out = lab.apply(204, &["step_ca"], false);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("BEGIN"), "no key material in the output");
}

#[test]
fn registry_rejects_unknown_features_by_name() {
    let lab = Lab::new();
    let out = lab.apply(200, &["frobnicate"], false);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("features/frobnicate"), "{}", stderr(&out));
    // A name is never a path.
    let out = lab.apply(200, &["../lxc"], false);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a feature name"), "{}", stderr(&out));
}
