//! `pvesm::` — Proxmox storage definitions (read, ensure).

use super::at;
use super::convert::to_dynamic;
use super::file::carry_out;
use super::{Ctx, Namespace, Res};
use crate::ops::pvesm::ensure_storage;
use indexmap::IndexMap;
use rhai::{Dynamic, Map, NativeCallContext};

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("pvesm", "Proxmox storages (storage.cfg): read and ensure.");

    let c = ctx.clone();
    ns.add(
        "storages",
        &["-> Map"],
        "Every storage definition by id: #{\"local\": #{kind, id, options}}.",
        move |nc: NativeCallContext| -> Res<Dynamic> { at(&nc, || to_dynamic(&*c.run()?.facts.storages()?)) },
    );

    let c = ctx.clone();
    ns.add(
        "exists",
        &["id: String", "-> bool"],
        "Whether a storage id is defined.",
        move |nc: NativeCallContext, id: &str| -> Res<bool> {
            at(&nc, || Ok(c.run()?.facts.storages()?.contains_key(id)))
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_storage",
        &["id: String", "type: String", "options: Map", "-> Map"],
        "Make a storage exist with this type and options (pvesm option names: #{pool: \"tank/vm\", content: \"images,rootdir\"}). \
         Adds it when absent (`pvesm add`), sets only the options that differ otherwise (`pvesm set`); \
         never removes or retypes a storage. Returns #{changed, actions}.",
        move |nc: NativeCallContext, id: &str, kind: &str, opts: Map| -> Res<Dynamic> { at(&nc, || {
            super::convert::known_keys(&opts, "pvesm::ensure_storage", super::convert::PVESM_OPTIONS)?;
            let mut options = IndexMap::new();
            for (k, v) in opts {
                let v = if v.is_string() { v.into_string().unwrap_or_default() } else { v.to_string() };
                options.insert(k.to_string(), v);
            }
            let run = c.run()?;
            carry_out(&c, ensure_storage(&run.facts, id, kind, &options))
        }) },
    );
    ns
}
