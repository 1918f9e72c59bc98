//! Snapshots for both guest kinds, one implementation: taken once by name, never recreated.

use super::guest::{guest_subject, tool};
use super::{Action, Change, Effect, OpError, Plan};
use crate::command::Command;
use crate::facts::guests::GuestChange;
use crate::facts::Facts;
use crate::graph::GuestKind;

/// Take snapshot `name` (`<tool> snapshot <id> <name>`) unless one of that name exists. A
/// Proxmox template takes none (its disks are base volumes).
pub fn ensure_snapshot(facts: &Facts, kind: GuestKind, id: u32, name: &str) -> Result<Plan, OpError> {
    let conf = facts.guest_conf(kind, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(OpError::Invalid { subject: guest_subject(kind, id), message: "does not exist".into() });
    };
    let subj = format!("{} snapshot {name}", guest_subject(kind, id));
    if conf.file.snapshots.contains_key(name) {
        return Ok(Plan::noop(subj, "exists"));
    }
    if conf.is_template() {
        return Err(OpError::Invalid {
            subject: guest_subject(kind, id),
            message: format!("is a template; templates take no snapshots (`{name}`)"),
        });
    }
    let action = Action::new(Change::Create, subj.clone(), "absent")
        .exec(Command::new([tool(kind), "snapshot"]).arg(id.to_string()).arg(name))
        .effect(Effect::Guest { kind, id, change: GuestChange::Snapshot(name.to_string()) })
        .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}

/// Whether the guest has a snapshot of this name (false when it does not exist).
pub fn has_snapshot(facts: &Facts, kind: GuestKind, id: u32, name: &str) -> Result<bool, OpError> {
    Ok(facts.guest_conf(kind, id)?.as_ref().as_ref().is_some_and(|c| c.file.snapshots.contains_key(name)))
}
