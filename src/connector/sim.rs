//! The simulator as a connector: `--host sim` (in memory) or `--host sim:<state.json>`
//! (loaded at start, every command appended to `<state.json>.commands.jsonl`).
//!
//! The simulated node is the `phoenix-sim` crate, which does not know phoenix: this adapter is
//! the only place where phoenix's command and file types meet the simulator's.
//!
//! A stored state is saved after EVERY mutating command, before the command's result reaches
//! the executor (and so before the journal records the action): whatever kills phoenix — a
//! signal, a crash, SIGKILL — the state file holds at least every journalled action, and a
//! re-run converges from what really happened. The save is atomic (temp file + rename in the
//! same folder), so a reader never sees half a state. No fsync: the guarantee is against a dying
//! process, not a dying machine.

use super::sim_save::{Dirty, GuestCache};
use super::{Connector, ConnectorError, FileData, FileWrite};
use crate::command::{Command, Output};
use phoenix_sim::{SimError, SimHost, SimState};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct SimConnector {
    host: Arc<SimHost>,
    /// Serialises saves: a save snapshots the state and renames the file, and two saves racing
    /// could rename an older snapshot over a newer one.
    saving: Mutex<SaveState>,
    /// Mutating commands finished so far (numbers them for `SaveState::saved_through`).
    mutations: AtomicU64,
    /// Guests changed since the last save.
    dirty: Mutex<Dirty>,
    /// The simulated Portainer, started by the first `reach` that finds the Portainer server
    /// deployed and running (a run that never talks HTTP starts no server).
    portainer: Mutex<Option<PortainerSlot>>,
}

/// The simulated Portainer and the container it stands for.
struct PortainerSlot {
    sim: phoenix_sim::portainer::PortainerSim,
    /// Where phoenix reached it (the address and port a container publishes).
    host: String,
    port: u16,
    /// The serving process (`ServiceInfo::generation`), `None` while the container is not
    /// running: the simulator follows it (see `follow_portainer`).
    generation: Option<String>,
}

#[derive(Default)]
struct SaveState {
    /// The first save that failed: reported by `finish`, so the run ends with an error.
    error: Option<String>,
    /// How many saves and how long they took in all (`PHOENIX_LOG=debug` reports them at the end).
    count: u64,
    spent: std::time::Duration,
    /// Every mutation numbered up to this one is in the file.
    saved_through: u64,
    /// The guests' JSON from earlier saves.
    cache: GuestCache,
}

impl SimConnector {
    /// A fresh in-memory node, or the state stored at `spec`.
    pub fn open(spec: Option<&Path>) -> Result<SimConnector, ConnectorError> {
        let host = match spec {
            Some(p) => SimHost::open(p).map_err(|e| ConnectorError::Connection {
                host: format!("sim:{}", p.display()),
                message: e.to_string(),
            })?,
            None => SimHost::new(SimState::default()),
        };
        Ok(SimConnector::from_host(Arc::new(host)))
    }

    /// Share an existing host (tests seed it, then inspect it after the run).
    pub fn from_host(host: Arc<SimHost>) -> SimConnector {
        SimConnector {
            host,
            saving: Mutex::new(SaveState::default()),
            mutations: AtomicU64::new(0),
            dirty: Mutex::default(),
            portainer: Mutex::default(),
        }
    }

