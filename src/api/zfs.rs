//! `zfs::` — pools (read) and datasets (read, ensure).

use super::at;
use super::convert::to_dynamic;
use super::file::carry_out;
use super::{Ctx, Namespace, Res};
use crate::ops::zfs::{ensure_dataset, ensure_pool, parse_property_list};
use rhai::{Dynamic, Map, NativeCallContext};

/// Properties from a map (`#{compression: "lz4"}`) or the original tool's comma list string.
fn props_from(value: &Dynamic) -> Res<Vec<(String, String)>> {
    let props = props_unchecked(value)?;
    super::convert::zfs_property_names("zfs::ensure_dataset", props.iter().map(|(k, _)| k.as_str()))?;
    Ok(props)
}

fn props_unchecked(value: &Dynamic) -> Res<Vec<(String, String)>> {
    if value.is_unit() {
        return Ok(Vec::new());
    }
    if let Some(map) = value.clone().try_cast::<Map>() {
        return map
            .into_iter()
            .map(|(k, v)| {
                let v = if v.is_string() { v.into_string().unwrap_or_default() } else { v.to_string() };
                Ok((k.to_string(), v))
            })
            .collect();
    }
    if let Ok(s) = value.clone().into_string() {
        return parse_property_list(&s).map_err(|e| e.into());
    }
    Err(format!("properties must be a map or a \"k=v,k=v\" string, not {}", value.type_name()).into())
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("zfs", "ZFS pools (read) and datasets (read, ensure).");

    let c = ctx.clone();
    ns.add(
        "pools",
        &["-> Array"],
        "Every pool: [#{name, size, alloc, free, health}] (bytes).",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                to_dynamic(&*run.facts.pools()?)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "pool_exists",
        &["name: String", "-> bool"],
        "Whether a pool is imported on the host.",
        move |nc: NativeCallContext, name: &str| -> Res<bool> {
            at(&nc, || Ok(c.run()?.facts.pools()?.iter().any(|p| p.name == name)))
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_pool",
        &["name: String", "raid_level: String", "disks: Array", "-> Map"],
        "Make a pool exist: when absent, `zpool create -o ashift=12 <name> [mirror|raidz1|…] <disks>` \
         (without -f: ZFS refuses disks that carry data; phoenix never wipes). An imported pool is left as it is.",
        move |nc: NativeCallContext, name: &str, raid: &str, disks: rhai::Array| -> Res<Dynamic> {
            at(&nc, || {
                let disks: Vec<String> = disks.into_iter().map(|d| d.to_string()).collect();
                let run = c.run()?;
                carry_out(&c, ensure_pool(&run.facts, name, Some(raid), &disks))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "datasets",
        &["-> Array"],
        "Every filesystem and volume: [#{name, kind, used, avail, mountpoint}].",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let all = run.facts.datasets()?;
                let list: Vec<_> = all.values().cloned().collect();
                to_dynamic(&list)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "dataset_exists",
        &["name: String", "-> bool"],
        "Whether a dataset exists (in a dry-run: or would by now).",
        move |nc: NativeCallContext, name: &str| -> Res<bool> {
            at(&nc, || Ok(c.run()?.facts.datasets()?.contains_key(name)))
        },
    );

    let c = ctx.clone();
    ns.add(
        "get",
        &["dataset: String", "property: String", "-> String"],
        "A property's value (exact numbers for sizes), or () when unknown until apply.",
        move |nc: NativeCallContext, ds: &str, prop: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let props = run.facts.dataset_props(ds, &[prop])?;
                Ok(props.values.get(prop).map(|(v, _)| Dynamic::from(v.clone())).unwrap_or(Dynamic::UNIT))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_dataset",
        &["name: String", "properties: Map", "-> Map"],
        "Make a dataset exist with these properties (#{compression: \"lz4\"} or \"compression=lz4,atime=off\"). \
         Creates it (`zfs create -o …`) when absent, sets only the properties that differ otherwise. \
         The pool and parent must exist. Returns #{changed, actions}.",
        move |nc: NativeCallContext, name: &str, props: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let props = props_from(&props)?;
                let run = c.run()?;
                carry_out(&c, ensure_dataset(&run.facts, name, &props))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_dataset",
        &["name: String", "-> Map"],
        "Make a dataset exist (no properties declared).",
        move |nc: NativeCallContext, name: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                carry_out(&c, ensure_dataset(&run.facts, name, &[]))
            })
        },
    );
    ns
}
