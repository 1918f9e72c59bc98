//! The feature registry is the folder `stdlib/features/`: a feature written in Rhai alone (on
//! disk, under $PHOENIX_HOME) is known to `check`, ordered by the graph and applied, without
//! recompiling; an unknown feature is refused before any run touches the host; a malformed
//! feature module is refused by name.

use crate::support::phoenix::{root, stderr, Sandbox};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A feature that exists only on disk: it writes a marker file, and needs the CA guest.
const HELLO: &str = r#"//! hello: a marker file (a test feature that lives only on disk).

fn meta() {
    #{
        about: "a marker file",
        kinds: ["lxc"],
        pct_features: ["nesting=1"],
        needs_guest_with: #{ feature: "step_ca", why: "a friend" },
        params: [#{ key: "traefik_service", required: true, about: "its name is what the marker says" }],
    }
}

fn apply(id) {
    let text = config::guest(id).traefik_service.name;
    guest::push(id, "/etc/hello", #{ content: `hi from ${text}` + "\n", mode: "0644" });
}
"#;

fn container(id: u32, features: &[&str], extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({
        "name": format!("ct{id}"),
        "memory_mb": 1024,
        "cores": 1,
        "template": "/var/lib/vz/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        "storage_pool": "tank-lxc-disks",
        "storage_size_gb": 8,
        "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": format!("10.20.0.{}/24", id - 100), "gw": "10.20.0.1"},
        "unprivileged": true,
        "features": features,
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

/// A project folder: `etc/` (the example host, two containers) and `stdlib/features/`.
struct Project {
    sb: Sandbox,
    home: PathBuf,
    config: PathBuf,
}

impl Project {
    fn new(lxc: serde_json::Value) -> Project {
        let sb = Sandbox::new();
        let home = sb.dir.path().join("project");
        let config = home.join("etc");
        std::fs::create_dir_all(home.join("stdlib/features")).expect("features dir");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::copy(root().join("etc/phoenix_hypervisor_config.json"), config.join("phoenix_hypervisor_config.json"))
            .expect("hypervisor config");
        std::fs::write(config.join("phoenix_lxc_configs.json"), serde_json::to_string_pretty(&lxc).expect("json"))
            .expect("lxc config");
        std::fs::write(config.join("phoenix_vm_configs.json"), r#"{"vms": []}"#).expect("vm config");
        Project { sb, home, config }
    }

    fn feature(&self, name: &str, text: &str) {
        std::fs::write(self.home.join("stdlib/features").join(format!("{name}.rhai")), text).expect("feature module");
    }

    fn phoenix(&self, args: &[&str]) -> Output {
        self.sb.command(&self.config, args).env("PHOENIX_HOME", &self.home).output().expect("phoenix runs")
    }

    fn sim(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.sb.sim_state()).expect("sim state");
        serde_json::from_str(&text).expect("sim state JSON")
    }

    fn mutating_commands(&self) -> Vec<String> {
        self.sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a.join(" ")).collect()
    }
}

fn hello_lab() -> Project {
    Project::new(json!({"lxc_configs": {
        "203": container(203, &["step_ca"], json!({})),
        "204": container(204, &["hello"], json!({"traefik_service": {"name": "disk", "port": 8080}})),
    }}))
}

/// The diagnostic without its layout (long lines wrap).
fn flat(out: &Output) -> String {
    stderr(out).chars().filter(|c| !c.is_whitespace() && *c != '│').collect()
}

#[test]
fn a_feature_on_disk_only_is_checked_ordered_and_applied() {
    let p = hello_lab();
    // Not there yet: an unknown feature, refused with the place and the known list.
    let unknown = p.phoenix(&["check"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("unknown feature `hello`"), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("phoenix_lxc_configs.json:"), "{}", stderr(&unknown));

    p.feature("hello", HELLO);
    let ok = p.phoenix(&["check"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    // Its need of another guest is an edge, with its reason.
    let graph = p.phoenix(&["graph"]);
    let text = String::from_utf8_lossy(&graph.stdout).into_owned();
    assert!(text.contains("203 (a friend for hello)"), "{text}");

    // Applied by the stock create plan, pct features included.
    let setup = p.phoenix(&["setup"]);
    assert!(setup.status.success(), "{}", stderr(&setup));
    let create = p.phoenix(&["create", "204"]);
    assert!(create.status.success(), "{}", stderr(&create));
    let sim = p.sim();
    assert_eq!(sim["guests"]["204"]["files"]["/etc/hello"]["content"], "hi from disk\n");
    assert!(sim["guests"]["204"]["config"]["features"].as_str().is_some_and(|f| f.contains("nesting=1")), "{sim:#}");
    assert!(sim["guests"]["203"].is_object(), "the guest it needs was created first");
}

#[test]
fn a_required_param_of_a_disk_feature_is_checked() {
    let p = Project::new(json!({"lxc_configs": {
        "203": container(203, &["step_ca"], json!({})),
        "204": container(204, &["hello"], json!({})),
    }}));
    p.feature("hello", HELLO);
    let out = p.phoenix(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(flat(&out).contains("feature`hello`needs`traefik_service`incontainer204"), "{}", stderr(&out));
}

#[test]
fn an_unknown_feature_is_refused_before_any_run_touches_the_host() {
    let p = Project::new(json!({"lxc_configs": {
        "204": container(204, &["base_setup", "portainer"], json!({})),
    }}));
    for verb in [&["create", "--all"][..], &["converge", "204"], &["setup"], &["create", "--all", "--dry-run"]] {
        let out = p.phoenix(verb);
        assert_eq!(out.status.code(), Some(2), "{verb:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("unknown feature `portainer`"), "{verb:?}: {}", stderr(&out));
        assert!(p.sb.sim_commands().is_empty(), "{verb:?} reached the host: {:?}", p.sb.sim_commands());
    }
    assert!(!Path::new(&p.sb.sim_state()).exists() || p.mutating_commands().is_empty());
}

#[test]
fn a_malformed_or_misspelt_feature_module_is_refused_by_name() {
    let p = hello_lab();
    p.feature("hello", &HELLO.replace("pct_features:", "pct_feature:"));
    let out = p.phoenix(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("features/hello"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `pct_features`"), "{}", stderr(&out));

    // A typo inside apply() is found by the pre-flight check, through the dynamic import.
    p.feature("hello", &HELLO.replace("guest::push(", "guest::pushh("));
    let out = p.phoenix(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("guest::pushh"), "{}", stderr(&out));
    assert!(stderr(&out).contains("hello.rhai"), "{}", stderr(&out));

    // A module without apply(id) cannot be a feature.
    p.feature("hello", &HELLO.replace("fn apply(id)", "fn apply_it(id)"));
    let out = p.phoenix(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("needs `fn apply(id)`"), "{}", stderr(&out));

    // A meta() that tries to read the host fails: it runs before any host is touched.
    p.feature("hello", &HELLO.replace("about: \"a marker file\"", "about: pct::status(203)"));
    let out = p.phoenix(&["create", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(p.sb.sim_commands().is_empty(), "meta() reached the host: {:?}", p.sb.sim_commands());
}

#[test]
fn the_graph_says_why_a_guest_needs_the_ca() {
    let out = Sandbox::new().run(&root().join("etc"), &["graph"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |id: &str| text.lines().find(|l| l.trim_start().starts_with(id)).unwrap_or_default().to_string();
    assert!(line("101 ").contains("103 (the lab CA for step_cli, trusted_ca)"), "{text}");
    // 1002 declares no dependency on the CA: the need of trusted_ca is what orders it.
    assert!(line("1002 ").contains("103 (the lab CA for trusted_ca)"), "{text}");
    let json = Sandbox::new().run(&root().join("etc"), &["graph", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("graph JSON");
    assert!(
        v["edges"].as_array().is_some_and(|e| e
            .iter()
            .any(|e| e["from"] == 1002 && e["to"] == 103 && e["reason"] == "the lab CA for trusted_ca")),
        "{v:#}"
    );
}
