//! `zfs` and `zpool` (contracts §C). Defaults follow OpenZFS 2.3 (what PVE 9 ships): notably
//! `compression` defaults to `on` (since OpenZFS 2.2) and `xattr` to `sa`.

use super::args::ShortArgs;
use super::reply::{die, ok};
use super::state::{Dataset, DatasetKind, Pool, SimState};
use super::table::{nicenum, render, Column};
use crate::output::Output;
use indexmap::IndexMap;
use std::collections::HashMap;

/// Every simulated disk is this big: the simulator has no disk inventory, so any device given
/// to `zpool create` that is not already in a pool is a blank 1.92 TB disk.
const DISK_BYTES: u64 = 1_920_383_410_176;
/// Size of an empty dataset.
const EMPTY_FS: u64 = 98_304;
/// Epoch shown as `creation` for every dataset (the simulator does not track it).
const CREATION: u64 = 1_735_689_600;

const GET_USAGE: &str = "usage:\n\tget [-rHp] [-d max] [-o \"all\" | field[,...]]\n\t    [-t type[,...]] [-s source[,...]]\n\t    <\"all\" | property[,...]> [filesystem|volume|snapshot|bookmark] ...\n";

/// Properties `zfs get all` shows, in libzfs table order.
const ALL_PROPS: &[&str] = &[
    "type",
    "creation",
    "used",
    "available",
    "referenced",
    "compressratio",
    "mounted",
    "quota",
    "reservation",
    "recordsize",
    "mountpoint",
    "sharenfs",
    "checksum",
    "compression",
    "atime",
    "devices",
    "exec",
    "setuid",
    "readonly",
    "zoned",
    "snapdir",
    "aclmode",
    "aclinherit",
    "canmount",
    "xattr",
    "copies",
    "version",
    "utf8only",
    "normalization",
    "casesensitivity",
    "vscan",
    "nbmand",
    "sharesmb",
    "refquota",
    "refreservation",
    "primarycache",
    "secondarycache",
    "usedbysnapshots",
    "usedbydataset",
    "usedbychildren",
    "usedbyrefreservation",
    "logbias",
    "dedup",
    "mlslabel",
    "sync",
    "dnodesize",
    "refcompressratio",
    "written",
    "logicalused",
    "logicalreferenced",
    "volmode",
    "snapdev",
    "acltype",
    "relatime",
    "redundant_metadata",
    "overlay",
    "encryption",
    "keylocation",
    "keyformat",
    "special_small_blocks",
    "volsize",
    "volblocksize",
];

/// Inheritable native properties and their defaults.
fn inheritable_default(p: &str) -> Option<&'static str> {
    Some(match p {
        "compression" => "on",
        "atime" => "on",
        "relatime" => "on",
        "sync" => "standard",
        "xattr" => "sa",
        "acltype" => "off",
        "recordsize" => "131072",
        "checksum" => "on",
        "dedup" => "off",
        "copies" => "1",
        "exec" => "on",
        "setuid" => "on",
        "devices" => "on",
        "readonly" => "off",
        "zoned" => "off",
        "snapdir" => "hidden",
        "aclmode" => "discard",
        "aclinherit" => "restricted",
        "primarycache" => "all",
        "secondarycache" => "all",
        "logbias" => "latency",
        "sharenfs" => "off",
        "sharesmb" => "off",
        "mlslabel" => "none",
        "dnodesize" => "legacy",
        "volmode" => "default",
        "snapdev" => "hidden",
        "redundant_metadata" => "all",
        "overlay" => "on",
        "special_small_blocks" => "0",
        "vscan" => "off",
        "nbmand" => "off",
        "keylocation" => "none",
        _ => return None,
    })
}

/// Settable, not inherited; value when unset.
fn local_only_default(p: &str) -> Option<&'static str> {
    Some(match p {
        "quota" | "refquota" | "reservation" | "refreservation" => "none",
        "canmount" => "on",
        "volsize" | "volblocksize" => "-",
        "encryption" => "off",
        "keyformat" => "none",
        _ => return None,
    })
}

/// Read-only statistics.
fn is_readonly(p: &str) -> bool {
    matches!(
        p,
        "type"
            | "creation"
            | "used"
            | "available"
            | "referenced"
            | "compressratio"
            | "mounted"
            | "version"
            | "utf8only"
            | "normalization"
            | "casesensitivity"
            | "usedbysnapshots"
            | "usedbydataset"
            | "usedbychildren"
            | "usedbyrefreservation"
            | "refcompressratio"
            | "written"
            | "logicalused"
            | "logicalreferenced"
            | "name"
    )
}

fn is_size_prop(p: &str) -> bool {
    matches!(
        p,
        "used"
            | "available"
            | "referenced"
            | "quota"
            | "reservation"
            | "recordsize"
            | "refquota"
            | "refreservation"
            | "usedbysnapshots"
            | "usedbydataset"
            | "usedbychildren"
            | "usedbyrefreservation"
            | "written"
            | "logicalused"
            | "logicalreferenced"
            | "volsize"
            | "volblocksize"
            | "special_small_blocks"
    )
}

fn canonical_prop(p: &str) -> &str {
    match p {
        "avail" => "available",
        "refer" => "referenced",
        "compress" => "compression",
        "recsize" => "recordsize",
        "reserv" => "reservation",
        "refreserv" => "refreservation",
        "ratio" => "compressratio",
        "volblock" => "volblocksize",
        other => other,
    }
}

fn column_header(p: &str) -> String {
    let h = match p {
        "available" => "AVAIL",
        "referenced" => "REFER",
        "compression" => "COMPRESS",
        "recordsize" => "RECSIZE",
        "reservation" => "RESERV",
        "refreservation" => "REFRESERV",
        "compressratio" => "RATIO",
        "volblocksize" => "VOLBLOCK",
        other if other.contains(':') => return other.to_string(),
        other => return other.to_ascii_uppercase(),
    };
    h.to_string()
}

fn is_known_prop(p: &str) -> bool {
    p == "name" || p.contains(':') || ALL_PROPS.contains(&p)
}

