//! Firewall files are written under Proxmox's pmxcfs firewall lock, compare-and-swap
//! (`ops::firewall_file`): a GUI or API edit saved between phoenix's read and its write is
//! never lost.
//! - the script itself, run by a real `sh` on a scratch directory standing in for /etc/pve:
//!   it takes and releases the lock, refuses a changed file (its exit code, nothing written),
//!   times out on a lock someone holds (and asks pmxcfs to expire it), never leaves a lock or a
//!   staged file behind;
//! - end to end on the simulator (which emulates the lock directories and the write on its
//!   own): a held lock fails setup's firewall step with its message, exit 1, the file as it
//!   was; a GUI edit landing just before the write fails the run, the edit kept; a re-run
//!   converges with the edit preserved and phoenix's part merged.

use crate::support::phoenix::{copy_dir, ok, root, run, stderr, Sandbox};
use phoenix::ops::content_digest;
use phoenix::ops::firewall_file::{locked_write, ABSENT, CHANGED_EXIT, LOCKED_EXIT};
use phoenix_sim::{cfs_lock_held, gui_text, seed_cfs_lock, seed_firewall_file, GuiFirewall, InterleavedEdit, SimHost};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Output;

const CLUSTER: &str = "/etc/pve/firewall/cluster.fw";
const CLUSTER_LOCK: &str = "/etc/pve/priv/lock/firewall-cluster";

// ---- the script, run by a real sh ----

/// A scratch /etc/pve: `priv/lock/` and `firewall/`.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("priv/lock")).unwrap();
        std::fs::create_dir_all(dir.path().join("firewall")).unwrap();
        Scratch { dir }
    }
    fn lock(&self) -> PathBuf {
        self.dir.path().join("priv/lock/firewall-cluster")
    }
    fn file(&self) -> PathBuf {
        self.dir.path().join("firewall/cluster.fw")
    }
    /// The command phoenix sends, with the scratch lock and file, and a timeout of `timeout`
    /// seconds instead of Proxmox's 10 (the argument is the script's `$2`).
    fn write(&self, expect: &str, content: &str, timeout: u32) -> Output {
        self.write_cut(expect, content, content.len(), timeout)
    }
    /// `write`, with only the first `sent` bytes of the content reaching the script's stdin.
    fn write_cut(&self, expect: &str, content: &str, sent: usize, timeout: u32) -> Output {
        let cmd = locked_write(
            &self.lock().to_string_lossy(),
            expect,
            &self.file().to_string_lossy(),
            0o640,
            content.as_bytes(),
        );
        let mut argv = cmd.exposed_argv();
        assert_eq!(argv[5], "10", "Proxmox's timeout: {argv:?}");
        argv[5] = timeout.to_string();
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&cmd.stdin.as_deref().unwrap_or_default()[..sent]).unwrap();
        child.wait_with_output().unwrap()
    }
    fn text(&self) -> Option<String> {
        std::fs::read_to_string(self.file()).ok()
    }
    /// Everything in firewall/ and priv/lock/ (a staged file or a lock left behind shows here).
    fn entries(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["firewall", "priv/lock"] {
            for e in std::fs::read_dir(self.dir.path().join(sub)).unwrap() {
                out.push(format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()));
            }
        }
        out.sort();
        out
    }
}

fn text_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_script_writes_when_the_file_is_what_was_read_and_releases_the_lock() {
    let s = Scratch::new();
    let first = s.write(ABSENT, "[OPTIONS]\n\nenable: 1\n", 2);
    assert_eq!((first.status.code(), text_of(&first)), (Some(0), String::new()));
    assert_eq!(s.text().as_deref(), Some("[OPTIONS]\n\nenable: 1\n"));
    assert_eq!(std::fs::metadata(s.file()).unwrap().permissions().mode() & 0o7777, 0o640);
    assert_eq!(s.entries(), ["firewall/cluster.fw"], "no lock and no staged file left");

    // The next write expects the digest of what is there now; a value with shell syntax in
    // the content is data.
    let odd = "[RULES]\n\nIN ACCEPT -p tcp -dport 22 # $(touch /tmp/pwned) `id` \"q\" 'q'\n";
    let second = s.write(&content_digest(b"[OPTIONS]\n\nenable: 1\n"), odd, 2);
    assert_eq!(second.status.code(), Some(0), "{}", text_of(&second));
    assert_eq!(s.text().as_deref(), Some(odd));
    assert_eq!(s.entries(), ["firewall/cluster.fw"]);
}

