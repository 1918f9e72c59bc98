//! The HTTP/1.1 server on 127.0.0.1 (ephemeral port) and the handle tests hold.
//!
//! HTTPS when given a TLS identity (tls.rs: the certificate Portainer was started with, or its
//! own self-signed one), plain HTTP otherwise (the sim crate's own HTTP tests). hyper + tokio (already built for
//! phoenix's reqwest) serve it on a current-thread runtime in one background thread, so callers
//! need no runtime of their own: `start` returns once the port is known, `shutdown` (or drop)
//! stops it. The service is behind one mutex; requests are answered in microseconds, and
//! injected delays are slept after the lock is released. The socket is bound at start, so its
//! port is held while "not yet listening" (`listen_after`) and across `restart_with_downtime`.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::faults::Fault;
use super::form::parse_urlencoded;
use super::instance::{Instance, DEFAULT_INIT_WINDOW, DEFAULT_SESSION};
use super::journal::{Journal, JournalEntry};
use super::router::{Request, Response};
use super::service::Service;
use super::state::PortainerState;
use super::tls::TlsIdentity;
use crate::error::SimError;

/// Request bodies above this are refused with 413 (a compose file is kilobytes).
const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct PortainerConfig {
    /// Saved after every change, loaded at start (missing = fresh Portainer).
    pub state_file: Option<PathBuf>,
    /// Request journal (JSON lines, appended).
    pub journal_file: Option<PathBuf>,
    /// Portainer's admin-initialisation window (5 minutes in Portainer).
    pub init_window: Duration,
    /// JWT lifetime (Portainer's default session timeout, 8 hours).
    pub session: Duration,
    /// "Not yet listening": the port is reserved and returned at once, but connections are
    /// refused until this much time has passed (a container still starting).
    pub listen_after: Duration,
    /// `Version` of `/api/system/status`.
    pub version: String,
    /// Faults active from the first request.
    pub faults: Vec<Fault>,
    /// How an agent at `host:port` answers a dial (environment creation pings it). `None`: every
    /// agent answers except the URLs in the state's `unreachable_agents` (the sim crate's own
    /// tests); the sim connector sets it from the simulated lab (a running `portainer/agent`
    /// container publishing the port in the guest with that address).
    pub agent_probe: Option<AgentProbe>,
    /// The Docker hosts behind the environments: a stack created or updated is deployed there
    /// (`up`), a deleted one removed (`down`). `None`: stacks are recorded only (the sim crate's
    /// own tests); the sim connector runs them in the simulated VM.
    pub stack_host: Option<StackHost>,
    /// Simulated time already passed when the process starts (tests start past the
    /// admin-initialisation window). Applies to the first start only: a restart is a new
    /// process with a new window.
    pub clock_advance: Duration,
    /// Serve HTTPS with this certificate chain and key (`None`: plain HTTP). Replaced at a
    /// restart with `PortainerSim::restart_with_tls`.
    pub tls: Option<TlsIdentity>,
}

/// See `PortainerConfig::agent_probe`: `Ok(())` when an agent answers at `host:port`, else the
/// reason Go's dialer gives after `dial tcp …: ` (`connect: connection refused`, or for a name
/// the lab's DNS does not know, the whole `lookup <name> on 127.0.0.11:53: no such host`).
#[derive(Clone)]
pub struct AgentProbe(pub Arc<dyn Fn(&str, u16) -> Result<(), DialError> + Send + Sync>);

/// Why a dial failed (see `AgentProbe`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialError {
    /// Nothing listens at the address.
    Refused,
    /// The name does not resolve.
    NoSuchHost,
}

impl AgentProbe {
    pub fn new(f: impl Fn(&str, u16) -> Result<(), DialError> + Send + Sync + 'static) -> Self {
        AgentProbe(Arc::new(f))
    }
    pub fn dial(&self, host: &str, port: u16) -> Result<(), DialError> {
        (self.0)(host, port)
    }
}

/// See `PortainerConfig::stack_host`.
#[derive(Clone)]
pub struct StackHost(pub Arc<dyn Fn(&StackOp) -> Result<(), String> + Send + Sync>);

/// What a stack operation asks of the environment's Docker host.
pub enum StackOp<'a> {
    /// `docker compose -p <project> up -d` of `compose`, with the env variables `env` (names).
    Up { url: &'a str, project: &'a str, compose: &'a str, env: Vec<String> },
    /// `docker compose -p <project> down`.
    Down { url: &'a str, project: &'a str },
}

