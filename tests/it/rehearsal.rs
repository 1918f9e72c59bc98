//! Rehearse, then apply: every run first evaluates the whole plan as a dry-run, and applies only
//! when that finished without error. A plan bug therefore changes nothing, wherever it is; the
//! apply reuses what the rehearsal read; `--confirm` and a plan's own questions ask once.
//!
//! `PHOENIX_NO_REHEARSAL=1` (benchmarks only) is used here as the control: it shows what the
//! same plan does without the rehearsal, so each test proves the rehearsal made the difference.

use crate::support::phoenix::{actions, ok, root, stderr, Sandbox};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;

fn example() -> PathBuf {
    root().join("etc")
}

fn mutating(sb: &Sandbox) -> Vec<String> {
    sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a.join(" ")).collect()
}

fn reads(sb: &Sandbox) -> Vec<String> {
    sb.sim_commands().into_iter().filter(|(_, m)| !*m).map(|(a, _)| a.join(" ")).collect()
}

fn journal_lines(sb: &Sandbox) -> usize {
    std::fs::read_to_string(sb.state_dir().join("journal.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// A sandbox whose simulator has had the example's `setup` applied, with an empty command log.
fn set_up() -> Sandbox {
    let sb = Sandbox::new();
    ok(&sb.run(&example(), &["setup"]));
    sb.clear_sim_log();
    sb
}

/// A plan that changes a file for every guest of the example, in dependency order, one at a
/// time, and hits `bug` (Rhai code) in the callback of the last guest.
fn walk_plan(sb: &Sandbox, bug: &str) -> PathBuf {
    let plan = sb.dir.path().join("walk.rhai");
    let text = format!(
        "let order = graph::order(config::targets([\"--all\"]));\n\
         let last = order[order.len() - 1];\n\
         graph::walk(order, |id| {{\n\
         \x20   file::ensure(`/etc/phoenix-walk-${{id}}`, #{{ content: \"x\\n\" }});\n\
         \x20   if id == last {{ {bug} }}\n\
         }});\n"
    );
    std::fs::write(&plan, text).expect("write plan");
    plan
}

#[test]
fn an_error_in_the_last_guests_walk_callback_changes_no_guest() {
    for bug in [
        "let s = \"abc\"; s.lenn();",
        "let r = #{ changed: true }; if r.chnged { log::info(\"changed\"); }",
        "throw \"plan check\";",
    ] {
        // Control: without the rehearsal every other guest is changed before the bug is met.
        let control = set_up();
        let plan = walk_plan(&control, bug);
        let out = control
            .command(&example(), &["--parallel", "1", "run", &plan.to_string_lossy()])
            .env("PHOENIX_NO_REHEARSAL", "1")
            .output()
            .expect("phoenix runs");
        assert_ne!(out.status.code(), Some(0), "{bug}");
        assert!(mutating(&control).len() >= 10, "{bug}: the control changed {:?}", mutating(&control));

        let sb = set_up();
        let plan = walk_plan(&sb, bug);
        let journal_before = journal_lines(&sb);
        let out = sb.run(&example(), &["--parallel", "1", "run", &plan.to_string_lossy()]);
        assert_eq!(out.status.code(), Some(2), "{bug}: {}", stderr(&out));
        assert_eq!(mutating(&sb), Vec::<String>::new(), "{bug}");
        assert_eq!(journal_lines(&sb), journal_before, "{bug}: the journal is written only by an apply");
        // The diagnostic points into the callback.
        assert!(stderr(&out).contains("walk.rhai:5:"), "{bug}: {}", stderr(&out));
        assert!(
            out.stdout.is_empty(),
            "{bug}: the rehearsal's output is held back: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn the_same_plan_without_the_bug_is_applied() {
    let sb = set_up();
    let plan = walk_plan(&sb, "let s = \"abc\"; s.len();");
    let out = sb.run(&example(), &["run", &plan.to_string_lossy(), "--output", "json"]);
    ok(&out);
    let written = mutating(&sb).iter().filter(|c| c.contains("/etc/phoenix-walk-")).count();
    assert_eq!(written, actions(&out).len());
    assert!(written >= 10, "{written}");
}

/// Sim state without what differs from run to run anyway: clock values (start and creation
/// times) and what Proxmox generates at random for a VM (MAC, SMBIOS uuid, vmgenid).
fn sim_state(sb: &Sandbox) -> Value {
    fn is_mac(s: &str) -> bool {
        s.len() == 17 && s.bytes().enumerate().all(|(i, b)| if i % 3 == 2 { b == b':' } else { b.is_ascii_hexdigit() })
    }
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !k.ends_with("_ms") && !["snaptime", "meta", "smbios1", "vmgenid"].contains(&k.as_str())
                });
                m.values_mut().for_each(scrub);
            }
            Value::String(s) if s.contains(':') => {
                let parts: Vec<String> = s
                    .split(',')
                    .map(|p| match p.split_once('=') {
                        Some((k, v)) if is_mac(v) => format!("{k}=MAC"),
                        _ => p.to_string(),
                    })
                    .collect();
                *s = parts.join(",");
            }
            Value::Array(a) => a.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).expect("sim state")).expect("sim state is JSON");
    scrub(&mut v);
    v
}