    /// The simulated Portainer's address for `host:port`, or `None` when nothing there is a
    /// running Portainer server (the caller refuses the connection). Started beside the state
    /// file the first time (`<FILE>.portainer.json`, journal `<FILE>.portainer.jsonl`; in
    /// memory for `--host sim`). Faults for tests come from `<FILE>.portainer.faults.json`.
    pub fn portainer_addr(&self, host: &str, port: u16) -> Result<Option<std::net::SocketAddr>, ConnectorError> {
        let fail = |message: String| ConnectorError::Connection { host: self.describe(), message };
        let Some(service) = self.portainer_server_at(host, port) else { return Ok(None) };
        // The certificate Portainer serves (or its own self-signed one); one it cannot load
        // makes it exit, as docker_start says for missing files: nothing listens.
        let Ok(tls) = portainer_identity(&service) else { return Ok(None) };
        let mut slot = self.portainer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.as_mut() {
            // Reached by another name or port of the same container: the same process.
            s.host = host.to_string();
            s.port = port;
            drop(slot);
            self.follow_portainer();
            let port = self.portainer.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|s| s.sim.port());
            return Ok(port.map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], p))));
        }
        let mut config = match self.host.path() {
            Some(state) => {
                let mut config = phoenix_sim::portainer::PortainerConfig::beside(state);
                let mut faults_file = state.as_os_str().to_owned();
                faults_file.push(".portainer.faults.json");
                let opts = portainer_faults(Path::new(&faults_file)).map_err(fail)?;
                config.faults = opts.faults;
                if let Some(w) = opts.init_window {
                    config.init_window = w;
                }
                config.clock_advance = opts.clock_advance;
                config
            }
            None => phoenix_sim::portainer::PortainerConfig::default(),
        };
        // Environment creation pings the agent: it answers when the simulated lab runs one there.
        let lab = self.host.clone();
        config.tls = Some(tls);
        config.agent_probe = Some(phoenix_sim::portainer::AgentProbe::new(move |host, port| {
            use phoenix_sim::portainer::DialError;
            let ip = lab.resolve(host).ok_or(DialError::NoSuchHost)?;
            match lab.service_at(&ip, port) {
                Some(s) if s.kind == phoenix_sim::ServiceKind::PortainerAgent => Ok(()),
                _ => Err(DialError::Refused),
            }
        }));
        // A stack Portainer accepts runs on the environment's Docker host: the simulated VM.
        let lab = self.host.clone();
        config.stack_host = Some(phoenix_sim::portainer::StackHost::new(move |op| {
            use phoenix_sim::portainer::StackOp;
            match op {
                StackOp::Up { url, project, compose, env } => lab.deploy_stack(url, project, compose.as_bytes(), env),
                StackOp::Down { url, project } => lab.remove_stack(url, project),
            }
        }));
        let sim = phoenix_sim::portainer::start(config).map_err(|e| fail(format!("simulated Portainer: {e}")))?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], sim.port()));
        *slot = Some(PortainerSlot { sim, host: host.to_string(), port, generation: Some(service.generation()) });
        Ok(Some(addr))
    }

    /// The running Portainer server container publishing `host:port`, if any.
    fn portainer_server_at(&self, host: &str, port: u16) -> Option<phoenix_sim::ServiceInfo> {
        self.host.service_at(host, port).filter(|s| s.kind == phoenix_sim::ServiceKind::PortainerServer)
    }

    /// The simulated Portainer follows its container: stopped or removed → the port refuses
    /// connections; running again, re-created or restarted (a new process) → a restart (new JWT
    /// secret, new initialisation window, data kept) and the port listens. Called after every
    /// mutating command; nothing to do when no simulated Portainer was started.
    fn follow_portainer(&self) {
        let mut slot = self.portainer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = slot.as_mut() else { return };
        let service = self.portainer_server_at(&s.host, s.port);
        let mut now = service.as_ref().map(|i| i.generation());
        if now == s.generation {
            return;
        }
        // A new process reads its certificate again; one it cannot load and it exits.
        let tls = service.as_ref().map(portainer_identity);
        if matches!(tls, Some(Err(_))) {
            now = None;
        }
        let followed = match (&s.generation, tls) {
            (Some(_), None | Some(Err(_))) => s.sim.pause(),
            // A new process: restart it, and cut what the old one had open.
            (Some(_), Some(Ok(tls))) => {
                s.sim.restart_with_tls(Some(&tls)).and_then(|()| s.sim.pause()).and_then(|()| s.sim.resume())
            }
            (None, Some(Ok(tls))) => s.sim.restart_with_tls(Some(&tls)).and_then(|()| s.sim.resume()),
            (None, _) => Ok(()),
        };
        if let Err(e) = followed {
            tracing::warn!("{}: the simulated Portainer cannot follow its container: {e}", self.describe());
        }
        s.generation = now;
    }

    /// How many times the state was saved so far.
    pub fn saves(&self) -> u64 {
        self.saving.lock().map(|s| s.count).unwrap_or_else(|p| p.into_inner().count)
    }

    /// Persist the state after a mutating command (a no-op in memory). A failure is kept for
    /// `finish` rather than turned into a failed command: the command itself did happen.
    ///
    /// Cheap by design: compact JSON, and one save serves every command that finished before it
    /// started — parallel guests queue on `saving`, and a thread whose mutation an earlier save
    /// already captured returns at once.
    fn save_after_mutation(&self, argv: &[String]) {
        let Some(path) = self.host.path() else { return };
        // Noted, then counted, after the mutation: a save that sees the count sees the change.
        self.dirty.lock().unwrap_or_else(|p| p.into_inner()).note(argv);
        let mine = self.mutations.fetch_add(1, Ordering::SeqCst) + 1;
        let mut saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        if saving.saved_through >= mine {
            return;
        }
        let through = self.mutations.load(Ordering::SeqCst);
        let dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner()).take();
        let started = std::time::Instant::now();
        let SaveState { cache, .. } = &mut *saving;
        let saved = self
            .host
            .with_state(|st| cache.snapshot(st, &dirty))
            .map_err(|e| e.to_string())
            .and_then(|json| phoenix_sim::write_atomically(path, &json).map_err(|e| e.to_string()))
            .and_then(|()| self.host.flush_log().map_err(|e| e.to_string()));
        saving.count += 1;
        saving.spent += started.elapsed();
        match saved {
            Ok(()) => saving.saved_through = through,
            Err(e) => {
                tracing::warn!("{}: cannot save the simulator state: {e}", self.describe());
                saving.cache.clear();
                saving.error.get_or_insert(e);
            }
        }
    }

    pub fn host(&self) -> &Arc<SimHost> {
        &self.host
    }

    fn file_error(&self, op: &'static str, path: &str, e: SimError) -> ConnectorError {
        ConnectorError::File { host: self.describe(), op, path: path.to_string(), message: e.to_string() }
    }
}

