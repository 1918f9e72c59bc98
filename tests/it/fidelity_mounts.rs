//! Bind mounts, `pct push` and snapshots/clones as a real Proxmox host has them (issue 7,
//! defects 1–3), end to end through the binary on the simulator, which refuses what Proxmox
//! refuses:
//! - `pct start` dies `directory '<path>' does not exist` for a missing bind-mount source, and a
//!   bind mount added to a running container fails its hotplug the same way;
//! - `pct push` makes no parent directory;
//! - `pct snapshot` / `pct clone` of a container with a bind mount die.

use crate::support::phoenix::{actions, copy_dir, events, ok, reads_of, root, run, sim, stderr, Sandbox};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

const LOGS: &str = "/tank/lxc-persistent-data/101/logs";
const SSL: &str = "/tank/lxc-persistent-data/101/ssl";

/// The example cut down to the template 900 and the gateway 101 (two bind mounts with owners,
/// an application script), without VMs, features or health checks.
fn config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    edit_json(&dir.join("phoenix_lxc_configs.json"), |lxc| {
        let guests = lxc["lxc_configs"].as_object_mut().unwrap();
        guests.retain(|id, _| ["900", "101"].contains(&id.as_str()));
        for g in guests.values_mut() {
            let g = g.as_object_mut().unwrap();
            g.insert("features".into(), json!([]));
            g.insert("dependencies".into(), json!([]));
            g.remove("health_checks");
        }
    });
    edit_json(&dir.join("phoenix_vm_configs.json"), |vm| vm["vms"] = json!([]));
    dir
}

/// The gateway without its bind mounts (to test one defect at a time).
fn without_mounts(cfg: &Path) {
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["101"].as_object_mut().unwrap().remove("mount_points");
    });
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn edit_sim(sb: &Sandbox, f: impl FnOnce(&mut Value)) {
    let mut s = sim(sb);
    f(&mut s);
    std::fs::write(sb.sim_state(), serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

/// A host directory in the simulator as (uid, gid, mode), `None` when `mkdir` never made it.
fn host_dir(sb: &Sandbox, path: &str) -> Option<(u64, u64, u64)> {
    let d = sim(sb)["dirs"].get(path)?.clone();
    Some((d["uid"].as_u64()?, d["gid"].as_u64()?, d["mode"].as_u64()?))
}

fn status(sb: &Sandbox, id: &str) -> String {
    sim(sb)["guests"][id]["status"].as_str().unwrap_or("").to_string()
}

fn created(sb: &Sandbox, cfg: &Path) {
    ok(&run(sb, cfg, &["setup", "-q"]));
    ok(&run(sb, cfg, &["create", "--all", "-q"]));
}

fn warnings(out: &Output) -> Vec<String> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "log" && e["level"] == "warn")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn missing_bind_sources_are_made_with_the_declared_owner_before_the_start() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    created(&sb, &cfg);
    assert_eq!(status(&sb, "101"), "running");
    // owner_uid/owner_gid are the ids inside the unprivileged container: host 100000 + id.
    assert_eq!(host_dir(&sb, LOGS), Some((100_033, 100_033, 0o755)));
    assert_eq!(host_dir(&sb, SSL), Some((100_000, 100_033, 0o755)));

    // Converged: both directories cost one read together and no change.
    sb.clear_sim_log();
    let again = run(&sb, &cfg, &["converge", "101", "--output", "json"]);
    ok(&again);
    // A read may travel inside a batch of the guest's reads: unpack them.
    let stats: Vec<Vec<String>> =
        sb.sim_commands().into_iter().flat_map(|(a, _)| reads_of(&a)).filter(|a| a[0] == "stat").collect();
    assert_eq!(stats, vec![["stat", "-c", "%F|%u|%g|%n", "--", LOGS, SSL].map(String::from).to_vec()]);
    let dir_actions: Vec<String> = actions(&again).into_iter().filter(|a| a.contains("directory")).collect();
    assert_eq!(dir_actions, Vec::<String>::new());

    // Someone re-owned one by hand: put back, and only that one.
    edit_sim(&sb, |s| s["dirs"][LOGS]["uid"] = json!(0));
    let fixed = run(&sb, &cfg, &["converge", "101", "--output", "json"]);
    ok(&fixed);
    let dir_actions: Vec<String> = actions(&fixed).into_iter().filter(|a| a.contains("directory")).collect();
    assert_eq!(
        dir_actions,
        vec![format!("update directory {LOGS} (owner 0:100033 → 100033:100033) [101] :: chown 100033 -- {LOGS}")]
    );
    assert_eq!(host_dir(&sb, LOGS), Some((100_033, 100_033, 0o755)));
}

#[test]
fn a_bind_mount_added_to_a_running_container_gets_its_source_before_the_hotplug() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    without_mounts(&cfg);
    // Without the application script, so only the hotplug can fail.
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["101"].as_object_mut().unwrap().remove("application_script");
    });
    created(&sb, &cfg);
    assert_eq!(status(&sb, "101"), "running");
    let extra = "/tank/lxc-persistent-data/101/extra";
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["101"]["mount_points"] = json!([{ "host_path": extra, "container_path": "/srv/extra" }]);
    });
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    // Hot-plugged into the running container: in its config now, no restart.
    let conf = sim(&sb)["guests"]["101"]["config"].clone();
    assert!(
        conf.as_object().unwrap().values().any(|v| v.as_str() == Some(&format!("{extra},mp=/srv/extra"))),
        "{conf}"
    );
    assert_eq!(status(&sb, "101"), "running");
    assert!(!actions(&out).join("\n").contains("pct reboot 101"), "{:?}", actions(&out));
    // No owner declared: a new directory belongs to the container's root.
    assert_eq!(host_dir(&sb, extra), Some((100_000, 100_000, 0o755)));
}

