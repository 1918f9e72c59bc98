//! Convergence never forgets (issue 6, item 10), mount-point drift, and the storages of a VM
//! template build (item 11), end to end through the binary on the simulator.
//!
//! - A guest a failure stopped half-way, a guest whose declaration changed, and a clone (which
//!   copies its source's description, and so its convergence record) are converged fully by a
//!   plain `create`; a converged host then costs no guest command.
//! - Mount points are repaired in place under their own `mpN`; options and undeclared mounts show
//!   as drift; undeclared mounts are never removed.
//! - A template whose storage is missing fails its dry-run and its apply before any mutating
//!   command, naming the storage.

use crate::support::phoenix::{actions, copy_dir, events, ok, root, run, sim, stderr, Sandbox};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The example cut down to 900 (template) → 103 → {102, 110}, without VMs. 102 has a bind
/// mount (`/etc/traefik/certs`); 110 gets docker on top of base_setup.
fn lxc_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    edit_json(&dir.join("phoenix_lxc_configs.json"), |lxc| {
        let guests = lxc["lxc_configs"].as_object_mut().unwrap();
        guests.retain(|id, _| ["900", "103", "102", "110"].contains(&id.as_str()));
        for (id, g) in guests.iter_mut() {
            let g = g.as_object_mut().unwrap();
            g.remove("application_script");
            let features = if id == "110" { json!(["base_setup", "docker"]) } else { json!(["base_setup"]) };
            g.insert("features".into(), features);
            let deps = if id == "102" || id == "110" { json!([103]) } else { json!([]) };
            g.insert("dependencies".into(), deps);
        }
    });
    edit_json(&dir.join("phoenix_vm_configs.json"), |vm| vm["vms"] = json!([]));
    dir
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn lxc_guest<'a>(lxc: &'a mut Value, id: &str) -> &'a mut serde_json::Map<String, Value> {
    lxc["lxc_configs"][id].as_object_mut().unwrap()
}

fn edit_sim(sb: &Sandbox, f: impl FnOnce(&mut Value)) {
    let mut s = sim(sb);
    f(&mut s);
    std::fs::write(sb.sim_state(), serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

fn prepared(sb: &Sandbox, config: &Path) {
    ok(&run(sb, config, &["setup", "-q"]));
}

/// A guest's outcome in a run (`ok`, `failed: …`, `skipped: …`).
fn outcome(out: &Output, id: u64) -> String {
    events(out)
        .into_iter()
        .find(|e| e["event"] == "guest_finished" && e["guest"] == id)
        .map(|e| e["outcome"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn guest_actions(out: &Output, id: u32) -> Vec<String> {
    actions(out).into_iter().filter(|a| a.contains(&format!("[{id}]"))).collect()
}

/// Commands of the last run (since the log was cleared) that enter a guest or change the host.
fn guest_or_mutating(sb: &Sandbox) -> Vec<String> {
    sb.sim_commands()
        .into_iter()
        .filter(|(argv, mutating)| *mutating || argv.get(1).is_some_and(|s| s == "exec" || s == "guest"))
        .map(|(argv, _)| argv.join(" "))
        .collect()
}

/// The `mpN` keys and values of a container in the simulator (pending changes not included).
fn mounts(sb: &Sandbox, id: &str) -> Vec<(String, String)> {
    let s = sim(sb);
    s["guests"][id]["config"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("mp"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn status_row(sb: &Sandbox, config: &Path, id: u64) -> Value {
    let out = run(sb, config, &["status", "--output", "json"]);
    ok(&out);
    events(&out)
        .into_iter()
        .find(|e| e["event"] == "row" && e["row"]["id"] == id)
        .map(|e| e["row"].clone())
        .unwrap_or_else(|| panic!("no status row for {id}"))
}

fn drift_fields(row: &Value) -> Vec<String> {
    row["drift"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_guest_a_feature_failure_stopped_is_finished_by_the_next_create() {
    let sb = Sandbox::new();
    let cfg = lxc_config(&sb);
    prepared(&sb, &cfg);
    edit_sim(&sb, |s| {
        // docker is the only package 110 installs (base packages come with the clone of 900).
        s["faults"] = json!([{
            "match": "pct exec 110 -- *apt-get install *",
            "stderr": "E: Unable to locate package\n",
            "code": 100,
            "times": 1
        }]);
    });
    let first = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert!(outcome(&first, 110).starts_with("failed"), "{}", outcome(&first, 110));

    // The fault is spent: a plain create must finish 110 (its features), not call it ok.
    let second = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&second);
    let done = guest_actions(&second, 110);
    assert!(done.iter().any(|a| a.contains("apt-get install") && a.contains("docker.io")), "{done:#?}");
    assert!(done.iter().any(|a| a.contains("ct 110 convergence record")), "{done:#?}");
    // The guests that had finished are not touched again.
    for id in [900, 103, 102] {
        assert_eq!(guest_actions(&second, id), Vec::<String>::new(), "guest {id}");
    }

    // Converged: nothing to do, and no command enters a guest or changes the host.
    sb.clear_sim_log();
    let third = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&third);
    assert_eq!(actions(&third), Vec::<String>::new());
    assert_eq!(guest_or_mutating(&sb), Vec::<String>::new());
    let reads = sb.sim_commands().len();
    // One more converged run reads exactly as much: the record costs no command of its own.
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["create", "--all"]));
    assert_eq!(sb.sim_commands().len(), reads);
}

#[test]
fn a_changed_declaration_is_converged_fully_by_create() {
    let sb = Sandbox::new();
    let cfg = lxc_config(&sb);
    std::fs::write(cfg.join("scripts/app102.sh"), "#!/bin/bash\necho first\n").unwrap();
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc_guest(lxc, "102").insert("application_script".into(), json!("app102.sh"));
    });
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "--all"]));

    // Only the script's content changes: nothing the configure pass compares.
    std::fs::write(cfg.join("scripts/app102.sh"), "#!/bin/bash\necho second\n").unwrap();
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    let done = guest_actions(&out, 102);
    assert!(done.iter().any(|a| a.contains("pct exec 102 -- /usr/local/lib/phoenix/application.sh")), "{done:#?}");
    assert!(
        done.iter().any(|a| a.contains("convergence record") && a.contains("declared configuration changed")),
        "{done:#?}"
    );
    for id in [900, 103, 110] {
        assert_eq!(guest_actions(&out, id), Vec::<String>::new(), "guest {id}");
    }

    // A feature added to the list: installed by create, not only its pct features set.
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc_guest(lxc, "102").insert("features".into(), json!(["base_setup", "docker"]));
    });
    let out = run(&sb, &cfg, &["create", "102", "--output", "json"]);
    ok(&out);
    let done = guest_actions(&out, 102);
    assert!(done.iter().any(|a| a.contains("apt-get install") && a.contains("docker.io")), "{done:#?}");
    let again = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new());
}