/// Per-command derived numbers: `used` of each dataset (itself plus descendants) and the
/// pool's allocation. Computed once per command in O(datasets × depth).
struct Usage {
    used: HashMap<String, u64>,
    pool_alloc: HashMap<String, u64>,
}

fn usage(st: &SimState) -> Usage {
    let mut used: HashMap<String, u64> = HashMap::with_capacity(st.datasets.len());
    let mut pool_alloc: HashMap<String, u64> = HashMap::new();
    for (name, ds) in &st.datasets {
        let own = own_bytes(ds);
        let mut cur: &str = name;
        loop {
            *used.entry(cur.to_string()).or_insert(0) += own;
            match cur.rfind('/') {
                Some(i) => cur = &cur[..i],
                None => break,
            }
        }
        *pool_alloc.entry(pool_of(name).to_string()).or_insert(0) += ds.referenced;
    }
    Usage { used, pool_alloc }
}

/// Bytes charged to a dataset itself: what it references, or its reservation for a thick volume.
fn own_bytes(ds: &Dataset) -> u64 {
    let refres = ds.props.get("refreservation").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    ds.referenced.max(refres)
}

fn pool_of(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

fn parent_of(name: &str) -> Option<&str> {
    name.rfind('/').map(|i| &name[..i])
}

/// Resolve a property: (raw value, source). Raw sizes are bytes; `-` means not applicable.
fn resolve(st: &SimState, u: &Usage, name: &str, prop: &str) -> (String, String) {
    let Some(ds) = st.datasets.get(name) else {
        return ("-".into(), "-".into());
    };
    let dash = || ("-".to_string(), "-".to_string());
    let stat = |v: String| (v, "-".to_string());
    let used = u.used.get(name).copied().unwrap_or(0);
    match prop {
        "name" => return stat(name.to_string()),
        "type" => {
            return stat(match ds.kind {
                DatasetKind::Filesystem => "filesystem".into(),
                DatasetKind::Volume => "volume".into(),
            })
        }
        "creation" => return stat(CREATION.to_string()),
        "used" => return stat(used.to_string()),
        "referenced" | "logicalreferenced" | "usedbydataset" | "written" => return stat(ds.referenced.to_string()),
        "logicalused" => return stat(used.to_string()),
        "usedbychildren" => return stat(used.saturating_sub(own_bytes(ds)).to_string()),
        "usedbysnapshots" => return stat("0".into()),
        "usedbyrefreservation" => return stat(own_bytes(ds).saturating_sub(ds.referenced).to_string()),
        "available" => return stat(available(st, u, name).to_string()),
        "compressratio" | "refcompressratio" => return stat("1.00x".into()),
        "mounted" => {
            return match ds.kind {
                DatasetKind::Filesystem => stat("yes".into()),
                DatasetKind::Volume => dash(),
            }
        }
        "version" => return if ds.kind == DatasetKind::Filesystem { stat("5".into()) } else { dash() },
        "utf8only" | "normalization" | "casesensitivity" => {
            if ds.kind == DatasetKind::Volume {
                return dash();
            }
            let v = match prop {
                "utf8only" => "off",
                "normalization" => "none",
                _ => "sensitive",
            };
            return stat(v.into());
        }
        "volsize" => {
            return match ds.volsize {
                Some(v) => (v.to_string(), "local".into()),
                None => dash(),
            }
        }
        "volblocksize" => {
            return match ds.kind {
                DatasetKind::Volume => {
                    ds.props.get("volblocksize").map(|v| (v.clone(), "-".into())).unwrap_or(stat("16384".into()))
                }
                DatasetKind::Filesystem => dash(),
            }
        }
        _ => {}
    }
    if let Some(v) = ds.props.get(prop) {
        return (v.clone(), "local".into());
    }
    // Filesystem-only properties make no sense on a volume.
    if ds.kind == DatasetKind::Volume
        && matches!(
            prop,
            "mountpoint"
                | "recordsize"
                | "atime"
                | "relatime"
                | "exec"
                | "setuid"
                | "devices"
                | "canmount"
                | "xattr"
                | "acltype"
                | "snapdir"
                | "sharenfs"
                | "sharesmb"
                | "zoned"
                | "aclmode"
                | "aclinherit"
                | "vscan"
                | "nbmand"
                | "overlay"
                | "dnodesize"
                | "special_small_blocks"
                | "quota"
                | "refquota"
        )
    {
        return dash();
    }
    if prop == "mountpoint" {
        let mut cur = name;
        while let Some(p) = parent_of(cur) {
            if let Some(mp) = st.datasets.get(p).and_then(|d| d.props.get("mountpoint")) {
                let rel = &name[p.len() + 1..];
                let path = if mp == "none" || mp == "legacy" {
                    mp.clone()
                } else {
                    format!("{}/{rel}", mp.trim_end_matches('/'))
                };
                return (path, format!("inherited from {p}"));
            }
            cur = p;
        }
        return (format!("/{name}"), "default".into());
    }
    if let Some(def) = local_only_default(prop) {
        return (def.to_string(), "default".into());
    }
    let user = prop.contains(':');
    if user || inheritable_default(prop).is_some() {
        let mut cur = name;
        while let Some(p) = parent_of(cur) {
            if let Some(v) = st.datasets.get(p).and_then(|d| d.props.get(prop)) {
                return (v.clone(), format!("inherited from {p}"));
            }
            cur = p;
        }
        return match inheritable_default(prop) {
            Some(d) => (d.to_string(), "default".into()),
            None => dash(),
        };
    }
    dash()
}

fn available(st: &SimState, u: &Usage, name: &str) -> u64 {
    let pool = pool_of(name);
    let size = st.pools.get(pool).map(|p| p.size).unwrap_or(0);
    // ZFS keeps 1/32 of the pool as slop space.
    let alloc = u.pool_alloc.get(pool).copied().unwrap_or(0);
    let mut avail = (size - size / 32).saturating_sub(alloc);
    let mut cur = Some(name);
    while let Some(c) = cur {
        if let Some(q) = st.datasets.get(c).and_then(|d| d.props.get("quota")).and_then(|q| q.parse::<u64>().ok()) {
            avail = avail.min(q.saturating_sub(u.used.get(c).copied().unwrap_or(0)));
        }
        cur = parent_of(c);
    }
    avail
}

/// Human or parsable rendering of a raw value.
fn display(prop: &str, raw: &str, parsable: bool) -> String {
    if parsable || !is_size_prop(prop) {
        if parsable && prop == "creation" {
            return raw.to_string();
        }
        if prop == "creation" {
            return "Wed Jan  1  0:00 2025".into();
        }
        if parsable && matches!(raw, "none") && is_size_prop(prop) {
            return "0".into();
        }
        if parsable && (prop == "compressratio" || prop == "refcompressratio") {
            return raw.trim_end_matches('x').to_string();
        }
        return raw.to_string();
    }
    match raw.parse::<u64>() {
        Ok(n) => nicenum(n, true),
        Err(_) => raw.to_string(),
    }
}

/// Datasets sorted the way zfs walks them: parents before children, siblings by name.
fn sorted_names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut v: Vec<&String> = names.collect();
    v.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    v
}

