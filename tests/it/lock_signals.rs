//! The run lock lives on the target host (whatever the host is called, whichever state dir a run
//! uses, whoever starts it), signals stop a run cleanly, and the simulator's state always holds
//! every action the journal records — even after SIGKILL.

use crate::support::phoenix::{bin, events, root, stderr, summary};
use crate::support::sshd::{free_port, Sshd};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tests that take the machine's real lock (`/run/lock/phoenix.lock`) run one at a time.
static REAL_HOST_LOCK: Mutex<()> = Mutex::new(());

fn example() -> PathBuf {
    root().join("etc")
}

/// `phoenix --host <host> --state-dir <state> --config-dir etc <args>`, run from `cwd`.
fn phoenix(cwd: &Path, host: &str, state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("PHOENIX_CONFIG_DIR")
        .env_remove("PHOENIX_HOME")
        .env_remove("PHOENIX_LOCK_PATH")
        .env_remove("PHOENIX_SSH_OPTS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .args(["--host", host, "--state-dir"])
        .arg(state)
        .arg("--config-dir")
        .arg(example())
        .args(args);
    c
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has_text(path: &Path) -> bool {
    std::fs::read_to_string(path).map(|t| !t.trim().is_empty()).unwrap_or(false)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill");
    assert!(ok.success(), "kill {sig}");
}

/// A simulated host at `path` where every command takes `ms` milliseconds.
fn slow_sim(path: &Path, ms: u64) {
    std::fs::write(path, serde_json::json!({ "latency_ms": { "*": ms } }).to_string()).expect("write sim state");
}

/// A plan that only waits: safe to run against this very machine (`local`, `ssh://` to the
/// test sshd), which is no Proxmox host.
fn sleeping_plan(dir: &Path, ms: u64) -> PathBuf {
    let plan = dir.join("wait.rhai");
    std::fs::write(&plan, format!("util::sleep_ms({ms});\n")).expect("write plan");
    plan
}

fn assert_busy(out: &Output, holder_pid: u32, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains("another phoenix run holds the lock"), "{what}: {err}");
    assert!(err.contains(&format!("pid {holder_pid} ")), "{what}: the holder must be named: {err}");
    assert!(err.contains('@'), "{what}: user@machine: {err}");
}

#[test]
fn every_spelling_of_a_sim_host_and_every_state_dir_share_one_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::create_dir(d.join("x")).expect("mkdir");
    let state = d.join("lab.json");
    slow_sim(&state, 60);
    let abs = format!("sim:{}", state.display());
    let first = phoenix(d, &abs, &d.join("state-a"), &["setup"]).spawn().expect("spawn");
    let lock = phoenix::lock::sim_lock_path(&state).expect("lock path");
    assert_eq!(lock, d.canonicalize().expect("canonical").join("lab.json.lock"));
    wait_for("the first run to take the lock", Duration::from_secs(20), || has_text(&lock));
    for (host, state_dir) in [
        ("sim:lab.json", "state-a"),
        ("sim:./x/../lab.json", "state-a"),
        // Another operator's state dir: the lock is the host's, not the state dir's.
        ("sim:lab.json", "state-b"),
        (abs.as_str(), "state-b"),
    ] {
        let started = Instant::now();
        let out = phoenix(d, host, &d.join(state_dir), &["setup", "--dry-run"]).output().expect("run");
        assert!(started.elapsed() < Duration::from_secs(3), "{host}: a second run must not wait");
        assert_busy(&out, first.id(), host);
        assert!(stderr(&out).contains("phoenix setup"), "{}", stderr(&out));
    }
    let out = first.wait_with_output().expect("first run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!has_text(&lock), "the holder's name is cleared when the run ends");
    let next = phoenix(d, "sim:./x/../lab.json", &d.join("state-b"), &["setup", "--dry-run"]).output().expect("run");
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
}

#[test]
fn the_real_host_lock_of_local_is_in_run_lock() {
    let _serial = REAL_HOST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let plan = sleeping_plan(d, 1500);
    let plan = plan.to_str().expect("utf-8 path");
    let first = phoenix(d, "local", &d.join("a"), &["run", plan]).spawn().expect("spawn");
    let lock = Path::new(phoenix::lock::LOCK_DIRS[0]).join(phoenix::lock::LOCK_FILE);
    wait_for("the lock in /run/lock", Duration::from_secs(20), || {
        std::fs::read_to_string(&lock).map(|t| t.contains(&format!("pid {} ", first.id()))).unwrap_or(false)
    });
    let out = phoenix(d, "local", &d.join("b"), &["run", plan]).output().expect("run");
    assert_busy(&out, first.id(), "local");
    assert!(stderr(&out).contains("/run/lock/phoenix.lock"), "{}", stderr(&out));
    let out = first.wait_with_output().expect("first");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Client options for the test sshd, with `localhost` accepted as the same host key.
fn ssh_opts(sshd: &Sshd) -> String {
    let opts = sshd.client_opts();
    let known = opts
        .iter()
        .find_map(|o| o.strip_prefix("UserKnownHostsFile="))
        .expect("the test sshd names its known_hosts file")
        .to_string();
    let text = std::fs::read_to_string(&known).expect("known_hosts");
    let key = text.split_once(' ').map(|(_, k)| k.to_string()).expect("a host key line");
    std::fs::write(&known, format!("{text}\n[localhost]:{} {key}", sshd.port)).expect("write known_hosts");
    opts.join(" ")
}

#[test]
fn two_spellings_of_an_ssh_host_exclude_each_other_and_a_crash_releases_the_lock() {
    let sshd = Sshd::start();
    let opts = ssh_opts(&sshd);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let lock = d.join("host.lock");
    let plan = sleeping_plan(d, 30_000);
    let plan = plan.to_str().expect("utf-8 path");
    let over_ssh = |host: &str, state: &str| {
        let mut c = phoenix(d, host, &d.join(state), &["run", plan]);
        c.env("PHOENIX_SSH_OPTS", &opts).env("PHOENIX_LOCK_PATH", &lock);
        c
    };
    let by_ip = format!("ssh://{}@127.0.0.1:{}", sshd.user, sshd.port);
    let by_name = format!("ssh://{}@localhost:{}", sshd.user, sshd.port);
    let mut first = over_ssh(&by_ip, "a").spawn().expect("spawn");
    wait_for("the remote lock", Duration::from_secs(20), || has_text(&lock));
    let held = std::fs::read_to_string(&lock).expect("lock text");
    assert!(held.contains(&format!("pid {} (phoenix ", first.id())) && held.contains("wait.rhai"), "{held}");
    let started = Instant::now();
    let out = over_ssh(&by_name, "b").output().expect("second run");
    assert!(started.elapsed() < Duration::from_secs(10), "a second run must not wait for the first");
    assert_busy(&out, first.id(), &by_name);
    assert!(stderr(&out).contains(&lock.display().to_string()), "{}", stderr(&out));

    // SIGKILL: no cleanup runs in phoenix, yet the remote holder sees its stdin close.
    first.kill().expect("kill -9");
    first.wait().expect("reaped");
    wait_for("the remote holder to let go", Duration::from_secs(10), || !has_text(&lock));
    std::fs::write(plan, "util::sleep_ms(10);\n").expect("shorten the plan");
    let out = over_ssh(&by_name, "b").output().expect("next run");
    assert_eq!(out.status.code(), Some(0), "a dead holder's lock must not block: {}", stderr(&out));
}

#[test]
fn an_unreachable_ssh_host_is_reported_once_up_front_within_the_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let plan = d.join("marker.rhai");
    // Were the plan to run, it would fail differently (and leave a trace in the output).
    std::fs::write(&plan, "log::info(\"PLAN RAN\");\n").expect("write plan");
    let port = free_port();
    let host = format!("ssh://root@127.0.0.1:{port}");
    let started = Instant::now();
    let out = phoenix(d, &host, &d.join("s"), &["run", plan.to_str().expect("utf-8")])
        .env("PHOENIX_SSH_OPTS", "-F none")
        .env("PHOENIX_SSH_CONNECT_TIMEOUT", "3")
        .output()
        .expect("run");
    assert!(started.elapsed() < Duration::from_secs(3 + 5 + 2), "bounded by the connect timeout");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot reach {host}")), "{err}");
    assert!(err.contains("Connection refused"), "ssh's own message: {err}");
    assert!(err.contains("PHOENIX_SSH_CONNECT_TIMEOUT"), "what to do: {err}");
    assert_eq!(err.matches("cannot reach").count(), 1, "reported once: {err}");
    assert!(!err.contains("PLAN RAN") && !String::from_utf8_lossy(&out.stdout).contains("PLAN RAN"));
    assert!(!err.contains("line ") && !err.contains("position"), "no script frame: {err}");
}

#[test]
fn an_unusable_state_dir_stops_the_run_before_it_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let file = d.join("a-file");
    std::fs::write(&file, "x").expect("write");
    let sim = d.join("sim.json");
    let host = format!("sim:{}", sim.display());
    for (state, expect) in [
        (file.clone(), "is not a folder"),
        (file.join("sub"), "Not a directory"),
        (PathBuf::from("/proc/phoenix-state"), "cannot be created"),
    ] {
        let out = phoenix(d, &host, &state, &["setup"]).output().expect("run");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", state.display());
        assert!(err.contains(&state.display().to_string()) && err.contains(expect), "{err}");
        assert!(err.contains("--state-dir"), "how to fix: {err}");
        assert!(!sim.exists(), "nothing reached the host");
        assert!(!PathBuf::from(format!("{}.commands.jsonl", sim.display())).exists(), "zero sim commands");
    }
}

