//! Power for both guest kinds, one implementation: start, shut down, reboot. The commands
//! differ only in the tool (`pct`/`qm`); the grace periods are defined here and nowhere else.

use super::guest::{guest_subject, tool};
use super::{Action, Change, Effect, OpError, Plan};
use crate::command::Command;
use crate::facts::guests::{GuestChange, Power};
use crate::facts::Facts;
use crate::graph::GuestKind;

/// How long `<tool> shutdown` waits for the guest to stop by itself before it is stopped hard
/// (`--forceStop 1`). A VM shuts down through ACPI and its whole OS, a container only stops its
/// processes, so a VM gets longer.
pub fn shutdown_timeout_s(kind: GuestKind) -> u32 {
    match kind {
        GuestKind::Lxc => 60,
        GuestKind::Vm => 120,
    }
}

/// `<tool> shutdown <id> --timeout <grace> --forceStop 1`: a clean shutdown that cannot hang.
pub fn shutdown_command(kind: GuestKind, id: u32) -> Command {
    Command::new([tool(kind), "shutdown"])
        .arg(id.to_string())
        .arg("--timeout")
        .arg(shutdown_timeout_s(kind).to_string())
        .args(["--forceStop", "1"])
}

fn invalid(kind: GuestKind, id: u32, message: &str) -> OpError {
    OpError::Invalid { subject: guest_subject(kind, id), message: message.to_string() }
}

fn word(p: Power) -> &'static str {
    if p == Power::Running {
        "running"
    } else {
        "stopped"
    }
}

/// Start the guest unless it runs (`<tool> start`), or shut it down unless it is stopped. A
/// Proxmox template (`template: 1`) is never started: Proxmox refuses it, and phoenix says so
/// before the first command.
pub fn ensure_power(facts: &Facts, kind: GuestKind, id: u32, running: bool) -> Result<Plan, OpError> {
    let Some(g) = facts.guests(kind)?.get(&id).cloned() else {
        return Err(invalid(kind, id, "does not exist"));
    };
    let subj = format!("{} power", guest_subject(kind, id));
    if running && facts.guest_conf(kind, id)?.as_ref().as_ref().is_some_and(|c| c.is_template()) {
        return Err(invalid(kind, id, "is a template; templates are never started"));
    }
    let want = if running { Power::Running } else { Power::Stopped };
    if g.power == want {
        return Ok(Plan::noop(subj, word(want)));
    }
    let (cmd, from) = if running {
        (Command::new([tool(kind), "start"]).arg(id.to_string()), "stopped")
    } else {
        (shutdown_command(kind, id), "running")
    };
    let action = Action::new(Change::Update, subj.clone(), format!("{from} → {}", word(want)))
        .exec(cmd)
        .effect(Effect::Guest { kind, id, change: GuestChange::Power(want) })
        .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}

/// Reboot a running guest so pending changes apply (`<tool> reboot`); a stopped one picks them
/// up at its next start.
pub fn restart(facts: &Facts, kind: GuestKind, id: u32, reason: &str) -> Result<Plan, OpError> {
    let subj = format!("{} restart", guest_subject(kind, id));
    match facts.guests(kind)?.get(&id) {
        Some(g) if g.power == Power::Running => {
            let action = Action::new(Change::Run, subj.clone(), reason)
                .exec(Command::new([tool(kind), "reboot"]).arg(id.to_string()))
                .effect(Effect::Guest { kind, id, change: GuestChange::Power(Power::Running) })
                .for_guest(Some(id));
            Ok(Plan::with(subj, vec![action]))
        }
        Some(_) => Ok(Plan::noop(subj, "not running: changes apply at the next start")),
        None => Err(invalid(kind, id, "does not exist")),
    }
}
