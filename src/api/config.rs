//! `config::` — the inventory as the plan sees it: the declared host, guests and stacks.

use super::at;
use super::convert::{guest_id, ids_to_array, to_dynamic};
use super::{Ctx, Namespace, Res};
use crate::inventory::GuestRef;
use rhai::{Array, Dynamic, Map, NativeCallContext};

fn guest_map(g: GuestRef<'_>) -> Res<Dynamic> {
    let mut d = match g {
        GuestRef::Lxc(l) => to_dynamic(l)?,
        GuestRef::Vm(v) => to_dynamic(v)?,
    };
    if let Some(mut m) = d.write_lock::<Map>() {
        m.insert("id".into(), (g.id() as i64).into());
        m.insert("kind".into(), g.kind().to_string().into());
        m.insert("is_template".into(), g.is_template().into());
    }
    Ok(d)
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("config", "The declared configuration: host, guests and stacks.");

    let c = ctx.clone();
    ns.add(
        "dir",
        &["-> String"],
        "The configuration folder this run loaded.",
        move |nc: NativeCallContext| -> Res<String> {
            at(&nc, || Ok(c.run()?.inventory.config_dir.display().to_string()))
        },
    );

    let c = ctx.clone();
    ns.add(
        "hypervisor",
        &["-> Map"],
        "The host configuration (phoenix_hypervisor_config.json) as a map; secrets read as \"***\".",
        move |nc: NativeCallContext| -> Res<Dynamic> { at(&nc, || to_dynamic(&c.run()?.inventory.hypervisor)) },
    );

    let c = ctx.clone();
    ns.add(
        "edge",
        &["-> Map"],
        "The lab's network edge derived from the configuration (inventory::edge::Edge): #{domain, ca, traefik, \
         gateway (each #{id, name, ip} or ()), routes: [#{name, host, declared_in, upstream}], dns_records: \
         [#{name, ip, why}]}. `upstream` is #{Server: #{scheme: \"Http\"|\"Https\", ip, port, guest}} or \
         \"TraefikDashboard\". Routes are sorted by host, records by name; roles come from `edge` in \
         phoenix_hypervisor_config.json, else the step_ca / traefik features and the nginx_gateway.sh script.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || to_dynamic(&super::edge::edge_of(&c.run()?.inventory)?))
        },
    );

    let c = ctx.clone();
    ns.add(
        "guest_ids",
        &["-> Array"],
        "Every declared guest id: LXCs, then VMs, in file order.",
        move |nc: NativeCallContext| -> Res<Array> { at(&nc, || Ok(ids_to_array(&c.run()?.inventory.guest_ids()))) },
    );

    let c = ctx.clone();
    ns.add(
        "lxc_ids",
        &["-> Array"],
        "Every declared LXC id, in file order.",
        move |nc: NativeCallContext| -> Res<Array> {
            at(&nc, || Ok(ids_to_array(&c.run()?.inventory.lxc.guests.keys().copied().collect::<Vec<_>>())))
        },
    );

    let c = ctx.clone();
    ns.add(
        "vm_ids",
        &["-> Array"],
        "Every declared VM id, in file order.",
        move |nc: NativeCallContext| -> Res<Array> {
            at(&nc, || Ok(ids_to_array(&c.run()?.inventory.vm.guests.keys().copied().collect::<Vec<_>>())))
        },
    );

    let c = ctx.clone();
    ns.add(
        "guest",
        &["id: int", "-> Map"],
        "A declared guest (LXC or VM) as a map with its config fields plus `id`, `kind` (\"lxc\"/\"vm\") and `is_template`.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> { at(&nc, || {
            let run = c.run()?;
            let id = guest_id(&id)?;
            let g = run.inventory.guest(id).ok_or_else(|| format!("guest {id} is not declared"))?;
            guest_map(g)
        }) },
    );

    let c = ctx.clone();
    ns.add(
        "has_guest",
        &["id: int", "-> bool"],
        "Whether a guest id is declared.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<bool> {
            at(&nc, || Ok(c.run()?.inventory.guest(guest_id(&id)?).is_some()))
        },
    );

    let c = ctx.clone();
    ns.add(
        "application_script",
        &["id: int", "-> String"],
        "The text of a container's application script (from the configuration folder), or () when it declares none.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let Some(GuestRef::Lxc(g)) = run.inventory.guest(id) else { return Ok(Dynamic::UNIT) };
                match &g.application_script_path {
                    Some(p) => std::fs::read_to_string(p).map(Dynamic::from).map_err(|source| {
                        super::error::ApiError::ConfigFile {
                            function: "config::application_script",
                            path: p.clone(),
                            source,
                        }
                        .into()
                    }),
                    None => Ok(Dynamic::UNIT),
                }
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "stacks",
        &["-> Map"],
        "Every stack (stacks/<name>/{phoenix.json,docker-compose.yml}) by name.",
        move |nc: NativeCallContext| -> Res<Dynamic> { at(&nc, || to_dynamic(&c.run()?.inventory.stacks)) },
    );

    let c = ctx.clone();
    ns.add(
        "targets",
        &["args: Array", "-> Array"],
        "Guest ids named on the command line (`101 102`, or `--all` for every guest), checked against the config.",
        move |nc: NativeCallContext, args: Array| -> Res<Array> {
            at(&nc, || {
                let run = c.run()?;
                let declared = run.inventory.guest_ids();
                let mut out = Vec::new();
                for a in &args {
                    let text = a.to_string();
                    if text == "--all" || text == "all" {
                        out.extend(declared.iter().copied());
                        continue;
                    }
                    if text.starts_with('-') {
                        continue;
                    }
                    let id = guest_id(a)?;
                    if !declared.contains(&id) {
                        let near = declared
                            .iter()
                            .map(|d| d.to_string())
                            .filter(|d| strsim::levenshtein(d, &text) <= 1)
                            .collect::<Vec<_>>();
                        let hint = if near.is_empty() {
                            let all: Vec<String> = declared.iter().map(u32::to_string).collect();
                            format!("declared guests: {}", all.join(", "))
                        } else {
                            format!("did you mean {}?", near.join(" or "))
                        };
                        return Err(super::operator::raise(
                            format!("guest {id} is not declared in the configuration"),
                            Some(hint),
                        ));
                    }
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
                out.dedup();
                Ok(ids_to_array(&out))
            })
        },
    );
    ns
}
