//! Writing a Proxmox firewall file under Proxmox's own cluster-wide firewall lock, only if
//! nobody changed it since phoenix read it (compare-and-swap).
//!
//! phoenix merges its part into `/etc/pve/firewall/cluster.fw` and `<id>.fw`: it reads the file,
//! merges, and writes the result. Proxmox edits the same files (GUI, API, `pve-firewall`) under
//! a pmxcfs lock, so a GUI edit saved between phoenix's read and its write would be lost if
//! phoenix simply wrote. What Proxmox does (sources read for this):
//! - pve-firewall: the API handlers that edit a file hold its lock for the whole read-modify-write
//!   (`src/PVE/API2/Firewall/*.pm`: `PVE::Firewall::lock_clusterfw_conf(10, sub { … })`);
//!   `lock_clusterfw_conf` → `cfs_lock_firewall("cluster")`, `lock_vmfw_conf($vmid)`
//!   (`src/PVE/Firewall/Helpers.pm`) → `cfs_lock_firewall("vm-$vmid")`;
//! - pve-cluster `src/PVE/Cluster.pm`: `cfs_lock_firewall($scope)` → lock id `firewall-$scope`,
//!   and `$cfs_lock`: `mkdir $lockdir` (`/etc/pve/priv/lock`, "pve cluster filesystem not
//!   online" when that fails), then `mkdir "$lockdir/$lockid"` until it succeeds (pmxcfs makes
//!   the directory cluster-wide; mkdir fails with EEXIST while someone holds it), after each
//!   failure `utime(0, 0)` on it (an unlock request: pmxcfs drops a lock older than its 120 s
//!   expiry) and `sleep 1`, giving up after the timeout (10 s by default) with "got lock request
//!   timeout"; the work itself must end within 60 s; release is `rmdir`.
//!
//! The write is one host command, like [`super::locked_conf`]: a fixed POSIX sh script, every
//! value a positional argument, the content on stdin. It stages the content beside the target,
//! takes the lock, compares the file's SHA-256 with the one of the bytes phoenix merged from
//! (or `absent`), renames the staged file into place only when they are equal, and releases
//! the lock on every way out. The work under the lock is a hash and a rename, far inside the
//! 60 s Proxmox allows.

use super::file::{ensure_file, DesiredFile};
use super::{content_digest, OpError, Plan, Step};
use crate::command::Command;
use crate::facts::Facts;

/// Where pmxcfs keeps its cluster-wide locks (`$lockdir` in `PVE::Cluster`).
pub const CFS_LOCK_DIR: &str = "/etc/pve/priv/lock";

/// Where Proxmox keeps the firewall files (`$pvefw_conf_dir`).
pub const FIREWALL_DIR: &str = "/etc/pve/firewall";

/// How long to wait for the lock: `$cfs_lock`'s default.
pub const LOCK_TIMEOUT_SECS: u32 = 10;

/// The mode Proxmox's firewall files have (pmxcfs shows every file 0640).
pub const FIREWALL_FILE_MODE: u32 = 0o640;

/// The script's exit code when the lock stays held past the timeout (EX_TEMPFAIL, as
/// `locked_conf` uses for `flock`).
pub const LOCKED_EXIT: i32 = 75;

/// The script's exit code when the file is no longer what phoenix merged from.
pub const CHANGED_EXIT: i32 = 76;

/// What phoenix passes as the expected digest of a file that did not exist.
pub const ABSENT: &str = "absent";

