//! The base facts of a run: the host's own answers to the reads the fact readers made, before
//! any modelled effect. A rehearsal records them; the apply that follows it starts from them,
//! so the host is not read twice for the same fact.
//!
//! A recorded answer is what the host said before anything was changed. The apply may use it
//! only while nothing the apply did could have changed it, so:
//! - each answer is served at most once (a fact read a second time was invalidated by the
//!   cache for a reason: it goes to the host), and
//! - before an action runs, the executor forgets every answer in the scopes that action can
//!   touch ([`Scope`]); an action whose effect is unknown forgets everything.
//!
//! Probes (`host::probe`, `host::run_script`, `guest::probe`, the guest agent and cloud-init
//! waits) are reads too: a rehearsal records them, and the apply is served a recorded probe
//! answer once, only until its first action — any action may change what a probe looks at —
//! and every further call asks the host (a wait must see the change it waits for).

use crate::command::{Command, Output};
use crate::connector::FileData;
use std::collections::HashMap;
use std::sync::Mutex;

/// One read the fact readers make: a read-only command (argv, host or in-guest) or a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReadKey {
    Command(Command),
    File(String),
    /// A probe: a read-only command whose answer any action may change.
    Probe(Command),
    /// An HTTP GET (`GET <base url><path>`): like a probe, any action may change its answer.
    Http(String),
}

/// The host's answer to a read.
#[derive(Debug, Clone)]
pub enum Answer {
    Command(Output),
    File(Option<FileData>),
    /// An in-guest read answered by a batch (batch.rs): exit code and stdout.
    Inside(i32, Vec<u8>),
    /// An HTTP answer: status and body.
    Http(u16, Vec<u8>),
}

/// What an action can change, for forgetting recorded answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A guest: its config file and everything read inside it.
    Guest(u32),
    /// A host file.
    File(String),
    /// The guest listings (`pct list`, `qm list`).
    Listing,
    /// Pools and datasets (`zpool …`, `zfs …`).
    Zfs,
    /// Everything host-wide: listings, ZFS, storage, host files, images (not guests' insides).
    Host,
    /// A host directory made or given an owner (`mkdir -p`, `chown`): what was read about it,
    /// its parents or anything below it.
    HostDir(String),
    /// A `stat` of host paths (bind-mount sources, export directories).
    Stat(Vec<String>),
    /// What a probe saw: any action may change it.
    Probe,
    /// Everything.
    All,
}

/// Which scope a recorded read belongs to.
fn scope_of(key: &ReadKey) -> Scope {
    match key {
        ReadKey::Probe(_) | ReadKey::Http(_) => Scope::Probe,
        ReadKey::File(path) => match guest_conf_id(path) {
            Some(id) => Scope::Guest(id),
            None => Scope::File(path.clone()),
        },
        ReadKey::Command(cmd) => {
            let words: Vec<&str> = cmd.argv.iter().map(crate::command::Arg::expose).collect();
            match words.as_slice() {
                ["pct", "exec", id, ..] | ["qm", "guest", "exec", id, ..] => match id.parse() {
                    Ok(id) => Scope::Guest(id),
                    Err(_) => Scope::Host,
                },
                ["pct" | "qm", "list", ..] => Scope::Listing,
                ["stat", "-c", _, "--", paths @ ..] => Scope::Stat(paths.iter().map(|p| p.to_string()).collect()),
                ["zfs" | "zpool", ..] => Scope::Zfs,
                // Images read with `tar`, and anything else host-wide.
                _ => Scope::Host,
            }
        }
    }
}

/// What writing (or removing) a host file may change: a guest's config file is that guest;
/// Proxmox's own files and phoenix's staging files are host-wide; any other path may be
/// bind-mounted into a guest (`mp0: /tank/x,mp=/etc/x`), so it could change any guest's inside.
pub fn written_scope(path: &str) -> Scope {
    match guest_conf_id(path) {
        Some(id) => Scope::Guest(id),
        // Proxmox's cluster files, its local storage and phoenix's staging files.
        None if ["/etc/pve/", "/var/lib/vz/", "/tmp/.phoenix-"].iter().any(|p| path.starts_with(p)) => {
            Scope::File(path.to_string())
        }
        None => Scope::All,
    }
}

