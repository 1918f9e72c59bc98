//! One run at a time per host, whoever starts it and from wherever: the lock lives ON the target
//! host, not in the operator's state dir, so two operators on two workstations exclude each other.
//!
//! - `local` and `ssh://`: an flock on `/run/lock/phoenix.lock` on the host (`/var/lock`, then
//!   `/tmp`, when the host has no `/run/lock`). Locally phoenix holds the file itself; over ssh a
//!   small remote shell holds it for as long as its stdin (a pipe from phoenix, through the
//!   control master) stays open — see `connector::ssh_lock`.
//! - `sim:<file>`: `<canonical state file>.lock`, so every spelling of the same file
//!   (`sim:lab.json`, `sim:/abs/lab.json`, `sim:./x/../lab.json`) shares one lock.
//! - `sim` (in memory): private to the process, nothing to lock.
//!
//! Every form is released by the kernel when its holder dies (flock on a file descriptor; over
//! ssh the remote holder sees its stdin close when phoenix or the connection goes away), so a
//! crashed run never blocks the next one. The file's text names the holder for the message a
//! second run prints. `PHOENIX_LOCK_PATH` overrides the path for `local` and `ssh://` (tests run
//! many hosts on one machine; an operator may use it to share a lock with other tooling).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Environment variable overriding the lock file's path on the host (`local`, `ssh://`).
pub const LOCK_PATH_ENV: &str = "PHOENIX_LOCK_PATH";

/// Where the lock file goes on a host, first existing folder wins.
pub const LOCK_DIRS: [&str; 3] = ["/run/lock", "/var/lock", "/tmp"];

/// The lock file's name in that folder.
pub const LOCK_FILE: &str = "phoenix.lock";

/// Longest holder text shown: the file is on the host and could hold anything.
const MAX_HOLDER_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another phoenix run holds the lock of {host} ({path}): {holder}")]
    Busy { host: String, path: String, holder: String },
    #[error("cannot use the lock file {path} on {host}: {source}")]
    Io { host: String, path: PathBuf, source: std::io::Error },
    #[error("cannot take the lock on {host}: {message}")]
    Remote { host: String, message: String },
    /// The host could not be reached at all (ssh): the first thing a run finds out.
    #[error("cannot reach {host}: {message}")]
    Unreachable { host: String, message: String },
}

impl LockError {
    /// What the operator can do about it.
    pub fn hint(&self) -> String {
        match self {
            LockError::Busy { .. } => {
                "wait for that run to finish; a crashed run's lock is released automatically".to_string()
            }
            LockError::Io { .. } => format!("make the folder writable, or set {LOCK_PATH_ENV} to another lock file"),
            LockError::Remote { .. } => {
                "the host needs flock(1) (util-linux) and a writable /run/lock, /var/lock or /tmp".to_string()
            }
            LockError::Unreachable { .. } => format!(
                "check the address, that sshd runs there and that your key is accepted (BatchMode: no password \
                 prompts); extra ssh options go in {} and the wait is bounded by {} (default {} s)",
                crate::types::ssh_env::SSH_OPTS_ENV,
                crate::types::ssh_env::CONNECT_TIMEOUT_ENV,
                crate::types::ssh_env::DEFAULT_CONNECT_TIMEOUT_SECS
            ),
        }
    }
}

/// Held for the whole run; released on drop, or by the kernel / the remote host if phoenix dies.
pub struct HostLock {
    held: Held,
}

enum Held {
    /// A local flock: the open file is the lock.
    File(File),
    /// A remote holder: dropping it closes the holder's stdin, which releases the lock.
    Remote { _release_on_drop: Box<dyn Send + Sync> },
}

impl std::fmt::Debug for HostLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.held {
            Held::File(_) => "HostLock(file)",
            Held::Remote { .. } => "HostLock(remote)",
        })
    }
}

