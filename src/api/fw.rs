//! `fw::` — Proxmox firewall file contents generated from the configuration.

use super::at;
use super::convert::guest_id;
use super::{Ctx, Namespace, Res};
use crate::generate::firewall::{cluster_file, guest_file};
use crate::inventory::GuestRef;
use rhai::{Dynamic, NativeCallContext};

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("fw", "Proxmox firewall files generated from the configuration.");

    let c = ctx.clone();
    ns.add(
        "cluster_file",
        &["-> String"],
        "The text of /etc/pve/firewall/cluster.fw for the declared host firewall, or () when none is declared.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                Ok(match &run.inventory.hypervisor.firewall {
                    Some(fw) => cluster_file(fw)?.into(),
                    None => Dynamic::UNIT,
                })
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "guest_file",
        &["id: int", "-> String"],
        "The text of /etc/pve/firewall/<id>.fw for a guest's declared firewall, or () when it declares none.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let fw = match run.inventory.guest(id).ok_or_else(|| format!("guest {id} is not declared"))? {
                    GuestRef::Lxc(g) => g.firewall.as_ref(),
                    GuestRef::Vm(g) => g.firewall.as_ref(),
                };
                match fw {
                    Some(f) => Ok(Dynamic::from(guest_file(id, f)?)),
                    None => Ok(Dynamic::UNIT),
                }
            })
        },
    );
    ns
}