#[test]
fn the_script_refuses_a_file_that_changed_since_it_was_read() {
    let s = Scratch::new();
    std::fs::write(s.file(), "[OPTIONS]\n\nenable: 0\n").unwrap();
    // phoenix merged from a file that did not exist; someone made one since.
    let absent = s.write(ABSENT, "mine\n", 2);
    assert_eq!(absent.status.code(), Some(CHANGED_EXIT), "{}", text_of(&absent));
    assert!(text_of(&absent).contains("cluster.fw changed while phoenix was merging into it"), "{}", text_of(&absent));
    // phoenix merged from an older text.
    let stale = s.write(&content_digest(b"[OPTIONS]\n\nenable: 1\n"), "mine\n", 2);
    assert_eq!(stale.status.code(), Some(CHANGED_EXIT));
    // It existed when phoenix read it and is gone now.
    let digest = content_digest(b"[OPTIONS]\n\nenable: 0\n");
    std::fs::remove_file(s.file()).unwrap();
    let gone = s.write(&digest, "mine\n", 2);
    assert_eq!(gone.status.code(), Some(CHANGED_EXIT));
    assert_eq!(s.text(), None, "nothing written");
    assert_eq!(s.entries(), Vec::<String>::new(), "lock released, staged file removed");
    std::fs::write(s.file(), "[OPTIONS]\n\nenable: 0\n").unwrap();
    assert_eq!(s.write(&digest, "mine\n", 2).status.code(), Some(0));
    assert_eq!(s.text().as_deref(), Some("mine\n"));
}

#[test]
fn the_script_refuses_content_cut_short_on_its_way() {
    let s = Scratch::new();
    std::fs::write(s.file(), "theirs\n").unwrap();
    let digest = content_digest(b"theirs\n");
    for sent in [0, 5] {
        let out = s.write_cut(&digest, "[OPTIONS]\n\nenable: 1\n", sent, 2);
        assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
        assert!(text_of(&out).contains(&format!("got {sent} bytes of content instead of 21")), "{}", text_of(&out));
        assert_eq!(s.text().as_deref(), Some("theirs\n"));
        assert_eq!(s.entries(), ["firewall/cluster.fw"]);
    }
}

#[test]
fn the_script_times_out_on_a_held_lock_and_leaves_it_to_its_holder() {
    let s = Scratch::new();
    std::fs::write(s.file(), "theirs\n").unwrap();
    std::fs::create_dir(s.lock()).unwrap();
    let started = std::time::Instant::now();
    let out = s.write(&content_digest(b"theirs\n"), "mine\n", 2);
    assert_eq!(out.status.code(), Some(LOCKED_EXIT), "{}", text_of(&out));
    assert!(text_of(&out).contains("is locked by another firewall edit ("), "{}", text_of(&out));
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "it waited a second between tries");
    assert_eq!(s.text().as_deref(), Some("theirs\n"));
    assert!(s.lock().is_dir(), "the holder's lock is not removed");
    // While waiting it asked pmxcfs to expire the lock (`utime(0, 0)` in PVE::Cluster).
    assert_eq!(std::fs::metadata(s.lock()).unwrap().mtime(), 0);
    assert_eq!(s.entries(), ["firewall/cluster.fw", "priv/lock/firewall-cluster"], "no staged file left");

    // Released by its holder within the timeout: the write goes through.
    std::fs::remove_dir(s.lock()).unwrap();
    assert_eq!(s.write(&content_digest(b"theirs\n"), "mine\n", 2).status.code(), Some(0));
    assert_eq!(s.entries(), ["firewall/cluster.fw"]);
}

