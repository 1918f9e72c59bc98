//! The SSH connector: phoenix on a workstation drives a Proxmox host through the OpenSSH client.
//!
//! One handshake per run: a control master is started explicitly on first use and every command
//! is a multiplexed session over it. ssh joins its argv into one string for the remote login
//! shell, so every element is quoted with [`crate::shell::quote`]; the remote side must have a
//! POSIX login shell (sh, bash, dash — as on Proxmox VE).
//!
//! Extra client options come from the environment variable `PHOENIX_SSH_OPTS`, split on
//! whitespace and passed before phoenix's own options (ssh keeps the first value it sees for an
//! option, so these override phoenix's defaults). Example:
//! `PHOENIX_SSH_OPTS="-i /path/key -o UserKnownHostsFile=/path/known_hosts -o StrictHostKeyChecking=yes"`.
//!
//! The connection is opened once, up front (the run lock is taken over it before any plan runs),
//! and an unreachable host is reported within `PHOENIX_SSH_CONNECT_TIMEOUT` seconds (default 10;
//! ssh's ConnectTimeout covers the TCP connect and the handshake, and phoenix gives up on the
//! whole start a few seconds later whatever ssh does).

mod lock;

use crate::command::{Arg, Command, Output};
use crate::connector::{Connector, ConnectorError, FileData, FileWrite};
use std::fmt;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// In the leaf `types`: the lock's "cannot reach" hint (a lower layer) names them too.
pub use crate::types::ssh_env::{CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT_SECS, SSH_OPTS_ENV};

/// Beyond ConnectTimeout, how long phoenix waits for the master to finish authenticating
/// before it gives up on the host.
const MASTER_START_GRACE: Duration = Duration::from_secs(5);

/// [`CONNECT_TIMEOUT_ENV`], or the default when unset or not a number from 1 to 3600.
pub fn connect_timeout_secs() -> u64 {
    std::env::var(CONNECT_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| (1..=3600).contains(s))
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS)
}

/// The master exits after this long without sessions, so a crashed phoenix leaves no
/// connection behind for long. A master that timed out is restarted on the next command.
const CONTROL_PERSIST_SECS: u32 = 600;

/// sshd's default `MaxSessions` is 10 per connection; stay below it so parallel guest work
/// queues here instead of failing with "administratively prohibited".
const MAX_SESSIONS: usize = 8;

/// Exit code the file scripts use for "no such file": distinct from 255 (ssh's own errors) and
/// from the 1/2 that coreutils return for real failures.
const ABSENT: i32 = 100;

/// Where to connect: `ssh://user@host:port`, `user@host`, `host`, IPv6 in brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid ssh target `{input}`: {reason} (expected ssh://user@host:port, user@host or host)")]
pub struct SshTargetError {
    pub input: String,
    pub reason: String,
}

