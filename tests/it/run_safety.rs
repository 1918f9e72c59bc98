//! Run safety through the binary: one run per host at a time, Ctrl-C finishes the command in
//! flight and stops, and exit codes say what happened.

use crate::support::phoenix::{actions, root, stderr, Sandbox};
use std::time::{Duration, Instant};

fn example() -> std::path::PathBuf {
    root().join("etc")
}

/// A simulated host whose `zpool create` takes `ms` milliseconds.
fn slow_pool_create(sb: &Sandbox, ms: u64) {
    let state = serde_json::json!({ "latency_ms": { "zpool create": ms } });
    std::fs::write(sb.sim_state(), state.to_string()).expect("write sim state");
}

/// The run lock of the sandbox's simulated host: next to its state file.
fn lock_file(sb: &Sandbox) -> std::path::PathBuf {
    phoenix::lock::sim_lock_path(&sb.sim_state()).expect("lock path")
}

fn lock_named(sb: &Sandbox) -> bool {
    std::fs::read_to_string(lock_file(sb)).map(|t| !t.trim().is_empty()).unwrap_or(false)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_run_on_the_same_host_fails_fast_naming_the_holder() {
    let sb = Sandbox::new();
    slow_pool_create(&sb, 1500);
    let mut first = sb.command(&example(), &["setup"]).spawn().expect("spawn");
    wait_for("the first run to take the lock", || lock_named(&sb));
    let started = Instant::now();
    let second = sb.run(&example(), &["setup", "--dry-run"]);
    assert!(started.elapsed() < Duration::from_secs(1), "the second run must not wait");
    assert_eq!(second.status.code(), Some(1));
    let err = stderr(&second);
    assert!(err.contains("another phoenix run holds the lock"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "the holder must be named: {err}");
    assert!(err.contains("phoenix setup"), "{err}");
    assert_eq!(first.wait().expect("first run").code(), Some(0));

    // The lock is released with the run: the next one proceeds.
    let third = sb.run(&example(), &["setup", "--dry-run"]);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
}

#[test]
fn a_crashed_runs_lock_is_recovered() {
    let sb = Sandbox::new();
    slow_pool_create(&sb, 5000);
    let mut first = sb.command(&example(), &["setup"]).spawn().expect("spawn");
    wait_for("the lock", || lock_named(&sb));
    std::thread::sleep(Duration::from_millis(200));
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    let next = sb.run(&example(), &["setup", "--dry-run"]);
    assert_eq!(next.status.code(), Some(0), "a dead holder's lock must not block: {}", stderr(&next));
}

#[test]
fn ctrl_c_finishes_the_command_in_flight_then_stops_with_130() {
    let sb = Sandbox::new();
    slow_pool_create(&sb, 1200);
    let mut child = sb
        .command(&example(), &["setup", "--output", "json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    // Read events as they come. The rehearsal's events are held back, so the first event
    // printed is the apply's `run_started`; the first slow `zpool create` is in flight a few
    // milliseconds later.
    let stdout = child.stdout.take().expect("stdout");
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("\"run_started\"") {
                let _ = started_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    started_rx.recv_timeout(Duration::from_secs(20)).expect("the apply started");
    std::thread::sleep(Duration::from_millis(150));
    let status = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill");
    assert!(status.success());
    let code = child.wait().expect("wait").code();
    let lines = reader.join().expect("reader");
    let out = std::process::Output {
        status: std::process::ExitStatus::default(),
        stdout: lines.join("\n").into_bytes(),
        stderr: Vec::new(),
    };
    assert_eq!(code, Some(130), "{lines:?}");
    let done = actions(&out);
    // The pool create in flight completed and was reported; nothing after it started.
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(done[0].starts_with("create zfs pool tank"), "{done:?}");
    let summary = crate::support::phoenix::summary(&out);
    assert_eq!(summary["interrupted"], true);
    let journal = std::fs::read_to_string(sb.state_dir().join("journal.jsonl")).expect("journal");
    assert_eq!(journal.lines().count(), 1);
}

#[test]
fn unknown_verb_lists_the_available_ones() {
    let sb = Sandbox::new();
    let out = sb.run(&example(), &["setpu"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("unknown verb `setpu`"), "{err}");
    assert!(err.contains("did you mean `setup`?"), "{err}");
    assert!(err.contains("firewall") && err.contains("inspect"), "{err}");
    assert!(sb.sim_commands().is_empty(), "nothing may reach the host");
}
