//! The read side shared by `pct::` and `qm::`: list, exists, status, config.

use super::convert::{guest_id, to_dynamic};
use super::{at, Ctx, Namespace, Res};
use crate::graph::GuestKind;
use rhai::{Dynamic, NativeCallContext};

pub fn add(ns: &mut Namespace, ctx: &Ctx, kind: GuestKind) {
    let (what, list_cmd) = match kind {
        GuestKind::Lxc => ("container", "pct list"),
        GuestKind::Vm => ("VM", "qm list"),
    };

    let c = ctx.clone();
    ns.add(
        "list",
        &["-> Array"],
        &format!("Every {what}: [#{{id, kind, name, power, lock}}] (one `{list_cmd}` per run)."),
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let all = c.run()?.facts.guests(kind)?;
                to_dynamic(&all.values().collect::<Vec<_>>())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "exists",
        &["id: int", "-> bool"],
        &format!("Whether a {what} exists."),
        move |nc: NativeCallContext, id: Dynamic| -> Res<bool> {
            at(&nc, || Ok(c.run()?.facts.guests(kind)?.contains_key(&guest_id(&id)?)))
        },
    );

    let c = ctx.clone();
    ns.add(
        "status",
        &["id: int", "-> String"],
        &format!("\"running\", \"stopped\" or \"other\"; () when the {what} does not exist."),
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let id = guest_id(&id)?;
                let all = c.run()?.facts.guests(kind)?;
                match all.get(&id) {
                    Some(g) => to_dynamic(&g.power),
                    None => Ok(Dynamic::UNIT),
                }
            })
        },
    );

    let c = ctx.clone();
    let fields = match kind {
        GuestKind::Lxc => {
            "#{hostname, cores, memory, swap, onboot, startup, nets, mount_points, rootfs, features, lxc, raw, …}"
        }
        GuestKind::Vm => "#{name, cores, memory, onboot, agent, nets, disks, ciuser, ipconfigs, template, raw, …}",
    };
    ns.add(
        "config",
        &["id: int", "-> Map"],
        &format!("The {what}'s configuration (pending changes applied), parsed: {fields}; () when absent."),
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let id = guest_id(&id)?;
                let run = c.run()?;
                let conf = run.facts.guest_conf(kind, id)?;
                match conf.as_ref() {
                    None => Ok(Dynamic::UNIT),
                    Some(conf) => match kind {
                        GuestKind::Lxc => to_dynamic(&conf.pct()?),
                        GuestKind::Vm => to_dynamic(&conf.qm()?),
                    },
                }
            })
        },
    );
}
