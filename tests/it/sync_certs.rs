//! The certificate stage (stdlib/sync/certs.rhai) on the simulator, through the binary: a lab CA
//! container issues the manifest's certificates into a target container; the simulated clock
//! then walks through the renewal window. Re-issue happens exactly once inside the window and
//! never before it, post-install commands run only for certificates that changed, keys keep
//! their declared mode, and a converged run sends only reads.

use crate::support::phoenix::{actions, root, stderr, test_container, Sandbox};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

/// Create and start the containers, then apply their features.
const CREATE: &str = r#"
import "features" as features;
for id in [204, 205] {
    pct::ensure_defined(id);
    pct::ensure_running(id);
    pct::wait_network(id, 60);
}
features::apply("step_ca", 204);
"#;

/// The stage as the sync runner will call it; `force` as the first argument sets the option.
const SYNC: &str = r#"
import "sync/certs" as stage;
let needs = stage::needs();
if needs.len() != 2 || needs[0].id != 204 || needs[0].role != "ca" { throw `needs(): ${needs}`; }
stage::run_with(#{ force: ARGS.contains("force") });
"#;

const HOUR: u64 = 3600;

fn container(id: u32, extra: Value) -> Value {
    test_container(id, "/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst", extra)
}

/// Two certificates for container 205: `a` lives 720 h (renewed in its last 240 h), `b` the
/// default 90 days (renewed in its last 30 days). Each post-install command leaves a trace.
const MANIFEST: &str = r#"[
  {"common_name": "a.lab.example.internal", "sans": ["a.lab.example.internal", "alias.lab.example.internal"],
   "guest": 205, "cert_path": "/etc/ssl/lab/a.crt", "key_path": "/etc/ssl/lab/a.key",
   "owner": "root:root", "permissions": "600", "lifetime": "720h",
   "post_renewal_command": {"guest": 205, "argv": ["mkdir", "-p", "/run/post-a"]}},
  {"common_name": "b.lab.example.internal", "guest": 205, "cert_path": "/etc/ssl/lab/b.crt",
   "key_path": "/etc/ssl/lab/b.key", "owner": "root:root", "permissions": "640",
   "post_renewal_command": "pct exec 205 -- mkdir -p /run/post-b"}
]"#;

struct Lab {
    sb: Sandbox,
    config: PathBuf,
    create: PathBuf,
    sync: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let sb = Sandbox::new();
        let config = sb.dir.path().join("etc");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::copy(root().join("etc/phoenix_hypervisor_config.json"), config.join("phoenix_hypervisor_config.json"))
            .unwrap();
        let lxc = json!({"lxc_configs": {
            "204": container(204, json!({"features": ["step_ca"], "traefik_service": {"name": "ca", "port": 9000}})),
            "205": container(205, json!({})),
        }});
        std::fs::write(config.join("phoenix_lxc_configs.json"), serde_json::to_string_pretty(&lxc).unwrap()).unwrap();
        std::fs::write(config.join("phoenix_vm_configs.json"), r#"{"vms": []}"#).unwrap();
        std::fs::write(config.join("certificate-manifest.json"), MANIFEST).unwrap();
        let create = sb.dir.path().join("create.rhai");
        std::fs::write(&create, CREATE).unwrap();
        let sync = sb.dir.path().join("sync_certs.rhai");
        std::fs::write(&sync, SYNC).unwrap();
        let lab = Lab { sb, config, create, sync };
        let setup = lab.phoenix(&["setup"]);
        assert!(setup.status.success(), "setup failed: {}", stderr(&setup));
        let made = lab.phoenix(&["run", &lab.create.display().to_string()]);
        assert!(made.status.success(), "create failed: {}", stderr(&made));
        lab
    }

    fn phoenix(&self, args: &[&str]) -> Output {
        self.sb.command(&self.config, args).env("PHOENIX_HOME", root()).output().expect("phoenix runs")
    }

