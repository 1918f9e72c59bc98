//! What can be wrong with a set of guests or a target list.

use super::EdgeReason;

/// What can be wrong with a set of guests or a target list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    /// A guest (transitively) needs itself. `path` starts and ends with the same id.
    #[error("dependency cycle: {}", join_path(path))]
    #[diagnostic(
        code(phoenix::graph::cycle),
        help("each arrow means \"needs\"; remove one of the dependencies or clone sources on this path")
    )]
    Cycle { path: Vec<u32> },

    /// An edge points at an id that no configuration file declares.
    #[error("guest {from} has {reason} {to}, but no guest {to} is declared")]
    #[diagnostic(
        code(phoenix::graph::unknown_guest),
        help("declare guest {to} in phoenix_lxc_configs.json or phoenix_vm_configs.json, or fix the id")
    )]
    UnknownGuest { from: u32, to: u32, reason: EdgeReason },

    /// A target given on the command line or by a plan is not a declared guest.
    #[error("guest {id} is not declared")]
    #[diagnostic(code(phoenix::graph::unknown_target), help("run `phoenix graph` to list the declared guests"))]
    UnknownTarget { id: u32 },

    /// The same id is used by two guests (two CTs, two VMs, or a CT and a VM).
    #[error("guest id {id} is declared more than once")]
    #[diagnostic(
        code(phoenix::graph::duplicate_id),
        help("Proxmox ids are shared by containers and VMs; give each guest its own id")
    )]
    DuplicateId { id: u32 },
}

fn join_path(path: &[u32]) -> String {
    path.iter().map(u32::to_string).collect::<Vec<_>>().join(" → ")
}
