//! `pct::` — LXC containers (read side: list, status, config).

use super::at;
use super::convert::{guest_id, to_dynamic};
use super::{Ctx, Namespace, Res};
use rhai::{Dynamic, NativeCallContext};

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("pct", "LXC containers: list, status and configuration.");

    let c = ctx.clone();
    ns.add(
        "list",
        &["-> Array"],
        "Every container: [#{vmid, status, lock, name}] (one `pct list` per run).",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(
                &nc,
                (|| -> Res<Dynamic> {
                    to_dynamic(&*c.run()?.facts.pct_list().map_err(|e| e.to_string())?)
                })(),
            )
        },
    );

    let c = ctx.clone();
    ns.add(
        "exists",
        &["id: int", "-> bool"],
        "Whether a container exists.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<bool> {
            at(
                &nc,
                (|| -> Res<bool> {
                    let id = guest_id(&id)?;
                    Ok(c.run()?
                        .facts
                        .pct_list()
                        .map_err(|e| e.to_string())?
                        .iter()
                        .any(|e| e.vmid == id))
                })(),
            )
        },
    );

    let c = ctx.clone();
    ns.add(
        "status",
        &["id: int", "-> String"],
        "\"running\", \"stopped\", … or () when the container does not exist.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(
                &nc,
                (|| -> Res<Dynamic> {
                    let id = guest_id(&id)?;
                    let list = c.run()?.facts.pct_list().map_err(|e| e.to_string())?;
                    Ok(match list.iter().find(|e| e.vmid == id) {
                        Some(e) => super::convert::to_dynamic(&e.status)?,
                        None => Dynamic::UNIT,
                    })
                })(),
            )
        },
    );

    let c = ctx.clone();
    ns.add(
        "config",
        &["id: int", "-> Map"],
        "The parsed `pct config`: #{hostname, cores, memory, swap, onboot, nets, mount_points, features, lxc, raw, …}, or () when absent.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> { at(&nc, (|| -> Res<Dynamic> {
            let id = guest_id(&id)?;
            let cfg = c.run()?.facts.pct_config(id).map_err(|e| e.to_string())?;
            match cfg.as_ref() {
                Some(cfg) => to_dynamic(cfg),
                None => Ok(Dynamic::UNIT),
            }
        })()) },
    );
    ns
}
