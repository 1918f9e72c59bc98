//! Whether a guest is a container or a virtual machine: the graph, the fact readers and the
//! ops all key guests by it.

use std::fmt;

/// Whether a guest is a container (`pct`) or a virtual machine (`qm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    Lxc,
    Vm,
}

impl fmt::Display for GuestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            GuestKind::Lxc => "lxc",
            GuestKind::Vm => "vm",
        })
    }
}