impl StackHost {
    pub fn new(f: impl Fn(&StackOp) -> Result<(), String> + Send + Sync + 'static) -> Self {
        StackHost(Arc::new(f))
    }
    pub fn apply(&self, op: &StackOp) -> Result<(), String> {
        (self.0)(op)
    }
}

impl std::fmt::Debug for StackHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StackHost(..)")
    }
}

impl std::fmt::Debug for AgentProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentProbe(..)")
    }
}

impl Default for PortainerConfig {
    fn default() -> Self {
        PortainerConfig {
            state_file: None,
            journal_file: None,
            init_window: DEFAULT_INIT_WINDOW,
            session: DEFAULT_SESSION,
            listen_after: Duration::ZERO,
            version: "2.21.4".to_string(),
            faults: Vec::new(),
            agent_probe: None,
            stack_host: None,
            clock_advance: Duration::ZERO,
            tls: None,
        }
    }
}

impl PortainerConfig {
    /// The files next to a `sim:FILE` state: `<FILE>.portainer.json` and `<FILE>.portainer.jsonl`.
    pub fn beside(sim_state: &Path) -> Self {
        let with = |suffix: &str| {
            let mut p = sim_state.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        PortainerConfig {
            state_file: Some(with(".portainer.json")),
            journal_file: Some(with(".portainer.jsonl")),
            ..Self::default()
        }
    }
}

/// A running simulated Portainer. Dropping it stops the server.
pub struct PortainerSim {
    addr: SocketAddr,
    service: Arc<Mutex<Service>>,
    stop: Option<oneshot::Sender<()>>,
    control: mpsc::UnboundedSender<Control>,
    thread: Option<JoinHandle<()>>,
    /// The TLS acceptor for new connections (`None`: plain HTTP).
    tls: Arc<Mutex<Option<tokio_rustls::TlsAcceptor>>>,
}

fn lock(service: &Mutex<Service>) -> MutexGuard<'_, Service> {
    // A panic while holding the lock leaves consistent-enough test state; keep serving.
    service.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Start a simulated Portainer on 127.0.0.1 with an ephemeral port.
pub fn start(config: PortainerConfig) -> Result<PortainerSim, SimError> {
    let refused = |reason: String| SimError::Refused { path: "portainer simulator".into(), reason };
    let state = match &config.state_file {
        Some(path) => PortainerState::load(path)?,
        None => PortainerState::fresh().map_err(refused)?,
    };
    let mut instance = Instance::start(config.init_window, config.session).map_err(refused)?;
    instance.advance(config.clock_advance);
    let service = Service {
        state,
        instance,
        version: config.version.clone(),
        state_file: config.state_file.clone(),
        faults: config.faults.clone(),
        journal: Journal::new(config.journal_file.clone()),
        agent_probe: config.agent_probe.clone(),
        stack_host: config.stack_host.clone(),
    };
    // Save at once, so a fresh state file exists (and an unwritable path fails here, not later).
    service.persist()?;
    let service = Arc::new(Mutex::new(service));
    let bind_err = |source| SimError::Io { path: PathBuf::from("127.0.0.1:0"), source };
    // Bound at once (the port is known and held), listening now or after `listen_after`: a
    // bound socket that does not listen refuses connections, like a container still starting.
    let socket = tokio::net::TcpSocket::new_v4().map_err(bind_err)?;
    // Accepted connections inherit SO_REUSEADDR; without it, their TIME_WAIT would keep a
    // restarted simulator (restart_with_downtime) from binding its port again.
    socket.set_reuseaddr(true).map_err(bind_err)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(bind_err)?;
    let addr = socket.local_addr().map_err(bind_err)?;
    let acceptor = match &config.tls {
        Some(identity) => Some(identity.acceptor().map_err(refused)?),
        None => None,
    };
    let tls = Arc::new(Mutex::new(acceptor));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| refused(format!("cannot build the server runtime: {e}")))?;
    // Without a delay, listen before returning, so the first request cannot race the thread
    // (inside the runtime's context, as a tokio listener registers with its reactor).
    let socket = if config.listen_after.is_zero() {
        let _ctx = runtime.enter();
        Socket::Listening(socket.listen(1024).map_err(bind_err)?)
    } else {
        Socket::Later(socket)
    };
    let (stop_tx, stop_rx) = oneshot::channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let shared = service.clone();
    let shared_tls = tls.clone();
    let delay = config.listen_after;
    let thread = std::thread::Builder::new()
        .name(format!("portainer-sim-{}", addr.port()))
        .spawn(move || runtime.block_on(serve(socket, addr, Some(delay), shared, shared_tls, stop_rx, control_rx)))
        .map_err(|e| refused(format!("cannot start the server thread: {e}")))?;
    Ok(PortainerSim { addr, service, stop: Some(stop_tx), control: control_tx, thread: Some(thread), tls })
}

