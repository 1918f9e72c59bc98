//! The SSH connector against a real sshd (see support/sshd.rs).

use crate::support::sshd::{free_port, Sshd};
use phoenix::command::Command;
use phoenix::connector::ssh::{SshConnector, SshTarget};
use phoenix::connector::{Connector, ConnectorError, FileWrite};
use phoenix::secret::Secret;
use std::os::unix::fs::MetadataExt;

/// Arguments that break naive quoting: shell syntax, whitespace, quotes, non-ASCII, dashes.
pub const TRICKY_ARGS: &[&str] = &[
    "plain",
    "with space",
    "it's",
    "say \"hi\"",
    "$(touch /tmp/phoenix-pwned)",
    "`id`",
    "a;b",
    "a && b",
    "a | b",
    "*",
    "line1\nline2",
    "tab\there",
    "back\\slash\\\\",
    "-n",
    "--help",
    "",
    "ü 日本 🦀",
    "$HOME ${PATH} ~ !x #c %s",
    "'\"'\"",
];

fn printf_nul(args: &[&str]) -> Command {
    Command::new(["printf", "%s\\0"]).args(args.iter().copied())
}

fn expected_nul(args: &[&str]) -> Vec<u8> {
    args.iter().flat_map(|a| a.bytes().chain([0])).collect()
}

#[test]
fn arguments_arrive_byte_exact() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let out = c.run(&printf_nul(TRICKY_ARGS)).unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr_str());
    assert_eq!(out.stdout, expected_nul(TRICKY_ARGS));
    assert!(!std::path::Path::new("/tmp/phoenix-pwned").exists());
    // Secrets are real text on the wire, masked only in renderings.
    let out = c.run(&Command::new(["printf", "%s"]).arg(Secret::new("pa ss'w\"rd$x"))).unwrap();
    assert_eq!(out.stdout, b"pa ss'w\"rd$x");
    c.finish().unwrap();
}

#[test]
fn remote_commands_run_in_the_c_locale() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let out = c.run(&Command::new(["sh", "-c", "printf %s \"$LC_ALL\""])).unwrap();
    assert_eq!(out.stdout_str(), "C");
}

#[test]
fn stdin_passes_through_byte_exact() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    // All byte values, and large enough (2 MiB) that stdin and stdout must flow concurrently.
    let data: Vec<u8> = (0..2 * 1024 * 1024).map(|i: u32| (i % 251) as u8 ^ (i >> 11) as u8).collect();
    let out = c.run(&Command::new(["cat"]).with_stdin(data.clone())).unwrap();
    assert_eq!(out.code, 0);
    assert!(out.stdout == data, "stdin/stdout differ ({} vs {} bytes)", out.stdout.len(), data.len());
    // No stdin given: the remote side sees EOF instead of hanging.
    let out = c.run(&Command::new(["wc", "-c"])).unwrap();
    assert_eq!(out.stdout_str().trim(), "0");
}

#[test]
fn exit_codes_and_stderr_propagate() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    for code in [0, 1, 7, 42, 254] {
        let out = c
            .run(&Command::new(["sh", "-c", "echo out; echo err >&2; exit \"$1\"", "sh"]).arg(code.to_string()))
            .unwrap();
        assert_eq!((out.code, out.stdout_str()), (code, "out\n".into()));
        // The remote login shell's rc files may print to stderr first (pyenv, motd helpers).
        assert!(out.stderr_str().ends_with("err\n"), "{:?}", out.stderr_str());
    }
    // A remote 255 that printed nothing is the command's own exit, not a connection failure.
    let out = c.run(&Command::new(["sh", "-c", "exit 255"])).unwrap();
    assert_eq!(out.code, 255);
    let out = c.run(&Command::new(["no-such-program-phx"])).unwrap();
    assert_eq!(out.code, 127);
}

