//! A real OpenSSH server for tests: `/usr/sbin/sshd` on 127.0.0.1 at a free port, throwaway
//! host and client keys, logging to a file the tests can inspect. Killed on drop.
//!
//! Needs the `openssh-server` package (and `openssh-client` for `ssh`/`ssh-keygen`). When run as
//! root, the privilege-separation directory `/run/sshd` is created if missing.

use phoenix::connector::ssh::{SshConnector, SshTarget};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    dir: TempDir,
    child: Child,
    pub port: u16,
    pub user: String,
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (apt-get install -y openssh-server) to run the ssh tests"
        );
        // Root's sshd insists on its privilege-separation directory; harmless to try otherwise.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::Builder::new().prefix("phx-sshd").tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {host_pub}")).unwrap();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nPermitRootLogin yes\nUsePAM no\nPidFile {d}/sshd.pid\nLogLevel VERBOSE\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {SSHD}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
                panic!("sshd exited with {status} before accepting connections:\n{log}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "sshd did not listen on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
        Sshd { dir, child, port, user }
    }

    /// Client options a test passes as `PHOENIX_SSH_OPTS` would: this server's key and host key
    /// only, no user or system ssh config.
    pub fn client_opts(&self) -> Vec<String> {
        let d = self.dir.path().display();
        [
            "-F".to_string(),
            "none".to_string(),
            "-i".to_string(),
            format!("{d}/client_key"),
            "-o".to_string(),
            "IdentitiesOnly=yes".to_string(),
            "-o".to_string(),
            format!("UserKnownHostsFile={d}/known_hosts"),
            "-o".to_string(),
            "StrictHostKeyChecking=yes".to_string(),
        ]
        .into()
    }

    pub fn target(&self) -> SshTarget {
        SshTarget::parse(&format!("ssh://{}@127.0.0.1:{}", self.user, self.port)).unwrap()
    }

    /// A connector to this server with its control socket in `control_dir`.
    pub fn connector(&self, control_dir: &Path) -> SshConnector {
        SshConnector::with_options(&self.target(), control_dir, self.client_opts())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// How many authenticated connections the server has accepted so far.
    pub fn accepted(&self) -> usize {
        self.log().lines().filter(|l| l.contains("Accepted publickey")).count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &PathBuf) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "phoenix-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen not found: install openssh-client");
    assert!(st.success(), "ssh-keygen failed for {}", path.display());
}

/// A port nothing listens on right now (the OS picks it; tiny race with other processes).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
