//! The simulated Proxmox VE host (`--host sim[:state.json]`): a typed model of a node that
//! answers `pct`, `qm`, `zfs`, `zpool`, `pvesm`, `pvesh` and `pve-firewall` byte-for-byte like
//! the real tools (see the contracts reference), plus host and guest files. A product feature
//! (offline rehearsal), the test double and the benchmark bed.
//!
//! It is an independent witness: this crate does not depend on phoenix, and every parser and
//! printer here (property strings, config files, sizes, text escapes, tables) is written from
//! the Proxmox and OpenZFS contracts, so a test passes only when phoenix and the real tools
//! agree. The interface: [`SimHost`] (state in memory or a JSON file, `exec` an argv with stdin
//! → [`SimOutput`], host file reads/writes, the command log with its read/mutating
//! classification), [`SimState`] (the typed model, latency and fault injection included).

mod archive;
mod args;
mod batch;
mod catalogue;
mod cfs_lock;
mod classify;
mod cloudinit;
mod conf;
mod dispatch;
mod error;
mod faults;
mod file;
mod files;
mod firewall;
mod flock;
mod guest;
mod host;
mod host_dirs;
mod host_services;
mod inside;
mod interleave;
mod latency;
mod lifecycle;
mod mounts;
mod nfs;
mod nginx;
mod openssl;
mod output;
mod pct;
pub mod portainer;
mod propstring;
mod pvesh;
mod pvesm;
mod qm;
mod rename;
mod reply;
mod scripts;
mod services;
mod size;
mod smallstep;
mod stack_deploy;
mod state;
mod table;
mod template;
mod text;
mod volumes;
mod x509;
mod zfs;

pub use cfs_lock::{cfs_lock_held, seed_cfs_lock};
pub use classify::is_mutating;
pub use error::SimError;
pub use file::{FileData, FileWrite};
pub use firewall::{compile_warnings, gui_text, seed_firewall_file, GuiFirewall, GuiSet};
pub use host::{LoggedCommand, SimHost};
pub use output::SimOutput;
pub use services::{ServiceInfo, ServiceKind, TlsFiles};
pub use state::{
    write_atomically, Account, Dataset, DatasetKind, DirMeta, Fault, Guest, GuestImage, GuestKind, GuestOs,
    InterleavedEdit, Pool, PowerState, ScriptRun, SimState, Snapshot, Storage, Unit,
};
