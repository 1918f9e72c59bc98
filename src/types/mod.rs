//! Value types (and small pure helpers) shared by several layers, so that no lower layer has to name a higher one
//! (tests/it/layers.rs). One concept per file; nothing here uses another module of the crate.

mod change;
pub mod global_flags;
mod guest_kind;
pub mod ssh_env;
pub mod suggest;

pub use change::Change;
pub use guest_kind::GuestKind;