#[test]
fn a_clone_never_inherits_its_sources_record() {
    let sb = Sandbox::new();
    let cfg = lxc_config(&sb);
    // 103 clones 900's current state (no template snapshot), description included.
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc_guest(lxc, "900").remove("template_snapshot_name");
        lxc_guest(lxc, "103").insert("features".into(), json!(["base_setup", "docker"]));
    });
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "900"]));
    let desc900 = sim(&sb)["guests"]["900"]["config"]["description"].as_str().unwrap_or("").to_string();
    assert!(desc900.contains("phoenix-converged: 900 sha256:"), "{desc900}");

    edit_sim(&sb, |s| {
        s["faults"] = json!([{ "match": "pct exec 103 -- *apt-get install *", "code": 100, "times": 1 }]);
    });
    let failed = run(&sb, &cfg, &["create", "103", "--output", "json"]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    // The clone carries its source's record: it must not count for 103.
    let desc103 = sim(&sb)["guests"]["103"]["config"]["description"].as_str().unwrap_or("").to_string();
    assert!(desc103.contains("phoenix-converged: 900 "), "the clone copied the description: {desc103}");

    let out = run(&sb, &cfg, &["create", "103", "--output", "json"]);
    ok(&out);
    let done = guest_actions(&out, 103);
    assert!(done.iter().any(|a| a.contains("apt-get install") && a.contains("docker.io")), "{done:#?}");
    let desc103 = sim(&sb)["guests"]["103"]["config"]["description"].as_str().unwrap_or("").to_string();
    assert!(desc103.contains("phoenix-converged: 103 sha256:"), "{desc103}");
    assert!(!desc103.contains("phoenix-converged: 900"), "the inherited record is replaced: {desc103}");
    let again = run(&sb, &cfg, &["create", "103", "--output", "json"]);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new());
}

