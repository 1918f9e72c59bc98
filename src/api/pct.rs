//! `pct::` — LXC containers: read side (shared with `qm::`) and the lifecycle ops the LXC state
//! machine (`stdlib/lxc.rhai`) is written with.

use super::convert::{guest_id, outcome};
use super::file::carry_out;
use super::{at, Ctx, Namespace, Res};
use crate::graph::GuestKind;
use crate::inventory::{GuestRef, LxcGuest};
use crate::ops::{lxc, power, snapshot};
use crate::run::Run;

const KIND: GuestKind = GuestKind::Lxc;
use rhai::{Array, Dynamic, NativeCallContext};

fn declared(run: &Run, id: u32) -> Res<&LxcGuest> {
    match run.inventory.guest(id) {
        Some(GuestRef::Lxc(g)) => Ok(g),
        Some(GuestRef::Vm(_)) => Err(format!("guest {id} is a VM, not a container").into()),
        None => Err(format!("guest {id} is not declared").into()),
    }
}

/// The desired container, with the plan's extra `features` keys.
fn desired(run: &Run, g: &LxcGuest, extra: &[String]) -> Res<lxc::DesiredCt> {
    let devices = if g.gpu_assignment.is_empty() {
        None
    } else {
        let f = run.facts.file("/proc/devices")?;
        f.as_ref().as_ref().map(|d| String::from_utf8_lossy(&d.content).into_owned())
    };
    Ok(lxc::desired(g, extra, devices.as_deref())?)
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("pct", "LXC containers: list, status, configuration, lifecycle.");
    super::guest_read::add(&mut ns, ctx, GuestKind::Lxc);
    super::converged::add(&mut ns, ctx, GuestKind::Lxc);

    let c = ctx.clone();
    ns.add(
        "ensure_defined",
        &["id: int", "-> Map"],
        "Make the container exist: `pct create` from its `template`, or `pct clone` (full) from `clone_from_ctid` \
         at the source's `template_snapshot_name`. Clones of one source run one at a time. An existing container is left alone.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let g = declared(run, id)?;
                let d = desired(run, g, &[])?;
                let snap = g.clone_from_ctid.and_then(|s| match run.inventory.guest(s) {
                    Some(GuestRef::Lxc(src)) => src.template_snapshot_name.clone(),
                    _ => None,
                });
                carry_out(&c, lxc::ensure_defined(&run.facts, &d, g, snap.as_deref()))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_config",
        &["id: int", "features: Array", "-> Map"],
        "Bring the container's configuration to the declared one, changing only what differs: cores, memory, swap, \
         net0 (with firewall=1 when its firewall is enabled), nameserver, onboot, startup, features (plus `features`, \
         e.g. [\"nesting=1\", \"keyctl=1\"] for docker), rootfs and volume sizes (grow only), mount points (matched by \
         container path, repaired in place under the same mpN: host path, container path, ro, backup, size), lxc.* lines (id maps, AppArmor, GPU passthrough) kept alongside every other line of the conf file. \
         Returns #{changed, actions, restart, restart_reason, undeclared_mounts}: restart = the changes take effect \
         only after a restart (hostname, nameserver, features, mounts, lxc lines: a running container applies them \
         at its next start), restart_reason = which (unit when none); undeclared_mounts = live `mpN: value` entries nothing declares (drift, never removed: they may hold \
         data).",
        move |nc: NativeCallContext, id: Dynamic, extra: Array| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let g = declared(run, id)?;
                let extra: Vec<String> = extra.into_iter().map(|v| v.to_string()).collect();
                let d = desired(run, g, &extra)?;
                let cp = lxc::ensure_config(&run.facts, &d)?;
                let o = run.execute(cp.plan, Some(id))?;
                // The conf file is written whole: plan its lxc lines only after `pct set` ran.
                let (lines, _) = lxc::ensure_lxc_lines(&run.facts, &d)?;
                let o2 = run.execute(lines, Some(id))?;
                let restart = (cp.restart_needed && o.changed) || o2.changed;
                let reason = match (cp.restart_needed && o.changed, o2.changed) {
                    (true, true) => format!("{}; lxc lines changed", cp.restart_reason),
                    (true, false) => cp.restart_reason.clone(),
                    _ => "lxc lines changed; a running container applies them at its next start".to_string(),
                };
                let mut m = outcome(o.changed || o2.changed, o.actions + o2.actions);
                if let Some(mut map) = m.write_lock::<rhai::Map>() {
                    map.insert("restart".into(), restart.into());
                    map.insert("restart_reason".into(), if restart { reason.into() } else { Dynamic::UNIT });
                    let undeclared: Array = cp.undeclared.iter().map(|u| Dynamic::from(u.clone())).collect();
                    map.insert("undeclared_mounts".into(), undeclared.into());
                }
                Ok(m)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_running",
        &["id: int", "-> Map"],
        "Start the container unless it runs (`pct start`).",
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
        "Shut the container down unless it is stopped (`pct shutdown --timeout 60 --forceStop 1`: the grace period is \
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
        "Reboot a running container (`pct reboot`) so pending changes apply; a stopped one picks them up at its next start.",
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
        "Take a snapshot unless one with this name exists (never recreated).",
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
        "drift",
        &["id: int", "features: Array", "-> Array"],
        "How the container's live configuration differs from the declared one: [#{field, live, declared}] \
         (empty when it matches or the container does not exist). Changes nothing.",
        move |nc: NativeCallContext, id: Dynamic, extra: Array| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let g = declared(run, id)?;
                if run.facts.guest_conf(GuestKind::Lxc, id)?.is_none() {
                    return Ok(Dynamic::from(Array::new()));
                }
                let extra: Vec<String> = extra.into_iter().map(|v| v.to_string()).collect();
                let d = desired(run, g, &extra)?;
                let cp = lxc::ensure_config(&run.facts, &d)?;
                let (_, lines) = lxc::ensure_lxc_lines(&run.facts, &d)?;
                let diffs: Vec<crate::ops::Diff> = cp.diffs.into_iter().chain(lines).collect();
                super::convert::to_dynamic(&diffs)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "has_snapshot",
        &["id: int", "name: String", "-> bool"],
        "Whether the container has a snapshot of this name.",
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
        "Stop the container and `pct destroy --purge` it (its firewall file goes with it). Absent: nothing to do.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                carry_out(&c, lxc::destroy(&run.facts, id))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "wait_network",
        &["id: int", "timeout_s: int", "-> String"],
        "Wait (bounded, with progress) until the container has an IPv4 address on eth0 and return it. A dry-run never \
         waits: it returns the declared address (or `(known after apply)`).",
        move |nc: NativeCallContext, id: Dynamic, timeout: i64| -> Res<String> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let g = declared(run, id)?;
                if run.dry_run {
                    let ip = g.network_config.ip.split('/').next().unwrap_or("").to_string();
                    return Ok(if ip.is_empty() || ip == "dhcp" { "(known after apply)".to_string() } else { ip });
                }
                crate::executor::wait_for(run, &format!("ct {id}: waiting for its network"), timeout, || {
                    lxc::address(&run.facts, id)
                })
            })
        },
    );
    ns
}
