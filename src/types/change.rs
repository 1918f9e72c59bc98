//! The kind of change an action makes: ops decide it, the reporter and journal show it.

use serde::Serialize;

/// The kind of change, one glyph each in human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Create,
    Update,
    Delete,
    /// Imperative work that has no "already done" check (shown as "always runs").
    Run,
}

impl Change {
    pub fn glyph(self) -> &'static str {
        match self {
            Change::Create => "+",
            Change::Update => "~",
            Change::Delete => "-",
            Change::Run => "▶",
        }
    }
}