/// Where two JSON values differ, as paths.
fn differ(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => differ(&format!("{path}/{k}"), u, v, out),
                    _ => out.push(format!("{path}/{k}: only on one side")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                differ(&format!("{path}/{i}"), u, v, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {} vs {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    v.to_string().chars().take(120).collect()
}

#[test]
fn create_all_ends_the_same_with_and_without_rehearsal_and_reads_nothing_twice() {
    let rehearsed = set_up();
    let plain = set_up();
    let run = |sb: &Sandbox, rehearse: bool| {
        // One guest at a time: the order of commands between guests is then the same too.
        let mut c = sb.command(&example(), &["create", "--all", "--output", "json", "--parallel", "1"]);
        if !rehearse {
            c.env("PHOENIX_NO_REHEARSAL", "1");
        }
        let out = c.output().expect("phoenix runs");
        ok(&out);
        out
    };
    let a = run(&rehearsed, true);
    let b = run(&plain, false);
    let (mut done_a, mut done_b) = (actions(&a), actions(&b));
    assert!(done_a.len() > 50, "{done_a:#?}");
    done_a.sort();
    done_b.sort();
    assert_eq!(done_a, done_b, "the same actions with and without the rehearsal");
    assert_eq!(mutating(&rehearsed), mutating(&plain), "the same commands, in the same order");
    let mut differences = Vec::new();
    differ("", &sim_state(&rehearsed), &sim_state(&plain), &mut differences);
    assert_eq!(differences, Vec::<String>::new(), "the same host afterwards");

    // The apply starts from what the rehearsal read: only facts an action changed before the
    // apply reached them are read again (on the example, 2 of the rehearsal's 20 reads).
    let (ra, rb) = (reads(&rehearsed).len(), reads(&plain).len());
    assert!(ra <= rb + rb / 20, "rehearse+apply read {ra} times, apply alone {rb}");

    // On a converged host nothing changes, so nothing is read twice: every read of an apply
    // alone, once. (A rehearsal batches each guest's reads, and a batch holds what the guest
    // read in the previous run — here the converging one — so it may hold a few reads this
    // run no longer needs.)
    rehearsed.clear_sim_log();
    plain.clear_sim_log();
    let a = run(&rehearsed, true);
    let b = run(&plain, false);
    assert!(actions(&a).is_empty() && actions(&b).is_empty());
    let expand = |sb: &Sandbox| -> Vec<String> {
        sb.sim_commands()
            .into_iter()
            .filter(|(_, m)| !*m)
            .flat_map(|(a, _)| crate::support::phoenix::reads_of(&a))
            .map(|r| r.join(" "))
            .collect()
    };
    let (mut ra, rb) = (expand(&rehearsed), expand(&plain));
    assert!(!ra.is_empty());
    assert!(reads(&rehearsed).len() < rb.len(), "batched: fewer round trips than reads");
    ra.sort();
    let before = ra.len();
    ra.dedup();
    assert_eq!(ra.len(), before, "a converged run reads each fact once");
    let missing: Vec<&String> = rb.iter().filter(|r| ra.binary_search(r).is_err()).collect();
    assert_eq!(missing, Vec::<&String>::new(), "every read an apply alone makes");
}

#[test]
fn confirm_without_a_terminal_needs_yes() {
    let sb = Sandbox::new();
    let out = sb.run(&example(), &["setup", "--confirm"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(mutating(&sb), Vec::<String>::new());
    // The plan it would have applied is shown.
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("zfs pool tank"), "{shown}");

    let out = sb.run(&example(), &["setup", "--confirm", "--yes"]);
    ok(&out);
    assert!(!mutating(&sb).is_empty());

    // Nothing left to change: said so, and nothing asked (no terminal, no --yes, still 0).
    sb.clear_sim_log();
    let out = sb.run(&example(), &["setup", "--confirm"]);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to change"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(mutating(&sb), Vec::<String>::new());
}

/// Run phoenix on a pseudo-terminal (`script`), typing `answer`; the terminal's text and the
/// exit code. `None` when `script` is not installed.
fn on_a_terminal(sb: &Sandbox, args: &[&str], answer: &str) -> Option<(String, Option<i32>)> {
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: /usr/bin/script (util-linux) is needed for a pseudo-terminal");
        return None;
    }
    let cmd = sb.command(&example(), args);
    let mut line = vec![crate::support::phoenix::bin().to_string()];
    line.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let quoted: Vec<String> = line.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let mut child = std::process::Command::new("/usr/bin/script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("PHOENIX_CONFIG_DIR")
        .env_remove("PHOENIX_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        // Typed once the question is up; the terminal buffers it until then.
        let _ = stdin.write_all(answer.as_bytes());
    }
    let out = child.wait_with_output().expect("script finishes");
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code()))
}

#[test]
fn confirm_on_a_terminal_shows_the_plan_and_asks_once() {
    let sb = Sandbox::new();
    let Some((text, code)) = on_a_terminal(&sb, &["setup", "--confirm"], "n\n") else { return };
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(text.matches("Apply these").count(), 1, "{text}");
    assert!(text.contains("zfs pool tank"), "{text}");
    assert_eq!(mutating(&sb), Vec::<String>::new());

    let Some((text, code)) = on_a_terminal(&sb, &["setup", "--confirm"], "y\n") else { return };
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.matches("Apply these").count(), 1, "{text}");
    assert!(!mutating(&sb).is_empty());
}

#[test]
fn delete_asks_once_after_the_rehearsal_and_not_again_during_the_apply() {
    let sb = Sandbox::new();
    ok(&sb.run(&example(), &["setup"]));
    ok(&sb.run(&example(), &["create", "121"]));
    sb.clear_sim_log();
    let Some((text, code)) = on_a_terminal(&sb, &["delete", "121"], "y\n") else { return };
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text.matches("destroy [121]").count(), 1, "asked once: {text}");
    assert!(mutating(&sb).iter().any(|c| c.starts_with("pct destroy 121")), "{:?}", mutating(&sb));

    // Declined: nothing at all was sent.
    ok(&sb.run(&example(), &["create", "121"]));
    sb.clear_sim_log();
    let Some((text, code)) = on_a_terminal(&sb, &["delete", "121"], "n\n") else { return };
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(mutating(&sb), Vec::<String>::new());
}

