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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::sim::SimConnector;
    use phoenix_sim::{SimHost, SimState};
    use std::sync::Arc;

    /// A simulator holding a running container 101 (a Proxmox template when `template`) and a
    /// stopped VM 1001.
    fn facts(template: bool) -> Facts {
        let h = Arc::new(SimHost::new(SimState::default()));
        h.with_state(|s| {
            let mut ct = phoenix_sim::Guest::new(phoenix_sim::GuestKind::Lxc);
            ct.config.insert("hostname".into(), "a".into());
            if template {
                ct.config.insert("template".into(), "1".into());
            } else {
                ct.status = phoenix_sim::PowerState::Running;
            }
            s.guests.insert(101, ct);
            let mut vm = phoenix_sim::Guest::new(phoenix_sim::GuestKind::Qemu);
            vm.config.insert("name".into(), "b".into());
            s.guests.insert(1001, vm);
        });
        Facts::new(Arc::new(SimConnector::from_host(h)), false)
    }

    fn shown(p: &Plan) -> Vec<String> {
        p.actions.iter().map(|a| a.steps.iter().map(|s| s.describe()).collect::<Vec<_>>().join(" ; ")).collect()
    }

    #[test]
    fn one_shutdown_for_both_kinds_with_the_grace_defined_here() {
        assert_eq!(shutdown_command(GuestKind::Lxc, 101).to_string(), "pct shutdown 101 --timeout 60 --forceStop 1");
        assert_eq!(shutdown_command(GuestKind::Vm, 1001).to_string(), "qm shutdown 1001 --timeout 120 --forceStop 1");
    }

    #[test]
    fn power_and_restart_are_the_same_op_for_both_kinds() {
        let f = facts(false);
        assert_eq!(
            shown(&ensure_power(&f, GuestKind::Lxc, 101, false).unwrap()),
            ["pct shutdown 101 --timeout 60 --forceStop 1"]
        );
        assert_eq!(shown(&ensure_power(&f, GuestKind::Vm, 1001, true).unwrap()), ["qm start 1001"]);
        assert!(ensure_power(&f, GuestKind::Lxc, 101, true).unwrap().actions.is_empty());
        assert_eq!(shown(&restart(&f, GuestKind::Lxc, 101, "x").unwrap()), ["pct reboot 101"]);
        assert!(restart(&f, GuestKind::Vm, 1001, "x").unwrap().actions.is_empty(), "a stopped VM is not rebooted");
        assert!(ensure_power(&f, GuestKind::Vm, 4242, true)
            .unwrap_err()
            .to_string()
            .contains("vm 4242: does not exist"));
        // A Proxmox template is never started, whichever kind.
        let f = facts(true);
        assert!(ensure_power(&f, GuestKind::Lxc, 101, true).unwrap_err().to_string().contains("ct 101: is a template"));
    }
}
