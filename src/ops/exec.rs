//! Imperative host commands (`exportfs -ra`, `pve-firewall compile`). They have no "already
//! done" check of their own, so they show as "always runs" (`▶`); plans guard them with the
//! result of an ensure (`if r.changed { … }`) so an unchanged host runs nothing.

use super::{Action, Change, OpError, Plan};
use crate::command::Command;

pub fn run_command(argv: &[String], reason: &str) -> Result<Plan, OpError> {
    if argv.is_empty() || argv[0].is_empty() {
        return Err(OpError::Invalid { subject: "host command".into(), message: "the command is empty".into() });
    }
    let cmd = Command::new(argv.iter().cloned());
    let subject = format!("run {}", argv[0]);
    let action = Action::new(Change::Run, subject.clone(), reason).exec(cmd);
    Ok(Plan::with(subject, vec![action]))
}