/// `/etc/pve/lxc/101.conf` → 101.
fn guest_conf_id(path: &str) -> Option<u32> {
    let name = path.strip_prefix("/etc/pve/lxc/").or_else(|| path.strip_prefix("/etc/pve/qemu-server/"))?;
    name.strip_suffix(".conf")?.parse().ok()
}

/// One path is the other, or inside it.
fn related_paths(a: &str, b: &str) -> bool {
    let inside = |x: &str, dir: &str| x.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'));
    a == b || inside(a, b) || inside(b, a)
}

fn covers(scope: &Scope, key_scope: &Scope) -> bool {
    match (scope, key_scope) {
        (Scope::All, _) | (_, Scope::Probe) => true,
        (Scope::Host, key) => !matches!(key, Scope::Guest(_)),
        (Scope::Guest(a), Scope::Guest(b)) => a == b,
        (Scope::File(a), Scope::File(b)) => a == b,
        (Scope::HostDir(dir), Scope::Stat(paths)) => paths.iter().any(|p| related_paths(dir, p)),
        (Scope::HostDir(dir), Scope::File(path)) => related_paths(dir, path),
        (Scope::Listing, Scope::Listing) | (Scope::Zfs, Scope::Zfs) => true,
        _ => false,
    }
}

/// Recorded host answers, handed from a rehearsal to the apply that follows it.
#[derive(Debug, Default)]
pub struct BaseFacts {
    answers: HashMap<ReadKey, Answer>,
}

