//! The bad-input corpus, run through the real binary.
//!
//! - Config cases (`tests/corpus/<case>/etc`, no `plan.rhai`, or a `case.json` patch over the
//!   shared valid configuration, see `corpus_patch.rs`): `phoenix check --config-dir <etc>`
//!   must exit 2 (0 for the warning-only cases), its stderr must equal `expected.txt` and its
//!   stdout `expected_stdout.txt` (absent = empty). Then `phoenix create --all` on a fresh
//!   simulator must exit 2 too, with no command at all reaching the simulator and no journal:
//!   invalid configuration never runs anything, not only under `check`. A patch case's
//!   folder is shown as `[CASE]` in the pinned text.
//! - Plan cases (`tests/corpus/<case>/plan.rhai`): `phoenix run <case>/plan.rhai` on a fresh
//!   simulator (config: `<case>/etc`, else the shared `_valid/etc`) must exit 2 with stderr equal
//!   to `expected.txt`, and must have executed nothing: no mutating command reached the
//!   simulator and no journal was written.
//!
//! A case holding `known_bug.txt` pins a bug in the current behaviour: the harness then
//! expects the "nothing executed" guarantee to be broken, and fails once it holds again (delete
//! the file, re-bless). Folders whose name starts with `_` are shared fixtures, not cases.
//!
//! `PHOENIX_BLESS=1` rewrites the expected files instead (review the diff before committing).

use crate::corpus_patch::{materialise, CASE_FILE};
use crate::support::phoenix::{root, Sandbox};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const CORPUS: &str = "tests/corpus";
/// The valid configuration plan cases run against unless they bring their own `etc/`.
const SHARED_CONFIG: &str = "tests/corpus/_valid/etc";
/// Config cases that only warn: `check` succeeds and prints the warnings.
const WARNING_ONLY: &[&str] = &["literal_secret", "literal_stack_secret", "stack_dir_incomplete", "string_boolean"];
/// The one case run with a small operation limit (the default is sized for 5 000 guests and
/// would take minutes to exhaust).
const OPERATION_LIMIT_CASE: &str = "plan_operation_limit";
/// No case may take this long; a hang fails the test instead of wedging `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

fn bless() -> bool {
    std::env::var_os("PHOENIX_BLESS").is_some_and(|v| v == "1")
}

/// Case folders (relative to the crate root, as the binary will be given them) that satisfy
/// `is_case`, sorted.
fn cases(is_case: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join(CORPUS))
        .expect("tests/corpus exists")
        .map(|e| e.expect("readable corpus entry"))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('_'))
        .map(|e| Path::new(CORPUS).join(e.file_name()))
        .filter(|rel| is_case(&root().join(rel)))
        .collect();
    cases.sort();
    cases
}