#[test]
fn mount_drift_is_repaired_in_place_and_undeclared_mounts_are_reported() {
    let sb = Sandbox::new();
    let cfg = lxc_config(&sb);
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "--all"]));
    let before = mounts(&sb, "102");
    assert_eq!(before.len(), 1, "{before:?}");
    let (key, value) = before[0].clone();
    assert!(value.contains("mp=/etc/traefik/certs"), "{value}");

    // The declared container path changes: the same mpN is set, no second mount appears.
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc_guest(lxc, "102")["mount_points"][0]["container_path"] = json!("/srv/certs");
    });
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    let text = guest_actions(&out, 102).join("\n");
    assert!(text.contains(&format!("pct set 102 --{key} /tank/lxc-persistent-data/102/certs,mp=/srv/certs")), "{text}");
    // Changing a mounted mount point of a running container waits for its restart (PVE).
    assert!(text.contains("pct reboot 102"), "{text}");
    let after = mounts(&sb, "102");
    assert_eq!(after, vec![(key.clone(), "/tank/lxc-persistent-data/102/certs,mp=/srv/certs".to_string())]);

    // ro=1 set by hand: drift in status, set back by create.
    edit_sim(&sb, |s| {
        let v = s["guests"]["102"]["config"][&key].as_str().unwrap().to_string();
        s["guests"]["102"]["config"][&key] = json!(format!("{v},ro=1"));
    });
    let row = status_row(&sb, &cfg, 102);
    assert_eq!(drift_fields(&row), vec!["mount /srv/certs ro".to_string()], "{row}");
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    assert!(guest_actions(&out, 102)
        .join("\n")
        .contains(&format!("--{key} /tank/lxc-persistent-data/102/certs,mp=/srv/certs")));
    assert_eq!(drift_fields(&status_row(&sb, &cfg, 102)), Vec::<String>::new());

    // An undeclared mount point: drift with its remedy, reported by create, never removed.
    edit_sim(&sb, |s| {
        s["guests"]["102"]["config"]["mp7"] = json!("/srv/extra,mp=/extra");
    });
    let row = status_row(&sb, &cfg, 102);
    assert_eq!(drift_fields(&row), vec!["mp7 (not declared)".to_string()], "{row}");
    assert!(row["drift"][0]["declared"].as_str().unwrap().contains("pct set 102 --delete mp7"), "{row}");
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    assert_eq!(actions(&out), Vec::<String>::new(), "nothing is removed");
    let warned = events(&out)
        .into_iter()
        .any(|e| e["event"] == "log" && e["level"] == "warn" && e["message"].as_str().unwrap_or("").contains("mp7"));
    assert!(warned, "create reports the undeclared mount: {}", String::from_utf8_lossy(&out.stdout));
    assert!(mounts(&sb, "102").iter().any(|(k, _)| k == "mp7"));
}

/// The example's VMs standing alone (no features, volumes or container dependencies).
fn vm_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    edit_json(&dir.join("phoenix_lxc_configs.json"), |lxc| lxc["lxc_configs"] = json!({}));
    edit_json(&dir.join("phoenix_vm_configs.json"), |vms| {
        for vm in vms["vms"].as_array_mut().unwrap() {
            let vm = vm.as_object_mut().unwrap();
            vm.insert("dependencies".into(), json!([]));
            vm.insert("features".into(), json!([]));
            vm.insert("volumes".into(), json!([]));
        }
    });
    dir
}

fn assert_refused_before_any_change(sb: &Sandbox, out: &Output, storage: &str) {
    assert_ne!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    assert!(all.contains(&format!("storage `{storage}`")) && all.contains("does not exist"), "{all}");
    let mutating: Vec<String> =
        sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(argv, _)| argv.join(" ")).collect();
    assert_eq!(mutating, Vec::<String>::new());
}

#[test]
fn a_template_with_a_missing_storage_fails_before_any_change() {
    let sb = Sandbox::new();
    let cfg = vm_config(&sb);
    prepared(&sb, &cfg);
    // The template's disk storage (which also holds its cloud-init drive).
    edit_json(&cfg.join("phoenix_vm_configs.json"), |vms| {
        vms["vms"][0]["storage_pool"] = json!("nosuch-pool");
    });
    for args in [&["create", "9000", "--dry-run"][..], &["create", "9000", "--output", "json"]] {
        sb.clear_sim_log();
        let out = run(&sb, &cfg, args);
        assert_refused_before_any_change(&sb, &out, "nosuch-pool");
    }

    // The snippet storage (`local`) gone from the host.
    edit_json(&cfg.join("phoenix_vm_configs.json"), |vms| {
        vms["vms"][0].as_object_mut().unwrap().remove("storage_pool");
    });
    edit_sim(&sb, |s| {
        s["storages"].as_object_mut().unwrap().remove("local");
    });
    sb.clear_sim_log();
    let out = run(&sb, &cfg, &["create", "9000", "--dry-run"]);
    assert_refused_before_any_change(&sb, &out, "local");
}

#[test]
fn a_vm_a_feature_failure_stopped_is_finished_by_the_next_create() {
    let sb = Sandbox::new();
    let cfg = vm_config(&sb);
    edit_json(&cfg.join("phoenix_vm_configs.json"), |vms| {
        vms["vms"][1]["features"] = json!(["docker"]);
    });
    prepared(&sb, &cfg);
    edit_sim(&sb, |s| {
        s["agent_ready_after_ms"] = json!(50);
        s["faults"] = json!([{ "match": "qm guest exec 1001 *apt-get*install*docker.io*", "code": 100, "times": 1 }]);
    });
    let first = run(&sb, &cfg, &["create", "1001", "--output", "json"]);
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert!(outcome(&first, 1001).starts_with("failed"), "{}", outcome(&first, 1001));

    let second = run(&sb, &cfg, &["create", "1001", "--output", "json"]);
    ok(&second);
    let done = guest_actions(&second, 1001);
    assert!(done.iter().any(|a| a.contains("apt-get") && a.contains("docker.io")), "{done:#?}");
    assert!(done.iter().any(|a| a.contains("vm 1001 convergence record")), "{done:#?}");

    sb.clear_sim_log();
    let third = run(&sb, &cfg, &["create", "1001", "--output", "json"]);
    ok(&third);
    assert_eq!(actions(&third), Vec::<String>::new());
    assert_eq!(guest_or_mutating(&sb), Vec::<String>::new());
}
