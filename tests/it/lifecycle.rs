//! The guest lifecycle end to end, through the binary on the simulator: create everything,
//! idempotency, drift repair, delete safety, parallel order, injected faults, exact dry-run.
//!
//! Most tests use a reduced copy of the example configuration (containers with base_setup and
//! docker, no VMs) so each stays fast and its expectations exact; one test runs the whole example.

use crate::support::phoenix::{actions, copy_dir, events, ok, root, run, sim, stderr, without_clone_mac, Sandbox};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The example configuration cut down to 900 (template) → 103 → {102, 110} → 101: every guest
/// clones from 900, 102 and 110 depend on 103, 101 on both. No application scripts, no VMs.
fn mini_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    let path = dir.join("phoenix_lxc_configs.json");
    let mut lxc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let guests = lxc["lxc_configs"].as_object_mut().unwrap();
    guests.retain(|id, _| ["900", "103", "102", "101", "110"].contains(&id.as_str()));
    for (id, g) in guests.iter_mut() {
        let g = g.as_object_mut().unwrap();
        g.remove("application_script");
        let features = if id == "110" { json!(["base_setup", "docker"]) } else { json!(["base_setup"]) };
        g.insert("features".into(), features);
        g.insert(
            "dependencies".into(),
            match id.as_str() {
                "101" => json!([102, 110]),
                "102" | "110" => json!([103]),
                _ => json!([]),
            },
        );
    }
    std::fs::write(&path, serde_json::to_string_pretty(&lxc).unwrap()).unwrap();
    let vm_path = dir.join("phoenix_vm_configs.json");
    let mut vm: Value = serde_json::from_str(&std::fs::read_to_string(&vm_path).unwrap()).unwrap();
    vm["vms"] = json!([]);
    std::fs::write(&vm_path, serde_json::to_string_pretty(&vm).unwrap()).unwrap();
    dir
}

const MINI: [u32; 5] = [900, 103, 102, 101, 110];

fn edit_sim(sb: &Sandbox, f: impl FnOnce(&mut Value)) {
    let mut s = sim(sb);
    f(&mut s);
    std::fs::write(sb.sim_state(), serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

/// The host prepared by `setup` (pools, datasets, storages), with no guest yet.
fn prepared(sb: &Sandbox, config: &Path) {
    ok(&run(sb, config, &["setup", "-q"]));
}

/// The guest ids in the simulator with their power state.
fn power(sb: &Sandbox) -> Vec<(u32, String)> {
    let s = sim(sb);
    s["guests"]
        .as_object()
        .map(|g| {
            g.iter()
                .map(|(id, v)| (id.parse().unwrap(), v["status"].as_str().unwrap_or("stopped").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The text of log lines and table rows (`status` reports rows).
fn log_lines(out: &Output) -> Vec<String> {
    events(out)
        .into_iter()
        .filter_map(|e| match e["event"].as_str() {
            Some("log") => Some(e["message"].as_str().unwrap_or("").to_string()),
            Some("row") => Some(e["text"].as_str().unwrap_or("").to_string()),
            _ => None,
        })
        .collect()
}

fn assert_all_up(sb: &Sandbox, ids: &[u32], templates: &[u32]) {
    let p = power(sb);
    for id in ids {
        let state = p.iter().find(|(g, _)| g == id).map(|(_, s)| s.as_str());
        let want = if templates.contains(id) { "stopped" } else { "running" };
        assert_eq!(state, Some(want), "guest {id}: {p:?}");
    }
}

#[test]
fn create_all_converges_then_changes_nothing() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "--all"]));
    assert_all_up(&sb, &MINI, &[900]);
    let again = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new(), "a converged host needs nothing");
    // converge re-checks every step, features included, and still finds nothing to do.
    let full = run(&sb, &cfg, &["converge", "--all", "--output", "json"]);
    ok(&full);
    assert_eq!(actions(&full), Vec::<String>::new());
}

/// The whole example configuration: every LXC and VM, every feature. From the empty host the
/// dry-run matches apply action for action except where the outcome rests on the cloud image the
/// run downloads (files inside the VMs): the test bounds the differences to exactly those.
/// After apply, a dry-run and a second apply find nothing to do.
#[test]
fn create_all_example_converges_then_changes_nothing() {
    let sb = Sandbox::new();
    let cfg = root().join("etc");
    prepared(&sb, &cfg);
    sb.clear_sim_log();
    let dry = run(&sb, &cfg, &["create", "--all", "--dry-run", "--output", "json"]);
    ok(&dry);
    let planned = actions(&dry);
    for id in [900, 901, 103, 102, 101, 110, 120, 121, 9000, 1001, 1002] {
        assert!(planned.iter().any(|a| a.contains(&format!("[{id}]"))), "the dry-run plans guest {id}");
    }
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "the dry-run sent only reads");
    let applied = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&applied);
    // Dry-run and apply agree on every action except files inside the VMs: whether those exist
    // rests on the cloud image, which this very run downloads (the dry-run says "content unknown
    // until apply" where apply says "absent").
    let done: Vec<String> = actions(&applied).iter().map(|a| without_clone_mac(a)).collect();
    let known_after_apply = |a: &String| (a.contains("[1001]") || a.contains("[1002]")) && a.contains(": file /");
    let only_dry: Vec<&String> = planned.iter().filter(|a| !done.contains(a) && !known_after_apply(a)).collect();
    let only_apply: Vec<&String> = done.iter().filter(|a| !planned.contains(a) && !known_after_apply(a)).collect();
    assert!(only_dry.is_empty() && only_apply.is_empty(), "dry-run only: {only_dry:#?}\napply only: {only_apply:#?}");
    assert_all_up(&sb, &[900, 901, 103, 102, 101, 110, 120, 121, 9000, 1001, 1002], &[900, 901, 9000]);
    let dry_again = run(&sb, &cfg, &["create", "--all", "--dry-run", "--output", "json"]);
    ok(&dry_again);
    assert_eq!(actions(&dry_again), Vec::<String>::new());
    let again = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new());
}