/// Expand the positional dataset arguments with `-r`/`-d`. Missing ones go to `errors`.
fn select<'a>(st: &'a SimState, names: &[String], recurse: Option<usize>, errors: &mut String) -> Vec<&'a String> {
    if names.is_empty() {
        return sorted_names(st.datasets.keys());
    }
    let mut out = Vec::new();
    for n in names {
        let Some((key, _)) = st.datasets.get_key_value(n.as_str()) else {
            errors.push_str(&format!("cannot open '{n}': dataset does not exist\n"));
            continue;
        };
        out.push(key);
        if let Some(depth) = recurse {
            let prefix = format!("{n}/");
            let base = n.matches('/').count();
            let kids = st
                .datasets
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(k, _)| k.matches('/').count() - base <= depth)
                .map(|(k, _)| k);
            out.extend(sorted_names(kids));
        }
    }
    out
}

fn type_matches(ds: &Dataset, types: &[&str]) -> bool {
    types.iter().any(|t| match *t {
        "all" => true,
        "filesystem" | "fs" => ds.kind == DatasetKind::Filesystem,
        "volume" | "vol" => ds.kind == DatasetKind::Volume,
        _ => false,
    })
}

pub(crate) fn run_zfs(st: &mut SimState, argv: &[String]) -> Output {
    let sub = argv.first().map(String::as_str).unwrap_or("");
    let rest = argv.get(1..).unwrap_or(&[]);
    match sub {
        "list" => zfs_list(st, rest),
        "get" => zfs_get(st, rest),
        "create" => zfs_create(st, rest),
        "set" => zfs_set(st, rest),
        "inherit" => zfs_inherit(st, rest),
        "destroy" => zfs_destroy(st, rest),
        "" => die("missing command\nusage: zfs command args ...", 2),
        other => die(format!("unrecognized command '{other}'\nusage: zfs command args ..."), 2),
    }
}

fn depth_arg(a: &ShortArgs) -> Result<Option<usize>, Output> {
    if let Some(d) = a.value('d') {
        return d.parse().map(Some).map_err(|_| die(format!("invalid depth '{d}'"), 2));
    }
    Ok(if a.flag('r') { Some(usize::MAX) } else { None })
}

fn zfs_list(st: &SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &['o', 't', 'd', 's', 'S']) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let depth = match depth_arg(&a) {
        Ok(d) => d,
        Err(o) => return o,
    };
    let props: Vec<String> = a
        .value('o')
        .unwrap_or("name,used,available,referenced,mountpoint")
        .split(',')
        .map(|p| canonical_prop(p).to_string())
        .collect();
    if let Some(bad) = props.iter().find(|p| !is_known_prop(p)) {
        return die(
            format!("bad property list: invalid property '{bad}'\n{}", GET_USAGE.replace("get [-rHp]", "list [-Hp]")),
            2,
        );
    }
    let types: Vec<&str> = a.value('t').unwrap_or("filesystem,volume").split(',').collect();
    let mut errors = String::new();
    // Named datasets are shown whatever their type; -t filters only recursion and the full list.
    let named = !a.positional.is_empty();
    let names = select(st, &a.positional, depth, &mut errors);
    let u = usage(st);
    let parsable = a.flag('p');
    let rows: Vec<Vec<String>> = names
        .iter()
        .filter(|n| {
            st.datasets.get(n.as_str()).is_some_and(|d| (named && a.positional.contains(n)) || type_matches(d, &types))
        })
        .map(|n| props.iter().map(|p| display(p, &resolve(st, &u, n, p).0, parsable)).collect())
        .collect();
    let cols: Vec<Column> = props
        .iter()
        .map(|p| Column {
            header: column_header(p),
            right: is_size_prop(p),
            min_width: if is_size_prop(p) { 5 } else { 0 },
        })
        .collect();
    let mut out = ok(String::new());
    if rows.is_empty() && errors.is_empty() {
        out.stderr = b"no datasets available\n".to_vec();
        return out;
    }
    listing(out, &cols, &rows, a.flag('H'), errors)
}

