//! Plan verbs have a real command line (src/script/params.rs): through the binary on the
//! simulator, `--help` on every shipped plan touches nothing, a typo'd flag after any verb is
//! refused before the host is touched, global flags after the verb still apply, and hostile argv
//! or a closed stdout never panics.

use crate::support::phoenix::{bin, copy_dir, root, stderr, Sandbox};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn example() -> PathBuf {
    root().join("etc")
}

/// Every plan shipped in plans/, read from disk so a new plan is covered without editing this.
fn shipped_verbs() -> Vec<String> {
    let mut verbs: Vec<String> = std::fs::read_dir(root().join("plans"))
        .expect("plans/")
        .flatten()
        .filter_map(|e| e.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    verbs.sort();
    assert!(verbs.len() >= 12, "{verbs:?}");
    verbs
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn no_panic(out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked") && !err.contains("failed printing"), "{err}");
}

/// Nothing reached the host (not even a read) and nothing was recorded.
fn touched_nothing(sb: &Sandbox, what: &str) {
    assert_eq!(sb.sim_commands(), Vec::new(), "{what}: the simulator received commands");
    assert!(!sb.sim_state().exists(), "{what}: the simulator state was written");
    assert!(!sb.state_dir().join("journal.jsonl").exists(), "{what}: a journal was written");
}

fn mutating(sb: &Sandbox) -> Vec<String> {
    sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(argv, _)| argv.join(" ")).collect()
}

#[test]
fn help_on_every_plan_verb_prints_usage_and_touches_nothing() {
    for verb in shipped_verbs() {
        let forms: [Vec<&str>; 5] = [
            vec![&verb, "--help"],
            vec![&verb, "-h"],
            vec!["help", &verb],
            // Help wins over everything else on the line, typos and ids included.
            vec![&verb, "101", "--all", "--dryrun", "--help"],
            vec![&verb, "--yes", "-h", "--dry-run"],
        ];
        for form in forms {
            let sb = Sandbox::new();
            let out = sb.run(&example(), &form);
            let what = format!("phoenix {}", form.join(" "));
            assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
            let text = stdout(&out);
            assert!(text.contains(&format!("Usage: phoenix {verb}")), "{what}: {text}");
            assert!(text.contains(&format!("plans/{verb}.rhai")), "{what} names the plan file: {text}");
            touched_nothing(&sb, &what);
        }
    }
}

#[test]
fn help_lists_each_declared_parameter() {
    let sb = Sandbox::new();
    let create = stdout(&sb.run(&example(), &["create", "--help"]));
    assert!(create.contains("Usage: phoenix create <ids>... | --all\n"), "{create}");
    assert!(create.contains("  --all     every declared guest"), "{create}");
    let delete = stdout(&sb.run(&example(), &["help", "delete"]));
    assert!(delete.contains("Usage: phoenix delete <ids>... [--force]\n"), "{delete}");
    assert!(delete.contains("--force   delete even though"), "{delete}");
    let setup = stdout(&sb.run(&example(), &["setup", "-h"]));
    assert!(setup.contains("Usage: phoenix setup\n") && setup.contains("takes no arguments"), "{setup}");
    // The original tool's capitalised verb is the same plan.
    let letsgo = sb.run(&example(), &["LetsGo", "--help"]);
    assert_eq!(letsgo.status.code(), Some(0));
    assert!(stdout(&letsgo).contains("Usage: phoenix letsgo"), "{}", stdout(&letsgo));
    touched_nothing(&sb, "help");
}

#[test]
fn phoenix_help_lists_every_plan_verb_with_one_line() {
    let sb = Sandbox::new();
    let help = sb.run(&example(), &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    for verb in shipped_verbs() {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{verb} ")))
            .unwrap_or_else(|| panic!("{verb} is not listed: {text}"));
        assert!(line.trim_start()[verb.len()..].trim().len() > 10, "{verb} has no summary: {line}");
    }
    assert!(text.contains("Exit codes:"), "{text}");
    // `phoenix help` is `phoenix --help`.
    let bare = sb.run(&example(), &["help"]);
    assert_eq!(bare.status.code(), Some(0));
    assert_eq!(stdout(&bare), text);
    touched_nothing(&sb, "--help");
}

#[test]
fn a_typo_after_any_verb_is_refused_before_the_host_is_touched() {
    for verb in shipped_verbs() {
        for typo in ["--dryrun", "--dry_run", "--forse", "--al", "-x"] {
            let sb = Sandbox::new();
            let out = sb.run(&example(), &[&verb, "101", typo]);
            let what = format!("phoenix {verb} 101 {typo}");
            assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
            no_panic(&out);
            let err = stderr(&out);
            assert!(err.contains(&format!("unknown flag `{typo}`")), "{what}: {err}");
            assert!(
                err.contains("nothing was run") && err.contains(&format!("Usage: phoenix {verb}")),
                "{what}: {err}"
            );
            if typo.starts_with("--dry") {
                assert!(err.contains("did you mean `--dry-run`?"), "{what}: {err}");
            }
            touched_nothing(&sb, &what);
        }
    }
    // Where the plan declares the near flag, it is the one suggested.
    let sb = Sandbox::new();
    assert!(stderr(&sb.run(&example(), &["create", "--al"])).contains("did you mean `--all`?"));
    assert!(stderr(&sb.run(&example(), &["delete", "110", "--forse"])).contains("did you mean `--force`?"));
}

#[test]
fn the_observed_accidents_no_longer_happen() {
    let sb = Sandbox::new();
    let setup = sb.run(&example(), &["setup", "-q"]);
    assert_eq!(setup.status.code(), Some(0), "{}", stderr(&setup));
    let create = sb.run(&example(), &["create", "110", "-q"]);
    assert_eq!(create.status.code(), Some(0), "{}", stderr(&create));
    sb.clear_sim_log();

    for line in [
        vec!["create", "103", "--dryrun"],
        vec!["stop", "110", "--dry_run"],
        vec!["create", "--dryrun"],
        vec!["delete", "110", "--yes", "--forse"],
        vec!["delete", "--all", "--yes"],
        vec!["create", "--help"],
        vec!["converge", "--all", "--help"],
        vec!["letsgo", "--help"],
    ] {
        let out = sb.run(&example(), &line);
        let expected = if line.contains(&"--help") { 0 } else { 2 };
        assert_eq!(out.status.code(), Some(expected), "{line:?}: {}", stderr(&out));
        assert_eq!(sb.sim_commands(), Vec::new(), "{line:?} reached the host");
    }
    // 110 is still there and still running: the refused delete and stop did nothing.
    let status = sb.run(&example(), &["status", "110", "--output", "json"]);
    let event =
        crate::support::phoenix::events(&status).into_iter().find(|e| e["event"] == "row" && e["row"]["id"] == 110);
    let event = event.unwrap_or_else(|| panic!("no row for 110: {}", stdout(&status)));
    let row = &event["row"];
    assert_eq!((row["exists"].as_bool(), row["running"].as_bool()), (Some(true), Some(true)), "{row}");
}

#[test]
fn missing_or_conflicting_targets_are_usage_errors() {
    for (line, message) in [
        (vec!["create"], "missing <ids>... or --all"),
        (vec!["stop", "--"], "missing <ids>... or --all"),
        (vec!["health-check"], "missing <ids>... or --all"),
        (vec!["delete", "--force"], "missing <ids>..."),
        (vec!["start", "101", "--all"], "`<ids>...` and `--all` cannot be used together"),
        (vec!["setup", "101"], "unexpected argument `101`: this plan takes no arguments"),
        (vec!["create", "--all", "--all"], "`--all` is given twice"),
        (vec!["create", "--all=yes"], "`--all` takes no value"),
    ] {
        let sb = Sandbox::new();
        let out = sb.run(&example(), &line);
        assert_eq!(out.status.code(), Some(2), "{line:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(message), "{line:?}: {err}");
        assert!(err.contains("Usage: phoenix"), "{line:?} shows the usage: {err}");
        // A usage error, not a plan's runtime error with a script frame.
        assert!(!err.contains("raised here") && !err.contains(".rhai:"), "{line:?}: {err}");
        touched_nothing(&sb, &format!("{line:?}"));
    }
}

#[test]
fn global_flags_after_the_verb_still_apply() {
    let sb = Sandbox::new();
    let setup = sb.run(&example(), &["setup", "-q"]);
    assert_eq!(setup.status.code(), Some(0), "{}", stderr(&setup));
    sb.clear_sim_log();
    let dry = sb.run(&example(), &["create", "101", "--dry-run", "--output", "json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(!sb.sim_commands().is_empty(), "a dry-run reads the host");
    assert_eq!(mutating(&sb), Vec::<String>::new(), "`create 101 --dry-run` must be a dry-run");
    // The same line without the flag does change the host: the check above can fail.
    let apply = sb.run(&example(), &["create", "101", "--output", "json", "--parallel", "2"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert!(!mutating(&sb).is_empty());
}

/// A project folder with the example configuration and extra plans on disk.
fn project_with_plans(sb: &Sandbox, plans: &[(&str, &str)]) -> PathBuf {
    let project = sb.dir.path().join("project");
    copy_dir(&example(), &project.join("etc"));
    std::fs::create_dir_all(project.join("plans")).expect("plans dir");
    for (name, text) in plans {
        std::fs::write(project.join("plans").join(format!("{name}.rhai")), text).expect("write plan");
    }
    project.join("etc")
}

const ECHO: &str = "//! Print what the plan received.\n//!\n//! usage: echo [<words>...] [--loud] [--tag=<name>]\n\
                    //!   <words>...    any words\n//!   --loud        louder\n//!   --tag=<name>  a tag\n\
                    log::info(`ARGS=${ARGS} loud=${OPTS.loud} tag=${OPTS.tag} words=${OPTS.words}`);\n";
const LEGACY: &str = "//! A plan written before declarations.\nlog::info(`ARGS=${ARGS}`);\n";
const BROKEN: &str = "//! Broken.\n//!\n//! usage: broken [--x\nlog::info(\"ran\");\n";

#[test]
fn plans_on_disk_get_their_declared_words_and_opts() {
    let sb = Sandbox::new();
    let cfg = project_with_plans(&sb, &[("echo", ECHO), ("legacy", LEGACY)]);
    let out = sb.run(&cfg, &["echo", "a", "--loud", "--tag", "t1", "--dry-run", "--", "--not-a-flag", "-h"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("dry-run"), "--dry-run after the verb applies: {text}");
    assert!(
        text.contains(r#"ARGS=["a", "--loud", "--tag", "t1", "--not-a-flag", "-h"] loud=true tag=t1 words=["a", "--not-a-flag", "-h"]"#),
        "{text}"
    );
    // A plan on disk is listed by `--help` with its summary.
    let help = stdout(&sb.run(&cfg, &["--help"]));
    assert!(help.lines().any(|l| l.trim_start() == "echo          Print what the plan received."), "{help}");

    // A plan without a declaration still gets its words, but no flag.
    let legacy = sb.run(&cfg, &["legacy", "101", "docker"]);
    assert_eq!(legacy.status.code(), Some(0), "{}", stderr(&legacy));
    assert!(stdout(&legacy).contains(r#"ARGS=["101", "docker"]"#), "{}", stdout(&legacy));
    let flag = sb.run(&cfg, &["legacy", "101", "--force"]);
    assert_eq!(flag.status.code(), Some(2));
    assert!(stderr(&flag).contains("unknown flag `--force`: this plan takes no flags"), "{}", stderr(&flag));
    let passed = sb.run(&cfg, &["legacy", "--", "--force"]);
    assert!(stdout(&passed).contains(r#"ARGS=["--force"]"#), "{}", stdout(&passed));
}

#[test]
fn run_file_help_shows_that_files_declaration() {
    let sb = Sandbox::new();
    let plan = sb.dir.path().join("echo.rhai");
    std::fs::write(&plan, ECHO).expect("write plan");
    let plan = plan.to_string_lossy().into_owned();
    let out = sb.run(&example(), &["run", &plan, "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("Usage: phoenix run {plan} [<words>...] [--loud] [--tag=<name>]")),
        "{}",
        stdout(&out)
    );
    let typo = sb.run(&example(), &["run", &plan, "--lod"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("did you mean `--loud`?"), "{}", stderr(&typo));
    touched_nothing(&sb, "run --help");
    let ran = sb.run(&example(), &["run", &plan, "x", "--dry-run"]);
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert!(stdout(&ran).contains(r#"ARGS=["x"]"#), "{}", stdout(&ran));
}

#[test]
fn a_broken_declaration_is_refused_with_its_place() {
    let sb = Sandbox::new();
    let cfg = project_with_plans(&sb, &[("broken", BROKEN)]);
    let out = sb.run(&cfg, &["broken"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("plans/broken.rhai:3:19: `[` is never closed with `]`"), "{err}");
    assert!(!stdout(&out).contains("ran"));
    touched_nothing(&sb, "broken declaration");
    let check = sb.run(&cfg, &["check"]);
    assert_eq!(check.status.code(), Some(2));
    assert!(stderr(&check).contains("plans/broken.rhai:3:19"), "{}", stderr(&check));
}

#[test]
fn a_verb_that_is_a_path_is_refused() {
    let sb = Sandbox::new();
    let out = sb.run(&example(), &["../etc/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a verb"), "{}", stderr(&out));
    touched_nothing(&sb, "path verb");
}

#[test]
fn a_non_utf8_argument_is_refused_without_a_panic() {
    let sb = Sandbox::new();
    let mut cmd = sb.command(&example(), &["create"]);
    cmd.arg(OsStr::from_bytes(b"10\xff1"));
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    no_panic(&out);
    // argv: phoenix --host H --state-dir D --config-dir C create <bad> → position 8.
    assert!(stderr(&out).contains(r"argument 8 (`10\xff1`) is not valid UTF-8"), "{}", stderr(&out));
    touched_nothing(&sb, "non-UTF-8");

    let flag = Command::new(bin()).arg(OsStr::from_bytes(b"--host=\xc3")).arg("check").output().expect("runs");
    assert_eq!(flag.status.code(), Some(2));
    no_panic(&flag);
}

/// Run phoenix with stdout a pipe whose reader is already gone: every write fails with EPIPE.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(bin())
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("PHOENIX_CONFIG_DIR")
        .env_remove("PHOENIX_HOME")
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("runs")
}

#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        vec!["api"],
        vec!["api", "--output", "json"],
        vec!["--help"],
        vec!["help"],
        vec!["--config-dir", "etc", "graph"],
        vec!["--config-dir", "etc", "check"],
        vec!["--config-dir", "etc", "create", "--help"],
        vec!["--config-dir", "etc", "--host", "sim", "setup", "--dry-run"],
    ] {
        let out = into_closed_pipe(&args);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn words_after_the_separator_reach_the_plan_even_when_they_look_like_help() {
    let sb = Sandbox::new();
    let cfg = project_with_plans(&sb, &[("echo", ECHO)]);
    let out = sb.run(&cfg, &["echo", "--", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(r#"ARGS=["--help"]"#), "{}", stdout(&out));
}
