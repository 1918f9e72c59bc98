//! Why a guest needs another guest first: the reason each edge of the graph remembers.

use std::fmt;

/// Why a guest needs another guest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EdgeReason {
    /// Listed in the guest's `dependencies`.
    Dependency,
    /// The guest is cloned from it (`clone_from_ctid` / `clone_from_vmid`).
    CloneSource,
    /// One of the guest's features needs a guest with another feature (the feature module's
    /// `meta().needs_guest_with`), e.g. `trusted_ca` copies the root of the guest with `step_ca`.
    Feature(FeatureNeedEdge),
}

/// The feature that made an edge, and what it needs from the other guest (both from the
/// feature module's `meta()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeatureNeedEdge {
    /// The feature of the guest that needs the other one (`trusted_ca`).
    pub feature: std::sync::Arc<str>,
    /// What the other guest provides, as a noun phrase (`the lab CA`).
    pub why: std::sync::Arc<str>,
}

impl EdgeReason {
    /// A feature's need of another guest, e.g. `EdgeReason::feature("trusted_ca", "the lab CA")`.
    pub fn feature(feature: &str, why: &str) -> EdgeReason {
        EdgeReason::Feature(FeatureNeedEdge { feature: feature.into(), why: why.into() })
    }

    /// Clone sources sort before plain dependencies: the clone is what creates the guest, so it
    /// is the most important thing to show first. Needs of features come last, by feature name.
    pub(super) fn rank(&self) -> (u8, &str) {
        match self {
            EdgeReason::CloneSource => (0, ""),
            EdgeReason::Dependency => (1, ""),
            EdgeReason::Feature(f) => (2, &f.feature),
        }
    }
}

impl fmt::Display for EdgeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdgeReason::Dependency => f.pad("dependency"),
            EdgeReason::CloneSource => f.pad("clone source"),
            EdgeReason::Feature(n) => f.pad(&format!("{} for {}", n.why, n.feature)),
        }
    }
}

/// Serialized as its display text (`"clone source"`, `"the lab CA for trusted_ca"`), the same
/// words `phoenix graph` prints.
impl serde::Serialize for EdgeReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Drops repeated (prerequisite, reason) pairs and sorts the rest for stable output.
pub(super) fn normalized_edges(edges: &[(u32, EdgeReason)]) -> Vec<(u32, EdgeReason)> {
    let mut out: Vec<(u32, EdgeReason)> = edges.to_vec();
    out.sort_by(|a, b| (a.0, a.1.rank()).cmp(&(b.0, b.1.rank())));
    out.dedup();
    out
}