/// Start `setup --output json` on a slow simulated host and wait until it holds the lock and
/// has a command in flight.
fn slow_setup(d: &Path, ms_per_command: u64) -> (Child, PathBuf, PathBuf) {
    let sim = d.join("sim.json");
    slow_sim(&sim, ms_per_command);
    let host = format!("sim:{}", sim.display());
    let state = d.join("state");
    let child = phoenix(d, &host, &state, &["setup", "--output", "json"]).spawn().expect("spawn");
    let lock = phoenix::lock::sim_lock_path(&sim).expect("lock path");
    wait_for("the run to start", Duration::from_secs(20), || has_text(&lock));
    (child, sim, state)
}

/// Every action the journal records as done is in the saved simulator state: the state's pools,
/// datasets and storages hold what the journal created, and a dry-run against the saved state
/// plans none of the journalled changes again.
fn assert_journal_matches_sim_state(d: &Path, sim: &Path, state: &Path) -> usize {
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap_or_default();
    let done: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("journal line"))
        .filter(|e| e["ok"] == true)
        .collect();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(sim).expect("sim state")).expect("sim JSON");
    for e in &done {
        let subject = e["subject"].as_str().unwrap_or("");
        let (table, key) = if let Some(p) = subject.strip_prefix("zfs pool ") {
            ("pools", p)
        } else if let Some(ds) = subject.strip_prefix("zfs dataset ") {
            ("datasets", ds)
        } else if let Some(s) = subject.strip_prefix("storage ") {
            ("storages", s)
        } else {
            continue;
        };
        assert!(saved[table].get(key).is_some(), "journalled `{subject}` is missing from the saved sim state");
    }
    let host = format!("sim:{}", sim.display());
    let dry = phoenix(d, &host, &d.join("dry"), &["setup", "--dry-run", "--output", "json"]).output().expect("dry");
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let again: Vec<String> = events(&dry)
        .into_iter()
        .filter(|e| e["event"] == "action" && e["change"] != "run")
        .map(|e| e["subject"].as_str().unwrap_or("").to_string())
        .collect();
    for e in done.iter().filter(|e| e["change"] != "run") {
        let subject = e["subject"].as_str().unwrap_or("");
        assert!(!again.iter().any(|s| s == subject), "journalled `{subject}` would be done again: {again:?}");
    }
    done.len()
}

