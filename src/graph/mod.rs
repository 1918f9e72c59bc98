//! The guest graph: one node per declared guest (LXC or VM), one edge per reason a guest needs
//! another one first (`dependencies`, `clone_from_ctid`, `clone_from_vmid`).
//!
//! Direction convention, used by every function and rendering here: an edge goes from the guest
//! that *needs* to the guest it needs (its prerequisite). `edges()` returns `(guest, prerequisite,
//! reason)`, JSON edges are `{"from": guest, "to": prerequisite}`, and Mermaid/Dot arrows point
//! from the guest to its prerequisite.
//!
//! When a guest both depends on and clones from the same guest, both reasons are kept as two
//! parallel edges, so a rendering can say "needs 900 (clone source), 900 (dependency)" and no
//! reason is silently lost. Repeating the same (prerequisite, reason) pair is collapsed to one edge.
//!
//! Every output is deterministic: nodes sorted by id, edges by (id, reason), topological ties
//! broken by ascending id, so plans, dry-runs and pinned tests never depend on hash order.

mod cycles;
mod edge;
mod error;
mod guest_graph;
mod node;
mod render;
#[cfg(test)]
mod tests;

pub use edge::{EdgeReason, FeatureNeedEdge};
pub use error::GraphError;
pub use guest_graph::GuestGraph;
pub use node::GuestNode;
pub use render::GraphFormat;

/// Defined in the leaf `types`: the fact readers (a lower layer) key guests by it too.
pub use crate::types::GuestKind;