fn zfs_get(st: &SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &['o', 's', 'd', 't']) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let depth = match depth_arg(&a) {
        Ok(d) => d,
        Err(o) => return o,
    };
    let Some(proplist) = a.positional.first() else {
        return die(format!("missing property argument\n{GET_USAGE}"), 2);
    };
    let fields: Vec<&str> = a.value('o').unwrap_or("name,property,value,source").split(',').collect();
    if let Some(bad) =
        fields.iter().find(|f| !matches!(**f, "name" | "property" | "value" | "received" | "source" | "all"))
    {
        return die(format!("invalid field '{bad}'\n{GET_USAGE}"), 2);
    }
    let fields: Vec<&str> =
        if fields.contains(&"all") { vec!["name", "property", "value", "received", "source"] } else { fields };
    let sources: Option<Vec<&str>> = a.value('s').map(|s| s.split(',').collect());
    let all = proplist == "all";
    let props: Vec<String> =
        if all { Vec::new() } else { proplist.split(',').map(|p| canonical_prop(p).to_string()).collect() };
    if let Some(bad) = props.iter().find(|p| !is_known_prop(p)) {
        return die(format!("bad property list: invalid property '{bad}'\n{GET_USAGE}"), 2);
    }
    let mut errors = String::new();
    let names = select(st, &a.positional[1..], depth, &mut errors);
    let u = usage(st);
    let parsable = a.flag('p');
    let mut rows = Vec::new();
    for n in names {
        let list: Vec<String> = if all {
            let mut l: Vec<String> = ALL_PROPS.iter().map(|p| p.to_string()).collect();
            // User properties set here or on an ancestor.
            let mut users: Vec<String> = Vec::new();
            let mut cur = Some(n.as_str());
            while let Some(c) = cur {
                if let Some(d) = st.datasets.get(c) {
                    for k in d.props.keys().filter(|k| k.contains(':')) {
                        if !users.contains(k) {
                            users.push(k.clone());
                        }
                    }
                }
                cur = parent_of(c);
            }
            users.sort();
            l.extend(users);
            l
        } else {
            props.clone()
        };
        for p in &list {
            let (raw, source) = resolve(st, &u, n, p);
            // `zfs get all` omits what does not apply to this dataset type.
            if all && raw == "-" && source == "-" {
                continue;
            }
            let kind = if source.starts_with("inherited") {
                "inherited"
            } else if source == "-" {
                "none"
            } else {
                source.as_str()
            };
            if let Some(s) = &sources {
                if !s.contains(&kind) {
                    continue;
                }
            }
            let row: Vec<String> = fields
                .iter()
                .map(|f| match *f {
                    "name" => n.clone(),
                    "property" => p.clone(),
                    "value" => display(p, &raw, parsable),
                    "received" => "-".into(),
                    _ => source.clone(),
                })
                .collect();
            rows.push(row);
        }
    }
    let cols: Vec<Column> =
        fields.iter().map(|f| Column { header: f.to_ascii_uppercase(), right: false, min_width: 0 }).collect();
    let mut out = ok(if rows.is_empty() { String::new() } else { render(&cols, &rows, a.flag('H'), true) });
    if !errors.is_empty() {
        out.stderr = errors.into_bytes();
        out.code = 1;
    }
    out
}

/// Validate and normalise `prop=value` for dataset `ds` (sizes stored in bytes).
fn check_prop(ds: &str, k: &str, v: &str) -> Result<(String, String), Output> {
    let k = canonical_prop(k);
    let fail = |m: String| Err(die(format!("cannot set property for '{ds}': {m}"), 1));
    if !is_known_prop(k) {
        return fail(format!("invalid property '{k}'"));
    }
    if is_readonly(k) || k == "name" {
        return fail(format!("'{k}' is readonly"));
    }
    if is_size_prop(k) {
        if v == "none" && matches!(k, "quota" | "refquota" | "reservation" | "refreservation") {
            return Ok((k.to_string(), v.to_string()));
        }
        return match crate::size::zfs_parse(v) {
            Some(n) => Ok((k.to_string(), n.to_string())),
            None => fail(format!("bad numeric value '{v}'")),
        };
    }
    let allowed: Option<&[&str]> = match k {
        "compression" => {
            Some(&["on", "off", "lz4", "lzjb", "gzip", "gzip-1", "gzip-6", "gzip-9", "zle", "zstd", "zstd-fast"])
        }
        "atime" | "relatime" | "exec" | "setuid" | "devices" | "readonly" | "zoned" | "overlay" | "vscan"
        | "nbmand" => Some(&["on", "off"]),
        "sync" => Some(&["standard", "always", "disabled"]),
        "xattr" => Some(&["on", "off", "sa", "dir"]),
        "acltype" => Some(&["off", "posix", "disabled", "noacl", "posixacl"]),
        "canmount" => Some(&["on", "off", "noauto"]),
        _ => None,
    };
    if let Some(vals) = allowed {
        let ok_value = vals.contains(&v) || (k == "compression" && (v.starts_with("zstd-") || v.starts_with("gzip-")));
        if !ok_value {
            return fail(format!("'{k}' must be one of '{}'", vals.join(" | ")));
        }
    }
    if k == "mountpoint" && !(v.starts_with('/') || v == "none" || v == "legacy") {
        return fail("'mountpoint' must be an absolute path, 'none', or 'legacy'".to_string());
    }
    Ok((k.to_string(), index_name(k, v).to_string()))
}

/// The name ZFS reports for an index property's value. ZFS stores the index, not the word, and
/// reads it back as the first word of its table with that index (openzfs `zfs_prop.c`,
/// `zprop_index_to_string`), so backward-compatible spellings come back under the current name.
fn index_name<'a>(k: &str, v: &'a str) -> &'a str {
    match (k, v) {
        ("acltype", "posixacl") => "posix",
        ("acltype", "noacl" | "disabled") => "off",
        ("xattr", "dir") => "on",
        ("compression", "gzip-6") => "gzip",
        ("aclinherit", "secure") => "restricted",
        ("volmode", "geom") => "full",
        _ => v,
    }
}