fn stop_with(sig: &str, announced: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (child, sim, state) = slow_setup(d, 80);
    // Signal once the apply has journalled its first action: a fixed delay raced the start-up
    // (rehearsal included) on a loaded machine.
    wait_for("the first journalled action", Duration::from_secs(60), || has_text(&state.join("journal.jsonl")));
    signal(&child, sig);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{sig}: {}", stderr(&out));
    assert!(stderr(&out).contains(announced), "{sig}: {}", stderr(&out));
    let s = summary(&out);
    assert_eq!(s["interrupted"], true, "{s}");
    let done = assert_journal_matches_sim_state(d, &sim, &state);
    assert!(done > 0, "{sig}: some work was done before the signal");
    let total = 26;
    assert!(done < total, "{sig}: the run stopped early ({done} of {total})");
}

#[test]
fn sigterm_finishes_the_command_in_flight_reports_and_exits_130() {
    stop_with("-TERM", "terminated (SIGTERM)");
}

#[test]
fn sighup_finishes_the_command_in_flight_reports_and_exits_130() {
    stop_with("-HUP", "hung up (SIGHUP)");
}

#[test]
fn a_second_interrupt_aborts_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // Every command takes 4 s: only an abort ends the run quickly.
    let (child, sim, state) = slow_setup(d, 4000);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, "-INT");
    let out = child.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("aborted"), "{}", stderr(&out));
    assert_journal_matches_sim_state(d, &sim, &state);
}

#[test]
fn after_sigkill_the_state_holds_every_journalled_action_and_a_rerun_converges() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let (mut child, sim, state) = slow_setup(d, 60);
    wait_for("the first journalled action", Duration::from_secs(60), || has_text(&state.join("journal.jsonl")));
    std::thread::sleep(Duration::from_millis(200));
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let done = assert_journal_matches_sim_state(d, &sim, &state);
    assert!(done > 0 && done < 26, "killed mid-run: {done} actions journalled");

    let host = format!("sim:{}", sim.display());
    let rerun = phoenix(d, &host, &state, &["setup", "--output", "json"]).output().expect("rerun");
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    assert_journal_matches_sim_state(d, &sim, &state);
    let dry = phoenix(d, &host, &state, &["setup", "--dry-run", "--output", "json"]).output().expect("dry");
    let left: Vec<Value> = events(&dry).into_iter().filter(|e| e["event"] == "action").collect();
    assert!(left.is_empty(), "converged: nothing left to do, got {left:?}");
}

#[test]
fn a_closed_stdout_does_not_panic_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let host = format!("sim:{}", d.join("sim.json").display());
    let mut child = phoenix(d, &host, &d.join("state"), &["setup", "-v"]).spawn().expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
