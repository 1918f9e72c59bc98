//! Work inside a guest, the same way for both kinds: `pct exec <id> -- argv` for containers,
//! `qm guest exec <id> -- argv` (through the guest agent, JSON answer) for VMs.
//!
//! Commands that change a guest carry a guard — a check command whose success means "already
//! done" — so a converged guest runs only its checks. A command without a guard shows as
//! "always runs".

use super::{Action, Change, Effect, OpError, Plan, Step};
use crate::command::Command;
use crate::facts::guests::GuestChange;
use crate::facts::Facts;
use crate::graph::GuestKind;

/// Defined with the fact readers, which run read-only commands inside guests the same way.
pub use crate::facts::in_guest::{guest_output, guest_result, in_guest_command, VM_EXEC_TIMEOUT_S};

/// When a guest command needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// No check: it runs every time.
    Always,
    /// Runs unless this check command succeeds inside the guest; afterwards it does.
    Unless(Vec<String>),
}

fn subject(id: u32, argv: &[String]) -> String {
    let shown: Vec<&str> = argv.iter().take(4).map(String::as_str).collect();
    let more = if argv.len() > 4 { " …" } else { "" };
    format!("guest {id}: {}{more}", shown.join(" "))
}

fn describe(argv: &[String]) -> String {
    crate::shell::join(argv)
}

/// Run `argv` in a guest, subject to `guard`. `reason` says why the plan wants it.
pub fn exec(
    facts: &Facts,
    kind: GuestKind,
    id: u32,
    argv: &[String],
    guard: &Guard,
    reason: &str,
) -> Result<Plan, OpError> {
    if argv.is_empty() {
        return Err(OpError::Invalid { subject: format!("guest {id}"), message: "the command is empty".into() });
    }
    let subj = subject(id, argv);
    // The reason names the guard, not its answer, so a dry-run and apply print the same action
    // even when the dry-run cannot know the answer yet (then the action carries a note).
    let (why, effect, note) = match guard {
        Guard::Always => ("always runs (no guard)".to_string(), Effect::Nothing, None),
        Guard::Unless(check) => {
            let c = describe(check);
            let effect = Effect::Guest { kind, id, change: GuestChange::Check { argv: check.clone(), ok: true } };
            match facts.guest_check(kind, id, check)? {
                Some(true) => return Ok(Plan::noop(subj, format!("`{c}` succeeds"))),
                Some(false) => (format!("unless `{c}`"), effect, None),
                None => (
                    format!("unless `{c}`"),
                    effect,
                    Some(format!("`{c}` is known only at apply; runs if it fails then")),
                ),
            }
        }
    };
    let reason = if reason.is_empty() { why } else { format!("{reason}; {why}") };
    let mut action = Action::new(Change::Run, subj.clone(), reason)
        .step(Step::Guest { kind, id, command: in_guest_command(kind, id, argv, None) })
        .effect(effect);
    action.note = note;
    Ok(Plan::with(subj, vec![action]))
}

/// A file inside a guest as phoenix wants it.
#[derive(Debug, Clone)]
pub struct GuestFile {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// Make a file inside the guest hold `want.content` (compared by content; mode and owner are set
/// whenever it is written).
pub fn push(facts: &Facts, kind: GuestKind, id: u32, want: &GuestFile) -> Result<Plan, OpError> {
    let subj = format!("guest {id}: file {}", want.path);
    let current = facts.guest_file(kind, id, &want.path)?;
    // A file that exists has its directory; otherwise `pct push` needs it made first.
    let make_parent = !matches!(current, Some(Some(_)));
    let (change, reason) = match &current {
        Some(Some(have)) if *have == want.content => return Ok(Plan::noop(subj, "content matches")),
        Some(Some(_)) => (Change::Update, "content differs".to_string()),
        Some(None) => (Change::Create, "absent".to_string()),
        None => (Change::Update, "content unknown until apply".to_string()),
    };
    let effect = Effect::Guest {
        kind,
        id,
        change: GuestChange::File { path: want.path.clone(), content: Some(want.content.clone()) },
    };
    let mut action = Action::new(change, subj.clone(), reason).effect(effect);
    // The diff a dry-run shows, when the guest's current content could be read.
    if let Some(old) = &current {
        action = action.content_change(&want.path, old.as_deref(), &want.content, want.mode);
    }
    for step in write_steps_into(kind, id, want, make_parent) {
        action = action.step(step);
    }
    Ok(Plan::with(subj, vec![action]))
}

/// The steps that write `want` into a guest, making its directory first (the target of a copy
/// is known only when it runs).
pub fn write_steps(kind: GuestKind, id: u32, want: &GuestFile) -> Vec<Step> {
    write_steps_into(kind, id, want, true)
}

/// The directory part of a guest path (`/` for a file at the root).
fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or("/")
}