/// phoenix's file to write, as the simulator's type.
pub fn to_sim(file: &FileWrite) -> phoenix_sim::FileWrite {
    phoenix_sim::FileWrite {
        content: file.content.clone(),
        mode: file.mode,
        owner: file.owner.clone(),
        group: file.group.clone(),
    }
}

impl Connector for SimConnector {
    fn describe(&self) -> String {
        match self.host.path() {
            Some(p) => format!("sim:{}", p.display()),
            None => "sim".to_string(),
        }
    }

    fn run(&self, cmd: &Command) -> Result<Output, ConnectorError> {
        let argv = cmd.exposed_argv();
        let out = self.host.exec(&argv, cmd.stdin.as_deref());
        if phoenix_sim::is_mutating(&argv) {
            self.save_after_mutation(&argv);
            self.follow_portainer();
        }
        Ok(Output { code: out.code, stdout: out.stdout, stderr: out.stderr })
    }

    fn read_file(&self, path: &str) -> Result<Option<FileData>, ConnectorError> {
        Ok(self.host.read_file(path).map(|f| FileData {
            content: f.content,
            mode: f.mode,
            owner: f.owner,
            group: f.group,
        }))
    }

    fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), ConnectorError> {
        let written = self.host.write_file(path, &to_sim(file)).map_err(|e| self.file_error("write", path, e));
        if written.is_ok() {
            self.save_after_mutation(&["file.write".to_string(), path.to_string()]);
        }
        written
    }

    fn remove_file(&self, path: &str) -> Result<bool, ConnectorError> {
        let existed = self.host.remove_file(path);
        if existed {
            self.save_after_mutation(&["file.remove".to_string(), path.to_string()]);
        }
        Ok(existed)
    }

    /// The simulated Portainer when the simulated lab runs its server at `host:port`;
    /// otherwise a port nobody listens on, so the connection is refused as on a real lab.
    fn reach(&self, host: &str, port: u16) -> Result<super::Route, ConnectorError> {
        match self.portainer_addr(host, port)? {
            Some(addr) => Ok(super::Route { connect_to: Some(addr), guard: None }),
            None => {
                let closed = closed_port().map_err(|e| ConnectorError::Connection {
                    host: self.describe(),
                    message: format!("cannot reserve a closed port for {host}:{port}: {e}"),
                })?;
                Ok(super::Route { connect_to: Some(closed.0), guard: Some(Box::new(closed.1)) })
            }
        }
    }

    fn lock(&self, holder: &str) -> Result<Option<crate::lock::HostLock>, crate::lock::LockError> {
        let Some(state) = self.host.path() else { return Ok(None) };
        let host = self.describe();
        let path = crate::lock::sim_lock_path(state).map_err(|source| crate::lock::LockError::Io {
            host: host.clone(),
            path: state.to_path_buf(),
            source,
        })?;
        crate::lock::HostLock::on_file(&host, &path, holder).map(Some)
    }

    fn finish(&self) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::Connection { host: self.describe(), message };
        let mut saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = saving.error.take() {
            return Err(fail(e));
        }
        saving.count += 1;
        self.host.save().map_err(|e| fail(e.to_string()))?;
        let size = self.host.path().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len()).unwrap_or(0);
        tracing::debug!(
            "{}: state saved {} times in {} ms ({} bytes)",
            self.describe(),
            saving.count,
            saving.spent.as_millis(),
            size
        );
        Ok(())
    }
}

