//! `fw::` — Proxmox firewall files: phoenix's declared part merged into what is on the host.

use super::at;
use super::convert::guest_id;
use super::{Ctx, Namespace, Res};
use crate::executor::ExecError;
use crate::generate::firewall::{cluster_file, guest_file, StackRules};
use crate::inventory::firewall::stack_firewall_rules;
use crate::inventory::GuestRef;
use crate::ops::firewall_file::{ensure_firewall_file, refusal};
use rhai::{Dynamic, NativeCallContext};

/// `file::read`'s answer: the text, or `()` for a file that does not exist.
fn existing(v: &Dynamic) -> Res<Option<String>> {
    if v.is_unit() {
        return Ok(None);
    }
    v.clone()
        .into_string()
        .map(Some)
        .map_err(|t| format!("the current file text must be a string or () (no file), not {t}").into())
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new(
        "fw",
        "Proxmox firewall files: phoenix's options and rules merged into the file on the host, \
         everything else (aliases, IP sets, groups, other options and rules) kept byte for byte.",
    );

    let c = ctx.clone();
    ns.add(
        "cluster_file",
        &["existing: String or ()", "-> String"],
        "The text of /etc/pve/firewall/cluster.fw: `existing` (its current text, () when there is none) with \
         phoenix's options and its `phoenix-host` security group (the host rules) merged in, or () when no host \
         firewall is declared. Refuses a file it cannot read.",
        move |nc: NativeCallContext, current: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let current = existing(&current)?;
                Ok(match &run.inventory.hypervisor.firewall {
                    Some(fw) => cluster_file(fw, current.as_deref())?.into(),
                    None => Dynamic::UNIT,
                })
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "guest_file",
        &["id: int", "existing: String or ()", "-> String"],
        "The text of /etc/pve/firewall/<id>.fw: `existing` with the guest's declared firewall and the \
         firewall_rules of the stacks it deploys merged in as phoenix's rules (comment `phoenix: …`), or () \
         when the guest declares none and has no file.",
        move |nc: NativeCallContext, id: Dynamic, current: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let current = existing(&current)?;
                let fw = match run.inventory.guest(id).ok_or_else(|| format!("guest {id} is not declared"))? {
                    GuestRef::Lxc(g) => g.firewall.as_ref(),
                    GuestRef::Vm(g) => g.firewall.as_ref(),
                };
                let stacks: Vec<StackRules> = stack_firewall_rules(&run.inventory, id)
                    .into_iter()
                    .map(|(stack, rules)| StackRules { stack, rules })
                    .collect();
                match guest_file(id, fw, &stacks, current.as_deref())? {
                    Some(text) => Ok(Dynamic::from(text)),
                    None => Ok(Dynamic::UNIT),
                }
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "write",
        &["path: String", "read: String or ()", "text: String", "-> Map"],
        "Write a firewall file (cluster.fw or a guest's <id>.fw) as Proxmox does, under its cluster-wide lock \
         (/etc/pve/priv/lock/firewall-cluster, firewall-vm-<id>), and only if it still holds `read` (what \
         file::read returned, () for no file: the text `text` was merged from): a GUI or API edit saved in between is never \
         overwritten; the run fails and a re-run merges into it. Mode 0640; nothing is written when the file \
         already reads `text`. Returns #{changed, actions}.",
        move |nc: NativeCallContext, path: &str, read: Dynamic, text: &str| -> Res<Dynamic> {
            at(&nc, || {
                let read = existing(&read)?;
                let run = c.run()?;
                let plan = ensure_firewall_file(&run.facts, path, read.as_deref(), text)?;
                match run.execute(plan, crate::executor::current_guest()) {
                    Ok(o) => Ok(super::convert::outcome(o.changed, o.actions)),
                    // The script's exit code says which refusal it was; the operator reads that,
                    // not the script.
                    Err(ExecError::StepFailed { code, .. }) if refusal(path, code).is_some() => {
                        Err(refusal(path, code).unwrap_or_default().into())
                    }
                    Err(e) => Err(e.into()),
                }
            })
        },
    );
    ns
}
