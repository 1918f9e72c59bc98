//! `setup → create --all → sync all` from an empty simulated host with the example, then
//! `sync all` again: the dry-run of the first sync lists exactly what its apply does, and the
//! second changes nothing and sends only reads. Stages whose module is not in this checkout
//! yet (they arrive from parallel work) are expected to fail as "does not exist"; with every
//! stage present the sync must succeed.

use crate::support::phoenix::{actions, events, ok, root, stderr, without_clone_mac, Sandbox};
use crate::sync_stacks::run_with_secrets;
use std::time::Instant;

/// The stages `sync all` runs that this checkout has no module for.
fn absent_stages() -> Vec<&'static str> {
    ["certs", "firewall", "traefik", "nginx"]
        .into_iter()
        .filter(|s| !root().join("stdlib/sync").join(format!("{s}.rhai")).exists())
        .collect()
}

fn stage_outcomes(out: &std::process::Output) -> Vec<(String, String)> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "row" && e["row"]["stage"].is_string())
        .map(|e| (e["row"]["stage"].as_str().unwrap().to_string(), e["row"]["outcome"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn sync_all_after_create_is_exact_then_idempotent() {
    let sb = Sandbox::new();
    ok(&run_with_secrets(&sb, &["setup"]));
    ok(&run_with_secrets(&sb, &["create", "--all"]));
    let absent = absent_stages();
    let want_code = if absent.is_empty() { 0 } else { 1 };

    sb.clear_sim_log();
    let dry = run_with_secrets(&sb, &["sync", "all", "--dry-run", "--output", "json"]);
    assert_eq!(dry.status.code(), Some(want_code), "{}", stderr(&dry));
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "the dry-run only reads");

    let started = Instant::now();
    let apply = run_with_secrets(&sb, &["sync", "all", "--output", "json"]);
    let first_ms = started.elapsed().as_millis();
    assert_eq!(apply.status.code(), Some(want_code), "{}", stderr(&apply));
    let norm = |v: Vec<String>| {
        let mut v: Vec<String> = v.into_iter().map(|a| without_clone_mac(&a)).collect();
        v.sort();
        v
    };
    let planned = norm(actions(&dry));
    assert!(!planned.is_empty(), "a first sync has work to do");
    assert_eq!(planned, norm(actions(&apply)), "dry-run and apply differ");

    // Every stage has an outcome; the absent ones failed as absent, the rest are ok or skipped.
    let outcomes = stage_outcomes(&apply);
    let names: Vec<&str> = outcomes.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["certs", "dns", "firewall", "portainer", "traefik", "nginx", "stacks"]);
    for (stage, outcome) in &outcomes {
        let want = if absent.contains(&stage.as_str()) { "failed" } else { "ok" };
        assert_eq!(outcome, want, "stage {stage}: {outcomes:?}");
    }

    sb.clear_sim_log();
    let started = Instant::now();
    let again = run_with_secrets(&sb, &["sync", "all", "--output", "json"]);
    let second_ms = started.elapsed().as_millis();
    assert_eq!(again.status.code(), Some(want_code), "{}", stderr(&again));
    assert_eq!(actions(&again), Vec::<String>::new(), "a converged lab needs nothing");
    let commands = sb.sim_commands();
    let writes: Vec<_> = commands.iter().filter(|(_, m)| *m).collect();
    assert!(writes.is_empty(), "the second sync sends only reads: {writes:?}");
    eprintln!(
        "sync all: first {first_ms} ms, converged {second_ms} ms with {} host commands (all reads)",
        commands.len()
    );
}