/// `$1` lock directory, `$2` timeout in seconds, `$3` expected SHA-256 of the file (or
/// `absent`), `$4` the file, `$5` its mode, `$6` the content's length in bytes; the new content
/// on stdin.
///
/// The length is checked before anything else happens: content cut short on its way (a
/// connection lost mid-transfer, a connector that gave no stdin) must never replace a firewall
/// file, where a truncated or empty cluster.fw silently changes what the host lets through.
/// The content is staged before the lock is taken so the lock is held only for the compare
/// and the rename. `held` is set only once `mkdir` succeeded, so a timeout never removes the
/// lock of whoever holds it; `touch -c` so an unlock request never creates a file where the
/// lock directory was (it would block every later mkdir); `-d @0` is GNU touch's epoch date
/// (Proxmox hosts run Debian's coreutils).
pub(crate) const LOCKED_WRITE_SCRIPT: &str = r#"set -eu
lock=$1 timeout=$2 expect=$3 f=$4 mode=$5 size=$6
held= t=
trap 'if [ -n "$held" ]; then rmdir -- "$lock" 2>/dev/null || :; fi; if [ -n "$t" ]; then rm -f -- "$t"; fi' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
d=${f%/*}
mkdir -p -- "$d"
t=$(mktemp "$d/.phoenix.XXXXXX")
cat > "$t"
got=$(wc -c < "$t")
if [ "$got" -ne "$size" ]; then
  echo "$f: got $got bytes of content instead of $size; nothing was written" >&2
  exit 1
fi
chmod -- "$mode" "$t"
mkdir -- "${lock%/*}" 2>/dev/null || :
if [ ! -d "${lock%/*}" ]; then
  echo "pve cluster filesystem not online (${lock%/*} missing); nothing was written" >&2
  exit 1
fi
n=0
until mkdir -- "$lock" 2>/dev/null; do
  n=$((n + 1))
  if [ "$n" -ge "$timeout" ]; then
    echo "$f is locked by another firewall edit ($lock); nothing was written" >&2
    exit 75
  fi
  touch -c -d @0 -- "$lock" 2>/dev/null || :
  sleep 1
done
held=1
if [ -e "$f" ]; then
  have=$(sha256sum < "$f")
  have=${have%% *}
else
  have=absent
fi
if [ "$have" != "$expect" ]; then
  echo "$f changed while phoenix was merging into it (an edit in the GUI or API?): nothing was written; run phoenix again" >&2
  exit 76
fi
mv -f -- "$t" "$f"
t="#;

/// The pmxcfs lock id Proxmox takes for a firewall file: `firewall-cluster` for cluster.fw,
/// `firewall-vm-<id>` for a guest's `<id>.fw` (VMs and containers alike). Any other path is
/// not a firewall file phoenix writes.
pub fn lock_id(path: &str) -> Result<String, String> {
    let name = path
        .strip_prefix(FIREWALL_DIR)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| format!("{path} is not in {FIREWALL_DIR}"))?;
    if name == "cluster.fw" {
        return Ok("firewall-cluster".into());
    }
    let id = name
        .strip_suffix(".fw")
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0'))
        .and_then(|id| id.parse::<u32>().ok())
        .filter(|id| (100..=999_999_999).contains(id))
        .ok_or_else(|| {
            format!(
                "{path} is neither cluster.fw nor a guest's <id>.fw (id 100..999999999), the files phoenix merges into"
            )
        })?;
    Ok(format!("firewall-vm-{id}"))
}

/// The lock directory for a firewall file.
pub fn lock_path(path: &str) -> Result<String, String> {
    Ok(format!("{CFS_LOCK_DIR}/{}", lock_id(path)?))
}

/// `sh -c <locked write> sh <lock dir> <timeout> <expected digest> <path> <mode> <length>`, the
/// content on stdin (it can be large; never argv).
pub fn locked_write(lock: &str, expect: &str, path: &str, mode: u32, content: &[u8]) -> Command {
    Command::new(["sh", "-c", LOCKED_WRITE_SCRIPT, "sh"])
        .arg(lock.to_string())
        .arg(LOCK_TIMEOUT_SECS.to_string())
        .arg(expect.to_string())
        .arg(path.to_string())
        .arg(format!("{mode:04o}"))
        .arg(content.len().to_string())
        .with_stdin(content.to_vec())
}

/// What the operator reads when the locked write refused to write: `None` for any other exit
/// (its own stderr says what went wrong).
pub fn refusal(path: &str, code: i32) -> Option<String> {
    match code {
        LOCKED_EXIT => Some(format!(
            "{path} is locked by another firewall edit ({}); nothing was written",
            lock_path(path).unwrap_or_else(|_| CFS_LOCK_DIR.to_string())
        )),
        CHANGED_EXIT => Some(format!(
            "{path} changed while phoenix was merging into it (an edit in the GUI or API?): nothing was written; \
             run phoenix again"
        )),
        _ => None,
    }
}

/// Make the firewall file `path` read `text`, written under Proxmox's firewall lock only if it
/// still holds what phoenix read (`read`: the text `file::read` returned, `None` = no file).
/// The action is `file::ensure`'s (same subject, reason and diff; the dry-run shows it the same
/// way); only its step differs: the locked compare-and-swap instead of a plain write.
pub fn ensure_firewall_file(facts: &Facts, path: &str, read: Option<&str>, text: &str) -> Result<Plan, OpError> {
    let invalid = |message: String| OpError::Invalid { subject: format!("file {path}"), message };
    let lock = lock_path(path).map_err(invalid)?;
    let current = facts.file(path)?;
    let have = Option::as_ref(&*current);
    // The compare-and-swap is only as good as its expected value: it must be the digest of the
    // bytes the merge started from. `read` is what the plan merged; the digest is taken of the
    // bytes phoenix read (the same answer, cached), so a file that is not UTF-8 still compares.
    let same = match (read, have) {
        (None, None) => true,
        (Some(r), Some(f)) => String::from_utf8_lossy(&f.content) == r,
        _ => false,
    };
    if !same {
        return Err(invalid(format!(
            "the text given as read is not what phoenix read from {path} (pass what file::read returned)"
        )));
    }
    let expect = have.map(|f| content_digest(&f.content)).unwrap_or_else(|| ABSENT.to_string());
    let want = DesiredFile {
        path: path.to_string(),
        content: text.as_bytes().to_vec(),
        mode: FIREWALL_FILE_MODE,
        owner: None,
        group: None,
    };
    let mut plan = ensure_file(facts, &want)?;
    for action in &mut plan.actions {
        action.steps =
            vec![Step::Exec { command: locked_write(&lock, &expect, path, FIREWALL_FILE_MODE, &want.content) }];
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::sim::SimConnector;
    use phoenix_sim::{FileData, SimHost, SimState};
    use std::sync::Arc;

    const CLUSTER: &str = "/etc/pve/firewall/cluster.fw";

    fn facts(cluster: Option<&[u8]>) -> Facts {
        let h = Arc::new(SimHost::new(SimState::default()));
        if let Some(bytes) = cluster {
            h.with_state(|s| {
                let f =
                    FileData { content: bytes.to_vec(), mode: 0o640, owner: "root".into(), group: "www-data".into() };
                s.files.insert(CLUSTER.into(), f)
            });
        }
        Facts::new(Arc::new(SimConnector::from_host(h)), false)
    }

    fn argv(p: &Plan) -> Vec<String> {
        match &p.actions[0].steps[..] {
            [Step::Exec { command }] => command.exposed_argv(),
            other => panic!("one locked write, not {other:?}"),
        }
    }

    #[test]
    fn the_action_is_file_ensures_with_the_locked_write_as_its_step() {
        let f = facts(None);
        let p = ensure_firewall_file(&f, CLUSTER, None, "[OPTIONS]\n\nenable: 1\n").unwrap();
        assert_eq!(p.actions.len(), 1);
        let a = &p.actions[0];
        assert_eq!((a.subject.as_str(), a.reason.as_str()), ("file /etc/pve/firewall/cluster.fw", "absent"));
        assert!(a.content_change.is_some(), "the dry-run shows its diff");
        assert_eq!(&argv(&p)[4..], ["/etc/pve/priv/lock/firewall-cluster", "10", "absent", CLUSTER, "0640", "21"]);

        // Present: the digest of the bytes read, even when they are not UTF-8 (the text the
        // plan got is their lossy reading).
        let bytes = b"[OPTIONS]\n\nenable: 0\n# caf\xe9\n";
        let f = facts(Some(bytes));
        let read = String::from_utf8_lossy(bytes).into_owned();
        let p = ensure_firewall_file(&f, CLUSTER, Some(&read), "[OPTIONS]\n\nenable: 1\n").unwrap();
        assert_eq!(argv(&p)[6], content_digest(bytes));
        assert_eq!(p.actions[0].reason, "content differs (+1/-2 lines)");
    }

    #[test]
    fn converged_is_a_noop_and_a_read_that_is_not_phoenixs_is_refused() {
        let f = facts(Some(b"[OPTIONS]\n\nenable: 1\n"));
        let same = ensure_firewall_file(&f, CLUSTER, Some("[OPTIONS]\n\nenable: 1\n"), "[OPTIONS]\n\nenable: 1\n");
        assert!(same.unwrap().actions.is_empty());
        for wrong in [None, Some(""), Some("[OPTIONS]\n\nenable: 0\n")] {
            let e = ensure_firewall_file(&f, CLUSTER, wrong, "x\n").unwrap_err().to_string();
            assert!(e.contains("is not what phoenix read from /etc/pve/firewall/cluster.fw"), "{e}");
        }
        let e = ensure_firewall_file(&f, "/etc/pve/lxc/103.conf", None, "x\n").unwrap_err().to_string();
        assert!(e.contains("is not in /etc/pve/firewall"), "{e}");
    }

    #[test]
    fn lock_ids_are_proxmoxs() {
        assert_eq!(lock_id("/etc/pve/firewall/cluster.fw").unwrap(), "firewall-cluster");
        assert_eq!(lock_id("/etc/pve/firewall/1002.fw").unwrap(), "firewall-vm-1002");
        assert_eq!(lock_path("/etc/pve/firewall/103.fw").unwrap(), "/etc/pve/priv/lock/firewall-vm-103");
        for bad in [
            "/etc/pve/firewall/../lxc/103.fw",
            "/etc/pve/firewall/0103.fw",
            "/etc/pve/firewall/99.fw",
            "/etc/pve/firewall/103.conf",
            "/etc/pve/firewall/.fw",
            "/etc/pve/firewall/x/103.fw",
            "/etc/pve/firewallx/cluster.fw",
            "/etc/hosts",
            "/etc/pve/firewall/1000000000.fw",
        ] {
            assert!(lock_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_passes_every_value_as_an_argument_and_the_content_on_stdin() {
        let c =
            locked_write("/etc/pve/priv/lock/firewall-cluster", ABSENT, "/etc/pve/firewall/cluster.fw", 0o640, b"x\n");
        let argv = c.exposed_argv();
        assert_eq!(&argv[..2], ["sh", "-c"]);
        assert_eq!(argv[2], LOCKED_WRITE_SCRIPT);
        assert_eq!(
            &argv[3..],
            ["sh", "/etc/pve/priv/lock/firewall-cluster", "10", "absent", "/etc/pve/firewall/cluster.fw", "0640", "2"]
        );
        assert_eq!(c.stdin.as_deref(), Some(&b"x\n"[..]));
        // The script's exit codes are the ones phoenix turns into the operator's message.
        assert!(LOCKED_WRITE_SCRIPT.contains(&format!("\n    exit {LOCKED_EXIT}\n")));
        assert!(LOCKED_WRITE_SCRIPT.contains(&format!("\n  exit {CHANGED_EXIT}\n")));
    }

    #[test]
    fn refusals_name_the_file_and_the_lock() {
        let p = "/etc/pve/firewall/cluster.fw";
        assert_eq!(
            refusal(p, LOCKED_EXIT).unwrap(),
            "/etc/pve/firewall/cluster.fw is locked by another firewall edit (/etc/pve/priv/lock/firewall-cluster); \
             nothing was written"
        );
        assert!(refusal(p, CHANGED_EXIT).unwrap().starts_with(
            "/etc/pve/firewall/cluster.fw changed while phoenix was merging into it (an edit in the GUI or API?)"
        ));
        assert_eq!(refusal(p, 1), None);
    }
}