impl SshTarget {
    pub fn parse(input: &str) -> Result<Self, SshTargetError> {
        let fail = |reason: &str| SshTargetError { input: input.to_string(), reason: reason.to_string() };
        let (rest, has_scheme) = match input.strip_prefix("ssh://") {
            Some(r) => (r.strip_suffix('/').unwrap_or(r), true),
            None => (input, false),
        };
        if rest.contains('/') {
            return Err(fail("a path is not allowed"));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        if let Some(u) = user {
            if u.is_empty() {
                return Err(fail("empty user"));
            }
            if u.starts_with('-') || !u.chars().all(|c| c.is_ascii_alphanumeric() || "._-$".contains(c)) {
                return Err(fail("invalid user name"));
            }
        }
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (h, after) = inner.split_once(']').ok_or_else(|| fail("unclosed `[` in IPv6 address"))?;
            if !h.contains(':') {
                return Err(fail("brackets are only for IPv6 addresses"));
            }
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(|| fail("unexpected text after `]`"))?)),
            }
        } else if hostport.matches(':').count() > 1 {
            // A bare IPv6 address: without brackets there is no room for a port.
            if has_scheme {
                return Err(fail("IPv6 addresses must be in brackets in an ssh:// URL"));
            }
            (hostport, None)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(fail("empty host"));
        }
        // A leading dash would be read by ssh as an option.
        if host.starts_with('-') || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:%".contains(c)) {
            return Err(fail("invalid host name"));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(fail("port must be a number from 1 to 65535")),
            },
        };
        Ok(SshTarget { user: user.map(str::to_string), host: host.to_string(), port })
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ssh://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Split `PHOENIX_SSH_OPTS` into ssh arguments.
pub fn parse_ssh_opts(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Drives a host through OpenSSH with connection multiplexing.
pub struct SshConnector {
    target: SshTarget,
    control_dir: PathBuf,
    extra_opts: Vec<String>,
    master: Mutex<Master>,
    sessions: Sessions,
    /// Set when the connection went away in the middle of a command: nothing runs after it.
    lost: Mutex<Option<ConnectorError>>,
}

#[derive(Default)]
struct Master {
    running: bool,
    /// The resolved control socket (from `ssh -G`), used to notice a master that went away.
    socket: Option<PathBuf>,
}

impl SshConnector {
    /// A connector for `target` whose control socket lives in `control_dir` (keep the path
    /// short: a unix socket path is limited to ~100 bytes). Extra options from `PHOENIX_SSH_OPTS`.
    /// Nothing connects until the first command.
    pub fn new(target: &SshTarget, control_dir: &Path) -> Self {
        let extra = std::env::var(SSH_OPTS_ENV).map(|v| parse_ssh_opts(&v)).unwrap_or_default();
        Self::with_options(target, control_dir, extra)
    }

    /// Like [`SshConnector::new`] with the extra ssh options given explicitly.
    pub fn with_options(target: &SshTarget, control_dir: &Path, extra_opts: Vec<String>) -> Self {
        SshConnector {
            target: target.clone(),
            control_dir: control_dir.to_path_buf(),
            extra_opts,
            master: Mutex::new(Master::default()),
            sessions: Sessions::new(MAX_SESSIONS),
            lost: Mutex::new(None),
        }
    }

    /// Options shared by the master, the sessions and the control commands.
    fn base_args(&self) -> Vec<String> {
        let mut a = self.extra_opts.clone();
        for opt in [
            "BatchMode=yes".to_string(),
            format!("ControlPath={}/%C", self.control_dir.display()),
            "ServerAliveInterval=15".to_string(),
            "ServerAliveCountMax=4".to_string(),
            format!("ConnectTimeout={}", connect_timeout_secs()),
        ] {
            a.push("-o".to_string());
            a.push(opt);
        }
        if let Some(p) = self.target.port {
            a.push("-p".to_string());
            a.push(p.to_string());
        }
        if let Some(u) = &self.target.user {
            a.push("-l".to_string());
            a.push(u.clone());
        }
        a
    }

    fn ssh(&self, extra: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new("ssh");
        c.args(self.base_args())
            .args(extra)
            .arg("--")
            .arg(&self.target.host)
            // Own process group: a Ctrl-C at the terminal must not kill the master or a
            // session in flight; phoenix finishes the current command and then stops.
            .process_group(0);
        c
    }

    fn connection_error(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Connection { host: self.describe(), message: message.into() }
    }

    fn spawn_error(&self, source: std::io::Error) -> ConnectorError {
        ConnectorError::Spawn { host: self.describe(), program: "ssh".to_string(), source }
    }

    /// Start the control master unless one is already serving this connector.
    fn ensure_master(&self) -> Result<(), ConnectorError> {
        let mut m = self.master.lock().map_err(|_| self.connection_error("ssh master state poisoned"))?;
        if m.running && m.socket.as_deref().is_none_or(answers) {
            return Ok(());
        }
        if m.socket.is_none() {
            m.socket = self.resolve_control_path();
        }
        // A socket left by an earlier run: reuse it if it answers, else clear it, because
        // ControlMaster=yes refuses to replace it and would fall back to a stray connection.
        if let Some(sock) = m.socket.as_deref() {
            if answers(sock) {
                m.running = true;
                return Ok(());
            }
            let _ = std::fs::remove_file(sock);
        }
        // -f backgrounds the master after authentication while it keeps our stderr: a pipe
        // would never reach EOF, so stderr goes to an anonymous file read after the exit.
        let mut errfile = tempfile::tempfile().map_err(|e| self.spawn_error(e))?;
        let errclone = errfile.try_clone().map_err(|e| self.spawn_error(e))?;
        let persist = format!("ControlPersist={CONTROL_PERSIST_SECS}");
        let child = self
            .ssh(&["-o", "ControlMaster=yes", "-o", &persist, "-N", "-f", "-T"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(errclone))
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let limit = Duration::from_secs(connect_timeout_secs()) + MASTER_START_GRACE;
        let Some(status) = wait_bounded(child, limit).map_err(|e| self.spawn_error(e))? else {
            return Err(self
                .connection_error(format!("no answer within {} s (ssh did not finish connecting)", limit.as_secs())));
        };
        if !status.success() {
            let mut msg = String::new();
            let _ = errfile.rewind().and_then(|_| errfile.read_to_string(&mut msg));
            let msg = msg.trim();
            return Err(self.connection_error(if msg.is_empty() {
                format!("ssh exited with {}", super::local::exit_code(status))
            } else {
                msg.to_string()
            }));
        }
        m.running = true;
        Ok(())
    }

    /// The control socket path as ssh expands `%C`, so a master that exited can be noticed
    /// with a stat instead of a round trip.
    fn resolve_control_path(&self) -> Option<PathBuf> {
        let out = self.ssh(&["-G"]).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        text.lines().find_map(|l| l.strip_prefix("controlpath ")).map(PathBuf::from)
    }

    fn control(&self, op: &str) -> std::io::Result<std::process::Output> {
        self.ssh(&["-O", op]).stdin(Stdio::null()).output()
    }

    fn close_master(&self) -> Result<(), ConnectorError> {
        let mut m = self.master.lock().map_err(|_| self.connection_error("ssh master state poisoned"))?;
        if !m.running {
            return Ok(());
        }
        m.running = false;
        let out = self.control("exit").map_err(|e| self.spawn_error(e))?;
        if !out.status.success() && m.socket.as_deref().is_some_and(answers) {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(self.connection_error(message));
        }
        // `-O exit` returns before the master has shut down; wait (briefly) so that when
        // finish() returns the connection is really closed and the socket removed.
        if let Some(sock) = &m.socket {
            let deadline = Instant::now() + Duration::from_secs(3);
            while sock.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Run a command, turning a connection failure into `Err` and keeping any remote failure
    /// as an `Output` for the caller to judge.
    fn session(&self, cmd: &Command) -> Result<Output, ConnectorError> {
        if cmd.argv.is_empty() {
            return Err(self.spawn_error(std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command")));
        }
        if let Some(lost) = self.lost.lock().ok().and_then(|l| l.as_ref().map(clone_lost)) {
            return Err(lost);
        }
        self.ensure_master()?;
        // `env` sets the C locale for the command without depending on the remote shell's syntax.
        let mut words = vec!["env".to_string(), "LC_ALL=C".to_string()];
        words.extend(cmd.exposed_argv());
        let remote = crate::shell::join(&words);
        let _slot = self.sessions.acquire();
        // ControlMaster=no, not auto: if the master died, auto would promote this session to a
        // new master that (with ControlPersist) outlives it and holds our pipes open.
        let mut child = self
            .ssh(&["-o", "ControlMaster=no", "-T", "-x", "-a"])
            .arg(remote)
            .stdin(if cmd.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let stdin = child.stdin.take();
        let out = std::thread::scope(|s| {
            if let (Some(mut pipe), Some(bytes)) = (stdin, cmd.stdin.as_deref()) {
                s.spawn(move || {
                    // The remote command may exit without reading all of its input.
                    let _ = pipe.write_all(bytes);
                });
            }
            child.wait_with_output()
        })
        .map_err(|e| self.spawn_error(e))?;
        let code = super::local::exit_code(out.status);
        // 255 is ssh's own failure code. A remote command may also exit 255, but ssh always
        // explains its own failures on stderr and never produces remote stdout for them.
        // The master gone too: the connection dropped under the command (the session then exits
        // 255, often saying nothing). Whether the command finished is unknown, so nothing runs
        // after it: a reconnect would carry on half-blind.
        if code == 255 && !self.master_answers() {
            let said = mask_secrets(String::from_utf8_lossy(&out.stderr).trim(), cmd);
            let message = if said.is_empty() { "the ssh connection closed".to_string() } else { said };
            let lost = ConnectorError::Lost { host: self.describe(), command: cmd.to_string(), message };
            if let Ok(mut slot) = self.lost.lock() {
                *slot = Some(clone_lost(&lost));
            }
            return Err(lost);
        }
        if code == 255 && out.stdout.is_empty() && !out.stderr.is_empty() {
            let msg = mask_secrets(String::from_utf8_lossy(&out.stderr).trim(), cmd);
            return Err(self.connection_error(msg));
        }
        Ok(Output { code, stdout: out.stdout, stderr: out.stderr })
    }

    /// Whether the control master still answers (a session's 255 was its own command's, not a
    /// dropped connection).
    fn master_answers(&self) -> bool {
        // No resolved socket: nothing to tell by, so keep the old reading (the command's own).
        self.master.lock().ok().and_then(|m| m.socket.clone()).is_none_or(|s| answers(&s))
    }

    fn file_error(&self, op: &'static str, path: &str, out: &Output) -> ConnectorError {
        let msg = out.stderr_str().trim().to_string();
        let message = if msg.is_empty() { format!("exit code {}", out.code) } else { msg };
        ConnectorError::File { host: self.describe(), op, path: path.to_string(), message }
    }
}

impl Connector for SshConnector {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn run(&self, cmd: &Command) -> Result<Output, ConnectorError> {
        self.session(cmd)
    }

    fn read_file(&self, path: &str) -> Result<Option<FileData>, ConnectorError> {
        // First line: metadata; the rest: content, byte for byte. `-e` follows symlinks like
        // the local connector's std::fs::read does.
        const SCRIPT: &str = r#"[ -e "$1" ] || { [ -L "$1" ] && { echo "dangling symlink" >&2; exit 1; }; exit 100; }
[ -f "$1" ] || { echo "not a regular file" >&2; exit 1; }
m=$(stat -L -c '%a %u %g %U %G' -- "$1") || exit 1
printf '%s\n' "$m" && exec cat -- "$1""#;
        let out = self.session(&Command::new(["sh", "-c", SCRIPT, "sh", path]))?;
        if out.code == ABSENT {
            return Ok(None);
        }
        if !out.success() {
            return Err(self.file_error("read", path, &out));
        }
        parse_read_output(&out.stdout).map(Some).ok_or_else(|| ConnectorError::File {
            host: self.describe(),
            op: "read",
            path: path.to_string(),
            message: "unexpected output from stat".to_string(),
        })
    }

    fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), ConnectorError> {
        // Temp file in the target's directory (same filesystem, so `mv` is an atomic rename),
        // mktemp's 0600 until the final mode is set, chown before chmod because chown clears
        // setuid bits, fsync before the rename so a crash leaves the old or the new content.
        const SCRIPT: &str = r#"set -e
d=$(dirname -- "$1")
case $d in -*) d=./$d ;; esac
mkdir -p -- "$d"
t=$(mktemp "$d/.phoenix.XXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
sync -- "$t"
if [ -n "$3" ]; then chown -- "$3" "$t"; fi
chmod -- "$2" "$t"
mv -f -- "$t" "$1""#;
        let owner = match (&file.owner, &file.group) {
            (Some(o), Some(g)) => format!("{o}:{g}"),
            (Some(o), None) => o.clone(),
            (None, Some(g)) => format!(":{g}"),
            (None, None) => String::new(),
        };
        let mode = format!("{:o}", file.mode & 0o7777);
        let cmd = Command::new(["sh", "-c", SCRIPT, "sh", path, &mode, &owner]).with_stdin(file.content.clone());
        let out = self.session(&cmd)?;
        if !out.success() {
            return Err(self.file_error("write", path, &out));
        }
        Ok(())
    }

    fn remove_file(&self, path: &str) -> Result<bool, ConnectorError> {
        const SCRIPT: &str = r#"if [ -e "$1" ] || [ -L "$1" ]; then exec rm -f -- "$1"; fi; exit 100"#;
        let out = self.session(&Command::new(["sh", "-c", SCRIPT, "sh", path]))?;
        match out.code {
            0 => Ok(true),
            ABSENT => Ok(false),
            _ => Err(self.file_error("remove", path, &out)),
        }
    }

    /// A local port forwarded over the control master (`ssh -O forward -L 127.0.0.1:P:host:port`):
    /// an operator's laptop reaches a lab service it cannot route to, on the run's one
    /// connection. Cancelled (`-O cancel`) when the route is dropped.
    fn reach(&self, host: &str, port: u16) -> Result<super::Route, ConnectorError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        let v6 = host.starts_with('[')
            && host.ends_with(']')
            && host[1..host.len() - 1].chars().all(|c| c.is_ascii_hexdigit() || c == ':');
        if host.is_empty() || host.starts_with('-') || !(host.chars().all(plain) || v6) {
            return Err(self.connection_error(format!("cannot forward to `{host}`: not a host name or address")));
        }
        self.ensure_master()?;
        // A free local port: bound then released; ssh binds it again at once.
        let local = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| self.connection_error(format!("no free local port for a forward: {e}")))?;
        let spec = format!("127.0.0.1:{}:{host}:{port}", local.port());
        let out =
            self.ssh(&["-O", "forward", "-L", &spec]).stdin(Stdio::null()).output().map_err(|e| self.spawn_error(e))?;
        if !out.status.success() {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(self.connection_error(format!("port forward to {host}:{port} refused: {message}")));
        }
        let cancel = self.ssh(&["-O", "cancel", "-L", &spec]);
        Ok(super::Route { connect_to: Some(local), guard: Some(Box::new(Forward { cancel: Mutex::new(cancel) })) })
    }

    fn lock(&self, holder: &str) -> Result<Option<crate::lock::HostLock>, crate::lock::LockError> {
        self.take_lock(holder).map(Some)
    }

    fn finish(&self) -> Result<(), ConnectorError> {
        self.close_master()
    }
}

impl Drop for SshConnector {
    /// A connector dropped without `finish` (an error path, a panic) still closes its master.
    fn drop(&mut self) {
        let _ = self.close_master();
    }
}

/// Wait for `child` at most `limit`; `None` (and the child killed) when it took longer.
/// An open port forward; dropping it cancels the forward on the master.
struct Forward {
    cancel: Mutex<std::process::Command>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        if let Ok(cmd) = self.cancel.get_mut() {
            // The master may be gone already (end of run): then the forward went with it.
            let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a master listens on the control socket. A plain connect is enough: a master that
/// died (killed, network drop) leaves either no socket or one that refuses connections, and
/// sessions over it would silently fall back to a fresh handshake each.
fn answers(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

/// `"<mode> <uid> <gid> <user> <group>\n<content>"` from the read script.
fn parse_read_output(stdout: &[u8]) -> Option<FileData> {
    let nl = stdout.iter().position(|&b| b == b'\n')?;
    let head = std::str::from_utf8(&stdout[..nl]).ok()?;
    let f: Vec<&str> = head.split(' ').collect();
    let [mode, uid, gid, user, group] = f.as_slice() else {
        return None;
    };
    // GNU stat prints UNKNOWN for ids without a name; phoenix reports those numerically.
    let name = |n: &str, id: &str| {
        if n == "UNKNOWN" {
            id.to_string()
        } else {
            n.to_string()
        }
    };
    Some(FileData {
        content: stdout[nl + 1..].to_vec(),
        mode: u32::from_str_radix(mode, 8).ok()?,
        owner: name(user, uid),
        group: name(group, gid),
    })
}

/// Replace every secret argument's text in `text` by the mask (remote shells echo arguments
/// back in their error messages).
/// A copy of a `Lost` error (ConnectorError holds an io::Error elsewhere, so it is not Clone).
fn clone_lost(e: &ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Lost { host, command, message } => {
            ConnectorError::Lost { host: host.clone(), command: command.clone(), message: message.clone() }
        }
        other => ConnectorError::Connection { host: String::new(), message: other.to_string() },
    }
}

fn mask_secrets(text: &str, cmd: &Command) -> String {
    let mut out = text.to_string();
    for a in &cmd.argv {
        if let Arg::Secret(s) = a {
            if !s.expose().is_empty() {
                out = out.replace(s.expose(), crate::secret::Secret::MASK);
            }
        }
    }
    out
}

/// A counting semaphore bounding concurrent sessions on the master.
struct Sessions {
    free: Mutex<usize>,
    cv: Condvar,
}

struct Slot<'a>(&'a Sessions);

impl Sessions {
    fn new(n: usize) -> Self {
        Sessions { free: Mutex::new(n), cv: Condvar::new() }
    }

    fn acquire(&self) -> Slot<'_> {
        // A poisoned lock only means another thread panicked while counting; the count is intact.
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.cv.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.0.cv.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn t(user: Option<&str>, host: &str, port: Option<u16>) -> SshTarget {
        SshTarget { user: user.map(str::to_string), host: host.to_string(), port }
    }

    #[test]
    fn parses_every_accepted_form() {
        assert_eq!(SshTarget::parse("ssh://root@pve:22").unwrap(), t(Some("root"), "pve", Some(22)));
        assert_eq!(SshTarget::parse("ssh://pve").unwrap(), t(None, "pve", None));
        assert_eq!(SshTarget::parse("root@pve").unwrap(), t(Some("root"), "pve", None));
        assert_eq!(SshTarget::parse("pve.lan").unwrap(), t(None, "pve.lan", None));
        assert_eq!(SshTarget::parse("pve:2222").unwrap(), t(None, "pve", Some(2222)));
        assert_eq!(
            SshTarget::parse("ssh://root@[fe80::1%eth0]:2222").unwrap(),
            t(Some("root"), "fe80::1%eth0", Some(2222))
        );
        assert_eq!(SshTarget::parse("[::1]").unwrap(), t(None, "::1", None));
        assert_eq!(SshTarget::parse("admin@::1").unwrap(), t(Some("admin"), "::1", None));
    }

    #[test]
    fn rejects_malformed_targets_with_a_reason() {
        for (bad, why) in [
            ("", "empty host"),
            ("ssh://root@", "empty host"),
            ("@pve", "empty user"),
            ("pve:0", "port"),
            ("pve:99999", "port"),
            ("pve:ssh", "port"),
            ("-oProxyCommand=x", "invalid host"),
            ("ssh://pve/path", "path"),
            ("[::1", "unclosed"),
            ("[pve]", "IPv6"),
            ("ssh://::1", "brackets"),
            ("pve host", "invalid host"),
        ] {
            let e = SshTarget::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["ssh://root@pve:22", "ssh://pve", "ssh://root@[fe80::1]:2222"] {
            assert_eq!(SshTarget::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn options_split_on_whitespace() {
        assert_eq!(parse_ssh_opts("  -i /k  -o\tA=b \n"), vec!["-i", "/k", "-o", "A=b"]);
        assert!(parse_ssh_opts("").is_empty());
    }

    #[test]
    fn read_output_parses_metadata_and_keeps_content_bytes() {
        let f = parse_read_output(b"4755 0 1234 root UNKNOWN\nline\n\xff\x00").unwrap();
        assert_eq!((f.mode, f.owner.as_str(), f.group.as_str()), (0o4755, "root", "1234"));
        assert_eq!(f.content, b"line\n\xff\x00");
        assert!(parse_read_output(b"644 root root\n").is_none());
        assert!(parse_read_output(b"no newline").is_none());
    }

    #[test]
    fn secrets_are_masked_in_messages() {
        let cmd = Command::new(["x"]).arg(Secret::new("s3cr3t"));
        assert_eq!(mask_secrets("bad s3cr3t here", &cmd), "bad *** here");
    }
}
