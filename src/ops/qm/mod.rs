//! QEMU virtual machines: the desired `qm` configuration derived from the inventory, and the ops
//! that bring a VM to it, one concept per file — the desired VM (`desired`), a template built
//! from a cloud image and never started (`template`), a full clone (`clone`), the configuration
//! (`config`), the boot disk (`disk`) and the readiness probes (`readiness`). Power, snapshots
//! and destroy are the same for both guest kinds (`ops::power`, `ops::snapshot`,
//! `ops::guest::destroy`). The order of the steps is the plan's (`stdlib/vm.rhai`).

mod clone;
mod config;
mod desired;
mod disk;
mod readiness;
mod template;
#[cfg(test)]
mod tests;

pub use clone::ensure_defined;
pub use config::{ensure_config, ConfigPlan};
pub use desired::{agent_user_data, desired, CloudImage, DesiredVm};
pub use disk::ensure_disk_size;
pub use readiness::{agent_ping, cloud_init_status, parse_cloud_init_status, CloudInit};
pub use template::{
    check_template_storages, ensure_image, ensure_template_cloud_init, ensure_template_defined, ensure_template_disks,
    ensure_templated,
};

use super::{Effect, OpError};
use crate::facts::guests::{GuestChange, GuestConf};
use crate::facts::Facts;
use crate::graph::GuestKind;

const KIND: GuestKind = GuestKind::Vm;

/// Where Proxmox keeps ISO and cloud images (the `local` storage's `iso` content).
pub const ISO_DIR: &str = "/var/lib/vz/template/iso";
/// The storage whose `snippets/` holds cloud-init user-data, and its directory on the host.
pub const SNIPPET_STORAGE: &str = "local";
pub const SNIPPET_DIR: &str = "/var/lib/vz/snippets";
/// The disk phoenix boots VMs from and grows.
pub const BOOT_DISK: &str = "scsi0";

fn subject(id: u32) -> String {
    format!("vm {id}")
}

fn invalid(id: u32, message: impl Into<String>) -> OpError {
    OpError::Invalid { subject: subject(id), message: message.into() }
}

fn effect(id: u32, change: GuestChange) -> Effect {
    Effect::Guest { kind: KIND, id, change }
}

fn bool01(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}
/// The config text a modelled guest gets: sorted `key: value` lines, as qemu-server writes them.
fn render_conf(entries: &indexmap::IndexMap<String, String>) -> String {
    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    keys.iter().map(|k| format!("{k}: {}\n", entries[*k])).collect()
}

fn existing_conf(facts: &Facts, id: u32) -> Result<std::sync::Arc<Option<GuestConf>>, OpError> {
    Ok(facts.guest_conf(KIND, id)?)
}
