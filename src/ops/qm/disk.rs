//! The boot disk grown to `disk_size_gb` (disks only grow).

use super::desired::DesiredVm;
use super::{effect, existing_conf, invalid, subject, BOOT_DISK};
use crate::command::Command;
use crate::facts::guests::GuestChange;
use crate::facts::propstring::{self, PropString};
use crate::facts::Facts;
use crate::ops::{Action, Change, OpError, Plan};

/// Grow the boot disk to `disk_size_gb` (never shrinks: qm cannot).
pub fn ensure_disk_size(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    let subj = format!("{} {BOOT_DISK}", subject(id));
    let Some(gb) = d.disk_gb else {
        return Ok(Plan::noop(subj, "no disk_size_gb declared"));
    };
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; define it first"));
    };
    let Some(value) = conf.get(BOOT_DISK) else {
        return Err(invalid(id, format!("has no {BOOT_DISK} disk to grow")));
    };
    let mut p = PropString::parse(&value, Some("file")).map_err(|e| invalid(id, format!("{BOOT_DISK}: {e}")))?;
    let cur = p.get("size").map(str::to_string);
    let want = u64::from(gb) << 30;
    if let Some(bytes) = cur.as_deref().and_then(propstring::parse_size) {
        if bytes >= want {
            return Ok(Plan::noop(subj, format!("{} (≥ {gb}G; disks only grow)", cur.as_deref().unwrap_or("?"))));
        }
    }
    p.set("size", format!("{gb}G"));
    let vol = value.split(',').next().unwrap_or("").to_string();
    let rest: Vec<String> = p.iter().filter(|(k, _)| *k != "file").map(|(k, v)| format!("{k}={v}")).collect();
    let mut stored = vol;
    for r in rest {
        stored.push(',');
        stored.push_str(&r);
    }
    let action =
        Action::new(Change::Update, subj.clone(), format!("size {} → {gb}G", cur.as_deref().unwrap_or("unknown")))
            .exec(Command::new(["qm", "disk", "resize"]).arg(id.to_string()).arg(BOOT_DISK).arg(format!("{gb}G")))
            .effect(effect(id, GuestChange::Set { set: vec![(BOOT_DISK.into(), stored)], delete: Vec::new() }))
            .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}
