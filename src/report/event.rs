//! Events a run emits. `--output json` prints each as one JSON line; the human renderer turns
//! them into text. Field names are a stable interface for scripts that consume the stream.

use crate::types::Change;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    /// Dry-run: this is what apply would do.
    Planned,
    Done,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        plan: String,
        host: String,
        dry_run: bool,
    },
    /// A heading from the plan (`log::stage("ZFS")`).
    Stage {
        title: String,
    },
    Action {
        change: Change,
        subject: String,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        guest: Option<u32>,
        steps: Vec<String>,
        status: ActionStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Dry-run caveat: part of this action is known only at apply.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// Dry-run: the unified diff of a file this action writes (bounded, secrets masked).
        #[serde(skip_serializing_if = "Option::is_none")]
        diff: Option<String>,
    },
    /// Something already in the desired state.
    Noop {
        subject: String,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        guest: Option<u32>,
    },
    Log {
        level: Level,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        guest: Option<u32>,
    },
    /// A row of a table a plan reports (`status`): the line as laid out, and its data.
    Row {
        text: String,
        row: serde_json::Value,
    },
    /// A guest finished its part of a `graph::walk`.
    GuestFinished {
        guest: u32,
        outcome: String,
        detail: String,
        elapsed_ms: u64,
    },
    RunFinished {
        created: u64,
        updated: u64,
        deleted: u64,
        ran: u64,
        failed: u64,
        unchanged: u64,
        interrupted: bool,
        duration_ms: u64,
        exit_code: i32,
    },
}