fn zfs_create(st: &mut SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &['o', 'V', 'b']) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let Some(name) = a.positional.first() else {
        return die("missing filesystem argument\nusage:\n\tcreate [-Pnpuv] [-o property=value] ... <filesystem>\n\tcreate [-Pnpsv] [-b blocksize] [-o property=value] ... -V <size> <volume>", 2);
    };
    let mut props = IndexMap::new();
    for kv in a.all('o') {
        let Some((k, v)) = kv.split_once('=') else {
            return die("missing '=' for property=value argument", 2);
        };
        match check_prop(name, k, v) {
            Ok((k, v)) => {
                props.insert(k, v);
            }
            Err(e) => return e,
        }
    }
    let volsize = match a.value('V') {
        Some(s) => match crate::size::zfs_parse(s) {
            Some(n) => Some(n),
            None => return die(format!("bad size value '{s}'"), 2),
        },
        None => None,
    };
    if let Some(b) = a.value('b') {
        props.insert("volblocksize".into(), crate::size::zfs_parse(b).unwrap_or(16384).to_string());
    }
    let Some(parent) = parent_of(name) else {
        if st.datasets.contains_key(name.as_str()) {
            return die(format!("cannot create '{name}': dataset already exists"), 1);
        }
        return die(format!("cannot create '{name}': missing dataset name"), 1);
    };
    let pool = pool_of(name);
    if !st.pools.contains_key(pool) {
        return die(format!("cannot create '{name}': no such pool '{pool}'"), 1);
    }
    if st.datasets.contains_key(name.as_str()) {
        return if a.flag('p') { ok("") } else { die(format!("cannot create '{name}': dataset already exists"), 1) };
    }
    if !st.datasets.contains_key(parent) {
        if !a.flag('p') {
            return die(format!("cannot create '{name}': parent does not exist"), 1);
        }
        let mut missing = Vec::new();
        let mut cur = Some(parent);
        while let Some(c) = cur.filter(|c| !st.datasets.contains_key(*c)) {
            missing.push(c.to_string());
            cur = parent_of(c);
        }
        for m in missing.into_iter().rev() {
            st.datasets.insert(
                m,
                Dataset { kind: DatasetKind::Filesystem, referenced: EMPTY_FS, volsize: None, props: IndexMap::new() },
            );
        }
    }
    if st.datasets.get(parent).is_some_and(|d| d.kind == DatasetKind::Volume) {
        return die(format!("cannot create '{name}': parent is not a filesystem"), 1);
    }
    let ds = match volsize {
        Some(size) => {
            // A thick (non -s) volume reserves its whole size.
            if !a.flag('s') && !props.contains_key("refreservation") {
                props.insert("refreservation".into(), size.to_string());
            }
            Dataset { kind: DatasetKind::Volume, referenced: 57_344, volsize: Some(size), props }
        }
        None => Dataset { kind: DatasetKind::Filesystem, referenced: EMPTY_FS, volsize: None, props },
    };
    st.datasets.insert(name.clone(), ds);
    ok("")
}

fn zfs_set(st: &mut SimState, argv: &[String]) -> Output {
    let (assignments, targets): (Vec<&String>, Vec<&String>) = argv.iter().partition(|a| a.contains('='));
    if assignments.is_empty() {
        return die(
            "missing property=value argument(s)\nusage:\n\tset <property=value> ... <filesystem|volume|snapshot> ...",
            2,
        );
    }
    if targets.is_empty() {
        return die("missing dataset name(s)\nusage:\n\tset <property=value> ... <filesystem|volume|snapshot> ...", 2);
    }
    let mut errs = String::new();
    for t in targets {
        if !st.datasets.contains_key(t.as_str()) {
            errs.push_str(&format!("cannot open '{t}': dataset does not exist\n"));
            continue;
        }
        let mut checked = Vec::new();
        for kv in &assignments {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            match check_prop(t, k, v) {
                Ok(p) => checked.push(p),
                Err(e) => return e,
            }
        }
        if let Some(ds) = st.datasets.get_mut(t.as_str()) {
            for (k, v) in checked {
                if k == "volsize" {
                    ds.volsize = v.parse().ok();
                } else {
                    ds.props.insert(k, v);
                }
            }
        }
    }
    if errs.is_empty() {
        ok("")
    } else {
        die(errs, 1)
    }
}

fn zfs_inherit(st: &mut SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &[]) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let (Some(prop), targets) = (a.positional.first(), a.positional.get(1..).unwrap_or(&[])) else {
        return die(
            "missing property argument\nusage:\n\tinherit [-rS] <property> <filesystem|volume|snapshot> ...",
            2,
        );
    };
    let prop = canonical_prop(prop).to_string();
    let mut errs = String::new();
    for t in targets {
        if !st.datasets.contains_key(t.as_str()) {
            errs.push_str(&format!("cannot open '{t}': dataset does not exist\n"));
            continue;
        }
        let prefix = format!("{t}/");
        for (name, ds) in st.datasets.iter_mut() {
            if name == t || (a.flag('r') && name.starts_with(&prefix)) {
                ds.props.shift_remove(&prop);
            }
        }
    }
    if errs.is_empty() {
        ok("")
    } else {
        die(errs, 1)
    }
}

fn zfs_destroy(st: &mut SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &[]) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let Some(name) = a.positional.first() else {
        return die("missing dataset argument\nusage:\n\tdestroy [-fnpRrv] <filesystem|volume>", 2);
    };
    if !st.datasets.contains_key(name.as_str()) {
        return die(format!("cannot open '{name}': dataset does not exist"), 1);
    }
    if !name.contains('/') {
        return die(format!("cannot destroy '{name}': operation does not apply to pools\nuse 'zfs destroy -r {name}' to destroy all datasets in the pool\nuse 'zpool destroy {name}' to destroy the pool itself"), 1);
    }
    let prefix = format!("{name}/");
    let children: Vec<String> = st
        .datasets
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    if !(children.is_empty() || a.flag('r') || a.flag('R')) {
        let direct: Vec<&String> = children.iter().filter(|c| !c[prefix.len()..].contains('/')).collect();
        let list: String = direct.iter().map(|c| format!("{c}\n")).collect();
        return die(
            format!(
                "cannot destroy '{name}': filesystem has children\nuse '-r' to destroy the following datasets:\n{list}"
            ),
            1,
        );
    }
    for c in children {
        st.datasets.remove(&c);
    }
    st.datasets.remove(name.as_str());
    ok("")
}

// ---- zpool ----

const POOL_COLUMNS: &[&str] = &[
    "name",
    "size",
    "allocated",
    "free",
    "checkpoint",
    "expandsize",
    "fragmentation",
    "capacity",
    "dedupratio",
    "health",
    "altroot",
];