#[test]
fn many_commands_share_one_connection() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f").display().to_string();
    for i in 0..5 {
        assert_eq!(c.run(&Command::new(["echo", &i.to_string()])).unwrap().stdout_str(), format!("{i}\n"));
    }
    c.write_file(&path, &FileWrite { content: b"x".to_vec(), mode: 0o600, owner: None, group: None }).unwrap();
    assert!(c.read_file(&path).unwrap().is_some());
    assert!(c.remove_file(&path).unwrap());
    // More parallel sessions than sshd's MaxSessions (10) allows on one connection.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let c = &c;
                s.spawn(move || c.run(&Command::new(["sh", "-c", "sleep 0.2; echo $1", "sh", &i.to_string()])).unwrap())
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let out = h.join().unwrap();
            assert_eq!((out.code, out.stdout_str()), (0, format!("{i}\n")), "{}", out.stderr_str());
        }
    });
    assert_eq!(sshd.accepted(), 1, "sshd log:\n{}", sshd.log());
    c.finish().unwrap();
    assert_eq!(std::fs::read_dir(ctl.path()).unwrap().count(), 0, "control socket left after finish");
}

#[test]
fn a_master_that_went_away_is_restarted() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    assert_eq!(c.run(&Command::new(["true"])).unwrap().code, 0);
    // Kill the master behind the connector's back, as a network drop would.
    let mut opts = sshd.client_opts();
    opts.extend(["-o".into(), format!("ControlPath={}/%C", ctl.path().display()), "-O".into(), "exit".into()]);
    let st = std::process::Command::new("ssh")
        .args(&opts)
        .args(["-p", &sshd.port.to_string(), "-l", &sshd.user, "127.0.0.1"])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    // `-O exit` returns before the master has finished shutting down; wait until it is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read_dir(ctl.path())
        .unwrap()
        .any(|e| std::os::unix::net::UnixStream::connect(e.unwrap().path()).is_ok())
    {
        assert!(std::time::Instant::now() < deadline, "master did not exit");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(c.run(&Command::new(["echo", "again"])).unwrap().stdout_str(), "again\n");
    assert_eq!(c.run(&Command::new(["echo", "and again"])).unwrap().stdout_str(), "and again\n");
    assert_eq!(sshd.accepted(), 2, "one reconnect, then multiplexed again");
}

#[test]
fn file_write_is_atomic_and_keeps_mode() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/sub dir/it's.conf");
    let p = path.to_str().unwrap();
    let content: Vec<u8> = b"a = 1\n\x00\xff binary \xe6\x97\xa5\n".to_vec();
    c.write_file(p, &FileWrite { content: content.clone(), mode: 0o640, owner: None, group: None }).unwrap();
    let f = c.read_file(p).unwrap().unwrap();
    assert_eq!((f.content.as_slice(), f.mode), (content.as_slice(), 0o640));
    assert_eq!(f.owner, sshd.user);
    let inode = std::fs::metadata(&path).unwrap().ino();
    c.write_file(p, &FileWrite { content: b"v2".to_vec(), mode: 0o4750, owner: None, group: None }).unwrap();
    let f = c.read_file(p).unwrap().unwrap();
    assert_eq!((f.content.as_slice(), f.mode), (&b"v2"[..], 0o4750));
    // Replaced by rename (new inode), not rewritten in place; no temp file left behind.
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), inode);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("it's.conf")]);
    // Empty content is a valid file.
    c.write_file(p, &FileWrite { content: vec![], mode: 0o600, owner: None, group: None }).unwrap();
    assert_eq!(c.read_file(p).unwrap().unwrap().content, b"");
}