/// What a Portainer server container serves: the certificate and key it was started with
/// (`--sslcert`/`--sslkey` through its binds), or, without them, a self-signed certificate of
/// its own. `Err` when they cannot be loaded (Portainer exits).
fn portainer_identity(service: &phoenix_sim::ServiceInfo) -> Result<phoenix_sim::portainer::TlsIdentity, String> {
    let identity = match &service.tls {
        Some(files) => phoenix_sim::portainer::TlsIdentity {
            cert_chain_pem: files.cert_pem.clone(),
            key_pem: files.key_pem.clone(),
        },
        None => phoenix_sim::portainer::TlsIdentity::self_signed()?,
    };
    identity.check()?;
    Ok(identity)
}

/// A loopback port that is bound but never listens: connecting to it is refused, like a closed
/// port on a real host. The route holds the socket, so no other process takes the port meanwhile.
fn closed_port() -> std::io::Result<(std::net::SocketAddr, tokio::net::TcpSocket)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok((socket.local_addr()?, socket))
}

/// Options for the simulated Portainer, as a test writes them: a JSON array of faults
/// `{"method": "POST"?, "path": "/api/stacks*", "status": 503 | "delay_ms": 500 | "too_many": true, "times": 2}`,
/// or `{"faults": [...], "init_window_ms": N, "clock_advance_ms": M}` to shorten Portainer's
/// admin-initialisation window or start the process with M ms already passed.
#[derive(Default)]
struct PortainerTestOptions {
    faults: Vec<phoenix_sim::portainer::Fault>,
    init_window: Option<std::time::Duration>,
    clock_advance: std::time::Duration,
}