fn pool_prop_canonical(p: &str) -> Option<&'static str> {
    Some(match p {
        "name" => "name",
        "size" => "size",
        "alloc" | "allocated" => "allocated",
        "free" => "free",
        "ckpoint" | "checkpoint" => "checkpoint",
        "expandsz" | "expandsize" => "expandsize",
        "frag" | "fragmentation" => "fragmentation",
        "cap" | "capacity" => "capacity",
        "dedup" | "dedupratio" => "dedupratio",
        "health" => "health",
        "altroot" => "altroot",
        "ashift" => "ashift",
        "autotrim" => "autotrim",
        "guid" => "guid",
        _ => return None,
    })
}

fn pool_header(p: &str) -> (&'static str, bool, usize) {
    match p {
        "name" => ("NAME", false, 0),
        "size" => ("SIZE", true, 5),
        "allocated" => ("ALLOC", true, 5),
        "free" => ("FREE", true, 5),
        "checkpoint" => ("CKPOINT", true, 7),
        "expandsize" => ("EXPANDSZ", true, 8),
        "fragmentation" => ("FRAG", true, 5),
        "capacity" => ("CAP", true, 5),
        "dedupratio" => ("DEDUP", true, 5),
        "health" => ("HEALTH", true, 8),
        "altroot" => ("ALTROOT", false, 0),
        "ashift" => ("ASHIFT", true, 6),
        "autotrim" => ("AUTOTRIM", false, 8),
        _ => ("GUID", false, 0),
    }
}

fn pool_value(name: &str, pool: &Pool, alloc: u64, prop: &str, parsable: bool) -> String {
    let size = |n: u64| {
        if parsable {
            n.to_string()
        } else {
            nicenum(n, false)
        }
    };
    match prop {
        "name" => name.to_string(),
        "size" => size(pool.size),
        "allocated" => size(alloc),
        "free" => size(pool.size.saturating_sub(alloc)),
        "checkpoint" | "expandsize" | "altroot" => "-".into(),
        "fragmentation" => {
            if parsable {
                "0".into()
            } else {
                "0%".into()
            }
        }
        "capacity" => {
            let pct = (alloc * 100).checked_div(pool.size).unwrap_or(0);
            if parsable {
                pct.to_string()
            } else {
                format!("{pct}%")
            }
        }
        "dedupratio" => {
            if parsable {
                "1.00".into()
            } else {
                "1.00x".into()
            }
        }
        "health" => pool.health.clone(),
        "ashift" => pool.props.get("ashift").cloned().unwrap_or_else(|| "0".into()),
        "autotrim" => pool.props.get("autotrim").cloned().unwrap_or_else(|| "off".into()),
        _ => {
            // A stable pseudo guid derived from the name.
            let h =
                name.bytes().fold(1_469_598_103_934_665_603u64, |h, b| (h ^ b as u64).wrapping_mul(1_099_511_628_211));
            h.to_string()
        }
    }
}

pub(crate) fn run_zpool(st: &mut SimState, argv: &[String]) -> Output {
    let sub = argv.first().map(String::as_str).unwrap_or("");
    let rest = argv.get(1..).unwrap_or(&[]);
    match sub {
        "list" => zpool_list(st, rest),
        "status" => zpool_status(st, rest),
        "create" => zpool_create(st, rest),
        "" => die("missing command\nusage: zpool command args ...", 2),
        other => die(format!("unrecognized command '{other}'\nusage: zpool command args ..."), 2),
    }
}

fn zpool_list(st: &SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &['o', 'T']) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let mut props = Vec::new();
    match a.value('o') {
        Some(list) => {
            for p in list.split(',') {
                match pool_prop_canonical(p) {
                    Some(c) => props.push(c),
                    None => return die(format!("property '{p}' is not a valid pool or vdev property"), 2),
                }
            }
        }
        None => props.extend_from_slice(POOL_COLUMNS),
    }
    let u = usage(st);
    let mut rows = Vec::new();
    let mut errors = String::new();
    let names: Vec<&String> =
        if a.positional.is_empty() { st.pools.keys().collect() } else { a.positional.iter().collect() };
    for n in names {
        let Some(pool) = st.pools.get(n.as_str()) else {
            errors.push_str(&format!("cannot open '{n}': no such pool\n"));
            continue;
        };
        let alloc = u.pool_alloc.get(n.as_str()).copied().unwrap_or(0);
        rows.push(props.iter().map(|p| pool_value(n, pool, alloc, p, a.flag('p'))).collect::<Vec<_>>());
    }
    let cols: Vec<Column> = props
        .iter()
        .map(|p| {
            let (h, right, w) = pool_header(p);
            Column { header: h.into(), right, min_width: w }
        })
        .collect();
    let mut out = ok(String::new());
    if st.pools.is_empty() && a.positional.is_empty() {
        out.stdout = b"no pools available\n".to_vec();
        return out;
    }
    listing(out, &cols, &rows, a.flag('H'), errors)
}

fn zpool_status(st: &SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &['T']) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let names: Vec<&String> =
        if a.positional.is_empty() { st.pools.keys().collect() } else { a.positional.iter().collect() };
    if st.pools.is_empty() && a.positional.is_empty() {
        return ok("no pools available\n");
    }
    let mut out = String::new();
    let mut errors = String::new();
    for n in names {
        let Some(pool) = st.pools.get(n.as_str()) else {
            errors.push_str(&format!("cannot open '{n}': no such pool\n"));
            continue;
        };
        let dev_name = |d: &String| d.rsplit('/').next().unwrap_or(d).to_string();
        let mut lines: Vec<(usize, String)> = vec![(0, n.clone())];
        if pool.layout == "stripe" {
            lines.extend(pool.devices.iter().map(|d| (2, dev_name(d))));
        } else {
            lines.push((2, format!("{}-0", pool.layout)));
            lines.extend(pool.devices.iter().map(|d| (4, dev_name(d))));
        }
        let width = lines.iter().map(|(d, s)| d + s.len()).max().unwrap_or(4).max(10);
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("  pool: {n}\n state: {}\nconfig:\n\n", pool.health));
        out.push_str(&format!("\t{:<width$}  {:<8} {:>5} {:>5} {:>5}\n", "NAME", "STATE", "READ", "WRITE", "CKSUM"));
        for (depth, name) in lines {
            out.push_str(&format!(
                "\t{:depth$}{:<w$}  {:<8} {:>5} {:>5} {:>5}\n",
                "",
                name,
                pool.health,
                0,
                0,
                0,
                w = width - depth
            ));
        }
        out.push_str("\nerrors: No known data errors\n");
    }
    let mut o = ok(out);
    if !errors.is_empty() {
        o.stderr = errors.into_bytes();
        o.code = 1;
    }
    o
}