impl HostLock {
    /// Take an flock on `path` (created if missing) for `host`, or fail at once naming the
    /// holder. `holder` (see [`holder_text`]) is written into the file for the next would-be
    /// holder to read.
    pub fn on_file(host: &str, path: &Path, holder: &str) -> Result<HostLock, LockError> {
        let io = |source| LockError::Io { host: host.to_string(), path: path.to_path_buf(), source };
        // Read-write when we may (to record the holder), read-only otherwise: flock works on
        // either, and in the sticky /run/lock another user's lock file is read-only to us.
        let mut file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => File::open(path).map_err(io)?,
            Err(e) => return Err(io(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Busy {
                    host: host.to_string(),
                    path: path.display().to_string(),
                    holder: shown_holder(&text),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // We hold it: whatever the file says is a previous (finished or crashed) holder. A
        // read-only file keeps its text; the lock itself is what counts.
        if file.set_len(0).is_ok() {
            let _ = file.write_all(format!("{holder}\n").as_bytes()).and_then(|_| file.flush());
        }
        Ok(HostLock { held: Held::File(file) })
    }

    /// A lock held by something else (a remote process) that releases it when dropped.
    pub fn remote(guard: Box<dyn Send + Sync>) -> HostLock {
        HostLock { held: Held::Remote { _release_on_drop: guard } }
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        if let Held::File(file) = &self.held {
            // Clear the holder first, while still holding the lock, so nobody reads a stale name.
            let _ = file.set_len(0);
            let _ = file.unlock();
        }
    }
}

/// The lock file of the machine phoenix runs on: `$PHOENIX_LOCK_PATH`, else `phoenix.lock` in the
/// first of [`LOCK_DIRS`] that exists.
pub fn local_lock_path() -> PathBuf {
    if let Some(p) = lock_path_override() {
        return PathBuf::from(p);
    }
    let dir = LOCK_DIRS.iter().map(Path::new).find(|d| d.is_dir()).unwrap_or(Path::new("/tmp"));
    dir.join(LOCK_FILE)
}

/// `$PHOENIX_LOCK_PATH` when set and not empty.
pub fn lock_path_override() -> Option<String> {
    std::env::var(LOCK_PATH_ENV).ok().filter(|p| !p.is_empty())
}

/// The lock of a simulator state file: next to its canonical path, so every spelling of the
/// same file gives the same lock. The state file need not exist yet; its folder must.
pub fn sim_lock_path(state: &Path) -> std::io::Result<PathBuf> {
    let name = state
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the state path does not name a file"))?;
    let dir = match state.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Resolve the file itself when it exists (it may be a symlink to the real state).
    let canonical = match std::fs::canonicalize(state) {
        Ok(c) => c,
        Err(_) => std::fs::canonicalize(dir)?.join(name),
    };
    let mut lock = canonical.into_os_string();
    lock.push(".lock");
    Ok(PathBuf::from(lock))
}

/// Who holds the lock, for the message a second run prints: `user@machine pid N (what) since T`.
pub fn holder_text(what: &str) -> String {
    let user =
        std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok().filter(|u| !u.is_empty()).unwrap_or_else(
            || {
                let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
                uid.map(|u| format!("uid {u}")).unwrap_or_else(|_| "unknown user".to_string())
            },
        );
    let machine = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| "unknown machine".to_string());
    let since = crate::report::journal::now_rfc3339();
    let text = format!("{user}@{machine} pid {} ({what}) since {since}", std::process::id());
    shown_holder(&text)
}

/// Holder text made safe to print and to pass along: one line, no control characters, bounded.
pub fn shown_holder(text: &str) -> String {
    let one_line: String =
        text.trim().chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_HOLDER_CHARS).collect();
    if one_line.is_empty() {
        "unknown holder".to_string()
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_named_then_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = HostLock::on_file("local", &path, &holder_text("phoenix setup")).unwrap();
        let err = HostLock::on_file("local", &path, "phoenix create").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LockError::Busy { .. }), "{msg}");
        assert!(msg.contains("phoenix setup"), "{msg}");
        assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
        // Another file is independent.
        let _other = HostLock::on_file("local", &dir.path().join("y.lock"), "phoenix setup").unwrap();
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "the holder text is cleared on release");
        HostLock::on_file("local", &path, "phoenix create").unwrap();
    }

    #[test]
    fn every_spelling_of_a_sim_state_file_shares_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("x")).unwrap();
        let abs = dir.path().join("lab.json");
        let dotted = dir.path().join("x/../lab.json");
        let a = sim_lock_path(&abs).unwrap();
        assert_eq!(a, sim_lock_path(&dotted).unwrap());
        assert!(a.ends_with("lab.json.lock"), "{}", a.display());
        std::fs::write(&abs, "{}").unwrap();
        assert_eq!(a, sim_lock_path(&dotted).unwrap(), "existing or not, the same lock");
        assert!(sim_lock_path(&dir.path().join("missing/lab.json")).is_err());
    }

    #[test]
    fn holder_text_names_user_machine_pid_and_plan_on_one_safe_line() {
        let t = holder_text("phoenix run evil\n\x1b[31m.rhai");
        assert!(t.contains('@') && t.contains(&format!("pid {}", std::process::id())), "{t}");
        assert!(t.contains("(phoenix run evil  [31m.rhai)"), "{t}");
        assert!(!t.chars().any(char::is_control), "{t:?}");
        assert_eq!(shown_holder(&"x".repeat(10_000)).len(), MAX_HOLDER_CHARS);
        assert_eq!(shown_holder(" \n"), "unknown holder");
    }
}
