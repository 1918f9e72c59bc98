//! Idempotent operations. An op reads facts, compares them with the desired state and yields
//! zero or more [`Action`]s, each with a human reason. Ops do no I/O of their own: facts come
//! through [`crate::facts::Facts`], and the executor runs (or, in dry-run, models) the actions.

pub mod action;
pub mod converged;
pub mod dir;
pub mod exec;
pub mod file;
pub mod firewall_file;
pub mod guest;
pub mod locked_conf;
pub mod lxc;
pub mod lxc_mounts;
pub mod power;
pub mod pvesm;
pub mod qm;
pub mod snapshot;
pub mod zfs;

pub use action::{Action, Change, Effect, Step};

/// SHA-256 of some content, as lowercase hex (content comparisons and script hashes).
pub fn content_digest(content: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(content).iter().map(|b| format!("{b:02x}")).collect()
}

/// One field whose live value differs from the declared one (`status`'s drift column).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diff {
    pub field: String,
    pub live: String,
    pub declared: String,
}

/// What an op decided: the actions to take, or why nothing needs doing.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What the op is about, e.g. `zfs dataset tank/vm`.
    pub subject: String,
    pub actions: Vec<Action>,
    /// Why nothing changes (shown with `-v`), e.g. `exists, properties match`.
    pub noop_reason: String,
}

impl Plan {
    pub fn noop(subject: impl Into<String>, reason: impl Into<String>) -> Self {
        Plan { subject: subject.into(), actions: Vec::new(), noop_reason: reason.into() }
    }

    pub fn with(subject: impl Into<String>, actions: Vec<Action>) -> Self {
        Plan { subject: subject.into(), actions, noop_reason: String::new() }
    }
}

/// An op could not decide (bad desired value, unreadable fact).
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{subject}: {message}")]
    Invalid { subject: String, message: String },
    #[error(transparent)]
    Fact(#[from] crate::facts::FactError),
}
