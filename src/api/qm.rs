//! `qm::` — QEMU virtual machines: the read side (shared with `pct::`) and the lifecycle ops the
//! VM state machine (`stdlib/vm.rhai`) is written with.

use super::convert::{guest_id, outcome};
use super::file::carry_out;
use super::{at, Ctx, Namespace, Res};
use crate::graph::GuestKind;
use crate::inventory::{GuestRef, VmGuest};
use crate::ops::qm::{self, CloudInit, DesiredVm};
use crate::ops::{OpError, Plan};
use crate::run::Run;
use rhai::{Dynamic, NativeCallContext};

fn declared(run: &Run, id: u32) -> Res<&VmGuest> {
    match run.inventory.guest(id) {
        Some(GuestRef::Vm(g)) => Ok(g),
        Some(GuestRef::Lxc(_)) => Err(format!("guest {id} is a container, not a VM").into()),
        None => Err(format!("guest {id} is not declared").into()),
    }
}

fn desired(run: &Run, id: u32) -> Res<DesiredVm> {
    let g = declared(run, id)?;
    qm::desired(g, &run.inventory.hypervisor).map_err(|e| e.to_string().into())
}

/// Run several ops one after another, each decided on the state the previous one left (so a
/// dry-run of a template build shows every step), and sum up what they did.
fn carry_out_all(c: &Ctx, steps: &[&dyn Fn() -> Result<Plan, OpError>]) -> Res<Dynamic> {
    let run = c.run()?;
    let (mut changed, mut actions) = (false, 0usize);
    for step in steps {
        let plan = step().map_err(|e| e.to_string())?;
        let o = run.execute(plan, crate::executor::current_guest()).map_err(|e| e.to_string())?;
        changed |= o.changed;
        actions += o.actions;
    }
    Ok(outcome(changed, actions))
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("qm", "QEMU virtual machines: list, status, configuration, lifecycle.");
    super::guest_read::add(&mut ns, ctx, GuestKind::Vm);
    super::converged::add(&mut ns, ctx, GuestKind::Vm);

    let c = ctx.clone();
    ns.add(
        "ensure_template",
        &["id: int", "-> Map"],
        "Build a template VM (`is_template` with `template_image`) from its cloud image, one step at a time so an \
         interrupted build is completed, not recreated: download the image to /var/lib/vz/template/iso once (never \
         again while it is there), `qm create`, import it as scsi0 and grow it to `disk_size_gb`, cloud-init drive, \
         boot order, the guest-agent snippet as vendor-data (`cicustom vendor=`, so the generated user-data with `ciuser` and \
         `sshkeys` stays), `ciuser`, then `qm template`. The VM is never \
         started. An existing template is left alone. Returns #{changed, actions}.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let d = desired(run, id)?;
                let f = &run.facts;
                // Before the first step: a missing storage stops the build before the download.
                qm::check_template_storages(f, &d).map_err(|e| e.to_string())?;
                carry_out_all(
                    &c,
                    &[
                        &|| qm::ensure_image(f, &d),
                        &|| qm::ensure_template_defined(f, &d),
                        &|| qm::ensure_template_setup(f, &d),
                        &|| qm::ensure_templated(f, &d),
                    ],
                )
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_defined",
        &["id: int", "-> Map"],
        "Make the VM exist: `qm clone <clone_from_vmid> <id> --name <name> --full 1` (onto its `storage_pool` when \
         that differs from the source's). Clones of one source run one at a time. An existing VM is left alone.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let d = desired(run, id)?;
                carry_out(&c, qm::ensure_defined(&run.facts, &d))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "drift",
        &["id: int", "-> Array"],
        "How the VM's live configuration differs from the declared one: [#{field, live, declared}] (empty when it \
         matches, does not exist, or is a template). Changes nothing.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let conf = run.facts.guest_conf(crate::graph::GuestKind::Vm, id).map_err(|e| e.to_string())?;
                if conf.as_ref().as_ref().is_none_or(|c| c.is_template()) {
                    return Ok(Dynamic::from(rhai::Array::new()));
                }
                let d = desired(run, id)?;
                let cp = qm::ensure_config(&run.facts, &d).map_err(|e| e.to_string())?;
                super::convert::to_dynamic(&cp.diffs)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_config",
        &["id: int", "-> Map"],
        "Bring the VM's configuration to the declared one in one `qm set`, changing only what differs: cores, memory \
         (the VM's or vm_defaults), onboot, startup (order=N,up=D), ciuser, sshkeys (the host user's \
         ssh_public_key), ipconfig0, nameserver (the VM's, else the host's DNS), searchdomain (domain_name), net0 \
         bridge and firewall=1 (the MAC is kept). Returns #{changed, actions, restart}: restart = a running VM needs \
         a reboot for the changes (hardware, cloud-init) to apply.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let d = desired(run, id)?;
                let cp = qm::ensure_config(&run.facts, &d).map_err(|e| e.to_string())?;
                let restart = cp.restart_needed;
                let o = run.execute(cp.plan, crate::executor::current_guest()).map_err(|e| e.to_string())?;
                let mut m = outcome(o.changed, o.actions);
                if let Some(mut map) = m.write_lock::<rhai::Map>() {
                    map.insert("restart".into(), (restart && o.changed).into());
                }
                Ok(m)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_disk_size",
        &["id: int", "-> Map"],
        "Grow scsi0 to `disk_size_gb` (`qm disk resize`) when it is smaller; disks never shrink.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let d = desired(run, id)?;
                carry_out(&c, qm::ensure_disk_size(&run.facts, &d))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_running",
        &["id: int", "-> Map"],
        "Start the VM unless it runs (`qm start`). A template is never started: that is an error.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, qm::ensure_power(&run.facts, id, true))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_stopped",
        &["id: int", "-> Map"],
        "Shut the VM down unless it is stopped (`qm shutdown --timeout 120 --forceStop 1`).",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, qm::ensure_power(&run.facts, id, false))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "restart",
        &["id: int", "reason: String", "-> Map"],
        "Reboot a running VM (`qm reboot`) so pending changes apply; a stopped one picks them up at its next start.",
        move |nc: NativeCallContext, id: Dynamic, reason: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, qm::restart(&run.facts, id, reason))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_snapshot",
        &["id: int", "name: String", "-> Map"],
        "Take a snapshot (`qm snapshot`) unless one with this name exists (never recreated).",
        move |nc: NativeCallContext, id: Dynamic, name: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, qm::ensure_snapshot(&run.facts, id, name))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "has_snapshot",
        &["id: int", "name: String", "-> bool"],
        "Whether the VM has a snapshot of this name.",
        move |nc: NativeCallContext, id: Dynamic, name: &str| -> Res<bool> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                qm::has_snapshot(&run.facts, id, name).map_err(|e| e.to_string().into())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "destroy",
        &["id: int", "-> Map"],
        "Stop the VM and `qm destroy --purge 1` it. Absent: nothing to do.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, qm::destroy(&run.facts, id))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "wait_agent",
        &["id: int", "timeout_s: int", "-> bool"],
        "Wait (bounded, with progress) until the guest agent answers `qm agent <id> ping`. A dry-run never waits.",
        move |nc: NativeCallContext, id: Dynamic, timeout: i64| -> Res<bool> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                if run.dry_run {
                    return Ok(true);
                }
                crate::executor::wait_for(run, &format!("vm {id}: waiting for the guest agent"), timeout, || {
                    Ok(qm::agent_ready(&run.facts, id).map_err(|e| e.to_string())?.then_some(true))
                })
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "wait_cloud_init",
        &["id: int", "timeout_s: int", "-> String"],
        "Wait (bounded, with progress) until cloud-init has finished inside the VM (`cloud-init status` through the \
         guest agent says done, or cloud-init is not in use) and return its status; a cloud-init error fails. A \
         dry-run never waits: it returns `(known after apply)`.",
        move |nc: NativeCallContext, id: Dynamic, timeout: i64| -> Res<String> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                if run.dry_run {
                    return Ok("(known after apply)".to_string());
                }
                crate::executor::wait_for(run, &format!("vm {id}: waiting for cloud-init"), timeout, || {
                    match qm::cloud_init_status(&run.facts, id).map_err(|e| e.to_string())? {
                        CloudInit::Finished(s) => Ok(Some(s)),
                        CloudInit::Running => Ok(None),
                        CloudInit::Failed(detail) => Err(format!("vm {id}: cloud-init failed: {detail}")),
                    }
                })
            })
        },
    );
    ns
}