fn zpool_create(st: &mut SimState, argv: &[String]) -> Output {
    let a = match ShortArgs::parse(argv, &['o', 'O', 'm', 'R']) {
        Ok(a) => a,
        Err(e) => return die(e, 2),
    };
    let usage = "usage:\n\tcreate [-fnd] [-o property=value] ... \n\t    [-O file-system-property=value] ...\n\t    [-m mountpoint] [-R root] <pool> <vdev> ...";
    let Some(name) = a.positional.first() else {
        return die(format!("missing pool name argument\n{usage}"), 2);
    };
    let spec = &a.positional[1..];
    if spec.is_empty() {
        return die(format!("missing vdev specification\n{usage}"), 2);
    }
    if st.pools.contains_key(name.as_str()) {
        return die(format!("cannot create '{name}': pool already exists"), 1);
    }
    let (layout, devices) = match spec[0].as_str() {
        l @ ("mirror" | "raidz" | "raidz1" | "raidz2" | "raidz3") => {
            (if l == "raidz" { "raidz1" } else { l }, &spec[1..])
        }
        _ => ("stripe", spec),
    };
    let min = match layout {
        "mirror" | "raidz1" => 2,
        "raidz2" => 3,
        "raidz3" => 4,
        _ => 1,
    };
    if devices.len() < min {
        return die(format!("invalid vdev specification: {layout} requires at least {min} devices"), 1);
    }
    let mut in_use = String::new();
    for d in devices {
        if let Some((p, _)) = st.pools.iter().find(|(_, p)| p.devices.contains(d)) {
            in_use.push_str(&format!("{d} is part of active pool '{p}'\n"));
        }
    }
    if !in_use.is_empty() {
        return die(format!("invalid vdev specification\nuse '-f' to override the following errors:\n{in_use}"), 1);
    }
    let mut pool_props = IndexMap::new();
    for kv in a.all('o') {
        match kv.split_once('=') {
            Some((k, v)) => {
                pool_props.insert(k.to_string(), v.to_string());
            }
            None => return die(format!("missing '=' for -o option\n{usage}"), 2),
        }
    }
    let mut fs_props = IndexMap::new();
    for kv in a.all('O') {
        let Some((k, v)) = kv.split_once('=') else {
            return die(format!("missing '=' for -O option\n{usage}"), 2);
        };
        match check_prop(name, k, v) {
            Ok((k, v)) => {
                fs_props.insert(k, v);
            }
            Err(mut e) => {
                e.stderr =
                    String::from_utf8_lossy(&e.stderr).replace("cannot set property for", "cannot create").into_bytes();
                return e;
            }
        }
    }
    if let Some(mp) = a.value('m') {
        fs_props.insert("mountpoint".into(), mp.to_string());
    }
    let n = devices.len() as u64;
    let size = match layout {
        "mirror" => DISK_BYTES,
        _ => DISK_BYTES * n,
    };
    st.pools.insert(
        name.clone(),
        Pool { layout: layout.into(), devices: devices.to_vec(), size, health: "ONLINE".into(), props: pool_props },
    );
    st.datasets.insert(
        name.clone(),
        Dataset { kind: DatasetKind::Filesystem, referenced: EMPTY_FS, volsize: None, props: fs_props },
    );
    ok("")
}

/// Create a dataset for a guest volume (used by pct/qm allocation); false if it exists.
pub(crate) fn create_for_volume(st: &mut SimState, name: &str, volsize: Option<u64>, quota: Option<u64>) -> bool {
    if st.datasets.contains_key(name) {
        return false;
    }
    let mut props = IndexMap::new();
    if let Some(q) = quota {
        props.insert("refquota".to_string(), q.to_string());
    }
    let kind = if volsize.is_some() { DatasetKind::Volume } else { DatasetKind::Filesystem };
    st.datasets.insert(name.to_string(), Dataset { kind, referenced: EMPTY_FS, volsize, props });
    true
}

