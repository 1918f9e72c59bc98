//! pmxcfs's cluster-wide locks and the one locked write that uses them: a firewall file
//! replaced only if it still holds what the writer read (compare-and-swap).
//!
//! Written from pve-cluster's `src/PVE/Cluster.pm` (`$cfs_lock`, `cfs_lock_firewall`), not from
//! phoenix: a lock is the directory `/etc/pve/priv/lock/<lockid>` (`firewall-cluster`,
//! `firewall-vm-<vmid>` for firewall files); `mkdir` takes it and fails with EEXIST while
//! someone holds it, `rmdir` releases it. A held lock here is one another process (the GUI, an
//! API call, `pve-firewall`) holds: seeded by tests with [`seed_cfs_lock`], it never expires
//! because the simulator lets no time pass for it, so a writer that waits for it times out.
//!
//! The write is `sh -c <script> sh <lock dir> <timeout> <expected sha256|absent> <file> <mode>
//! <length>` with the new content on stdin. The simulator cannot interpret shell; it recognises that
//! shape (and that the script takes a lock with mkdir, hashes with sha256sum and renames with
//! mv) and does what such a script does on a real node:
//! - content of another length than announced (cut short on its way) → exit 1, nothing written;
//! - the lock held → exit 75, `<file> is locked by another firewall edit (<lock>); nothing was
//!   written`;
//! - the lock taken, the file's SHA-256 (or `absent`) not the expected one → release, exit 76,
//!   `<file> changed while … run phoenix again`, the file untouched;
//! - else the content written (pmxcfs shows it root:www-data with the mode given), the lock
//!   released, exit 0.

use super::files;
use super::reply::{die, ok};
use super::scripts::sha256_hex;
use super::state::{HostDir, SimState};
use crate::file::FileWrite;
use crate::output::Output;

/// `$lockdir` in `PVE::Cluster`.
pub(crate) const LOCK_DIR: &str = "/etc/pve/priv/lock";

/// Exit codes of the locked write (lock timeout, file changed since it was read).
const LOCKED_EXIT: i32 = 75;
const CHANGED_EXIT: i32 = 76;

/// Mark the pmxcfs lock `lockid` (`firewall-cluster`, `firewall-vm-1002`) as held by another
/// process, as its `mkdir` would leave it.
pub fn seed_cfs_lock(st: &mut SimState, lockid: &str) {
    st.dirs.insert(format!("{LOCK_DIR}/{lockid}"), HostDir { uid: 0, gid: 33, mode: 0o755 });
}

/// Whether the pmxcfs lock directory `lock` exists (someone holds it).
pub fn cfs_lock_held(st: &SimState, lock: &str) -> bool {
    st.dirs.contains_key(lock)
}

/// `sh -c <script> sh <lock> <timeout> <expect> <file> <mode> <length>` with a script that locks with
/// mkdir, compares with sha256sum and renames with mv, the lock under `/etc/pve/priv/lock/`.
pub(crate) fn is_locked_write(args: &[String]) -> bool {
    match args {
        [c, script, _argv0, lock, _timeout, _expect, _file, _mode, _length] => {
            c == "-c"
                && lock.strip_prefix(LOCK_DIR).and_then(|r| r.strip_prefix('/')).is_some()
                && ["mkdir", "sha256sum", "mv"].iter().all(|w| script.contains(w))
        }
        _ => false,
    }
}