    /// Run the stage; returns (actions, mutating commands sent).
    fn sync(&self, dry_run: bool, force: bool) -> (Vec<String>, Vec<Vec<String>>) {
        self.sb.clear_sim_log();
        let plan = self.sync.display().to_string();
        let mut args = vec!["--output", "json"];
        if dry_run {
            args.push("--dry-run");
        }
        args.extend(["run", plan.as_str()]);
        if force {
            args.push("force");
        }
        let out = self.phoenix(&args);
        assert!(out.status.success(), "sync certs failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        let mutating = self.sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a).collect();
        (actions(&out), mutating)
    }

    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.sb.sim_state()).unwrap()).unwrap()
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut s = self.state();
        f(&mut s);
        std::fs::write(self.sb.sim_state(), serde_json::to_string(&s).unwrap()).unwrap();
    }

    fn clock(&self) -> u64 {
        self.state()["clock"].as_u64().unwrap()
    }

    fn set_clock(&self, t: u64) {
        self.edit(|s| s["clock"] = json!(t));
    }

    fn file(&self, guest: u32, path: &str) -> Value {
        self.state()["guests"][guest.to_string()]["files"][path].clone()
    }
}

/// How many of `cmds` ran `argv` inside guest 205.
fn ran(cmds: &[Vec<String>], tail: &[&str]) -> usize {
    cmds.iter().filter(|c| c.len() >= tail.len() && c[c.len() - tail.len()..].iter().eq(tail.iter())).count()
}

fn issued(acts: &[String], cn: &str) -> usize {
    acts.iter().filter(|a| a.contains(&format!("issue {cn}"))).count()
}

const POST_A: &[&str] = &["mkdir", "-p", "/run/post-a"];
const POST_B: &[&str] = &["mkdir", "-p", "/run/post-b"];

#[test]
fn certificates_renew_once_inside_the_window_and_only_they_reload() {
    let lab = Lab::new();

    // First sync: both issued, installed with their modes, both post-install commands ran.
    let dry = lab.sync(true, false).0;
    let (acts, cmds) = lab.sync(false, false);
    assert_eq!(dry, acts, "the dry-run shows exactly what the apply does");
    assert_eq!((issued(&acts, "a.lab.example.internal"), issued(&acts, "b.lab.example.internal")), (1, 1), "{acts:#?}");
    assert_eq!((ran(&cmds, POST_A), ran(&cmds, POST_B)), (1, 1));
    // step-ca's 24 h default was raised to the longest declared lifetime before issuing.
    assert!(acts.iter().any(|a| a.contains("provisioner update admin --x509-max-dur 2160h")), "{acts:#?}");
    let (a_key, b_key) = (lab.file(205, "/etc/ssl/lab/a.key"), lab.file(205, "/etc/ssl/lab/b.key"));
    assert_eq!(a_key["mode"], json!(0o600));
    assert_eq!(b_key["mode"], json!(0o640));
    assert!(a_key["content"].as_str().unwrap().contains("PRIVATE KEY"));
    assert_eq!(lab.file(205, "/etc/ssl/lab/a.crt")["mode"], json!(0o644));
    // The scratch copies in the CA are gone; the provisioner password never left its file.
    let ca_files = lab.state()["guests"]["204"]["files"].clone();
    assert!(ca_files.as_object().unwrap().keys().all(|k| !k.starts_with("/root/.phoenix-certs/")), "scratch left");
    let pw = lab.state()["guests"]["204"]["files"]["/etc/step-ca/provisioner-password.txt"]["content"].clone();
    let log = std::fs::read_to_string(format!("{}.commands.jsonl", lab.sb.sim_state().display())).unwrap_or_default();
    assert!(!log.contains(pw.as_str().unwrap().trim()), "the provisioner password reached a command line");

    // Converged: only reads, no post-install.
    let (acts, cmds) = lab.sync(false, false);
    assert_eq!(acts, Vec::<String>::new());
    assert_eq!(cmds, Vec::<Vec<String>>::new(), "a converged run sends only reads");

    // Just before a's window (720 h life, renewed in the last 240 h): still nothing.
    let t0 = lab.clock();
    lab.set_clock(t0 + 479 * HOUR);
    assert_eq!(lab.sync(false, false).1, Vec::<Vec<String>>::new());

    // Inside a's window: a (only) re-issued exactly once, only its command ran; b untouched.
    lab.set_clock(t0 + 481 * HOUR);
    let before_b = lab.file(205, "/etc/ssl/lab/b.crt");
    let dry = lab.sync(true, false).0;
    let (acts, cmds) = lab.sync(false, false);
    assert_eq!(dry, acts);
    assert_eq!((issued(&acts, "a.lab.example.internal"), issued(&acts, "b.lab.example.internal")), (1, 0), "{acts:#?}");
    assert!(acts.iter().any(|a| a.contains("within the renewal window")), "{acts:#?}");
    assert_eq!((ran(&cmds, POST_A), ran(&cmds, POST_B)), (1, 0));
    assert_eq!(lab.file(205, "/etc/ssl/lab/b.crt"), before_b);
    assert_eq!(lab.file(205, "/etc/ssl/lab/a.key")["mode"], json!(0o600));
    // … and then not again.
    assert_eq!(lab.sync(false, false).1, Vec::<Vec<String>>::new());

    // A key whose mode drifted is put back without issuing; the service then re-reads it.
    lab.edit(|s| s["guests"]["205"]["files"]["/etc/ssl/lab/b.key"]["mode"] = json!(0o644));
    let (acts, cmds) = lab.sync(false, false);
    assert_eq!(issued(&acts, "b.lab.example.internal"), 0, "{acts:#?}");
    assert_eq!(lab.file(205, "/etc/ssl/lab/b.key")["mode"], json!(0o640));
    assert_eq!((ran(&cmds, POST_A), ran(&cmds, POST_B)), (0, 1));

    // --force re-issues everything once.
    let (acts, cmds) = lab.sync(false, true);
    assert_eq!((issued(&acts, "a.lab.example.internal"), issued(&acts, "b.lab.example.internal")), (1, 1), "{acts:#?}");
    assert_eq!((ran(&cmds, POST_A), ran(&cmds, POST_B)), (1, 1));
    assert_eq!(lab.sync(false, false).1, Vec::<Vec<String>>::new());
}