#[test]
fn the_script_treats_anything_in_the_locks_place_as_held_and_refuses_an_offline_pmxcfs() {
    // Whatever occupies the lock's name (here a file) makes mkdir fail: held, left alone.
    let s = Scratch::new();
    std::fs::write(s.lock(), "").unwrap();
    let out = s.write(ABSENT, "mine\n", 2);
    assert_eq!(out.status.code(), Some(LOCKED_EXIT));
    assert!(s.lock().is_file());
    assert_eq!(s.text(), None);
    std::fs::remove_file(s.lock()).unwrap();
    // A pmxcfs without its lock directory, which cannot be made, is not online (PVE::Cluster
    // dies "pve cluster filesystem not online"): refused, nothing written.
    std::fs::remove_dir(s.dir.path().join("priv/lock")).unwrap();
    std::fs::set_permissions(s.dir.path().join("priv"), std::fs::Permissions::from_mode(0o500)).unwrap();
    let offline = s.write(ABSENT, "mine\n", 2);
    std::fs::set_permissions(s.dir.path().join("priv"), std::fs::Permissions::from_mode(0o755)).unwrap();
    if offline.status.code() == Some(0) && nix_is_root() {
        // As root the read-only directory does not stop mkdir: nothing to check here.
        return;
    }
    assert_eq!(offline.status.code(), Some(1), "{}", text_of(&offline));
    assert!(text_of(&offline).contains("pve cluster filesystem not online"), "{}", text_of(&offline));
    assert_eq!(s.text(), None);
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

#[test]
fn a_killed_write_leaves_no_staged_file_and_no_lock_it_did_not_take() {
    // Stopped (TERM) while it waits for a lock someone else holds.
    let s = Scratch::new();
    std::fs::create_dir(s.lock()).unwrap();
    let cmd = locked_write(&s.lock().to_string_lossy(), ABSENT, &s.file().to_string_lossy(), 0o640, b"x\n");
    let argv = cmd.exposed_argv();
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"x\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(0));
    assert!(s.lock().is_dir(), "a lock it never took is not removed");
    assert_eq!(s.entries(), ["priv/lock/firewall-cluster"], "the staged file is removed");
}

// ---- end to end on the simulator ----

fn config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    dir
}

fn with_host<R>(sb: &Sandbox, f: impl FnOnce(&SimHost) -> R) -> R {
    let host = SimHost::open(&sb.sim_state()).expect("sim state");
    let r = f(&host);
    host.save().expect("sim state saved");
    r
}

fn file(sb: &Sandbox, path: &str) -> Option<String> {
    with_host(sb, |h| h.with_state(|st| st.files.get(path).map(|f| String::from_utf8_lossy(&f.content).into_owned())))
}

fn admin_cluster() -> String {
    gui_text(&GuiFirewall {
        options: vec![("enable".into(), "0".into())],
        rules: vec!["IN DROP -source 198.51.100.7 # blocked scanner".into()],
        ..GuiFirewall::default()
    })
}

/// Exit 1 with `message` in the error (miette wraps it, even inside a word: compared without
/// its frame and whitespace).
fn failed_with(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", stderr(out));
    let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace() && !matches!(c, '│' | '×')).collect::<String>();
    assert!(squeeze(&stderr(out)).contains(&squeeze(message)), "wanted {message:?} in:\n{}", stderr(out));
}

fn locked_writes(sb: &Sandbox, path: &str) -> usize {
    sb.sim_commands().into_iter().filter(|(a, _)| a[0] == "sh" && a.len() == 10 && a[7] == path).count()
}