#[test]
fn dry_run_is_the_rehearsal_printed_and_a_bug_in_it_exits_2() {
    let sb = set_up();
    let plan = walk_plan(&sb, "let s = \"abc\"; s.lenn();");
    let out = sb.run(&example(), &["--dry-run", "run", &plan.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("lenn"), "{}", stderr(&out));
    assert_eq!(mutating(&sb), Vec::<String>::new());
    // Printed as it went: the dry-run shows what it would have done before the bug.
    assert!(String::from_utf8_lossy(&out.stdout).contains("/etc/phoenix-walk-"));
}

#[test]
fn ctrl_c_during_the_rehearsal_stops_with_130_and_applies_nothing() {
    let sb = Sandbox::new();
    // The rehearsal's first read takes 2 s: the interrupt lands inside the rehearsal.
    let state = serde_json::json!({ "latency_ms": { "zpool list": 2000 } });
    std::fs::write(sb.sim_state(), state.to_string()).expect("write sim state");
    let child =
        sb.command(&example(), &["setup"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // The handler is installed before the host lock is taken.
    let lock = phoenix::lock::sim_lock_path(&sb.sim_state()).expect("lock path");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&lock).map(|t| !t.trim().is_empty()).unwrap_or(false) {
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "the run never took the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing was applied"), "{}", stderr(&out));
    assert_eq!(mutating(&sb), Vec::<String>::new());
    assert_eq!(journal_lines(&sb), 0);
}
