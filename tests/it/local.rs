//! The local connector: argv without a shell, stdin, exit codes, atomic files, process groups.

use crate::ssh::TRICKY_ARGS;
use phoenix::command::Command;
use phoenix::connector::local::LocalConnector;
use phoenix::connector::{Connector, ConnectorError, FileWrite};
use phoenix::secret::Secret;
use std::os::unix::fs::MetadataExt;

#[test]
fn arguments_arrive_byte_exact_without_a_shell() {
    let out = LocalConnector::new().run(&Command::new(["printf", "%s\\0"]).args(TRICKY_ARGS.iter().copied())).unwrap();
    let expected: Vec<u8> = TRICKY_ARGS.iter().flat_map(|a| a.bytes().chain([0])).collect();
    assert_eq!(out.code, 0, "{}", out.stderr_str());
    assert_eq!(out.stdout, expected);
    assert!(!std::path::Path::new("/tmp/phoenix-pwned").exists());
}

#[test]
fn runs_in_the_c_locale_with_stdin_and_exit_codes() {
    let c = LocalConnector::new();
    let out = c.run(&Command::new(["sh", "-c", "printf %s \"$LC_ALL\""])).unwrap();
    assert_eq!(out.stdout_str(), "C");
    let data: Vec<u8> = (0..3 * 1024 * 1024).map(|i: u32| (i % 253) as u8).collect();
    let out = c.run(&Command::new(["cat"]).with_stdin(data.clone())).unwrap();
    assert!(out.stdout == data, "stdin/stdout differ ({} vs {} bytes)", out.stdout.len(), data.len());
    let out = c.run(&Command::new(["wc", "-c"])).unwrap();
    assert_eq!(out.stdout_str().trim(), "0");
    for code in [0, 3, 255] {
        let out = c.run(&Command::new(["sh", "-c", "echo e >&2; exit $1", "sh"]).arg(code.to_string())).unwrap();
        assert_eq!((out.code, out.stderr_str()), (code, "e\n".to_string()));
    }
    // A command that stops reading its input early is not an error.
    let out = c.run(&Command::new(["head", "-c", "1"]).with_stdin(data)).unwrap();
    assert_eq!(out.stdout, vec![0]);
}

#[test]
fn a_missing_program_is_a_spawn_error_without_secrets() {
    let e =
        LocalConnector::new().run(&Command::new(["no-such-program-phx"]).arg(Secret::new("topsecret-3"))).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(matches!(e, ConnectorError::Spawn { .. }) && text.contains("no-such-program-phx"), "{text}");
    assert!(!text.contains("topsecret-3"), "{text}");
}

#[test]
fn children_run_in_their_own_process_group() {
    let out = LocalConnector::new().run(&Command::new(["cat", "/proc/self/stat"])).unwrap();
    let (pid, pgrp) = pid_and_pgrp(&out.stdout_str());
    let me = std::fs::read_to_string("/proc/self/stat").unwrap();
    let (_, my_pgrp) = pid_and_pgrp(&me);
    assert_ne!(pgrp, my_pgrp, "child shares the terminal's process group");
    assert_eq!(pid, pgrp, "child leads its own group");
}

/// Fields 1 and 5 of /proc/<pid>/stat (the command name in parentheses may contain spaces).
fn pid_and_pgrp(stat: &str) -> (u32, u32) {
    let pid = stat.split(' ').next().unwrap().parse().unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let pgrp = after.split(' ').nth(2).unwrap().parse().unwrap();
    (pid, pgrp)
}

#[test]
fn file_write_is_atomic_and_keeps_mode() {
    let c = LocalConnector::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/sub dir/f.conf");
    let p = path.to_str().unwrap();
    assert_eq!(c.read_file(p).unwrap(), None);
    c.write_file(p, &FileWrite { content: b"a\x00\xff".to_vec(), mode: 0o640, owner: None, group: None }).unwrap();
    let f = c.read_file(p).unwrap().unwrap();
    assert_eq!((f.content.as_slice(), f.mode), (&b"a\x00\xff"[..], 0o640));
    let inode = std::fs::metadata(&path).unwrap().ino();
    c.write_file(p, &FileWrite { content: b"v2".to_vec(), mode: 0o600, owner: None, group: None }).unwrap();
    let f = c.read_file(p).unwrap().unwrap();
    assert_eq!((f.content.as_slice(), f.mode), (&b"v2"[..], 0o600));
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), inode, "rewritten in place, not renamed");
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "temp file left behind");
    assert!(c.remove_file(p).unwrap());
    assert!(!c.remove_file(p).unwrap());
}

#[test]
fn file_owner_is_resolved_by_name() {
    let c = LocalConnector::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f").display().to_string();
    let root = std::process::Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let (owner, group) = if root { ("nobody", "nogroup") } else { ("", "") };
    if root {
        let w = FileWrite { content: b"x".to_vec(), mode: 0o644, owner: Some(owner.into()), group: Some(group.into()) };
        c.write_file(&p, &w).unwrap();
        let f = c.read_file(&p).unwrap().unwrap();
        assert_eq!((f.owner.as_str(), f.group.as_str()), (owner, group));
        assert_eq!(std::fs::metadata(&p).unwrap().uid(), 65534);
    }
    let e = c
        .write_file(
            &p,
            &FileWrite { content: b"x".to_vec(), mode: 0o644, owner: None, group: Some("no-such-group-phx".into()) },
        )
        .unwrap_err();
    assert!(
        matches!(e, ConnectorError::File { op: "write", .. }) && e.to_string().contains("no-such-group-phx"),
        "{e}"
    );
}