#[test]
fn a_re_initialised_ca_or_changed_names_mean_a_new_certificate() {
    let lab = Lab::new();
    lab.sync(false, false);
    // The manifest gains a name for b: b (only) is issued again.
    let more = MANIFEST.replace(
        r#""common_name": "b.lab.example.internal","#,
        r#""common_name": "b.lab.example.internal", "sans": ["b2.lab.example.internal"],"#,
    );
    std::fs::write(lab.config.join("certificate-manifest.json"), more).unwrap();
    let (acts, _) = lab.sync(false, false);
    assert_eq!((issued(&acts, "a.lab.example.internal"), issued(&acts, "b.lab.example.internal")), (0, 1), "{acts:#?}");
    assert!(acts.iter().any(|a| a.contains("names differ")), "{acts:#?}");
    // The CA is initialised again (a new root and intermediate): every certificate is re-issued.
    lab.edit(|s| {
        let files = s["guests"]["204"]["files"].as_object_mut().unwrap();
        files.retain(|k, _| {
            !(k.starts_with("/etc/step-ca/config/")
                || k.starts_with("/etc/step-ca/certs/")
                || k.starts_with("/etc/step-ca/secrets/"))
        });
        s["clock"] = json!(s["clock"].as_u64().unwrap() + 60);
    });
    let again = lab.phoenix(&["run", &lab.create.display().to_string()]);
    assert!(again.status.success(), "re-init failed: {}", stderr(&again));
    let (acts, _) = lab.sync(false, false);
    assert_eq!((issued(&acts, "a.lab.example.internal"), issued(&acts, "b.lab.example.internal")), (1, 1), "{acts:#?}");
    assert!(acts.iter().any(|a| a.contains("issued by another CA")), "{acts:#?}");
    assert_eq!(lab.sync(false, false).1, Vec::<Vec<String>>::new());
}
