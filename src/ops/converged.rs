//! The convergence record: proof, kept on the guest, that its last converge finished for the
//! declared configuration it has now. `create` trusts an existing guest (only its configuration
//! is re-checked) when the record matches; a guest whose converge stopped half-way (a failed
//! feature) or whose declaration changed since has no matching record and is converged fully.
//!
//! Where it lives: one line of the guest's Proxmox `description` (the `#` lines at the top of
//! its conf file, the "Notes" in the web UI), e.g. `phoenix-converged: 101 sha256:ab12…`.
//! - It is read with the conf phoenix already reads for every guest: a converged host costs no
//!   extra command (a file inside the guest would need a `pct exec`/agent call per guest, and a
//!   running guest).
//! - `pct clone`/`qm clone` copy the description, so a clone would inherit its source's record.
//!   The line therefore names the guest id it was written for, and a record naming another id is
//!   no record: a clone is always converged fully once. (The hash alone would differ too, since
//!   it covers the inventory entry with its id; the id makes the rule explicit and visible.)
//! - The operator's own notes in the description are kept; only phoenix's line is replaced.

use super::{Action, Change, Effect, OpError, Plan};
use crate::command::Command;
use crate::facts::guests::GuestChange;
use crate::facts::Facts;
use crate::graph::GuestKind;

/// The start of phoenix's line in a guest description.
pub const MARKER: &str = "phoenix-converged:";

fn subject(kind: GuestKind, id: u32) -> String {
    match kind {
        GuestKind::Lxc => format!("ct {id} convergence record"),
        GuestKind::Vm => format!("vm {id} convergence record"),
    }
}

/// The record line for a guest and the hash of its declaration.
pub fn record_line(id: u32, hash: &str) -> String {
    format!("{MARKER} {id} sha256:{hash}")
}

/// The hash recorded for `id` in a description, if a record for this very guest is there. A
/// record naming another id (inherited by a clone) does not count.
pub fn recorded_hash(description: Option<&str>, id: u32) -> Option<String> {
    description?.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(MARKER)?;
        let mut words = rest.split_whitespace();
        let rec_id: u32 = words.next()?.parse().ok()?;
        let hash = words.next()?.strip_prefix("sha256:")?;
        (rec_id == id && words.next().is_none()).then(|| hash.to_string())
    })
}

/// The description with phoenix's line set to `line` (replacing any earlier one, an inherited
/// one included) and every other line kept in order.
pub fn with_record(description: Option<&str>, line: &str) -> String {
    let mut lines: Vec<&str> = description.unwrap_or("").lines().filter(|l| !l.trim().starts_with(MARKER)).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines.push(line);
    lines.join("\n")
}

/// Whether the guest holds a record of a finished converge for this declaration hash.
pub fn is_converged(facts: &Facts, kind: GuestKind, id: u32, hash: &str) -> Result<bool, OpError> {
    let conf = facts.guest_conf(kind, id)?;
    Ok(conf
        .as_ref()
        .as_ref()
        .is_some_and(|c| recorded_hash(c.file.main.description().as_deref(), id).as_deref() == Some(hash)))
}

/// Write the record (`pct set`/`qm set <id> --description …`) unless it is there already.
pub fn ensure_record(facts: &Facts, kind: GuestKind, id: u32, hash: &str) -> Result<Plan, OpError> {
    let subj = subject(kind, id);
    let conf = facts.guest_conf(kind, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(OpError::Invalid { subject: subj, message: "does not exist".into() });
    };
    let current = conf.file.main.description();
    if recorded_hash(current.as_deref(), id).as_deref() == Some(hash) {
        return Ok(Plan::noop(subj, "records this configuration"));
    }
    let reason = match recorded_hash(current.as_deref(), id) {
        Some(_) => "declared configuration changed since the last converge",
        None => "first complete converge of this guest",
    };
    let description = with_record(current.as_deref(), &record_line(id, hash));
    let tool = match kind {
        GuestKind::Lxc => "pct",
        GuestKind::Vm => "qm",
    };
    let action = Action::new(Change::Update, subj.clone(), reason)
        .exec(Command::new([tool, "set"]).arg(id.to_string()).arg("--description").arg(description.as_str()))
        .effect(Effect::Guest {
            kind,
            id,
            change: GuestChange::Set { set: vec![("description".into(), description.clone())], delete: Vec::new() },
        })
        .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_counts_only_for_the_guest_it_names() {
        let d = format!("operator notes\n{}", record_line(101, "abc"));
        assert_eq!(recorded_hash(Some(&d), 101).as_deref(), Some("abc"));
        // A clone (id 120) inherits the description of 101: no record for 120.
        assert_eq!(recorded_hash(Some(&d), 120), None);
        assert_eq!(recorded_hash(None, 101), None);
        assert_eq!(recorded_hash(Some("phoenix-converged: 101 md5:abc"), 101), None);
        assert_eq!(recorded_hash(Some("phoenix-converged: 101 sha256:abc extra"), 101), None);
    }

    #[test]
    fn writing_a_record_keeps_the_operators_lines_and_replaces_phoenixs() {
        let d = format!("keep me\n\n{}\nand me", record_line(100, "old"));
        let out = with_record(Some(&d), &record_line(120, "new"));
        assert_eq!(out, format!("keep me\n\nand me\n{}", record_line(120, "new")));
        assert_eq!(with_record(None, "x"), "x");
    }
}
