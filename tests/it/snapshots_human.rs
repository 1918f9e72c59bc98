//! What an operator reads, pinned: the human output of the main verbs on the example config
//! (etc/) and the simulator, as insta snapshots in tests/it/snapshots/. A change to any of it
//! fails here until the snapshot is updated and the diff reviewed (README, "Tests").
//!
//! Guests run one at a time (`--parallel 1`): the lines of parallel guests interleave in the
//! order they finish, which is not what these tests pin. Volatile parts are replaced before
//! comparing: the temp folder (`[TMP]`), durations
//! (`[TIME]`) and MAC addresses the simulator or a clone generates (`[MAC]`).

use crate::support::phoenix::{copy_dir, ok, root, run, Sandbox};
use std::path::Path;
use std::process::Output;

/// Both streams and the exit code, as one text.
fn shown(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().map_or("signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_human(name: &str, sb: &Sandbox, text: &str) {
    let tmp = sb.dir.path().to_string_lossy().into_owned();
    // Paths first (they may hold anything), then the patterns.
    let text = text.replace(&tmp, "[TMP]");
    insta::with_settings!({
        filters => vec![
            (r"\b\d+(\.\d+)?(ms|s)\b", "[TIME]"),
            (r"(?i)\b([0-9a-f]{2}:){5}[0-9a-f]{2}\b", "[MAC]"),
        ],
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

fn etc() -> std::path::PathBuf {
    root().join("etc")
}

#[test]
fn help() {
    let sb = Sandbox::new();
    let out = run(&sb, &etc(), &["--help"]);
    ok(&out);
    assert_human("help", &sb, &shown(&out));
}

#[test]
fn setup_dry_run_on_a_fresh_host() {
    let sb = Sandbox::new();
    let out = run(&sb, &etc(), &["setup", "--dry-run", "--parallel", "1"]);
    ok(&out);
    assert_human("setup_dry_run", &sb, &shown(&out));
}

#[test]
fn create_all_dry_run_after_setup() {
    let sb = Sandbox::new();
    ok(&run(&sb, &etc(), &["setup", "-q"]));
    let out = run(&sb, &etc(), &["create", "--all", "--dry-run", "--parallel", "1"]);
    ok(&out);
    assert_human("create_all_dry_run", &sb, &shown(&out));
}

#[test]
fn status_and_delete_plan_on_a_converged_host() {
    let sb = Sandbox::new();
    ok(&run(&sb, &etc(), &["setup", "-q"]));
    ok(&run(&sb, &etc(), &["create", "--all", "-q"]));
    let out = run(&sb, &etc(), &["status"]);
    ok(&out);
    assert_human("status_converged", &sb, &shown(&out));
    let out = run(&sb, &etc(), &["delete", "110", "--dry-run", "--parallel", "1"]);
    ok(&out);
    assert_human("delete_dry_run", &sb, &shown(&out));
}

#[test]
fn check_with_an_error() {
    let sb = Sandbox::new();
    let config = sb.dir.path().join("etc");
    copy_dir(&etc(), &config);
    let file = config.join("phoenix_lxc_configs.json");
    let text = std::fs::read_to_string(&file).expect("lxc config");
    assert!(text.contains("\"name\": \"docker-lab\""));
    std::fs::write(&file, text.replace("\"name\": \"docker-lab\"", "\"name\": \"docker_lab\"")).expect("write");
    let out = run(&sb, Path::new(&config), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert_human("check_error", &sb, &shown(&out));
}
