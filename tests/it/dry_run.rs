//! The dry-run guarantees, end to end through the binary on the simulator with the example
//! configuration: dry-run shows exactly what apply then does, sends only reads, and after an
//! apply there is nothing left to do.

use crate::support::phoenix::{actions, root, stderr, summary, Sandbox};

fn example() -> std::path::PathBuf {
    root().join("etc")
}

/// Dry-run and apply from the same starting state produce the same actions (compared as sorted
/// lists: guests run in parallel, so their interleaving may differ between runs).
#[test]
fn dry_run_prints_exactly_what_apply_executes() {
    let sb = Sandbox::new();
    let dry = sb.run(&example(), &["setup", "--dry-run", "--output", "json"]);
    assert_eq!(dry.status.code(), Some(0), "dry-run failed: {}", stderr(&dry));
    let planned = actions(&dry);
    assert!(planned.len() > 10, "the example setup should plan work on an empty host: {planned:?}");

    let apply = sb.run(&example(), &["setup", "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0), "apply failed: {}", stderr(&apply));
    let done = actions(&apply);

    let (mut p, mut d) = (planned.clone(), done.clone());
    p.sort();
    d.sort();
    assert_eq!(p, d, "dry-run and apply differ");
    // Actions outside any guest walk run in one thread: their order must match exactly too.
    let serial = |v: &[String]| v.iter().filter(|a| a.contains("[null]")).cloned().collect::<Vec<_>>();
    assert_eq!(serial(&planned), serial(&done));
}

#[test]
fn dry_run_sends_only_read_commands() {
    let sb = Sandbox::new();
    let dry = sb.run(&example(), &["setup", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let commands = sb.sim_commands();
    assert!(!commands.is_empty(), "the dry-run must have read the host");
    let writes: Vec<_> = commands.iter().filter(|(_, mutating)| *mutating).collect();
    assert!(writes.is_empty(), "dry-run sent mutating commands: {writes:?}");
    assert!(!sb.state_dir().join("journal.jsonl").exists(), "a dry-run must not write the journal");
}

#[test]
fn apply_then_dry_run_shows_zero_changes() {
    let sb = Sandbox::new();
    let apply = sb.run(&example(), &["setup", "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert!(!actions(&apply).is_empty());

    sb.clear_sim_log();
    let again = sb.run(&example(), &["setup", "--dry-run", "--output", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(actions(&again), Vec::<String>::new(), "a converged host must need nothing");
    let s = summary(&again);
    assert!(s["unchanged"].as_u64().unwrap_or(0) > 10, "{s}");

    // And a real second apply changes nothing either: no mutating command reaches the host.
    sb.clear_sim_log();
    let apply2 = sb.run(&example(), &["setup", "--output", "json"]);
    assert_eq!(apply2.status.code(), Some(0), "{}", stderr(&apply2));
    assert!(actions(&apply2).is_empty());
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "{:?}", sb.sim_commands());
}

#[test]
fn journal_records_each_executed_action() {
    let sb = Sandbox::new();
    let apply = sb.run(&example(), &["setup", "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    let journal = std::fs::read_to_string(sb.state_dir().join("journal.jsonl")).expect("journal written");
    let lines: Vec<serde_json::Value> = journal.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), actions(&apply).len());
    assert!(lines.iter().all(|l| l["ok"] == true && l["plan"] == "setup" && l["started"].is_string()));
}
