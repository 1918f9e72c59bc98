//! The run lock on an ssh host: a remote shell takes an flock on the host's lock file and holds
//! it while reading its stdin, a pipe from phoenix carried by the control master. Phoenix
//! releases it by closing that pipe; if phoenix dies (even SIGKILL) the pipe closes with it, and
//! if the connection drops sshd closes the session — either way the remote shell exits and the
//! kernel drops its lock. A second run finds the lock taken and reads the holder's text.

use super::SshConnector;
use crate::connector::Connector;
use crate::lock::{shown_holder, HostLock, LockError, LOCK_DIRS, LOCK_FILE};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

/// Exit code of the remote script when another run holds the lock (EX_TEMPFAIL).
const BUSY: i32 = 75;

/// `$1`: the lock file, empty for the default; `$2`: the holder text; `$3`: the folders to
/// try, in order (split on spaces); `$4`: the file name in that folder. Prints `locked <path>`
/// once it holds the lock, then waits for EOF on stdin; when the lock is taken, prints the path
/// and the holder's text on stderr and exits 75. fd 9 is the lock; `cat` does not inherit it,
/// so the shell is its only holder.
const SCRIPT: &str = r#"f=$1
if [ -z "$f" ]; then
  for d in $3; do if [ -d "$d" ]; then f=$d/$4; break; fi; done
fi
command -v flock >/dev/null 2>&1 || { echo "flock(1) is not installed (package util-linux)" >&2; exit 3; }
[ -e "$f" ] || { : >>"$f" && chmod 0644 "$f"; } || exit 3
exec 9<"$f" || exit 3
if ! flock -n 9; then { echo "$f"; cat -- "$f"; } >&2; exit 75; fi
{ printf '%s\n' "$2" >"$f"; } 2>/dev/null
echo "locked $f"
cat >/dev/null 9<&-
{ : >"$f"; } 2>/dev/null
exit 0"#;

/// The remote holder, kept for the run. Dropping it releases the lock.
struct RemoteHolder {
    child: Child,
    stdin: Option<ChildStdin>,
    // Kept open so the remote side never sees a broken pipe while it holds the lock.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for RemoteHolder {
    fn drop(&mut self) {
        // EOF on the remote `cat`: the shell clears the holder text and exits, dropping the lock.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The session hangs: killing the local client closes the channel, which ends it too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SshConnector {
    /// Connect (once, up front) and take the host's run lock. An unreachable host is
    /// [`LockError::Unreachable`], within the connect timeout.
    pub(super) fn take_lock(&self, holder: &str) -> Result<HostLock, LockError> {
        let host = self.describe();
        self.ensure_master()
            .map_err(|e| LockError::Unreachable { host: host.clone(), message: connection_message(e) })?;
        let path = crate::lock::lock_path_override().unwrap_or_default();
        let dirs = LOCK_DIRS.join(" ");
        let words: Vec<String> =
            ["sh", "-c", SCRIPT, "sh", &path, holder, &dirs, LOCK_FILE].iter().map(|w| w.to_string()).collect();
        // Quoted for the remote shell like every other command (see `session`).
        let remote = crate::shell::join(&words);
        let mut child = self
            .ssh(&["-o", "ControlMaster=no", "-T", "-x", "-a"])
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| LockError::Remote { host: host.clone(), message: format!("cannot start ssh: {e}") })?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            return Err(LockError::Remote { host, message: "no output pipe from ssh".to_string() });
        };
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        if first.starts_with("locked ") {
            tracing::debug!("{host}: run lock held at {}", first.trim_end().trim_start_matches("locked "));
            return Ok(HostLock::remote(Box::new(RemoteHolder { child, stdin, _stdout: stdout })));
        }
        // No `locked` line: the script (or ssh) exited. Its stderr says why.
        drop(stdin);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let code = child.wait().map(super::super::local::exit_code).unwrap_or(-1);
        Err(match code {
            BUSY => {
                let (lock_path, holder) = err.split_once('\n').unwrap_or((err.as_str(), ""));
                LockError::Busy { host, path: shown_holder(lock_path), holder: shown_holder(holder) }
            }
            255 => LockError::Unreachable { host, message: shown_holder(&err) },
            _ => LockError::Remote {
                host,
                message: format!("the lock script exited with {code}: {}", shown_holder(&err)),
            },
        })
    }
}

/// ssh's own words for a failed connection, without phoenix's `host:` prefix.
fn connection_message(e: crate::connector::ConnectorError) -> String {
    match e {
        crate::connector::ConnectorError::Connection { message, .. } => message,
        other => other.to_string(),
    }
}
