//! Batched reads (src/facts/batch.rs) on the example host: a run on a converged host sends each
//! guest's reads in one round trip, answers them exactly as single reads would (no change is
//! planned), and never sends anything but reads — whatever the notes file in the state dir says.

use crate::support::phoenix::{ok, root, run, Sandbox};

fn etc() -> std::path::PathBuf {
    root().join("etc")
}

/// Batches per guest (a batch counts for the guest it reads for).
fn per_guest(sb: &Sandbox) -> std::collections::BTreeMap<u32, usize> {
    let mut per = std::collections::BTreeMap::new();
    for (argv, _) in sb.sim_commands() {
        if let Some(id) = argv.get(3).and_then(|a| a.strip_prefix("phoenix-reads-")).and_then(|i| i.parse().ok()) {
            *per.entry(id).or_insert(0) += 1;
        }
    }
    per
}

fn converged() -> Sandbox {
    let sb = Sandbox::new();
    ok(&run(&sb, &etc(), &["setup", "-q"]));
    ok(&run(&sb, &etc(), &["create", "--all", "-q"]));
    ok(&run(&sb, &etc(), &["converge", "--all", "-q"]));
    sb
}

#[test]
fn a_converged_host_is_read_in_one_round_trip_per_guest_and_nothing_changes() {
    let sb = converged();
    sb.clear_sim_log();
    let out = run(&sb, &etc(), &["converge", "--all", "--dry-run", "--output", "json"]);
    ok(&out);
    let changes: Vec<String> = crate::support::phoenix::actions(&out);
    assert_eq!(changes, Vec::<String>::new(), "batched answers are the host's answers");
    let commands = sb.sim_commands();
    assert!(commands.iter().all(|(_, m)| !m), "a dry-run sends only reads");
    let per = per_guest(&sb);
    assert_eq!(per.len(), 11, "every guest's reads are batched: {per:?}");
    // 11 batches, and at most the few reads notes did not cover (see benches/commands.rs).
    let alone: Vec<String> = commands.iter().filter(|(a, _)| a[0] != "sh").map(|(a, _)| a.join(" ")).collect();
    assert!(commands.len() <= 11 + 5, "{} commands; asked alone: {alone:#?}", commands.len());
}

#[test]
fn notes_that_do_not_only_look_are_never_sent() {
    let sb = converged();
    let notes = sb.state_dir().join("reads").join("converge.json");
    let mut plan: serde_json::Value = serde_json::from_slice(&std::fs::read(&notes).expect("notes")).expect("JSON");
    // A tampered (or buggy) notes file asks a dry-run to destroy a guest and reboot another.
    plan["guests"]["110"]
        .as_array_mut()
        .expect("110 has notes")
        .push(serde_json::json!({"host": ["pct", "destroy", "110", "--purge"]}));
    plan["guests"]["110"]
        .as_array_mut()
        .expect("110 has notes")
        .push(serde_json::json!({"inside": {"kind": "lxc", "id": 102, "argv": ["reboot"]}}));
    std::fs::write(&notes, serde_json::to_vec(&plan).expect("JSON")).expect("write notes");
    sb.clear_sim_log();
    ok(&run(&sb, &etc(), &["converge", "--all", "--dry-run", "-q"]));
    let commands = sb.sim_commands();
    let mutating: Vec<String> = commands
        .iter()
        .filter(|(_, m)| *m)
        .map(|(a, _)| a.iter().filter(|w| w.len() < 80).cloned().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(mutating, Vec::<String>::new(), "a dry-run sends only reads");
    let text = format!("{commands:?}");
    assert!(!text.contains("destroy") && !text.contains("\"reboot\""), "a note that does not only look was sent");
    assert_eq!(per_guest(&sb).get(&110), Some(&1), "the rest of 110's notes are still batched");
}

/// The batch over a real sshd and the real `sh`: one round trip, answers byte-exact, paths with
/// shell syntax stay data.
#[test]
fn a_batch_over_real_ssh_answers_like_single_reads() {
    use phoenix::connector::Connector;
    use phoenix::facts::batch::{command, Answer, Read};
    let sshd = crate::support::sshd::Sshd::start();
    let control = tempfile::tempdir().expect("temp dir");
    let conn = sshd.connector(control.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let tricky = dir.path().join("a b; $(touch pwned) 'q'");
    std::fs::write(&tricky, b"x: 1\n\0\xff").expect("write");
    let tricky = tricky.to_str().expect("utf-8 path").to_string();
    let missing = dir.path().join("missing").to_str().expect("utf-8 path").to_string();
    let reads = vec![
        Read::File(tricky.clone()),
        Read::File(missing.clone()),
        Read::Host(vec!["cat".into(), tricky.clone()]),
        Read::Host(vec!["test".into(), "-d".into(), dir.path().to_str().expect("utf-8").into()]),
    ];
    let no_guest = |_, _, _: &[String]| -> phoenix::command::Command { unreachable!("no in-guest reads here") };
    let (cmd, layout) = command("phoenix-reads-1", &reads, &no_guest).expect("a batch");
    let out = conn.run(&cmd).expect("ssh runs");
    assert_eq!(out.code, 0, "{}", out.stderr_str());
    let answers = layout.answers(&out, &|_, _, _| None);
    assert_eq!(answers.len(), 4);
    let single = conn.read_file(&tricky).expect("read").expect("exists");
    match &answers[0].1 {
        Answer::File(Some(f)) => assert_eq!(f, &single, "the batch reads a file as read_file does"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&answers[1].1, Answer::File(None)));
    assert!(matches!(&answers[2].1, Answer::Host(o) if o.code == 0 && o.stdout == b"x: 1\n\0\xff"));
    assert!(matches!(&answers[3].1, Answer::Host(o) if o.code == 0));
    assert!(!dir.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());
    assert_eq!(conn.read_file(&missing).expect("read"), None);
}