#[test]
fn pushes_into_a_fresh_container_make_the_parent_directory_first() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    // Without bind mounts, so only the push can fail.
    without_mounts(&cfg);
    std::fs::write(cfg.join("scripts/app.sh"), "#!/bin/sh\necho first\n").unwrap();
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["101"]["application_script"] = json!("app.sh");
    });
    ok(&run(&sb, &cfg, &["setup", "-q"]));
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    let s = sim(&sb);
    let files = s["guests"]["101"]["files"].as_object().unwrap();
    assert!(files.contains_key("/usr/local/lib/phoenix/application.sh"));
    assert!(files.contains_key("/var/lib/phoenix/application.sha256"));
    let script = actions(&out)
        .into_iter()
        .find(|a| a.contains("file /usr/local/lib/phoenix/application.sh"))
        .expect("the script is pushed");
    assert!(
        script.contains(":: pct exec 101 -- mkdir -p -- /usr/local/lib/phoenix ; write /tmp/.phoenix-push-101-"),
        "{script}"
    );

    // A file that exists has its directory: a changed script is pushed without the mkdir.
    std::fs::write(cfg.join("scripts/app.sh"), "#!/bin/sh\necho changed\n").unwrap();
    let out = run(&sb, &cfg, &["converge", "101", "--output", "json"]);
    ok(&out);
    let script = actions(&out)
        .into_iter()
        .find(|a| a.contains("file /usr/local/lib/phoenix/application.sh"))
        .expect("the changed script is pushed");
    assert!(!script.contains("mkdir"), "{script}");
}

#[test]
fn a_clone_source_declaring_bind_mounts_is_refused_by_check_with_its_location() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["900"]["mount_points"] = json!([{ "host_path": "/tank/shared", "container_path": "/srv" }]);
    });
    let out = run(&sb, &cfg, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = unwrapped(&stderr(&out));
    assert!(
        err.contains(
            "container 900 is a clone source (of 101) and declares bind mounts: Proxmox cannot clone or snapshot \
             a container with a bind mount (`unable to clone mountpoint 'mp0' (type bind)`)"
        ),
        "{err}"
    );
    let line = line_of(&cfg.join("phoenix_lxc_configs.json"), "900", "\"mount_points\"");
    assert!(err.contains(&format!("phoenix_lxc_configs.json:{line}:")), "{err}");
    assert!(err.contains("declare the mount points on the clones that need them"), "{err}");
    // Nothing ran.
    assert!(sb.sim_commands().is_empty());
}

#[test]
fn a_snapshotted_guest_with_bind_mounts_is_warned_and_left_without_the_snapshot() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    edit_json(&cfg.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["101"]["enable_lifecycle_snapshots"] = json!(true);
    });
    let check = run(&sb, &cfg, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let text = unwrapped(&format!("{}{}", String::from_utf8_lossy(&check.stdout), stderr(&check)));
    assert!(
        text.contains(
            "container 101 gets no lifecycle snapshot: Proxmox cannot snapshot a container with bind mounts \
             (`snapshot feature is not available`)"
        ),
        "{text}"
    );
    let line = line_of(&cfg.join("phoenix_lxc_configs.json"), "101", "\"enable_lifecycle_snapshots\"");
    assert!(text.contains(&format!("phoenix_lxc_configs.json:{line}:")), "{text}");

    ok(&run(&sb, &cfg, &["setup", "-q"]));
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&out);
    assert!(warnings(&out).iter().any(|w| w.contains("ct 101: no lifecycle snapshot")), "{:?}", warnings(&out));
    let s = sim(&sb);
    assert_eq!(s["guests"]["101"]["snapshots"].as_object().map(|m| m.len()).unwrap_or(0), 0);
    // The template (no bind mounts) holds its snapshot and was cloned from it.
    assert!(s["guests"]["900"]["snapshots"].get("base-ready").is_some(), "{}", s["guests"]["900"]);
    assert_eq!(status(&sb, "101"), "running");
}

#[test]
fn setup_makes_the_nfs_export_directories() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    let out = run(&sb, &cfg, &["setup", "--output", "json"]);
    ok(&out);
    for id in ["1001", "1002"] {
        let path = format!("/tank/vm-persistent-data/{id}");
        assert_eq!(host_dir(&sb, &path), Some((0, 0, 0o755)), "{path}");
    }
    let again = run(&sb, &cfg, &["setup", "--output", "json"]);
    ok(&again);
    assert!(!actions(&again).iter().any(|a| a.contains("directory")), "{:?}", actions(&again));
}

/// The report's text with miette's line wrapping undone (`│` gutters, runs of blanks).
fn unwrapped(text: &str) -> String {
    text.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The 1-based line of the first `needle` after the guest key `"<id>": {` in a file.
fn line_of(path: &Path, id: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let guest = text.find(&format!("\"{id}\": {{")).expect("guest in file");
    let at = guest + text[guest..].find(needle).expect("needle in file");
    text[..at].lines().count() + usize::from(text[..at].ends_with('\n'))
}
