//! Actions: the unit the executor runs, reports and journals.

use crate::command::Command;
use crate::connector::FileWrite;
use serde::Serialize;

/// Defined in the leaf `types`: the reporter (a lower layer) shows it too.
pub use crate::types::Change;

/// One thing the host must do for an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Exec {
        command: Command,
    },
    /// A command inside a guest (`pct exec` / `qm guest exec`): success is the inner command's
    /// exit code, which for VMs comes in `qm`'s JSON answer.
    Guest {
        kind: crate::graph::GuestKind,
        id: u32,
        command: Command,
    },
    WriteFile {
        path: String,
        file: FileWrite,
    },
    /// Copy a file from one guest into another, reading it when the step runs.
    CopyFromGuest {
        source: crate::ops::guest::GuestSource,
        target: crate::ops::guest::GuestTarget,
    },
    RemoveFile {
        path: String,
    },
    /// An HTTP request that changes something (POST/PUT/DELETE), sent by the executor.
    Http {
        call: crate::http::Call,
    },
}

impl Step {
    /// A one-line rendering for output and the journal (file content omitted, secrets masked).
    pub fn describe(&self) -> String {
        match self {
            Step::Exec { command } | Step::Guest { command, .. } => command.to_string(),
            // No size: an edited file (a guest's conf) may hold host lines a dry-run cannot
            // know, and the description must read the same in dry-run and apply.
            Step::WriteFile { path, file } => format!(
                "write {path} (mode {:04o}{})",
                file.mode,
                match (&file.owner, &file.group) {
                    (Some(o), Some(g)) => format!(", owner {o}:{g}"),
                    (Some(o), None) => format!(", owner {o}"),
                    (None, Some(g)) => format!(", group {g}"),
                    (None, None) => String::new(),
                }
            ),
            Step::RemoveFile { path } => format!("remove {path}"),
            Step::Http { call } => call.describe(),
            Step::CopyFromGuest { source, target } => {
                format!(
                    "copy {}:{} to {}:{} (mode {:04o})",
                    source.id, source.path, target.id, target.path, target.mode
                )
            }
        }
    }
}

/// Defined with the facts that apply it (a lower layer than ops).
pub use crate::facts::effect::Effect;

/// A change the executor will make, with the reason it is needed.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub change: Change,
    /// What is changed: `zfs dataset tank/vm`, `file /etc/exports`.
    pub subject: String,
    /// Why: `absent`, `compression: off → lz4`.
    pub reason: String,
    /// The guest this action belongs to, for grouping and failure containment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest: Option<u32>,
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub effect: Effect,
    /// Actions with the same key never run at the same time (clones of one source: Proxmox
    /// locks the source during a clone, so parallel clones would only fight over the lock).
    #[serde(skip)]
    pub serialize_on: Option<String>,
    /// A dry-run caveat, e.g. a check whose answer is known only at apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For an action that writes a file: its content before and after, for the dry-run's diff.
    #[serde(skip)]
    pub content_change: Option<ContentChange>,
}

/// A file's content before (`None`: absent) and after an action, and the mode it is written
/// with (a private file's content is never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentChange {
    pub path: String,
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
    pub mode: u32,
}

impl Action {
    /// The guests this action works inside or on (commands in a guest, a copy into it, its
    /// modelled effect): what it read there before may no longer hold once it ran.
    pub fn guests_acted_on(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Guest { id, .. } => Some(*id),
                Step::CopyFromGuest { target, .. } => Some(target.id),
                _ => None,
            })
            .collect();
        if let Effect::Guest { id, .. } = &self.effect {
            ids.push(*id);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn new(change: Change, subject: impl Into<String>, reason: impl Into<String>) -> Self {
        Action {
            change,
            subject: subject.into(),
            reason: reason.into(),
            guest: None,
            steps: Vec::new(),
            effect: Effect::Nothing,
            serialize_on: None,
            note: None,
            content_change: None,
        }
    }

    /// Record the content this action replaces and writes (shown as a diff in a dry-run).
    pub fn content_change(mut self, path: &str, old: Option<&[u8]>, new: &[u8], mode: u32) -> Self {
        self.content_change =
            Some(ContentChange { path: path.to_string(), old: old.map(<[u8]>::to_vec), new: new.to_vec(), mode });
        self
    }

    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    pub fn exec(self, command: Command) -> Self {
        self.step(Step::Exec { command })
    }

    pub fn effect(mut self, effect: Effect) -> Self {
        self.effect = effect;
        self
    }

    pub fn serialize_on(mut self, key: impl Into<String>) -> Self {
        self.serialize_on = Some(key.into());
        self
    }

    pub fn for_guest(mut self, guest: Option<u32>) -> Self {
        self.guest = guest;
        self
    }
}
