//! `qm::` — QEMU virtual machines: the read side (shared with `pct::`) and the lifecycle ops the
//! VM state machine (`stdlib/vm.rhai`) is written with.

use super::convert::{guest_id, outcome};
use super::file::carry_out;
use super::{at, Ctx, Namespace, Res};
use crate::graph::GuestKind;
use crate::inventory::{GuestRef, VmGuest};
use crate::ops::qm::{self, CloudInit, DesiredVm};
use crate::ops::{power, snapshot, OpError, Plan};

const KIND: GuestKind = GuestKind::Vm;
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
    Ok(qm::desired(g, &run.inventory.hypervisor)?)
}

/// A step of the template build as an API function: the declared template, one op, its plan
/// handed to the executor. Each step decides on the state the previous one left (in a dry-run,
/// the modelled one), so the sequence in `stdlib/vm.rhai` shows and runs every step in order.
fn template_step(
    ns: &mut Namespace,
    ctx: &Ctx,
    name: &'static str,
    doc: &'static str,
    op: fn(&crate::facts::Facts, &DesiredVm) -> Result<Plan, OpError>,
) {
    let c = ctx.clone();
    ns.add(name, &["id: int", "-> Map"], doc, move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
        at(&nc, || {
            let run = c.run()?;
            let d = desired(run, guest_id(&id)?)?;
            carry_out(&c, op(&run.facts, &d))
        })
    });
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("qm", "QEMU virtual machines: list, status, configuration, lifecycle.");
    super::guest_read::add(&mut ns, ctx, GuestKind::Vm);
    super::converged::add(&mut ns, ctx, GuestKind::Vm);

    // The template build, one step per function; `stdlib/vm.rhai` (`build_template`) orders them.
    let c = ctx.clone();
    ns.add(
        "check_template_storages",
        &["id: int", "-> ()"],
        "Before a template build's first command (the download included): fail unless the storages it writes to \
         exist — its `storage_pool` taking VM images (disk, cloud-init drive) and `local` (the agent snippet). A VM \
         that is already a template needs neither. Changes nothing.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<()> {
            at(&nc, || {
                let run = c.run()?;
                let d = desired(run, guest_id(&id)?)?;
                Ok(qm::check_template_storages(&run.facts, &d)?)
            })
        },
    );
    template_step(
        &mut ns,
        ctx,
        "ensure_image",
        "Template build: download the cloud image (`template_image`) to /var/lib/vz/template/iso with `curl` unless \
         it is there — never twice — or the VM already has its disk. Returns #{changed, actions}.",
        qm::ensure_image,
    );
    template_step(
        &mut ns,
        ctx,
        "ensure_template_defined",
        "Template build: `qm create` the VM (hardware only: name, memory, cores, net0, serial console, guest agent) \
         unless it exists — an interrupted build is completed, never recreated. Returns #{changed, actions}.",
        qm::ensure_template_defined,
    );
    template_step(
        &mut ns,
        ctx,
        "ensure_template_disks",
        "Template build: import the cloud image as scsi0 (grown to `disk_size_gb`) and boot from it, each unless done. \
         Returns #{changed, actions}.",
        qm::ensure_template_disks,
    );
    template_step(
        &mut ns,
        ctx,
        "ensure_template_cloud_init",
        "Template build: the cloud-init drive, the guest-agent snippet as vendor-data (`cicustom vendor=`, so the \
         generated user-data with `ciuser` and `sshkeys` stays) and `ciuser`, each unless set. Returns #{changed, actions}.",
        qm::ensure_template_cloud_init,
    );
    template_step(
        &mut ns,
        ctx,
        "ensure_templated",
        "Template build, last step: `qm template` (a VM someone started is shut down first; one with snapshots is \
         refused). The VM is never started. Returns #{changed, actions}.",
        qm::ensure_templated,
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
                let conf = run.facts.guest_conf(crate::graph::GuestKind::Vm, id)?;
                if conf.as_ref().as_ref().is_none_or(|c| c.is_template()) {
                    return Ok(Dynamic::from(rhai::Array::new()));
                }
                let d = desired(run, id)?;
                let cp = qm::ensure_config(&run.facts, &d)?;
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
                let cp = qm::ensure_config(&run.facts, &d)?;
                let restart = cp.restart_needed;
                let o = run.execute(cp.plan, crate::executor::current_guest())?;
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
                carry_out(&c, power::ensure_power(&run.facts, KIND, id, true))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_stopped",
        &["id: int", "-> Map"],
        "Shut the VM down unless it is stopped (`qm shutdown --timeout 120 --forceStop 1`: the grace period is \
         `ops::power`'s, the one place power timeouts are defined).",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, power::ensure_power(&run.facts, KIND, id, false))
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
                carry_out(&c, power::restart(&run.facts, KIND, id, reason))
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
                carry_out(&c, snapshot::ensure_snapshot(&run.facts, KIND, id, name))
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
                Ok(snapshot::has_snapshot(&run.facts, KIND, id, name)?)
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
                carry_out(
                    &c,
                    crate::ops::guest::destroy(&run.facts, KIND, id, crate::ops::guest::guest_subject(KIND, id)),
                )
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "wait_agent",
        &["id: int", "timeout_s: int", "-> bool"],
        "Wait (bounded, with progress) until the guest agent answers `qm agent <id> ping`; each try is a probe \
         through the facts layer (recorded, never cached). A dry-run never waits.",
        move |nc: NativeCallContext, id: Dynamic, timeout: i64| -> Res<bool> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                if run.dry_run {
                    return Ok(true);
                }
                crate::executor::wait_for(run, &format!("vm {id}: waiting for the guest agent"), timeout, || {
                    Ok::<_, OpError>(qm::agent_ping(&run.facts, id)?.then_some(true))
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
                    match qm::cloud_init_status(&run.facts, id)? {
                        CloudInit::Finished(s) => Ok(Some(s)),
                        CloudInit::Running => Ok(None),
                        CloudInit::Failed(detail) => Err(OpError::Invalid {
                            subject: format!("vm {id}"),
                            message: format!("cloud-init failed: {detail}"),
                        }),
                    }
                })
            })
        },
    );
    ns
}