impl BaseFacts {
    /// How many answers are held.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

/// What a run's facts do with host reads.
#[derive(Debug)]
pub(crate) enum ReadLog {
    /// Record every answer (a rehearsal; answers already recorded are kept: they are older).
    Record(Mutex<HashMap<ReadKey, Answer>>),
    /// Serve recorded answers once each, until an action forgets them (an apply).
    Replay(Mutex<HashMap<ReadKey, Answer>>),
    /// Neither (an apply without a rehearsal, tests).
    Off,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ReadLog {
    pub(crate) fn replay(base: BaseFacts) -> ReadLog {
        ReadLog::Replay(Mutex::new(base.answers))
    }

    /// A recorded answer to serve instead of asking the host (taken: served once).
    pub(crate) fn take(&self, key: &ReadKey) -> Option<Answer> {
        match self {
            ReadLog::Replay(m) => lock(m).remove(key),
            _ => None,
        }
    }

    /// Remember the host's answer (rehearsal only).
    pub(crate) fn record(&self, key: ReadKey, answer: &Answer) {
        if let ReadLog::Record(m) = self {
            lock(m).entry(key).or_insert_with(|| answer.clone());
        }
    }

    /// Forget what `scope` may have changed (apply only).
    pub(crate) fn forget(&self, scope: &Scope) {
        if let ReadLog::Replay(m) = self {
            lock(m).retain(|k, _| !covers(scope, &scope_of(k)));
        }
    }

    /// Everything recorded so far.
    pub(crate) fn snapshot(&self) -> BaseFacts {
        match self {
            ReadLog::Record(m) => BaseFacts { answers: lock(m).clone() },
            _ => BaseFacts::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> ReadKey {
        ReadKey::Command(Command::new(s.split(' ')))
    }

    fn out(text: &str) -> Answer {
        Answer::Command(Output { code: 0, stdout: text.as_bytes().to_vec(), stderr: Vec::new() })
    }

    #[test]
    fn reads_are_scoped_to_the_guest_they_ask_about() {
        assert_eq!(scope_of(&cmd("pct exec 101 -- test -f /x")), Scope::Guest(101));
        assert_eq!(scope_of(&cmd("qm guest exec 9000 --timeout 600 -- cat /x")), Scope::Guest(9000));
        assert_eq!(scope_of(&ReadKey::File("/etc/pve/lxc/102.conf".into())), Scope::Guest(102));
        assert_eq!(scope_of(&ReadKey::File("/etc/pve/qemu-server/7.conf".into())), Scope::Guest(7));
        assert_eq!(scope_of(&cmd("pct list")), Scope::Listing);
        assert_eq!(scope_of(&cmd("zfs list -H")), Scope::Zfs);
        assert_eq!(scope_of(&cmd("tar -tf /var/lib/vz/template/cache/x.tar.zst")), Scope::Host);
        assert_eq!(scope_of(&ReadKey::File("/etc/exports".into())), Scope::File("/etc/exports".into()));
    }

    #[test]
    fn a_recorded_answer_is_served_once_until_forgotten() {
        let rec = ReadLog::Record(Mutex::default());
        rec.record(cmd("pct list"), &out("first"));
        rec.record(cmd("pct list"), &out("later answers do not replace the first"));
        rec.record(cmd("pct exec 101 -- test -f /a"), &out(""));
        rec.record(cmd("pct exec 102 -- test -f /a"), &out(""));
        rec.record(ReadKey::File("/etc/exports".into()), &Answer::File(None));
        let base = rec.snapshot();
        assert_eq!(base.len(), 4);

        let replay = ReadLog::replay(base);
        match replay.take(&cmd("pct list")) {
            Some(Answer::Command(o)) => assert_eq!(o.stdout, b"first"),
            other => panic!("{other:?}"),
        }
        assert!(replay.take(&cmd("pct list")).is_none(), "served once");

        replay.forget(&Scope::Guest(101));
        assert!(replay.take(&cmd("pct exec 101 -- test -f /a")).is_none());
        replay.forget(&Scope::Listing);
        assert!(replay.take(&ReadKey::File("/etc/exports".into())).is_some(), "a listing is not a file");
        rec.record(ReadKey::File("/etc/exports".into()), &Answer::File(None));
        let replay = ReadLog::replay(rec.snapshot());
        replay.forget(&Scope::Guest(101));
        replay.forget(&Scope::Host);
        assert!(replay.take(&ReadKey::File("/etc/exports".into())).is_none(), "host files are host-wide");
        assert!(replay.take(&cmd("pct exec 102 -- test -f /a")).is_some(), "another guest is kept");
    }

    #[test]
    fn a_written_file_forgets_what_it_can_reach() {
        assert_eq!(written_scope("/etc/pve/lxc/103.conf"), Scope::Guest(103));
        assert_eq!(written_scope("/etc/pve/firewall/cluster.fw"), Scope::File("/etc/pve/firewall/cluster.fw".into()));
        assert_eq!(written_scope("/tmp/.phoenix-push-103-ab"), Scope::File("/tmp/.phoenix-push-103-ab".into()));
        assert_eq!(written_scope("/tank/lxc-persistent-data/103/step/ca.json"), Scope::All);
        let stat = Scope::Stat(vec!["/tank/a/logs".into(), "/tank/b".into()]);
        assert!(covers(&Scope::HostDir("/tank/a/logs".into()), &stat));
        assert!(covers(&Scope::HostDir("/tank/b/x".into()), &stat), "a directory made inside a read path");
        assert!(!covers(&Scope::HostDir("/tank/a/log".into()), &stat), "a sibling with a common prefix");
        assert!(covers(&Scope::Host, &stat));
    }

    #[test]
    fn forgetting_everything_leaves_nothing() {
        let rec = ReadLog::Record(Mutex::default());
        rec.record(cmd("pct exec 101 -- true"), &out(""));
        rec.record(cmd("zfs list"), &out(""));
        let replay = ReadLog::replay(rec.snapshot());
        replay.forget(&Scope::All);
        assert!(replay.take(&cmd("pct exec 101 -- true")).is_none());
        assert!(replay.take(&cmd("zfs list")).is_none());
        assert!(ReadLog::Off.take(&cmd("zfs list")).is_none());
    }
}