pub(crate) fn run(st: &mut SimState, args: &[String], stdin: Option<&[u8]>) -> Output {
    let [_, _, _, lock, timeout, expect, file, mode, length] = args else {
        return die("sim: not a locked write", 127);
    };
    let name = &lock[LOCK_DIR.len() + 1..];
    if name.is_empty() || name.contains('/') {
        return die(format!("mkdir: cannot create directory '{lock}': No such file or directory"), 1);
    }
    // `[ "$n" -ge "$timeout" ]` and `chmod "$mode"` refuse what is not a number.
    if timeout.parse::<u32>().is_err() {
        return die(format!("sh: 1: [: Illegal number: {timeout}"), 2);
    }
    let content = stdin.unwrap_or_default();
    match length.parse::<usize>() {
        Ok(n) if n == content.len() => {}
        Ok(_) => {
            return die(
                format!("{file}: got {} bytes of content instead of {length}; nothing was written", content.len()),
                1,
            )
        }
        Err(_) => return die(format!("sh: 1: [: Illegal number: {length}"), 2),
    }
    let Some(mode) = u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777) else {
        return die(format!("chmod: invalid mode: '{mode}'"), 1);
    };
    if !file.starts_with('/') {
        return die(format!("sim: locked write of a relative path {file}"), 127);
    }
    if cfs_lock_held(st, lock) {
        return die(format!("{file} is locked by another firewall edit ({lock}); nothing was written"), LOCKED_EXIT);
    }
    seed_cfs_lock(st, name);
    let have = files::read(st, file).map(|f| sha256_hex(&f.content)).unwrap_or_else(|| "absent".into());
    let out = if have != *expect {
        die(
            format!(
                "{file} changed while phoenix was merging into it (an edit in the GUI or API?): nothing was \
                 written; run phoenix again"
            ),
            CHANGED_EXIT,
        )
    } else {
        // A file renamed into /etc/pve reads root:www-data, whoever staged it.
        let w =
            FileWrite { content: content.to_vec(), mode, owner: Some("root".into()), group: Some("www-data".into()) };
        match files::write(st, file, &w) {
            Ok(()) => ok(""),
            Err(e) => die(format!("mv: {e}"), 1),
        }
    };
    st.dirs.remove(lock.as_str());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::SimHost;

    const FILE: &str = "/etc/pve/firewall/cluster.fw";
    const LOCK: &str = "/etc/pve/priv/lock/firewall-cluster";
    const SCRIPT: &str = "mkdir -- \"$lock\" ... sha256sum < \"$f\" ... mv -f -- \"$t\" \"$f\"";

    fn write(h: &SimHost, expect: &str, content: &str) -> Output {
        let n = content.len().to_string();
        let argv: Vec<String> =
            ["sh", "-c", SCRIPT, "sh", LOCK, "10", expect, FILE, "0640", &n].iter().map(|s| s.to_string()).collect();
        h.exec(&argv, Some(content.as_bytes()))
    }

    fn text(h: &SimHost) -> Option<String> {
        h.with_state(|s| s.files.get(FILE).map(|f| String::from_utf8_lossy(&f.content).into_owned()))
    }

    #[test]
    fn writes_only_what_it_read_and_never_past_a_held_lock() {
        let h = SimHost::new(SimState::default());
        let o = write(&h, "absent", "[OPTIONS]\n\nenable: 1\n");
        assert_eq!((o.code, o.stderr_str()), (0, String::new()));
        assert_eq!(text(&h).as_deref(), Some("[OPTIONS]\n\nenable: 1\n"));
        let f = h.read_file(FILE).unwrap();
        assert_eq!((f.mode, f.owner.as_str(), f.group.as_str()), (0o640, "root", "www-data"));
        assert!(!h.with_state(|s| cfs_lock_held(s, LOCK)), "released");

        // What was read is no longer there: nothing written, the lock released.
        let stale = write(&h, "absent", "other\n");
        assert_eq!(stale.code, 76);
        assert!(stale.stderr_str().starts_with(&format!("{FILE} changed while phoenix was merging into it")));
        assert_eq!(text(&h).as_deref(), Some("[OPTIONS]\n\nenable: 1\n"));
        assert!(!h.with_state(|s| cfs_lock_held(s, LOCK)));

        // Someone else's lock: a timeout, and their lock stays.
        h.with_state(|s| seed_cfs_lock(s, "firewall-cluster"));
        let digest = sha256_hex(b"[OPTIONS]\n\nenable: 1\n");
        let locked = write(&h, &digest, "new\n");
        assert_eq!(
            (locked.code, locked.stderr_str()),
            (75, format!("{FILE} is locked by another firewall edit ({LOCK}); nothing was written\n"))
        );
        assert!(h.with_state(|s| cfs_lock_held(s, LOCK)), "another process's lock is not ours to remove");
        assert_eq!(h.exec(&["mkdir".into(), LOCK.into()], None).code, 1, "mkdir: EEXIST while held");
        h.with_state(|s| s.dirs.remove(LOCK));
        assert_eq!(write(&h, &digest, "new\n").code, 0);
        assert_eq!(text(&h).as_deref(), Some("new\n"));
        assert!(h.log().last().unwrap().mutating);
    }

    #[test]
    fn only_the_locked_write_shape_is_recognised() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_locked_write(&a(&["-c", SCRIPT, "sh", LOCK, "10", "absent", FILE, "0640", "1"])));
        assert!(!is_locked_write(&a(&["-c", "cat > \"$4\"", "sh", LOCK, "10", "absent", FILE, "0640", "1"])));
        assert!(!is_locked_write(&a(&["-c", SCRIPT, "sh", "/tmp/lock", "10", "absent", FILE, "0640", "1"])));
        assert!(!is_locked_write(&a(&["-c", SCRIPT, "sh", LOCK, "10", "absent", FILE])));
        let h = SimHost::new(SimState::default());
        let nested = h.exec(
            &a(&["sh", "-c", SCRIPT, "sh", "/etc/pve/priv/lock/a/b", "10", "absent", FILE, "0640", "1"]),
            Some(b"x"),
        );
        assert_eq!(nested.code, 1);
        assert_eq!(h.exec(&a(&["sh", "-c", SCRIPT, "sh", LOCK, "ten", "absent", FILE, "0640", "1"]), None).code, 2);
        let cut = h.exec(&a(&["sh", "-c", SCRIPT, "sh", LOCK, "10", "absent", FILE, "0640", "3"]), Some(b"x"));
        assert_eq!(
            (cut.code, cut.stderr_str()),
            (1, format!("{FILE}: got 1 bytes of content instead of 3; nothing was written\n"))
        );
        assert!(text(&h).is_none());
        assert!(!h.with_state(|s| cfs_lock_held(s, LOCK)));
    }
}