/// The steps that write `want` into a guest: for a container a staged host file and `pct push`
/// (which makes no directory: `make_parent` runs `mkdir -p` inside first); for a VM a staged
/// file beside the target (final mode and owner from the start) renamed into place.
fn write_steps_into(kind: GuestKind, id: u32, want: &GuestFile, make_parent: bool) -> Vec<Step> {
    let mode = format!("{:04o}", want.mode);
    match kind {
        GuestKind::Lxc => {
            // pct push copies a host file: stage it, push it, remove it.
            let digest = crate::ops::content_digest(want.path.as_bytes());
            let staged = format!("/tmp/.phoenix-push-{id}-{}", &digest[..16]);
            let mut push =
                Command::new(["pct", "push"]).arg(id.to_string()).arg(staged.as_str()).arg(want.path.as_str());
            push = push.arg("--perms").arg(mode.as_str());
            if let Some(u) = &want.owner {
                push = push.arg("--user").arg(u.as_str());
            }
            if let Some(g) = &want.group {
                push = push.arg("--group").arg(g.as_str());
            }
            let dir = parent_dir(&want.path);
            let mkdir = (make_parent && dir != "/").then(|| {
                let argv: Vec<String> = ["mkdir", "-p", "--", dir].iter().map(|s| s.to_string()).collect();
                Step::Guest { kind, id, command: in_guest_command(kind, id, &argv, None) }
            });
            mkdir
                .into_iter()
                .chain([
                    Step::WriteFile {
                        path: staged.clone(),
                        file: crate::connector::FileWrite {
                            content: want.content.clone(),
                            mode: 0o600,
                            owner: None,
                            group: None,
                        },
                    },
                    Step::Exec { command: push },
                    Step::RemoveFile { path: staged },
                ])
                .collect()
        }
        GuestKind::Vm => {
            // Through the agent, `tee` into the live path would create a new file with the
            // agent's umask (a key readable for a moment, until a chmod) and would truncate an
            // existing one first (an empty /etc/fstab if the agent goes away mid-write). So: a
            // new file beside it made by `install` with its final mode and owner, filled by `tee`
            // (which keeps both), then renamed over the live path in one step.
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            let dir = parent_dir(&want.path);
            let staged = format!("{}.phoenix-new", want.path);
            let mut install = s(&["install", "-m", mode.as_str()]);
            if let Some(u) = &want.owner {
                install.extend(s(&["-o", u.as_str()]));
            }
            if let Some(g) = &want.group {
                install.extend(s(&["-g", g.as_str()]));
            }
            install.extend(s(&["/dev/null", staged.as_str()]));
            vec![
                Step::Guest { kind, id, command: in_guest_command(kind, id, &s(&["mkdir", "-p", dir]), None) },
                Step::Guest { kind, id, command: in_guest_command(kind, id, &install, None) },
                Step::Guest {
                    kind,
                    id,
                    command: in_guest_command(kind, id, &s(&["tee", staged.as_str()]), Some(&want.content)),
                },
                Step::Guest {
                    kind,
                    id,
                    command: in_guest_command(kind, id, &s(&["mv", "-f", staged.as_str(), want.path.as_str()]), None),
                },
            ]
        }
    }
}

/// Where a copied file comes from: a file inside another guest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestSource {
    pub kind: GuestKind,
    pub id: u32,
    pub path: String,
}