#[test]
fn drift_is_shown_then_exactly_repaired() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "--all"]));
    let mut mount_key = String::new();
    edit_sim(&sb, |s| {
        let conf = s["guests"]["102"]["config"].as_object_mut().unwrap();
        conf.insert("cores".into(), json!("1"));
        let (k, v) = conf.iter_mut().find(|(k, _)| k.starts_with("mp")).expect("102 declares a mount point");
        mount_key = k.clone();
        *v = json!(v.as_str().unwrap().replacen("/tank/", "/tank/old-", 1));
    });

    let status = run(&sb, &cfg, &["status", "--output", "json"]);
    ok(&status);
    let rows = log_lines(&status);
    let row = rows.iter().find(|l| l.starts_with("102 ")).expect("a row for 102");
    assert!(row.contains("cores: 1 → "), "{row}");
    assert!(row.contains("/tank/old-"), "{row}");
    for other in ["101 ", "103 ", "110 "] {
        let r = rows.iter().find(|l| l.starts_with(other)).expect("a row per guest");
        assert!(r.ends_with(" none"), "{r}");
    }

    let fix = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&fix);
    let done = actions(&fix);
    assert!(!done.is_empty());
    assert!(done.iter().all(|a| a.contains("[102]")), "only 102 changes: {done:#?}");
    let text = done.join("\n");
    assert!(text.contains("--cores"), "{text}");
    assert!(text.contains(&format!("--{mount_key}")) || text.contains("mount"), "{text}");
    assert!(!text.contains("--memory"), "nothing else changes: {text}");
    let status = run(&sb, &cfg, &["status", "102", "--output", "json"]);
    assert!(log_lines(&status).iter().any(|l| l.starts_with("102 ") && l.ends_with(" none")));
    // The JSON row carries the drift as data too (none left after the repair).
    let rows: Vec<serde_json::Value> = crate::support::phoenix::events(&status)
        .into_iter()
        .filter(|e| e["event"] == "row" && e["row"]["id"] == 102)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["row"]["drift"], json!([]));
}