#[test]
fn file_owner_change_works_as_root() {
    if !is_root() {
        eprintln!("skipped: chown to another user needs root");
        return;
    }
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("owned").display().to_string();
    let w =
        FileWrite { content: b"x".to_vec(), mode: 0o644, owner: Some("nobody".into()), group: Some("nogroup".into()) };
    c.write_file(&p, &w).unwrap();
    let f = c.read_file(&p).unwrap().unwrap();
    assert_eq!((f.owner.as_str(), f.group.as_str(), f.mode), ("nobody", "nogroup", 0o644));
    let meta = std::fs::metadata(&p).unwrap();
    assert_eq!(meta.uid(), 65534);
    // Group only.
    let w = FileWrite { content: b"y".to_vec(), mode: 0o600, owner: None, group: Some("nogroup".into()) };
    c.write_file(&p, &w).unwrap();
    let f = c.read_file(&p).unwrap().unwrap();
    assert_eq!((f.owner.as_str(), f.group.as_str()), ("root", "nogroup"));
    // An unknown user is a file error naming the path; the old file stays.
    let w = FileWrite { content: b"z".to_vec(), mode: 0o600, owner: Some("no-such-user-phx".into()), group: None };
    let e = c.write_file(&p, &w).unwrap_err();
    assert!(
        matches!(e, ConnectorError::File { .. })
            && e.to_string().contains(&p)
            && e.to_string().contains("no-such-user-phx"),
        "{e}"
    );
    assert_eq!(c.read_file(&p).unwrap().unwrap().content, b"y");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn missing_files_read_as_none_and_remove_reports_existence() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gone").display().to_string();
    assert_eq!(c.read_file(&p).unwrap(), None);
    assert!(!c.remove_file(&p).unwrap());
    std::fs::write(&p, "x").unwrap();
    assert!(c.remove_file(&p).unwrap());
    assert!(!std::path::Path::new(&p).exists());
    // A directory is neither missing nor readable.
    let d = dir.path().display().to_string();
    let e = c.read_file(&d).unwrap_err();
    assert!(matches!(e, ConnectorError::File { op: "read", .. }), "{e}");
}

#[test]
fn connection_refused_is_a_connection_error_without_secrets() {
    let port = free_port();
    let target = SshTarget::parse(&format!("root@127.0.0.1:{port}")).unwrap();
    let ctl = tempfile::tempdir().unwrap();
    let c = SshConnector::with_options(&target, ctl.path(), vec!["-F".into(), "none".into()]);
    let e = c.run(&Command::new(["echo"]).arg(Secret::new("topsecret-1"))).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(matches!(e, ConnectorError::Connection { .. }), "{text}");
    assert!(text.contains("refused") && text.contains(&format!("ssh://root@127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("topsecret-1"), "{text}");
    let e = c.read_file("/etc/hostname").unwrap_err();
    assert!(matches!(e, ConnectorError::Connection { .. }), "{e}");
    c.finish().unwrap();
}

#[test]
fn secrets_never_appear_in_error_text() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    // A remote failure that looks like ssh's own (255, stderr only) and echoes the secret.
    let cmd = Command::new(["sh", "-c", "echo \"bad token: $1\" >&2; exit 255", "sh"]).arg(Secret::new("topsecret-2"));
    let e = c.run(&cmd).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(text.contains("bad token: ***") && !text.contains("topsecret-2"), "{text}");
    assert!(!cmd.to_string().contains("topsecret-2"));
}

fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

#[test]
fn a_connection_lost_mid_command_names_it_and_nothing_runs_after() {
    let sshd = Sshd::start();
    let ctl = tempfile::tempdir().unwrap();
    let c = sshd.connector(ctl.path());
    assert_eq!(c.run(&Command::new(["true"])).unwrap().code, 0);
    let marker = tempfile::tempdir().unwrap();
    let after = marker.path().join("ran-after");
    std::thread::scope(|s| {
        let long = s.spawn(|| c.run(&Command::new(["sleep", "5"])));
        std::thread::sleep(std::time::Duration::from_millis(500));
        // The connection goes away under the running command, as a network drop would do.
        let mut opts = sshd.client_opts();
        opts.extend(["-o".into(), format!("ControlPath={}/%C", ctl.path().display()), "-O".into(), "exit".into()]);
        let st = std::process::Command::new("ssh")
            .args(&opts)
            .args(["-p", &sshd.port.to_string(), "-l", &sshd.user, "127.0.0.1"])
            .output()
            .unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let e = long.join().unwrap().unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, ConnectorError::Lost { .. }), "{text}");
        assert!(text.starts_with("connection to ssh://") && text.contains("lost while running `sleep 5`"), "{text}");
    });
    // Nothing runs after it: no reconnect, the next command is refused with the same cause.
    let e = c.run(&Command::new(["touch", after.to_str().unwrap()])).unwrap_err();
    assert!(matches!(e, ConnectorError::Lost { .. }), "{e}");
    assert!(!after.exists(), "a command ran after the connection was lost");
    assert_eq!(sshd.accepted(), 1, "no second connection: {}", sshd.log());
}
