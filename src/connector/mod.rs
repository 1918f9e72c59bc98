//! Connectors: how phoenix reaches a host. Every command is an argv vector; file writes are
//! atomic (temp file in the same directory, then rename) and keep the requested mode and owner.

pub mod local;
mod route;
pub mod sim;
mod sim_save;
pub mod ssh;

use crate::command::{Command, Output};
pub use route::Route;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A file as read from a host: content plus the metadata phoenix manages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileData {
    #[serde(with = "crate::connector::bytes_as_text")]
    pub content: Vec<u8>,
    /// Permission bits, e.g. 0o644.
    pub mode: u32,
    /// Owner user name (numeric id as text when the name is unknown).
    pub owner: String,
    /// Owner group name (numeric id as text when the name is unknown).
    pub group: String,
}

/// A file to write: content, mode and ownership. `owner`/`group` of `None` leave the
/// connector's default (the connecting user) in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWrite {
    #[serde(with = "crate::connector::bytes_as_text")]
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("could not start `{program}` on {host}: {source}")]
    Spawn { host: String, program: String, source: std::io::Error },
    #[error("{host}: {op} {path}: {message}")]
    File { host: String, op: &'static str, path: String, message: String },
    #[error("{host}: {message}")]
    Connection { host: String, message: String },
    /// The connection went away while `command` ran: whether it finished is unknown, and the
    /// connector runs nothing after it (the run stops there).
    #[error("connection to {host} lost while running `{command}`: {message}")]
    Lost { host: String, command: String, message: String },
    #[error("interrupted")]
    Interrupted,
}

/// The host phoenix drives. Implementations must be callable from several threads at once
/// (guests are converged in parallel).
pub trait Connector: Send + Sync {
    /// How the host is named in messages: `local`, `ssh://root@pve:22`, `sim`.
    fn describe(&self) -> String;

    /// Run a command and wait for it. A non-zero exit is an `Ok(Output)`, not an error:
    /// callers decide what a failure means. `Err` is reserved for "could not run at all".
    fn run(&self, cmd: &Command) -> Result<Output, ConnectorError>;

    /// Read a host file; `Ok(None)` when it does not exist.
    fn read_file(&self, path: &str) -> Result<Option<FileData>, ConnectorError>;

    /// Write a host file atomically, creating parent directories.
    fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), ConnectorError>;

    /// Remove a host file; `Ok(false)` when it did not exist.
    fn remove_file(&self, path: &str) -> Result<bool, ConnectorError>;

    /// Take the host's run lock for the whole run (see `crate::lock`), naming `holder` for a
    /// second run to print. `None`: nothing to lock (an in-memory simulator is private to this
    /// process). For a remote host this is also the up-front connection: an unreachable host
    /// fails here, before any plan runs.
    fn lock(&self, holder: &str) -> Result<Option<crate::lock::HostLock>, crate::lock::LockError>;

    /// A way to `host:port` on the host's network (an HTTP API on a guest): direct by default;
    /// SSH forwards a local port over its control master; the simulator starts its Portainer.
    fn reach(&self, _host: &str, _port: u16) -> Result<Route, ConnectorError> {
        Ok(Route::direct())
    }

    /// Called once at the end of a run (close a multiplexed ssh master, persist sim state).
    fn finish(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

impl fmt::Debug for dyn Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connector({})", self.describe())
    }
}

/// File content is stored as text in JSON when it is UTF-8 (readable sim state files), as
/// `{"base64": …}`-free hex otherwise.
pub(crate) mod bytes_as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(v) {
            // Text that itself starts with the marker is hex-encoded too, so reading is unambiguous.
            Ok(text) if !text.starts_with("hex:") => s.serialize_str(text),
            _ => s.serialize_str(&format!("hex:{}", hex(v))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if let Some(h) = text.strip_prefix("hex:") {
            unhex(h).ok_or_else(|| serde::de::Error::custom("invalid hex file content"))
        } else {
            Ok(text.into_bytes())
        }
    }

    fn hex(v: &[u8]) -> String {
        v.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(h: &str) -> Option<Vec<u8>> {
        if !h.len().is_multiple_of(2) {
            return None;
        }
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
    }
}
