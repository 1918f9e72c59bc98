//! The simulated Proxmox VE host (`--host sim[:state.json]`): a typed model of a node that
//! answers `pct`, `qm`, `zfs`, `zpool`, `pvesm`, `pvesh` and `pve-firewall` byte-for-byte like
//! the real tools (see the contracts reference), plus host and guest files. A product feature
//! (offline rehearsal), the test double and the benchmark bed.

mod archive;
mod args;
mod catalogue;
mod classify;
mod cloudinit;
mod conf;
mod dispatch;
mod error;
mod faults;
mod files;
mod firewall;
mod flock;
mod guest;
mod host;
mod host_dirs;
mod inside;
mod latency;
mod lifecycle;
mod mounts;
mod nfs;
mod openssl;
mod pct;
mod pvesh;
mod pvesm;
mod qm;
mod reply;
mod scripts;
mod smallstep;
mod state;
mod table;
mod template;
mod volumes;
mod zfs;

pub use classify::is_mutating;
pub use error::SimError;
pub use host::{LoggedCommand, SimHost};
pub use state::{
    write_atomically, Account, Dataset, DatasetKind, DirMeta, Fault, Guest, GuestImage, GuestKind, GuestOs, Pool,
    PowerState, ScriptRun, SimState, Snapshot, Storage, Unit,
};
