//! A VM made as a full clone of its `clone_from_vmid`, and the config the clone is modelled with.

use super::desired::DesiredVm;
use super::{effect, existing_conf, invalid, render_conf, subject, BOOT_DISK};
use crate::command::Command;
use crate::facts::guest_config::ConfSection;
use crate::facts::guests::{GuestChange, Origin};
use crate::facts::propstring;
use crate::facts::Facts;
use crate::ops::{Action, Change, OpError, Plan};

/// A volume id with its owner renamed for a clone: `base-9000-disk-0` / `vm-9000-disk-0` →
/// `vm-<id>-disk-<n>`.
fn cloned_volume(value: &str, id: u32, n: &mut u32) -> String {
    let vol = value.split(',').next().unwrap_or(value);
    let Some((sid, _)) = vol.split_once(':') else {
        return value.to_string();
    };
    if value.contains("-cloudinit") {
        return format!("{sid}:vm-{id}-cloudinit,media=cdrom");
    }
    if value.contains("media=cdrom") {
        return value.to_string();
    }
    let new = format!("{sid}:vm-{id}-disk-{n}");
    *n += 1;
    value.replacen(vol, &new, 1)
}

const DISK_PREFIXES: [&str; 6] = ["scsi", "virtio", "sata", "ide", "efidisk", "tpmstate"];

pub(super) fn is_disk_key(k: &str) -> bool {
    DISK_PREFIXES
        .iter()
        .any(|p| k.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// What `qm clone --full` gives: the source's config with the new name, no template flag, new
/// MACs (unknown until apply: left out) and disks of its own.
fn cloned_conf(base: &ConfSection, id: u32, name: &str) -> String {
    let mut entries = base.entries.clone();
    for k in ["lock", "parent", "snaptime", "template", "vmstate", "smbios1", "vmgenid", "meta"] {
        entries.shift_remove(k);
    }
    entries.insert("name".into(), name.to_string());
    let mut n = 0;
    for (k, v) in entries.iter_mut() {
        if k.starts_with("net") && k[3..].bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(mut p) = propstring::vm_net(v) {
                p.remove("macaddr");
                *v = propstring::print_vm_net(&p);
            }
        } else if is_disk_key(k) {
            *v = cloned_volume(v, id, &mut n);
        }
    }
    render_conf(&entries)
}

/// The storage of a config's boot disk.
fn disk_storage(sec: &ConfSection) -> Option<String> {
    sec.get(BOOT_DISK).and_then(|v| v.split_once(':')).map(|(s, _)| s.to_string())
}

/// Make the VM exist: a full clone of `clone_from_vmid` (clones of one source run one at a time).
/// An existing VM is left as it is.
pub fn ensure_defined(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    if existing_conf(facts, id)?.is_some() {
        return Ok(Plan::noop(subject(id), "exists"));
    }
    if let Some(other) = facts.guest(id)? {
        return Err(invalid(id, format!("id {id} is taken by a {} on the host", other.kind)));
    }
    let Some(src) = d.clone_from else {
        return Err(invalid(
            id,
            if d.image.is_some() {
                "is a template: it is built by qm::ensure_template"
            } else {
                "declares neither `clone_from_vmid` nor `is_template`"
            },
        ));
    };
    let src_conf = existing_conf(facts, src)?;
    let Some(src_conf) = src_conf.as_ref() else {
        return Err(invalid(id, format!("clone source {src} does not exist yet; converge it first")));
    };
    let base = src_conf.effective();
    let mut cmd = Command::new(["qm", "clone"])
        .arg(src.to_string())
        .arg(id.to_string())
        .arg("--name")
        .arg(d.name.as_str())
        .arg("--full")
        .arg("1");
    // A full clone lands on the source's storage unless the VM declares another one.
    let mut base_for_model = base.clone();
    if let (Some(want), Some(have)) = (d.storage.as_deref(), disk_storage(&base)) {
        if want != have {
            if !facts.storages()?.contains_key(want) {
                return Err(invalid(
                    id,
                    format!(
                        "storage `{want}` does not exist on the host: declare it (a zfs dataset with \
                     proxmox_storage_type) and run `phoenix setup` first"
                    ),
                ));
            }
            cmd = cmd.arg("--storage").arg(want);
            for (k, v) in base_for_model.entries.iter_mut() {
                if is_disk_key(k) && !v.contains("media=cdrom") {
                    *v = v.replacen(&format!("{have}:"), &format!("{want}:"), 1);
                }
            }
        }
    }
    let action = Action::new(Change::Create, subject(id), format!("absent; full clone of {src}"))
        .exec(cmd)
        .effect(effect(
            id,
            GuestChange::Created {
                name: d.name.clone(),
                conf: cloned_conf(&base_for_model, id, &d.name),
                origin: Origin::Clone(src),
            },
        ))
        .serialize_on(format!("clone source {src}"))
        .for_guest(Some(id));
    Ok(Plan::with(subject(id), vec![action]))
}