/// Make a file inside guest `id` hold what `src` holds *when this runs*: the content is read at
/// apply time (a CA root another guest generates during the same run is known only then). The
/// action reads the same in a dry-run and in apply. `want.content` is ignored.
pub fn copy_from_guest(
    facts: &Facts,
    kind: GuestKind,
    id: u32,
    src: &GuestSource,
    want: &GuestFile,
) -> Result<Plan, OpError> {
    let subj = format!("guest {id}: file {}", want.path);
    let mut source = facts.guest_file(src.kind, src.id, &src.path)?;
    // A dry-run cannot follow the commands that make a source file (step-ca's init writes its
    // root): "absent" there means "not known yet", and apply decides.
    if source == Some(None) && facts.is_dry_run() {
        source = None;
    }
    // Apply: the guest graph ran the source guest first (a feature's need of another guest is an
    // edge), so a missing source is an error to fix, never something a later run picks up.
    if let Some(None) = source {
        return Err(OpError::Invalid {
            subject: subj,
            message: format!(
                "the source {}:{} does not exist: guest {} has not made it (check that guest's features, then run again)",
                src.id, src.path, src.id
            ),
        });
    }
    let target = facts.guest_file(kind, id, &want.path)?;
    let (change, note) = match (&source, &target) {
        (Some(Some(content)), Some(Some(have))) if have == content => return Ok(Plan::noop(subj, "content matches")),
        (_, Some(None)) => (Change::Create, None),
        (Some(_), Some(Some(_))) => (Change::Update, None),
        (None, _) | (_, None) => (
            if matches!(target, Some(None)) { Change::Create } else { Change::Update },
            Some("content is known only at apply".to_string()),
        ),
    };
    let mut action =
        Action::new(change, subj.clone(), format!("content of {}:{}", src.id, src.path)).step(Step::CopyFromGuest {
            source: src.clone(),
            target: GuestTarget {
                kind,
                id,
                path: want.path.clone(),
                mode: want.mode,
                owner: want.owner.clone(),
                group: want.group.clone(),
            },
        });
    if let Some(Some(content)) = source {
        action = action.effect(Effect::Guest {
            kind,
            id,
            change: GuestChange::File { path: want.path.clone(), content: Some(content) },
        });
    }
    action.note = note;
    Ok(Plan::with(subj, vec![action]))
}

/// Where a copied file goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestTarget {
    pub kind: GuestKind,
    pub id: u32,
    pub path: String,
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// Whether a declared guest is a template — the one meaning phoenix gives the word. A template
/// is a guest others are made from: a VM declared `is_template` (built from a cloud image and
/// turned into a Proxmox template with `qm template`), or any declared guest another declared
/// guest clones from (`clone_from_ctid` / `clone_from_vmid`; an LXC "template" is an ordinary
/// container with a snapshot to clone). Templates are converged, left stopped, and never started
/// by the power verbs. Proxmox's own `template: 1` in a guest's config is not this: it is the
/// host's record that a VM template build finished (`GuestConf::is_template`), which the ops use
/// to tell a finished build from an interrupted one and to refuse starting or snapshotting it.
pub fn is_template(declared_vm_template: bool, dependents: &[(u32, crate::graph::EdgeReason)]) -> bool {
    declared_vm_template || dependents.iter().any(|(_, why)| *why == crate::graph::EdgeReason::CloneSource)
}

/// How ops name a guest in subjects and messages: `ct 101`, `vm 1001`.
pub fn guest_subject(kind: GuestKind, id: u32) -> String {
    match kind {
        GuestKind::Lxc => format!("ct {id}"),
        GuestKind::Vm => format!("vm {id}"),
    }
}

/// The CLI that manages a kind of guest.
pub fn tool(kind: GuestKind) -> &'static str {
    match kind {
        GuestKind::Lxc => "pct",
        GuestKind::Vm => "qm",
    }
}

/// Stop a guest if it runs, then destroy it with purge (its firewall file goes with it).
/// `subject` names it the way its kind's ops do (`ct 101`, `vm 1001`).
pub fn destroy(facts: &Facts, kind: GuestKind, id: u32, subject: String) -> Result<Plan, OpError> {
    let Some(g) = facts.guests(kind)?.get(&id).cloned() else {
        return Ok(Plan::noop(subject, "absent"));
    };
    let (cli, ids) = (tool(kind), id.to_string());
    let mut action = Action::new(Change::Delete, subject.clone(), "declared for deletion");
    if g.power == crate::facts::guests::Power::Running {
        action = action.exec(Command::new([cli, "stop", ids.as_str()]));
    }
    action = action
        .exec(Command::new([cli, "destroy", ids.as_str(), "--purge", "1"]))
        .effect(Effect::Guest { kind, id, change: GuestChange::Destroyed })
        .for_guest(Some(id));
    Ok(Plan::with(subject, vec![action]))
}

#[cfg(test)]
mod template_tests {
    use super::is_template;
    use crate::graph::EdgeReason;

    #[test]
    fn a_template_is_a_declared_vm_template_or_a_clone_source() {
        assert!(is_template(true, &[]));
        assert!(is_template(false, &[(201, EdgeReason::CloneSource)]));
        assert!(!is_template(false, &[(201, EdgeReason::Dependency)]), "a dependency does not make a template");
        assert!(!is_template(false, &[]));
    }
}