#[test]
fn delete_refuses_with_dependents_and_deletes_leaves() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "--all"]));

    let refused = run(&sb, &cfg, &["delete", "103", "--yes"]);
    assert_ne!(refused.status.code(), Some(0));
    let err = stderr(&refused);
    for dependent in ["102 needs 103", "110 needs 103"] {
        assert!(err.contains(dependent), "{err}");
    }
    assert!(power(&sb).iter().any(|(id, _)| *id == 103), "103 must still exist");

    // Without a terminal and without --yes nothing is destroyed.
    let unconfirmed = run(&sb, &cfg, &["delete", "101"]);
    assert_ne!(unconfirmed.status.code(), Some(0));
    assert!(stderr(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));
    assert!(power(&sb).iter().any(|(id, _)| *id == 101));

    // A guest together with its only dependent: dependents go first.
    let del = run(&sb, &cfg, &["delete", "102", "101", "--yes", "--output", "json"]);
    ok(&del);
    let left: Vec<u32> = power(&sb).into_iter().map(|(id, _)| id).collect();
    assert!(!left.contains(&101) && !left.contains(&102), "{left:?}");
    let destroyed: Vec<String> = sb
        .sim_commands()
        .into_iter()
        .filter(|(a, _)| a.len() > 2 && a[1] == "destroy")
        .map(|(a, _)| a[2].clone())
        .collect();
    assert_eq!(destroyed, ["101", "102"]);
    // Gone is gone: deleting again does nothing.
    let again = run(&sb, &cfg, &["delete", "101", "--yes", "--output", "json"]);
    ok(&again);
    assert!(actions(&again).is_empty());
}

#[test]
fn start_stop_restart_touch_only_targets_and_skip_templates() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "--all"]));
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["stop", "--all"]));
    let stops: Vec<String> =
        sb.sim_commands().into_iter().filter(|(a, m)| *m && a[1] == "shutdown").map(|(a, _)| a[2].clone()).collect();
    // Reverse (boot_order, id): 110 (4), 101 (3), 102 (2), 103 (1); the template 900 untouched.
    assert_eq!(stops, ["110", "101", "102", "103"]);

    sb.clear_sim_log();
    let start = run(&sb, &cfg, &["start", "101", "--output", "json"]);
    ok(&start);
    let mutating: Vec<Vec<String>> = sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a).collect();
    assert_eq!(mutating, [vec!["pct".to_string(), "start".into(), "101".into()]], "no cascade into 102/103");
    let again = run(&sb, &cfg, &["start", "101", "--output", "json"]);
    assert!(actions(&again).is_empty(), "already running: no-op");

    let tpl = run(&sb, &cfg, &["start", "900", "--output", "json"]);
    ok(&tpl);
    assert!(log_lines(&tpl).iter().any(|l| l.contains("900") && l.contains("template")));
    assert!(actions(&tpl).is_empty());

    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["restart", "101", "103"]));
    let cmds: Vec<String> = sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a.join(" ")).collect();
    assert_eq!(cmds, ["pct start 103", "pct reboot 101"], "boot order; a stopped guest is started");
}

/// Journal entries as (guest, started, finished).
fn journal(sb: &Sandbox) -> Vec<(u64, String, String)> {
    let text = std::fs::read_to_string(sb.state_dir().join("journal.jsonl")).expect("journal written");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|v| {
            Some((v["guest"].as_u64()?, v["started"].as_str()?.to_string(), v["finished"].as_str()?.to_string()))
        })
        .collect()
}