#[test]
fn a_held_firewall_lock_fails_setup_and_leaves_the_file_as_it_was() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    let admin = admin_cluster();
    with_host(&sb, |h| {
        h.with_state(|st| {
            seed_firewall_file(st, "cluster.fw", &admin);
            seed_cfs_lock(st, "firewall-cluster");
        })
    });
    let out = run(&sb, &cfg, &["setup", "-q"]);
    failed_with(
        &out,
        "/etc/pve/firewall/cluster.fw is locked by another firewall edit \
         (/etc/pve/priv/lock/firewall-cluster); nothing was written",
    );
    assert_eq!(file(&sb, CLUSTER).as_deref(), Some(admin.as_str()));
    assert!(with_host(&sb, |h| h.with_state(|st| cfs_lock_held(st, CLUSTER_LOCK))), "the holder keeps its lock");
    assert_eq!(locked_writes(&sb, CLUSTER), 1, "one attempt: the command waited for the lock itself");

    // Released: the next run writes.
    with_host(&sb, |h| h.with_state(|st| st.dirs.remove(CLUSTER_LOCK)));
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    let merged = file(&sb, CLUSTER).unwrap();
    assert!(merged.contains("enable: 1\n") && merged.contains("# blocked scanner\n"), "{merged}");
}

#[test]
fn a_gui_edit_between_read_and_write_is_kept_and_a_rerun_merges_into_it() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    let admin = admin_cluster();
    // The administrator adds a rule in the GUI after phoenix read cluster.fw (the rehearsal and
    // the apply both read it first), just before phoenix's write arrives.
    let edited =
        admin.replace("# blocked scanner\n", "# blocked scanner\nIN DROP -source 203.0.113.9 # added in the GUI\n");
    assert_ne!(edited, admin);
    with_host(&sb, |h| {
        h.with_state(|st| {
            seed_firewall_file(st, "cluster.fw", &admin);
            st.interleaved_edits.push(InterleavedEdit {
                pattern: format!("sh -c * {CLUSTER_LOCK} * {CLUSTER} 0640 *"),
                path: CLUSTER.into(),
                content: edited.clone(),
            });
        })
    });
    let out = run(&sb, &cfg, &["firewall", "-q"]);
    failed_with(
        &out,
        "/etc/pve/firewall/cluster.fw changed while phoenix was merging into it \
         (an edit in the GUI or API?): nothing was written; run phoenix again",
    );
    assert_eq!(file(&sb, CLUSTER).as_deref(), Some(edited.as_str()), "the GUI edit is kept");
    assert!(!with_host(&sb, |h| h.with_state(|st| cfs_lock_held(st, CLUSTER_LOCK))), "lock released");

    // Again: phoenix reads the edited file, merges its part into it, writes once; then converged.
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    let merged = file(&sb, CLUSTER).unwrap();
    assert!(merged.contains("IN DROP -source 203.0.113.9 # added in the GUI\n"), "{merged}");
    assert!(merged.contains("enable: 1\n") && merged.contains("[group phoenix-host]"), "{merged}");
    assert_eq!(locked_writes(&sb, CLUSTER), 1);
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    let mutating: Vec<Vec<String>> = sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a).collect();
    assert!(mutating.iter().all(|a| a[0] != "sh" && a[0] != "file.write"), "converged: no write: {mutating:?}");
    assert_eq!(file(&sb, CLUSTER), Some(merged));
}

#[test]
fn the_dry_run_shows_the_locked_write_the_apply_runs() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    with_host(&sb, |h| h.with_state(|st| seed_firewall_file(st, "cluster.fw", &admin_cluster())));
    let lines = |out: &Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("cluster.fw"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let dry = run(&sb, &cfg, &["firewall", "--dry-run"]);
    ok(&dry);
    let digest = content_digest(admin_cluster().as_bytes());
    let shown = lines(&dry);
    assert!(
        shown.iter().any(|l| l.starts_with("sh -c <script: ")
            && l.contains(&format!("> sh {CLUSTER_LOCK} 10 {digest} {CLUSTER} 0640 "))),
        "{shown:#?}"
    );
    assert!(shown.iter().any(|l| l.starts_with("+++ b/etc/pve/firewall/cluster.fw")), "the diff is shown: {shown:#?}");
    let applied = run(&sb, &cfg, &["firewall"]);
    ok(&applied);
    let step = |v: Vec<String>| v.into_iter().filter(|l| l.starts_with("sh -c ")).collect::<Vec<_>>();
    assert_eq!(step(shown), step(lines(&applied)));
}