/// The answer of a `zfs list` / `zpool list`: the table (when there are rows) on stdout, and the
/// per-name errors on stderr with exit 1 (the tools print what they found and fail for the rest).
fn listing(mut out: Output, cols: &[Column], rows: &[Vec<String>], no_header: bool, errors: String) -> Output {
    if !rows.is_empty() {
        out.stdout = render(cols, rows, no_header, true).into_bytes();
    }
    if !errors.is_empty() {
        out.stderr = errors.into_bytes();
        out.code = 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(st: &mut SimState, line: &str) -> Output {
        let v: Vec<String> = line.split_whitespace().map(String::from).collect();
        if v[0] == "zfs" {
            run_zfs(st, &v[1..])
        } else {
            run_zpool(st, &v[1..])
        }
    }

    #[test]
    fn zpool_list_default_layout() {
        let mut st = SimState::default();
        let o = run(&mut st, "zpool list");
        assert_eq!(
            o.stdout_str(),
            "NAME    SIZE  ALLOC   FREE  CKPOINT  EXPANDSZ   FRAG    CAP  DEDUP    HEALTH  ALTROOT\n\
             rpool  3.62T  2.48G  3.62T        -         -     0%     0%  1.00x    ONLINE  -\n"
        );
        assert_eq!(run(&mut st, "zpool list -H -o name,health rpool").stdout_str(), "rpool\tONLINE\n");
        let missing = run(&mut st, "zpool list tank");
        assert_eq!((missing.code, missing.stderr_str().as_str()), (1, "cannot open 'tank': no such pool\n"));
    }

    #[test]
    fn zpool_create_and_errors() {
        let mut st = SimState::default();
        let o = run(&mut st, "zpool create -f -o ashift=12 tank mirror /dev/sdb /dev/sdc");
        assert_eq!(o.code, 0, "{}", o.stderr_str());
        assert_eq!(run(&mut st, "zfs get -H -o value,source mountpoint tank").stdout_str(), "/tank\tdefault\n");
        assert_eq!(run(&mut st, "zpool list -Hp -o name,size tank").stdout_str(), format!("tank\t{DISK_BYTES}\n"));
        let dup = run(&mut st, "zpool create tank /dev/sdd");
        assert_eq!((dup.code, dup.stderr_str().as_str()), (1, "cannot create 'tank': pool already exists\n"));
        let used = run(&mut st, "zpool create -f other /dev/sdb");
        assert_eq!(used.code, 1);
        assert_eq!(used.stderr_str(), "invalid vdev specification\nuse '-f' to override the following errors:\n/dev/sdb is part of active pool 'tank'\n");
        let st_out = run(&mut st, "zpool status tank").stdout_str();
        assert!(st_out.starts_with("  pool: tank\n state: ONLINE\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\ttank        ONLINE       0     0     0\n\t  mirror-0  ONLINE       0     0     0\n\t    sdb     ONLINE       0     0     0\n"), "{st_out}");
    }

    #[test]
    fn zfs_list_formats() {
        let mut st = SimState::default();
        let o = run(&mut st, "zfs list -H -o name,mountpoint -r rpool/data");
        assert_eq!(o.stdout_str(), "rpool/data\t/rpool/data\n");
        let o = run(&mut st, "zfs list");
        let lines: Vec<&str> = o.stdout_str().leak().lines().collect();
        assert_eq!(lines[0], "NAME               USED  AVAIL  REFER  MOUNTPOINT");
        assert_eq!(lines[1], "rpool             2.48G  3.51T    96K  /rpool");
        assert_eq!(lines[3], "rpool/ROOT/pve-1  2.10G  3.51T  2.10G  /");
        let missing = run(&mut st, "zfs list -H tank/x");
        assert_eq!(
            (missing.code, missing.stderr_str().as_str()),
            (1, "cannot open 'tank/x': dataset does not exist\n")
        );
    }

    #[test]
    fn zfs_get_sources_and_values() {
        let mut st = SimState::default();
        assert_eq!(run(&mut st, "zfs get -H -o value compression rpool/data").stdout_str(), "on\n");
        assert_eq!(
            run(&mut st, "zfs get compression,recordsize,quota,x:y rpool/data").stdout_str(),
            "NAME        PROPERTY     VALUE  SOURCE\n\
             rpool/data  compression  on     inherited from rpool\n\
             rpool/data  recordsize   128K   default\n\
             rpool/data  quota        none   default\n\
             rpool/data  x:y          -      -\n"
        );
        assert_eq!(run(&mut st, "zfs get -Hp -o value recordsize rpool").stdout_str(), "131072\n");
        run(&mut st, "zfs set quota=10G x:y=z rpool/data");
        assert_eq!(
            run(&mut st, "zfs get -H -s local -o property,value,source all rpool/data").stdout_str(),
            "quota\t10G\tlocal\nmountpoint\t/rpool/data\tlocal\nx:y\tz\tlocal\n"
        );
        let bad = run(&mut st, "zfs get foo rpool");
        assert_eq!(bad.code, 2);
        assert!(bad.stderr_str().starts_with("bad property list: invalid property 'foo'\n"));
        let missing = run(&mut st, "zfs get all nope");
        assert_eq!((missing.code, missing.stderr_str().as_str()), (1, "cannot open 'nope': dataset does not exist\n"));
    }

    #[test]
    fn zfs_create_destroy_errors() {
        let mut st = SimState::default();
        let e = |o: Output| (o.code, o.stderr_str());
        assert_eq!(
            e(run(&mut st, "zfs create rpool/data")),
            (1, "cannot create 'rpool/data': dataset already exists\n".into())
        );
        assert_eq!(
            e(run(&mut st, "zfs create rpool/a/b")),
            (1, "cannot create 'rpool/a/b': parent does not exist\n".into())
        );
        assert_eq!(e(run(&mut st, "zfs create tank/a")), (1, "cannot create 'tank/a': no such pool 'tank'\n".into()));
        assert_eq!(run(&mut st, "zfs create -p -o mountpoint=/srv/a rpool/a/b").code, 0);
        assert_eq!(run(&mut st, "zfs create -p rpool/a/b").code, 0);
        assert_eq!(run(&mut st, "zfs get -H -o value,source mountpoint rpool/a/b").stdout_str(), "/srv/a\tlocal\n");
        assert_eq!(run(&mut st, "zfs create -V 4G rpool/data/vm-100-disk-0").code, 0);
        assert_eq!(
            run(&mut st, "zfs list -H -o name,mountpoint,volsize rpool/data/vm-100-disk-0").stdout_str(),
            "rpool/data/vm-100-disk-0\t-\t4G\n"
        );
        let d = run(&mut st, "zfs destroy rpool/a");
        assert_eq!(e(d), (1, "cannot destroy 'rpool/a': filesystem has children\nuse '-r' to destroy the following datasets:\nrpool/a/b\n".into()));
        assert_eq!(run(&mut st, "zfs destroy -r rpool/a").code, 0);
        assert!(!st.datasets.contains_key("rpool/a/b"));
        assert_eq!(
            e(run(&mut st, "zfs destroy rpool/a")),
            (1, "cannot open 'rpool/a': dataset does not exist\n".into())
        );
        assert_eq!(e(run(&mut st, "zfs set compression=bogus rpool")).0, 1);
    }
}