fn name(case: &Path) -> String {
    case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `phoenix --host sim:<tmp> --state-dir <tmp> --config-dir <config> <args>`, with none of the
/// developer's environment that would change what the corpus sees.
fn phoenix(sandbox: &Sandbox, config: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = sandbox.command(config, args);
    for var in ["PHOENIX_STATE_DIR", "PHOENIX_MAX_OPERATIONS", "PHOENIX_LOG", "PHOENIX_SSH_OPTS", "CLICOLOR_FORCE"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Run the binary to completion with a time limit, collecting both streams.
fn run(mut cmd: std::process::Command, what: &str) -> Outcome {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: cannot start phoenix: {e}"));
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for phoenix") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: phoenix did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Outcome {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Pinned text must not depend on where the crate or the temp dir live.
fn normalise(text: &str, sandbox: &Sandbox) -> String {
    let tmp = sandbox.dir.path().display().to_string();
    let crate_root = format!("{}/", root().display());
    text.replace(&case_dir(sandbox).display().to_string(), "[CASE]")
        .replace(&tmp, "[TMP]")
        .replace(&crate_root, "[CRATE]/")
}

/// Where a patch case's configuration is written.
fn case_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox.dir.path().join("case")
}

/// Compare `actual` with the file at `path` (absent = empty), or rewrite it when blessing
/// (an empty text removes the file, so cases without stdout carry no empty files).
fn compare(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if bless() {
        if actual.is_empty() {
            let _ = std::fs::remove_file(path);
        } else {
            std::fs::write(path, actual).expect("write expected file");
        }
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!("--- {} (expected)\n{expected}\n+++ actual\n{actual}", path.display()));
    }
}

fn report(kind: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {total} {kind} corpus cases fail (PHOENIX_BLESS=1 rewrites the expected files):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn is_config_case(dir: &Path) -> bool {
    (dir.join("etc").is_dir() || dir.join(CASE_FILE).is_file()) && !dir.join("plan.rhai").exists()
}

#[test]
fn config_corpus_matches_expected_output() {
    let cases = cases(is_config_case);
    assert!(cases.len() >= 150, "config corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = name(case);
        let sandbox = Sandbox::new();
        let config = if root().join(case).join(CASE_FILE).is_file() {
            materialise(case, &case_dir(&sandbox))
        } else {
            case.join("etc")
        };
        let out = run(phoenix(&sandbox, &config, &["check"]), &name);
        let stderr = normalise(&out.stderr, &sandbox);
        let stdout = normalise(&out.stdout, &sandbox);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let want = if WARNING_ONLY.contains(&name.as_str()) { 0 } else { 2 };
        if out.code != Some(want) {
            failures.push(format!("{name}: exit code {:?}, expected {want}\n{stderr}", out.code));
        }
        // `check` validates; it never touches the host or the state dir.
        if sandbox.state_dir().exists() || sandbox.sim_state().exists() {
            failures.push(format!("{name}: `phoenix check` created state"));
        }
        compare(&case.join("expected.txt"), &stderr, &mut failures);
        compare(&case.join("expected_stdout.txt"), &stdout, &mut failures);
        if want == 2 {
            nothing_runs(&sandbox, &config, &name, &mut failures);
        }
    }
    report("config", cases.len(), &failures);
}

/// `create --all` on the same configuration: refused before the first command.
fn nothing_runs(sandbox: &Sandbox, config: &Path, name: &str, failures: &mut Vec<String>) {
    let out = run(phoenix(sandbox, config, &["create", "--all"]), name);
    assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
    if out.code != Some(2) {
        failures.push(format!("{name}: `create --all` exited {:?}, expected 2\n{}", out.code, out.stderr));
    }
    let commands: Vec<String> = sandbox.sim_commands().into_iter().map(|(argv, _)| argv.join(" ")).collect();
    if !commands.is_empty() {
        failures.push(format!("{name}: invalid configuration, yet `create --all` sent {commands:?}"));
    }
    if sandbox.state_dir().join("journal.jsonl").exists() {
        failures.push(format!("{name}: invalid configuration, yet `create --all` wrote a journal"));
    }
}

#[test]
fn plan_corpus_matches_expected_output_and_runs_nothing() {
    let cases = cases(|dir| dir.join("plan.rhai").is_file());
    assert!(cases.len() >= 8, "plan corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = name(case);
        let plan = case.join("plan.rhai");
        if name.contains("crlf") {
            // Guard the fixture itself: an editor or a git eol setting must not normalise it
            // (tests/corpus/.gitattributes keeps it byte-exact).
            let text = std::fs::read_to_string(root().join(&plan)).expect("read plan");
            assert!(
                text.contains("\r\n") && text.contains('\t') && !text.is_ascii(),
                "{name}: the fixture lost its CRLF line ends, tabs or non-ASCII text"
            );
        }
        let config =
            if root().join(case).join("etc").is_dir() { case.join("etc") } else { PathBuf::from(SHARED_CONFIG) };
        let sandbox = Sandbox::new();
        let mut cmd = phoenix(&sandbox, &config, &["run", &plan.to_string_lossy()]);
        if name == OPERATION_LIMIT_CASE {
            cmd.env("PHOENIX_MAX_OPERATIONS", "100000");
        }
        let out = run(cmd, &name);
        let stderr = normalise(&out.stderr, &sandbox);
        assert!(!stderr.contains("panicked") && !out.stdout.contains("panicked"), "{name}: {stderr}");
        if out.code != Some(2) {
            failures.push(format!("{name}: exit code {:?}, expected 2\n{stderr}", out.code));
        }
        compare(&case.join("expected.txt"), &stderr, &mut failures);

        let mutating: Vec<String> =
            sandbox.sim_commands().into_iter().filter(|(_, m)| *m).map(|(argv, _)| argv.join(" ")).collect();
        let journal = sandbox.state_dir().join("journal.jsonl");
        let executed = !mutating.is_empty() || journal.exists();
        let known_bug = root().join(case).join("known_bug.txt").is_file();
        match (executed, known_bug) {
            (true, false) => failures.push(format!(
                "{name}: bad input must run nothing, but the host received {mutating:?} (journal written: {})",
                journal.exists()
            )),
            (false, true) => failures
                .push(format!("{name}: nothing was executed: the bug in known_bug.txt looks fixed; delete that file")),
            _ => {}
        }
    }
    report("plan", cases.len(), &failures);
}

#[test]
fn corpus_is_large_enough() {
    let all = cases(|dir| is_config_case(dir) || dir.join("plan.rhai").is_file());
    assert!(all.len() >= 170, "corpus has only {} cases", all.len());
}
