//! What an action does to the facts: ops attach it to each action, the facts apply it (modelled
//! in a dry-run, forgotten-and-reread or set on apply).

use crate::connector::FileData;
use crate::types::GuestKind;

/// The modelled effect of an action on the facts, so later steps of the same run see the state
/// this action creates (dry-run: instead of running it; apply: instead of re-reading).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A pool (and its root dataset, mounted at /<pool>) now exists.
    ZfsPool { name: String },
    /// A dataset now exists with these (normalised) local properties.
    ZfsDataset { name: String, properties: Vec<(String, String)> },
    /// These properties of an existing dataset now have these values.
    ZfsProperties { name: String, properties: Vec<(String, String)> },
    /// A storage definition now reads like this (`None` = removed).
    Storage { id: String, def: Option<super::pvesm::StorageDef> },
    /// A host file now reads like this (`None` = removed).
    File { path: String, data: Option<FileData> },
    /// Something about a guest changed.
    Guest { kind: GuestKind, id: u32, change: super::guests::GuestChange },
    /// No fact changes (or none phoenix reads back).
    Nothing,
}
