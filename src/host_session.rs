//! Opening the target host for a run, in the order that keeps promises: the state dir is usable
//! (else exit 2, nothing ran), the host answers (ssh: once, up front, within a bounded time), and
//! this run holds the host's lock (else exit 1 naming the holder) — all before any plan runs.

use crate::cli::{HostSpec, EXIT_FAILED, EXIT_INVALID};
use crate::connector::{local::LocalConnector, sim::SimConnector, ssh::SshConnector, Connector};
use crate::lock::HostLock;
use std::path::Path;
use std::sync::Arc;

/// Why the host could not be opened, ready to print.
#[derive(Debug)]
pub struct OpenError {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

/// The host, and its lock held for the run (`None` for an in-memory simulator).
pub struct OpenHost {
    pub connector: Arc<dyn Connector>,
    pub lock: Option<HostLock>,
}

/// Prepare the state dir, connect and take the lock. `what` names this run in the lock
/// (`phoenix setup`).
pub fn open(spec: &HostSpec, state_dir: &Path, what: &str) -> Result<OpenHost, OpenError> {
    crate::state_dir::prepare(state_dir).map_err(|e| OpenError {
        message: e.to_string(),
        hint: Some(e.hint().to_string()),
        code: EXIT_INVALID,
    })?;
    let connector = connect(spec, state_dir).map_err(|message| OpenError {
        message: format!("cannot reach the host: {message}"),
        hint: None,
        code: EXIT_FAILED,
    })?;
    let holder = crate::lock::holder_text(what);
    let lock = connector.lock(&holder).map_err(|e| OpenError {
        message: e.to_string(),
        hint: Some(e.hint()),
        code: EXIT_FAILED,
    })?;
    Ok(OpenHost { connector, lock })
}

fn connect(spec: &HostSpec, state_dir: &Path) -> Result<Arc<dyn Connector>, String> {
    Ok(match spec {
        HostSpec::Local => Arc::new(LocalConnector::new()),
        HostSpec::Sim(path) => {
            // The state is saved as the run goes: a folder that is not there would lose it.
            if let Some(dir) = path.as_deref().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(format!(
                        "sim:{}: the folder {} does not exist",
                        path.as_deref().unwrap_or(dir).display(),
                        dir.display()
                    ));
                }
            }
            Arc::new(SimConnector::open(path.as_deref()).map_err(|e| e.to_string())?)
        }
        HostSpec::Ssh(target) => {
            let target = crate::connector::ssh::SshTarget::parse(target).map_err(|e| e.to_string())?;
            let control = state_dir.join("ssh");
            std::fs::create_dir_all(&control).map_err(|e| format!("cannot create {}: {e}", control.display()))?;
            Arc::new(SshConnector::new(&target, &control))
        }
    })
}