fn portainer_faults(path: &Path) -> Result<PortainerTestOptions, String> {
    use phoenix_sim::portainer::{Fault, FaultAction};
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PortainerTestOptions::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let bad = |why: &str| format!("{}: {why}", path.display());
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let ms = |key: &str| doc.get(key).and_then(|w| w.as_u64()).map(std::time::Duration::from_millis);
    let window = ms("init_window_ms");
    let clock_advance = ms("clock_advance_ms").unwrap_or_default();
    let list = match &doc {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => o.get("faults").and_then(|f| f.as_array()).cloned().unwrap_or_default(),
        _ => return Err(bad("expected an array of faults or {\"faults\": [...]}")),
    };
    let faults: Vec<Fault> = list
        .iter()
        .map(|f| {
            let method = f.get("method").and_then(|m| m.as_str());
            let route = f.get("path").and_then(|p| p.as_str()).ok_or_else(|| bad("every fault needs a \"path\""))?;
            let times = f.get("times").and_then(|t| t.as_u64()).unwrap_or(1) as u32;
            let action = if let Some(code) = f.get("status").and_then(|c| c.as_u64()) {
                FaultAction::Status(u16::try_from(code).map_err(|_| bad("status out of range"))?)
            } else if let Some(ms) = f.get("delay_ms").and_then(|d| d.as_u64()) {
                FaultAction::Delay(std::time::Duration::from_millis(ms))
            } else if f.get("too_many").and_then(|t| t.as_bool()) == Some(true) {
                FaultAction::TooManyRequests
            } else {
                return Err(bad("a fault needs \"status\", \"delay_ms\" or \"too_many\""));
            };
            Ok(Fault::new(method, route, action, times))
        })
        .collect::<Result<_, String>>()?;
    Ok(PortainerTestOptions { faults, init_window: window, clock_advance })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_run_and_finish_saves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let c = SimConnector::open(Some(&path)).unwrap();
        assert_eq!(c.describe(), format!("sim:{}", path.display()));
        let out = c.run(&Command::new(["zfs", "create", "rpool/data/t"])).unwrap();
        assert!(out.success());
        let err =
            c.write_file("/etc/pve/storage.cfg", &FileWrite { content: vec![], mode: 0o640, owner: None, group: None });
        assert!(matches!(err, Err(ConnectorError::File { .. })));
        c.finish().unwrap();
        let again = SimConnector::open(Some(&path)).unwrap();
        assert!(again.host().with_state(|s| s.datasets.contains_key("rpool/data/t")));
        assert_eq!(SimConnector::open(None).unwrap().describe(), "sim");
    }

    #[test]
    fn nothing_deployed_means_a_refused_connection_and_no_simulated_portainer() {
        let c = SimConnector::open(None).unwrap();
        let route = c.reach("10.20.0.50", 9443).unwrap();
        let addr = route.connect_to.expect("a local address");
        let e = std::net::TcpStream::connect(addr).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        assert!(c.portainer.lock().unwrap().is_none(), "no Portainer started for a closed port");
        // A mutating command with no simulated Portainer started costs nothing more.
        assert!(c.run(&Command::new(["zfs", "create", "rpool/data/t"])).unwrap().success());
    }

    #[test]
    fn every_mutating_command_is_on_disk_before_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let c = SimConnector::open(Some(&path)).unwrap();
        let on_disk = || -> SimState { serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap() };
        assert!(c.run(&Command::new(["zfs", "list"])).unwrap().success());
        assert_eq!((c.saves(), path.exists()), (0, false), "a read saves nothing");
        assert!(c.run(&Command::new(["zfs", "create", "rpool/data/a"])).unwrap().success());
        assert_eq!(c.saves(), 1);
        assert!(on_disk().datasets.contains_key("rpool/data/a"), "no finish() needed");
        let w = FileWrite { content: b"x".to_vec(), mode: 0o644, owner: None, group: None };
        c.write_file("/root/note", &w).unwrap();
        assert!(on_disk().files.contains_key("/root/note"));
        assert!(c.remove_file("/root/note").unwrap());
        assert!(!on_disk().files.contains_key("/root/note"));
        assert!(!c.remove_file("/root/note").unwrap());
        assert_eq!(c.saves(), 3, "removing nothing saves nothing");
        // The command log is flushed with the state, so it too survives a SIGKILL.
        let log = std::fs::read_to_string(dir.path().join("s.json.commands.jsonl")).unwrap();
        assert!(log.contains("\"rpool/data/a\""), "{log}");
    }

    #[test]
    fn parallel_mutations_share_saves_and_all_reach_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let c = Arc::new(SimConnector::open(Some(&path)).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for i in 0..10 {
                        let ds = format!("rpool/data/t{t}-{i}");
                        assert!(c.run(&Command::new(["zfs", "create", &ds])).unwrap().success());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let saved: SimState = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(saved.datasets.keys().filter(|k| k.starts_with("rpool/data/t")).count(), 80);
        assert!(c.saves() <= 80, "{}", c.saves());
    }

    #[test]
    fn secrets_reach_the_sim_but_not_the_log() {
        let c = SimConnector::open(None).unwrap();
        let cmd = Command::new(["pct", "set", "100", "--password"]).arg(crate::secret::Secret::new("hunter2"));
        c.run(&cmd).unwrap();
        let log = c.host().log();
        assert_eq!(log[0].argv.last().map(String::as_str), Some("***"));
    }
}