#[test]
fn parallel_walk_respects_edges_and_overlaps_independent_guests() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    let _ = std::fs::remove_file(sb.state_dir().join("journal.jsonl"));
    edit_sim(&sb, |s| {
        s["latency_ms"] = json!({ "pct clone": 300, "pct start": 200, "pct exec": 5 });
    });
    ok(&run(&sb, &cfg, &["create", "--all", "--parallel", "4"]));
    let j = journal(&sb);
    // RFC 3339 UTC with milliseconds: text order is time order.
    let span = |id: u64| {
        let mine: Vec<_> = j.iter().filter(|(g, _, _)| *g == id).collect();
        assert!(!mine.is_empty(), "no journal entry for {id}");
        (mine.iter().map(|e| e.1.clone()).min().unwrap(), mine.iter().map(|e| e.2.clone()).max().unwrap())
    };
    for (dependent, prerequisite) in [(103, 900), (102, 103), (110, 103), (101, 102), (101, 110)] {
        let (start, _) = span(dependent);
        let (_, end) = span(prerequisite);
        assert!(start >= end, "{dependent} started at {start} before {prerequisite} finished at {end}");
    }
    // 102 and 110 both wait only on 103: they run at the same time.
    let (s102, e102) = span(102);
    let (s110, e110) = span(110);
    assert!(s102 < e110 && s110 < e102, "102 [{s102}, {e102}] and 110 [{s110}, {e110}] should overlap");
}

#[test]
fn lock_contention_on_clone_is_retried() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    edit_sim(&sb, |s| {
        s["faults"] = json!([{
            "match": "pct clone 900 103 *",
            "stderr": "trying to acquire lock...\ncan't lock file '/run/lock/lxc/pve-config-900.lock' - got timeout\n",
            "code": 255,
            "times": 2
        }]);
    });
    ok(&run(&sb, &cfg, &["create", "--all"]));
    assert_all_up(&sb, &MINI, &[900]);
    let clones = sb.sim_commands().into_iter().filter(|(a, _)| a.join(" ").starts_with("pct clone 900 103")).count();
    assert_eq!(clones, 3, "two refusals, then the clone");
}

#[test]
fn feature_failure_skips_dependents_and_rerun_converges() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    edit_sim(&sb, |s| {
        s["faults"] = json!([{
            // docker is installed only in 110 (base packages come with the clone of 900).
            "match": "pct exec 110 -- *apt-get install *",
            "stderr": "E: Unable to locate package\n",
            "code": 100,
            "times": 1
        }]);
    });
    let out = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let finished: Vec<(u64, String)> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "guest_finished")
        .map(|e| (e["guest"].as_u64().unwrap(), e["outcome"].as_str().unwrap_or("").to_string()))
        .collect();
    let outcome = |id: u64| finished.iter().find(|(g, _)| *g == id).map(|(_, o)| o.clone()).unwrap_or_default();
    assert!(outcome(110).starts_with("failed"), "{finished:?}");
    assert!(outcome(101).starts_with("skipped"), "{finished:?}");
    for id in [900, 103, 102] {
        assert_eq!(outcome(id), "ok", "{finished:?}");
    }
    assert!(!power(&sb).iter().any(|(id, _)| *id == 101), "101 was never created");

    ok(&run(&sb, &cfg, &["create", "--all"]));
    assert_all_up(&sb, &MINI, &[900]);
    let again = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    assert!(actions(&again).is_empty());
}

#[test]
fn dry_run_of_create_all_is_what_apply_does() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    let dry = run(&sb, &cfg, &["create", "--all", "--dry-run", "--output", "json"]);
    ok(&dry);
    let apply = run(&sb, &cfg, &["create", "--all", "--output", "json"]);
    ok(&apply);
    let (mut planned, mut done) = (actions(&dry), actions(&apply));
    assert!(planned.len() > 10, "{planned:#?}");
    planned.sort();
    done.sort();
    assert_eq!(planned, done);
}

#[test]
fn health_check_reports_each_check_and_fails_on_any() {
    let sb = Sandbox::new();
    let cfg = mini_config(&sb);
    prepared(&sb, &cfg);
    ok(&run(&sb, &cfg, &["create", "110", "900"]));
    let good = run(&sb, &cfg, &["health-check", "110", "900", "--output", "json"]);
    ok(&good);
    let lines = log_lines(&good);
    assert!(lines.iter().any(|l| l.starts_with("ok") && l.contains("network up")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("ok") && l.contains("template")), "{lines:?}");

    ok(&run(&sb, &cfg, &["stop", "110"]));
    let bad = run(&sb, &cfg, &["health-check", "110", "--output", "json"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(log_lines(&bad).iter().any(|l| l.starts_with("FAIL") && l.contains("running")));
}
