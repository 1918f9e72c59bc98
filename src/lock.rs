//! One run at a time per host: an exclusive lock file in the state dir, keyed by host. The lock
//! is an OS file lock (flock), so a crashed run's lock is released by the kernel and recovered
//! by the next run; the file's text names the holder for the message a second run prints.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another phoenix run holds the lock for {host}: {holder}")]
    Busy { host: String, holder: String, path: PathBuf },
    #[error("cannot use the lock file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Held for the whole run; released on drop (or by the kernel if the process dies).
#[derive(Debug)]
pub struct HostLock {
    file: File,
    path: PathBuf,
}

/// A file-name-safe key for a host description (`ssh://root@pve:22` → `ssh___root_pve_22`).
pub fn host_key(host: &str) -> String {
    host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

impl HostLock {
    /// Take the lock for `host` or fail at once naming the holder. `what` describes this run
    /// (`phoenix setup`), written into the file for the next would-be holder to read.
    pub fn acquire(state_dir: &Path, host: &str, what: &str) -> Result<HostLock, LockError> {
        let dir = state_dir.join("locks");
        let path = dir.join(format!("{}.lock", host_key(host)));
        let io = |source| LockError::Io { path: path.clone(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Busy {
                    host: host.to_string(),
                    holder: if holder.is_empty() { "unknown holder".to_string() } else { holder.to_string() },
                    path,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // We hold it: whatever the file says is a previous (finished or crashed) holder.
        let started = crate::report::journal::now_rfc3339();
        let text = format!("pid {} ({what}) since {started}\n", std::process::id());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(HostLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_named_then_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let first = HostLock::acquire(dir.path(), "sim:/x.json", "phoenix setup").unwrap();
        let err = HostLock::acquire(dir.path(), "sim:/x.json", "phoenix create").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("phoenix setup"), "{msg}");
        assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
        // Another host is independent.
        let _other = HostLock::acquire(dir.path(), "local", "phoenix setup").unwrap();
        drop(first);
        HostLock::acquire(dir.path(), "sim:/x.json", "phoenix create").unwrap();
    }
}
