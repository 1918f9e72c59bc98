//! One guest as the graph sees it.

use super::{EdgeReason, GuestKind};

/// One guest as the graph sees it. `edges` lists what this guest needs: `(prerequisite id, why)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestNode {
    pub id: u32,
    pub kind: GuestKind,
    pub name: String,
    pub edges: Vec<(u32, EdgeReason)>,
}