/// What the handle tells the server thread.
enum Control {
    /// Stop listening (cut open connections) for this long, or until `Up` when `None`; the
    /// sender hears when the port no longer accepts.
    Down(Option<Duration>, Ack),
    /// Listen again now; the sender hears when the port accepts again.
    Up(Ack),
}

/// Told once a control message took effect (so the handle's caller can rely on it at once).
type Ack = std::sync::mpsc::Sender<()>;

/// The server socket: listening already, or bound and waiting for `listen_after`.
enum Socket {
    Listening(tokio::net::TcpListener),
    Later(tokio::net::TcpSocket),
}

async fn serve(
    socket: Socket,
    addr: SocketAddr,
    listen_after: Option<Duration>,
    service: Arc<Mutex<Service>>,
    tls: Arc<Mutex<Option<tokio_rustls::TlsAcceptor>>>,
    mut stop: oneshot::Receiver<()>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut socket = socket;
    let mut wait = listen_after;
    let mut up_ack: Option<Ack> = None;
    // Open connections, so a simulated restart can cut them like a dying container does.
    let mut connections = JoinSet::new();
    loop {
        let listener = match socket {
            Socket::Listening(l) => l,
            Socket::Later(pending) => {
                // Down for a while, or until told `Up` (a stopped container started again).
                loop {
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(wait.unwrap_or(Duration::MAX)), if wait.is_some() => break,
                        msg = control.recv() => match msg {
                            Some(Control::Up(ack)) => {
                                up_ack = Some(ack);
                                break;
                            }
                            Some(Control::Down(d, ack)) => {
                                wait = d;
                                let _ = ack.send(());
                            }
                            None => return,
                        },
                    }
                }
                match pending.listen(1024) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("portainer simulator: cannot listen on {addr}: {e}");
                        return;
                    }
                }
            }
        };
        // Serve until stopped or told to go down for a while.
        if let Some(ack) = up_ack.take() {
            let _ = ack.send(());
        }
        let (down_for, down_ack) = loop {
            tokio::select! {
                _ = &mut stop => return,
                msg = control.recv() => match msg {
                    Some(Control::Down(d, ack)) => break (d, ack),
                    Some(Control::Up(ack)) => {
                        let _ = ack.send(());
                        continue;
                    }
                    None => return,
                },
                accepted = listener.accept() => {
                    while connections.try_join_next().is_some() {}
                    let Ok((stream, _)) = accepted else { continue };
                    let service = service.clone();
                    let acceptor = tls.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    connections.spawn(async move {
                        let svc = service_fn(move |req| answer(service.clone(), req));
                        // A client hanging up mid-request, or refusing the certificate, is its
                        // business, not an error here.
                        match acceptor {
                            Some(acceptor) => {
                                let Ok(stream) = acceptor.accept(stream).await else { return };
                                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                            }
                            None => {
                                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    });
                }
            }
        };
        // Down: close the listening socket and every open connection, then take the same port
        // again (SO_REUSEADDR, so connections in TIME_WAIT do not block the re-bind).
        drop(listener);
        connections.abort_all();
        let _ = down_ack.send(());
        let rebound = tokio::net::TcpSocket::new_v4().and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            Ok(s)
        });
        socket = match rebound {
            Ok(s) => Socket::Later(s),
            Err(e) => {
                eprintln!("portainer simulator: cannot bind {addr} again: {e}");
                return;
            }
        };
        wait = down_for;
    }
}

async fn answer(
    service: Arc<Mutex<Service>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return Ok(to_hyper(Response::text(413, "request body too large or broken\n"))),
    };
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let request = Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parse_urlencoded(&raw_query),
        raw_query,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).to_string()))
            .collect(),
        body,
    };
    let (response, delay) = lock(&service).handle(&request);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(to_hyper(response))
}

