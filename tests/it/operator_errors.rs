//! Operational errors read as operator messages — what, which guest, what to do — without the
//! script frame ("line 34, position 14"), which `-v` still shows; genuine plan bugs keep it.

use crate::support::phoenix::{root, stderr, Sandbox};

fn example() -> std::path::PathBuf {
    root().join("etc")
}

/// No span, no source excerpt, no "called from" frame, no Rhai position.
fn assert_no_script_frame(err: &str) {
    for frame in ["╭─[", "line ", "position ", "called from", ".rhai:"] {
        assert!(!err.contains(frame), "`{frame}` in an operator message:\n{err}");
    }
}

fn assert_refused_before_any_change(sb: &Sandbox) {
    let mutating: Vec<_> = sb.sim_commands().into_iter().filter(|(_, m)| *m).collect();
    assert!(mutating.is_empty(), "{mutating:?}");
}

#[test]
fn no_guests_named_is_an_operator_message() {
    // The plan's declared command line refuses it before the plan (or the host) is touched.
    let sb = Sandbox::new();
    let out = sb.run(&example(), &["start"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("phoenix start: missing <ids>... or --all"), "{err}");
    assert!(err.contains("Usage: phoenix start <ids>... | --all"), "{err}");
    assert_no_script_frame(&err);
    assert!(sb.sim_commands().is_empty(), "{:?}", sb.sim_commands());
}

/// A plan without a declaration that raises `fail(message, hint)`: the message and the hint,
/// the frame only under -v.
#[test]
fn fail_in_a_plan_is_an_operator_message() {
    let sb = Sandbox::new();
    let plan = sb.dir.path().join("needs_guests.rhai");
    std::fs::write(
        &plan,
        "if ARGS.is_empty() { fail(\"name the guests to frobnicate\", \"e.g. `frobnicate 101`\"); }\n",
    )
    .expect("write plan");
    let plan = plan.display().to_string();
    let out = sb.run(&example(), &["run", &plan]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("name the guests to frobnicate"), "{err}");
    assert!(err.contains("help: e.g. `frobnicate 101`"), "{err}");
    assert_no_script_frame(&err);
    assert_refused_before_any_change(&sb);

    let out = sb.run(&example(), &["run", &plan, "-v"]);
    let err = stderr(&out);
    assert!(err.contains("name the guests to frobnicate") && err.contains("needs_guests.rhai"), "{err}");
}

#[test]
fn an_unknown_guest_id_names_it_and_the_closest_declared_one() {
    let sb = Sandbox::new();
    let out = sb.run(&example(), &["start", "1011"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("guest 1011 is not declared in the configuration"), "{err}");
    assert!(err.contains("help: did you mean 101 or 1001?"), "{err}");
    assert_no_script_frame(&err);
    assert_refused_before_any_change(&sb);
}

#[test]
fn a_refused_delete_names_the_dependents_and_the_way_out() {
    let sb = Sandbox::new();
    let out = sb.run(&example(), &["delete", "103", "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to delete: ") && err.contains("needs 103"), "{err}");
    assert!(err.contains("help: delete those guests in the same command, or pass --force"), "{err}");
    assert_no_script_frame(&err);
    assert_refused_before_any_change(&sb);
}

#[test]
fn a_plan_bug_keeps_its_script_frame() {
    let sb = Sandbox::new();
    let plan = sb.dir.path().join("bug.rhai");
    std::fs::write(&plan, "let x = 1;\nthrow `plan bug ${x}`;\n").expect("write plan");
    let out = sb.run(&example(), &["run", plan.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("plan bug 1") && err.contains("bug.rhai:2"), "{err}");
}

#[test]
fn a_plan_raises_its_own_operator_error_with_fail() {
    let sb = Sandbox::new();
    let plan = sb.dir.path().join("own.rhai");
    std::fs::write(&plan, "fn check() { fail(\"the NAS is offline\", \"power it on, then re-run\") }\ncheck();\n")
        .expect("write plan");
    let out = sb.run(&example(), &["run", plan.to_str().expect("utf-8")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the NAS is offline") && err.contains("help: power it on, then re-run"), "{err}");
    assert_no_script_frame(&err);
}