fn to_hyper(r: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(r.body)));
    *out.status_mut() = hyper::StatusCode::from_u16(r.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let (Ok(name), Ok(value)) = (hyper::header::HeaderName::try_from(k), hyper::header::HeaderValue::try_from(v))
        {
            out.headers_mut().append(name, value);
        }
    }
    out
}

impl PortainerSim {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`, or `https://…` when serving TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.lock().unwrap_or_else(|p| p.into_inner()).is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `restart`, serving `tls` from now on (a restarted Portainer reads its certificate
    /// again). `Err` when the identity cannot be served (Portainer would exit): nothing changes.
    pub fn restart_with_tls(&self, tls: Option<&TlsIdentity>) -> Result<(), SimError> {
        let refused = |reason: String| SimError::Refused { path: "portainer simulator".into(), reason };
        let acceptor = tls.map(TlsIdentity::acceptor).transpose().map_err(refused)?;
        self.restart()?;
        *self.tls.lock().unwrap_or_else(|p| p.into_inner()) = acceptor;
        Ok(())
    }

    /// A copy of the current state.
    pub fn state(&self) -> PortainerState {
        lock(&self.service).state.clone()
    }

    /// Change the state directly ("as if in the UI"), then save it.
    pub fn edit<T>(&self, f: impl FnOnce(&mut PortainerState) -> T) -> Result<T, SimError> {
        let mut s = lock(&self.service);
        let out = f(&mut s.state);
        s.persist()?;
        Ok(out)
    }

    /// Portainer's volume lost and the container restarted: empty database, new InstanceID, new
    /// process (JWTs invalid, a new initialisation window). Docker hosts keep their projects.
    pub fn lose_data(&self) -> Result<(), SimError> {
        let refused = |reason: String| SimError::Refused { path: "portainer simulator".into(), reason };
        let id = super::crypto::uuid_v4().map_err(refused)?;
        let mut s = lock(&self.service);
        s.state.lose_portainer_data(id);
        s.instance.restart().map_err(refused)?;
        s.persist()
    }

    /// `docker restart portainer`: new JWT secret and a new initialisation window; data kept.
    pub fn restart(&self) -> Result<(), SimError> {
        let mut s = lock(&self.service);
        s.instance.restart().map_err(|reason| SimError::Refused { path: "portainer simulator".into(), reason })
    }

    /// `docker restart portainer` that takes a while: the port stops listening at once (open
    /// connections are cut), the process restarts (new JWT secret, new initialisation window,
    /// data kept) and the port listens again after `down_for`.
    pub fn restart_with_downtime(&self, down_for: Duration) -> Result<(), SimError> {
        self.restart()?;
        self.send(|ack| Control::Down(Some(down_for), ack))
    }

    /// The container stopped (or was removed): the port refuses connections, open ones are
    /// cut, until `resume`. The process state is untouched; a container started again is a new
    /// process, so follow `resume` with `restart`.
    pub fn pause(&self) -> Result<(), SimError> {
        self.send(|ack| Control::Down(None, ack))
    }

    /// Listen again after `pause` (or end a downtime early).
    pub fn resume(&self) -> Result<(), SimError> {
        self.send(Control::Up)
    }

    /// Tell the server thread, and return once it took effect (a request sent right after
    /// `pause` is refused, one after `resume` is accepted).
    fn send(&self, c: impl FnOnce(Ack) -> Control) -> Result<(), SimError> {
        let gone =
            || SimError::Refused { path: "portainer simulator".into(), reason: "the server thread has stopped".into() };
        let (ack, heard) = std::sync::mpsc::channel();
        self.control.send(c(ack)).map_err(|_| gone())?;
        heard.recv_timeout(Duration::from_secs(5)).map_err(|_| gone())
    }

    /// Move the simulated clock forward (past the initialisation window, past JWT expiry).
    pub fn advance_clock(&self, by: Duration) {
        lock(&self.service).instance.advance(by);
    }

    pub fn add_fault(&self, fault: Fault) {
        lock(&self.service).faults.push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.service).faults.clear();
    }

    /// Every request answered so far (also in the journal file, if configured).
    pub fn requests(&self) -> Vec<JournalEntry> {
        lock(&self.service).journal.entries.clone()
    }

    pub fn journal_file(&self) -> Option<PathBuf> {
        lock(&self.service).journal.path().map(Path::to_path_buf)
    }

    /// Stop accepting and wait for the server thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PortainerSim {
    fn drop(&mut self) {
        self.stop_now();
    }
}
