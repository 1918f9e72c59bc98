//! `pct` (contracts §A): read side, and the mutating commands with PVE's checks, texts and
//! exit codes. Long tasks (create, clone) hold the guest `lock:` while the simulated latency
//! elapses, outside the state mutex.

use super::args::{parse_bool, Args};
use super::guest::{
    self, check_lock, current_view, lookup, parse_vmid, print_config, print_pending, print_snapshot_tree,
};
use super::host_dirs;
use super::inside;
use super::lifecycle::{self, is_volume_key, volid_of};
use super::reply::{die, fail, ok, param_fail, Step};
use super::state::{Guest, GuestKind, PowerState, SimState};
use super::volumes::{self, VolKind};
use crate::file::FileData;
use crate::output::Output;
use crate::propstring::{self as ps, LXC_FEATURES, LXC_MOUNT, LXC_NET, LXC_ROOTFS};
use crate::size::pve_format;
use indexmap::IndexMap;

const K: GuestKind = GuestKind::Lxc;

const BOOLS: &[&str] = &[
    "verbose",
    "current",
    "full",
    "purge",
    "force",
    "start",
    "onboot",
    "unprivileged",
    "protection",
    "template",
    "console",
    "skiplock",
    "debug",
    "overrule-shutdown",
    "forceStop",
    "keep-env",
    "destroy-unreferenced-disks",
    "ignore-unpack-errors",
    "unique",
    "ha-managed",
    "restore",
];

/// Options `pct set` and `pct create` store in the config.
fn is_config_option(k: &str) -> bool {
    let digits = |p: &str| k.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    matches!(
        k,
        "arch"
            | "cmode"
            | "console"
            | "cores"
            | "cpulimit"
            | "cpuunits"
            | "debug"
            | "description"
            | "features"
            | "hookscript"
            | "hostname"
            | "memory"
            | "nameserver"
            | "onboot"
            | "ostype"
            | "protection"
            | "rootfs"
            | "searchdomain"
            | "startup"
            | "swap"
            | "tags"
            | "template"
            | "timezone"
            | "tty"
            | "unprivileged"
            | "entrypoint"
            | "env"
    ) || digits("net")
        || digits("mp")
        || digits("dev")
        || digits("unused")
}

/// Options a running CT applies at once; everything else waits in `[pve:pending]`.
fn hotpluggable(k: &str) -> bool {
    matches!(
        k,
        "cores"
            | "cpulimit"
            | "cpuunits"
            | "memory"
            | "swap"
            | "description"
            | "onboot"
            | "startup"
            | "tags"
            | "protection"
            | "hostname"
            | "nameserver"
            | "searchdomain"
    ) || k.starts_with("net")
        || k.starts_with("mp")
}

fn usage(sub: &str) -> String {
    let args = match sub {
        "create" => " <vmid> <ostemplate>",
        "clone" => " <vmid> <newid>",
        "snapshot" | "delsnapshot" | "rollback" => " <vmid> <snapname>",
        "resize" => " <vmid> <disk> <size>",
        "push" => " <vmid> <file> <destination>",
        "exec" => " <vmid> [<extra-args>]",
        "list" => "",
        _ => " <vmid>",
    };
    format!("pct {sub}{args} [OPTIONS]")
}

pub(crate) fn run(st: &mut SimState, argv: &[String], stdin: Option<&[u8]>) -> Step {
    let sub = argv.first().map(String::as_str).unwrap_or("");
    let a = match Args::parse(argv.get(1..).unwrap_or(&[]), BOOLS) {
        Ok(a) => a,
        Err(e) => return fail(format!("{e}{}", usage(sub))).into(),
    };
    if sub == "list" {
        return list(st).into();
    }
    let known = [
        "status",
        "config",
        "listsnapshot",
        "pending",
        "create",
        "set",
        "start",
        "stop",
        "shutdown",
        "reboot",
        "destroy",
        "clone",
        "snapshot",
        "delsnapshot",
        "rollback",
        "template",
        "resize",
        "unlock",
        "exec",
        "push",
    ];
    if !known.contains(&sub) {
        return die(format!("unknown command 'pct {sub}'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]"), 255).into();
    }
    let id = match parse_vmid(a.positional.first(), &usage(sub)) {
        Ok(id) => id,
        Err(e) => return e.into(),
    };
    let pos = |i: usize| a.positional.get(i).map(String::as_str);
    let need = |i: usize| pos(i).ok_or_else(|| fail(format!("400 not enough arguments\n{}", usage(sub))));
    let out: Output = match sub {
        "status" => status(st, id, a.flag("verbose")),
        "config" => config(st, id, &a),
        "listsnapshot" => lookup(st, K, id).map(|g| ok(print_snapshot_tree(g))).unwrap_or_else(|e| e),
        "pending" => lookup(st, K, id).map(|g| ok(print_pending(g))).unwrap_or_else(|e| e),
        "create" => return create(st, id, &a),
        "clone" => return clone(st, id, &a),
        "set" => set(st, id, &a),
        "start" => lifecycle::start(st, K, id, a.flag("skiplock")),
        "stop" | "shutdown" => lifecycle::power_off(st, K, id, a.flag("skiplock"), false),
        "reboot" => lifecycle::power_off(st, K, id, false, true),
        "destroy" => destroy(st, id, a.flag("force")),
        "snapshot" => match need(1) {
            Ok(n) => lifecycle::snapshot(st, K, id, n, a.get("description")),
            Err(e) => e,
        },
        "delsnapshot" => match need(1) {
            Ok(n) => lifecycle::delsnapshot(st, K, id, n),
            Err(e) => e,
        },
        "rollback" => match need(1) {
            Ok(n) => lifecycle::rollback(st, K, id, n, a.flag("start")),
            Err(e) => e,
        },
        "template" => lifecycle::template(st, K, id),
        "resize" => match (need(1), need(2)) {
            (Ok(d), Ok(s)) => lifecycle::resize(st, K, id, d, s),
            (Err(e), _) | (_, Err(e)) => e,
        },
        "unlock" => lifecycle::unlock(st, K, id),
        "exec" => exec(st, id, &a, stdin),
        "push" => match (need(1), need(2)) {
            (Ok(f), Ok(d)) => push(st, id, f, d, &a),
            (Err(e), _) | (_, Err(e)) => e,
        },
        _ => fail(format!("unknown command 'pct {sub}'")),
    };
    out.into()
}

fn list(st: &SimState) -> Output {
    let mut out = String::new();
    let mut any = false;
    for (id, g) in st.guests.iter().filter(|(_, g)| g.kind == K) {
        if !any {
            out.push_str(&format!("{:<10} {:<10} {:<12} {:<20}\n", "VMID", "Status", "Lock", "Name"));
            any = true;
        }
        let name = g
            .config
            .get("hostname")
            .map(|h| h.split_whitespace().collect::<String>())
            .unwrap_or_else(|| format!("CT{id}"));
        out.push_str(&format!("{:<10} {:<10} {:<12} {:<20}\n", id, g.status.as_str(), g.lock().unwrap_or(""), name));
    }
    ok(out)
}

fn status(st: &SimState, id: u32, verbose: bool) -> Output {
    let g = match lookup(st, K, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if !verbose {
        return ok(format!("status: {}\n", g.status.as_str()));
    }
    let running = g.status == PowerState::Running;
    let maxmem = guest::memory_mib(g, 512) << 20;
    let maxswap = g.config.get("swap").and_then(|s| s.parse::<u64>().ok()).unwrap_or(512) << 20;
    let maxdisk = g
        .config
        .get("rootfs")
        .and_then(|v| v.split(',').find_map(|p| p.strip_prefix("size=")))
        .and_then(crate::size::pve_parse)
        .unwrap_or(0);
    let mut kv: Vec<(String, String)> = vec![
        ("cpus".into(), g.config.get("cores").cloned().unwrap_or_else(|| "1".into())),
        ("disk".into(), if running { (maxdisk / 10).to_string() } else { "0".into() }),
        ("diskread".into(), "0".into()),
        ("diskwrite".into(), "0".into()),
        ("maxdisk".into(), maxdisk.to_string()),
        ("maxmem".into(), maxmem.to_string()),
        ("maxswap".into(), maxswap.to_string()),
        ("mem".into(), if running { (maxmem / 4).to_string() } else { "0".into() }),
        ("name".into(), g.config.get("hostname").cloned().unwrap_or_else(|| format!("CT{id}"))),
        ("netin".into(), "0".into()),
        ("netout".into(), "0".into()),
        ("status".into(), g.status.as_str().into()),
        ("swap".into(), "0".into()),
        ("type".into(), "lxc".into()),
        ("uptime".into(), if running { "60".into() } else { "0".into() }),
        ("vmid".into(), id.to_string()),
    ];
    if running {
        kv.push(("pid".into(), (10_000 + id).to_string()));
    }
    if let Some(t) = g.config.get("tags") {
        kv.push(("tags".into(), t.clone()));
    }
    if g.is_template() {
        kv.push(("template".into(), "1".into()));
    }
    if let Some(l) = g.lock() {
        kv.push(("lock".into(), l.into()));
    }
    kv.sort();
    ok(kv.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>())
}

fn config(st: &SimState, id: u32, a: &Args) -> Output {
    let g = match lookup(st, K, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Some(snap) = a.get("snapshot") {
        return match g.snapshots.get(snap) {
            Some(s) => ok(print_config(K, &s.config, &s.lxc)),
            None => fail(format!("snapshot '{snap}' does not exist")),
        };
    }
    if a.flag("current") || g.pending.is_empty() {
        return ok(print_config(K, &g.config, &g.lxc));
    }
    ok(print_config(K, &current_view(g, false), &g.lxc))
}

/// Normalise one option value as PVE stores it. `alloc` receives `<storage>:<GiB>` volume
/// requests (rootfs/mpN) for the caller to allocate.
fn normalise(st: &mut SimState, k: &str, v: &str, u: &str) -> Result<String, Output> {
    let bad = |msg: String| param_fail(k, &msg, u);
    if matches!(k, "onboot" | "unprivileged" | "protection" | "template" | "console" | "debug") {
        return parse_bool(v)
            .map(|b| if b { "1" } else { "0" }.to_string())
            .ok_or_else(|| bad(format!("type check ('boolean') failed - got '{v}'")));
    }
    if matches!(k, "cores" | "memory" | "swap" | "cpuunits" | "tty") && v.parse::<u64>().is_err() {
        return Err(bad(format!("type check ('integer') failed - got '{v}'")));
    }
    if k == "memory" && v.parse::<u64>().is_ok_and(|m| m < 16) {
        return Err(bad("value must have a minimum value of 16".into()));
    }
    if k.starts_with("net") {
        // pve-container `parse_lxc_network` + `print_lxc_network`: a MAC is generated when none
        // is given, and `type=veth` is always written.
        let mut p = ps::parse(&LXC_NET, v, k).map_err(|e| bad(format!("invalid format - {e}")))?;
        if !p.contains_key("hwaddr") {
            p.insert("hwaddr".into(), guest::next_mac(st));
        }
        p.insert("type".into(), "veth".into());
        return Ok(ps::print(&LXC_NET, &p));
    }
    if k == "features" {
        // Validated (`parse_features`), then stored as written: `update_pct_config` keeps the
        // parameter's text.
        ps::parse(&LXC_FEATURES, v, k).map_err(|e| bad(format!("invalid format - {e}")))?;
        return Ok(v.to_string());
    }
    if k == "startup" && !ps::valid_startup(v) {
        return Err(bad("invalid format - unable to parse startup options".into()));
    }
    Ok(v.to_string())
}

/// rootfs / mpN: parse, allocate `<storage>:<GiB>`, canonicalise.
fn volume_option(st: &mut SimState, id: u32, k: &str, v: &str, u: &str) -> Result<String, Output> {
    let schema = if k == "rootfs" { &LXC_ROOTFS } else { &LXC_MOUNT };
    let mut p = ps::parse(schema, v, k).map_err(|e| param_fail(k, &format!("invalid format - {e}"), u))?;
    let vol = p.get("volume").cloned().unwrap_or_default();
    if let Some((sid, size)) = vol.split_once(':') {
        if let Ok(gib) = size.parse::<f64>() {
            let bytes = (gib * (1u64 << 30) as f64) as u64;
            let volid = volumes::allocate(st, sid, id, bytes, VolKind::Subvol).map_err(|e| param_fail(k, &e, u))?;
            p.insert("volume".into(), volid);
            p.insert("size".into(), pve_format(bytes));
        }
    }
    Ok(ps::print(schema, &p))
}

fn resolve_template(st: &SimState, ostemplate: &str) -> Result<String, String> {
    if ostemplate.starts_with('/') {
        return if st.files.contains_key(ostemplate) {
            Ok(ostemplate.to_string())
        } else {
            Err(format!("can't find file '{ostemplate}'"))
        };
    }
    let Some((sid, rest)) = ostemplate.split_once(':') else {
        return Err(format!("unable to parse volume ID '{ostemplate}'"));
    };
    let Some(s) = st.storages.get(sid) else {
        return Err(format!("storage '{sid}' does not exist"));
    };
    let Some(file) = rest.strip_prefix("vztmpl/") else {
        return Err(format!("unable to parse volume ID '{ostemplate}'"));
    };
    let base = s.options.get("path").cloned().unwrap_or_else(|| format!("/mnt/pve/{sid}"));
    let path = format!("{base}/template/cache/{file}");
    if st.files.contains_key(&path) {
        Ok(path)
    } else {
        Err(format!("volume '{ostemplate}' does not exist"))
    }
}

pub(crate) fn ostype_from(template: &str) -> &'static str {
    let f = template.rsplit('/').next().unwrap_or(template);
    for os in ["ubuntu", "debian", "alpine", "centos", "fedora", "archlinux", "opensuse", "gentoo", "nixos", "devuan"] {
        if f.starts_with(os) {
            return match os {
                "ubuntu" => "ubuntu",
                "debian" => "debian",
                "alpine" => "alpine",
                "centos" => "centos",
                "fedora" => "fedora",
                "archlinux" => "archlinux",
                "opensuse" => "opensuse",
                "gentoo" => "gentoo",
                "nixos" => "nixos",
                _ => "devuan",
            };
        }
    }
    "unmanaged"
}

fn already_exists(st: &SimState, id: u32) -> Option<Output> {
    st.guests.get(&id).map(|g| fail(format!("{} {id} already exists on node '{}'", guest::word(g.kind), st.node)))
}

const CREATE_ONLY: &[&str] = &[
    "password",
    "ssh-public-keys",
    "start",
    "storage",
    "pool",
    "force",
    "ha-managed",
    "unique",
    "restore",
    "ignore-unpack-errors",
    "bwlimit",
];

fn create(st: &mut SimState, id: u32, a: &Args) -> Step {
    let u = usage("create");
    let Some(ostemplate) = a.positional.get(1).cloned() else {
        return fail(format!("400 not enough arguments\n{u}")).into();
    };
    if a.positional.len() > 2 {
        return fail(format!("400 too many arguments\n{u}")).into();
    }
    if let Some((k, _)) = a.opts.iter().find(|(k, _)| !is_config_option(k) && !CREATE_ONLY.contains(&k.as_str())) {
        return param_fail(
            k,
            "property is not defined in schema and the schema does not allow additional properties",
            &u,
        )
        .into();
    }
    if let Some(e) = already_exists(st, id) {
        return e.into();
    }
    let archive = match resolve_template(st, &ostemplate) {
        Ok(p) => p,
        Err(e) => return fail(e).into(),
    };
    if let Some(keys) = a.get("ssh-public-keys") {
        if !st.files.contains_key(keys) {
            return fail(format!("unable to open file '{keys}' - No such file or directory")).into();
        }
    }
    // Validate and normalise everything before the task starts (parameter errors are dies).
    let storage = a.get("storage").unwrap_or("local").to_string();
    let mut config: IndexMap<String, String> = IndexMap::new();
    config.insert("arch".into(), "amd64".into());
    config.insert("ostype".into(), ostype_from(&ostemplate).into());
    config.insert("memory".into(), "512".into());
    config.insert("swap".into(), "512".into());
    config.insert("unprivileged".into(), "1".into());
    let mut requested: Vec<(String, String)> = a.opts.iter().filter(|(k, _)| is_config_option(k)).cloned().collect();
    if !requested.iter().any(|(k, _)| k == "rootfs") {
        requested.push(("rootfs".into(), format!("{storage}:4")));
    }
    // Volumes are allocated last so a bad option does not leave datasets behind.
    requested.sort_by_key(|(k, _)| is_volume_key(K, k));
    for (k, v) in &requested {
        let value = if is_volume_key(K, k) { volume_option(st, id, k, v, &u) } else { normalise(st, k, v, &u) };
        match value {
            Ok(v) => {
                config.insert(k.clone(), v);
            }
            Err(e) => {
                // Free what was allocated for earlier volume options.
                for (ck, cv) in &config {
                    if is_volume_key(K, ck) {
                        volumes::free(st, volid_of(cv));
                    }
                }
                return e.into();
            }
        }
    }
    let start_after = a.flag("start");
    // What the template unpacks to (Debian/Ubuntu are modelled inside; others stay empty).
    let image = inside::base_image(ostype_from(&ostemplate), false);
    // `create_and_lock_config`: the config exists with only `lock: create` during the task.
    let mut placeholder = Guest::new(K);
    placeholder.config.insert("lock".into(), "create".into());
    st.guests.insert(id, placeholder);
    let log = format!("extracting archive '{archive}'\nTotal bytes read: 524288000 (500MiB, 250MiB/s)\nDetected container architecture: amd64\n");
    Step::Then(Box::new(move |st: &mut SimState| {
        let Some(g) = st.guests.get_mut(&id) else {
            return lifecycle::worker_error(log, &format!("unable to create CT {id} - config file vanished"));
        };
        g.config = config;
        g.set_image(image);
        if start_after {
            let out = lifecycle::start(st, K, id, false);
            if !out.success() {
                return lifecycle::worker_error(log, &String::from_utf8_lossy(&out.stderr));
            }
        }
        ok(log)
    }))
}

fn set(st: &mut SimState, id: u32, a: &Args) -> Output {
    let u = usage("set");
    let g = match lookup(st, K, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, a.flag("skiplock")) {
        return e;
    }
    if a.get("unprivileged").is_some() {
        return fail("unable to modify read-only option: 'unprivileged'");
    }
    if let Some((k, _)) = a
        .opts
        .iter()
        .find(|(k, _)| !is_config_option(k) && !matches!(k.as_str(), "delete" | "revert" | "digest" | "skiplock"))
    {
        return param_fail(
            k,
            "property is not defined in schema and the schema does not allow additional properties",
            &u,
        );
    }
    if a.positional.len() > 1 {
        return fail(format!("400 too many arguments\n{u}"));
    }
    // `update_pct_config` runs under the container's config lock.
    if st.held_locks.contains(&super::flock::lxc_config_lock(id)) {
        return fail(super::flock::lock_timeout(id));
    }
    let running = g.status == PowerState::Running;
    let existing_keys: std::collections::HashSet<String> = g.config.keys().cloned().collect();
    let mut changes: Vec<(String, String)> = Vec::new();
    for (k, v) in a.opts.iter().filter(|(k, _)| is_config_option(k)) {
        // A NIC given without `hwaddr` gets a new random MAC (pve-container
        // `parse_lxc_network`), also when it replaces an existing NIC.
        let value = if is_volume_key(K, k) { volume_option(st, id, k, v, &u) } else { normalise(st, k, v, &u) };
        match value {
            Ok(v) => changes.push((k.clone(), v)),
            Err(e) => return e,
        }
    }
    let deletes: Vec<String> = a
        .get("delete")
        .map(|d| d.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if deletes.iter().any(|d| d == "unprivileged") {
        return fail("unable to modify read-only option: 'unprivileged'");
    }
    let reverts: Vec<String> =
        a.get("revert").map(|d| d.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default();
    // A new mount point on a running CT is hot-plugged (mounted now); vmconfig_hotplug_pending
    // turns the mount's error into a parameter error and the config is not written.
    if running {
        let new_mounts = changes.iter().filter(|(k, _)| !existing_keys.contains(k)).map(|(k, v)| (k, v));
        if let Some((k, path)) = new_mounts
            .filter(|(k, _)| k.starts_with("mp"))
            .find_map(|(k, v)| host_dirs::bind_source(v).filter(|p| !host_dirs::is_dir(st, p)).map(|p| (k, p)))
        {
            return param_fail(k, &format!("unable to hotplug {k}: directory '{path}' does not exist"), &u);
        }
    }
    let Some(g) = st.guests.get_mut(&id) else {
        return fail(format!("CT {id} vanished"));
    };
    for r in &reverts {
        g.pending.shift_remove(r);
    }
    for (k, v) in changes {
        // pve-container hot-plugs a NEW mount point into a running CT, but leaves a change to an
        // existing one pending ("changing mount points" is not hot-pluggable).
        let changes_mount = k.starts_with("mp") && g.config.contains_key(&k);
        if running && (!hotpluggable(&k) || changes_mount) {
            g.pending.insert(k, v);
        } else {
            g.pending.shift_remove(&k);
            g.config.insert(k, v);
        }
    }
    for d in deletes {
        if running && !hotpluggable(&d) {
            let mut list: Vec<String> =
                g.pending.get("delete").map(|s| s.split(',').map(String::from).collect()).unwrap_or_default();
            if !list.contains(&d) {
                list.push(d);
            }
            g.pending.insert("delete".into(), list.join(","));
        } else {
            // Deleting a volume option keeps the volume as unusedN, like PVE.
            if let Some(old) = g.config.shift_remove(&d) {
                if is_volume_key(K, &d) && d != "rootfs" && !volid_of(&old).starts_with('/') {
                    let n = (0..).find(|n| !g.config.contains_key(&format!("unused{n}"))).unwrap_or(0);
                    g.config.insert(format!("unused{n}"), volid_of(&old).to_string());
                }
            }
        }
    }
    ok("")
}

fn destroy(st: &mut SimState, id: u32, force: bool) -> Output {
    if force {
        if let Some(g) = st.guests.get_mut(&id).filter(|g| g.kind == K) {
            if g.lock().is_none() {
                g.status = PowerState::Stopped;
            }
        }
    }
    lifecycle::destroy(st, K, id, false, false)
}

fn clone(st: &mut SimState, src: u32, a: &Args) -> Step {
    let u = usage("clone");
    let new = match parse_vmid(a.positional.get(1), &u) {
        Ok(n) => n,
        Err(e) => return e.into(),
    };
    let g = match lookup(st, K, src) {
        Ok(g) => g,
        Err(e) => return e.into(),
    };
    if let Err(e) = check_lock(g, false) {
        return e.into();
    }
    if let Some(e) = already_exists(st, new) {
        return e.into();
    }
    let template = g.is_template();
    let full = a.get("full").and_then(parse_bool).unwrap_or(!template);
    if !template && !full {
        return fail("linked clone feature is only available for templates").into();
    }
    if !full && a.get("storage").is_some() {
        return fail("parameter 'storage' not allowed for linked clones").into();
    }
    // The clone's disk is the source's at the snapshot (or now).
    let (mut config, lxc, image) = match a.get("snapname") {
        Some(s) => match g.snapshots.get(s) {
            Some(snap) => (snap.config.clone(), snap.lxc.clone(), snap.image.clone().unwrap_or_else(|| g.image())),
            None => return fail(format!("snapshot '{s}' does not exist")).into(),
        },
        None => (g.config.clone(), g.lxc.clone(), g.image()),
    };
    // clone_vm copies volumes only; a path mount point stops it before any work starts.
    if let Some((k, v)) = config.iter().find(|(k, v)| k.starts_with("mp") && volid_of(v).starts_with('/')) {
        let kind = if host_dirs::bind_source(v).is_some() { "bind" } else { "device" };
        return fail(format!("unable to clone mountpoint '{k}' (type {kind})")).into();
    }
    if let Some(sid) = a.get("storage") {
        if !st.storages.contains_key(sid) {
            return fail(format!("storage '{sid}' does not exist")).into();
        }
    }
    for k in ["lock", "parent", "snaptime", "template"] {
        config.shift_remove(k);
    }
    if let Some(h) = a.get("hostname") {
        config.insert("hostname".into(), h.to_string());
    }
    if let Some(d) = a.get("description") {
        config.insert("description".into(), d.to_string());
    }
    // New MACs for every NIC.
    let nets: Vec<String> = config.keys().filter(|k| k.starts_with("net")).cloned().collect();
    for k in nets {
        if let Some(v) = config.get(&k).cloned() {
            let Ok(mut p) = ps::parse(&LXC_NET, &v, &k) else {
                continue;
            };
            p.insert("hwaddr".into(), guest::next_mac(st));
            config.insert(k, ps::print(&LXC_NET, &p));
        }
    }
    let storage = a.get("storage").map(String::from);
    if let Some(g) = st.guests.get_mut(&src) {
        g.config.insert("lock".into(), "disk".into());
    }
    let mut placeholder = Guest::new(K);
    placeholder.config.insert("lock".into(), "create".into());
    st.guests.insert(new, placeholder);
    Step::Then(Box::new(move |st: &mut SimState| {
        let mut log = String::new();
        let vol_keys: Vec<String> =
            config.keys().filter(|k| is_volume_key(K, k) && !k.starts_with("unused")).cloned().collect();
        let mut failure = None;
        for k in vol_keys {
            let Some(v) = config.get(&k).cloned() else {
                continue;
            };
            // Bind mounts are host directories: nothing to clone.
            if volid_of(&v).starts_with('/') {
                continue;
            }
            match volumes::clone_volume(st, &k, &v, full, storage.as_deref(), new, VolKind::Subvol, "mountpoint") {
                Ok((value, line)) => {
                    log.push_str(&line);
                    config.insert(k.clone(), value);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        lifecycle::finish_clone(st, src, "disk", new, "CT", log, failure, |g| {
            g.config = config;
            g.lxc = lxc;
            g.set_image(image);
        })
    }))
}

/// `pct exec`: the few commands plans use to probe a guest. Exit status is the command's.
fn exec(st: &mut SimState, id: u32, a: &Args, stdin: Option<&[u8]>) -> Output {
    let g = match lookup(st, K, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if g.status != PowerState::Running {
        return fail(format!("container '{id}' not running!"));
    }
    let cmd: Vec<String> = match &a.rest {
        Some(r) if !r.is_empty() => r.clone(),
        _ if a.positional.len() > 1 => a.positional[1..].to_vec(),
        _ => return fail("missing command"),
    };
    let now = st.clock;
    match st.guests.get_mut(&id) {
        Some(g) => inside::run(g, id, &cmd, stdin, now),
        None => fail(format!("CT {id} vanished")),
    }
}

fn push(st: &mut SimState, id: u32, file: &str, dest: &str, a: &Args) -> Output {
    let g = match lookup(st, K, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if g.status != PowerState::Running {
        return fail("can only push files to a running CT");
    }
    let Some(src) = st.files.get(file).cloned() else {
        return fail(format!("unable to open file '{file}' - No such file or directory"));
    };
    let mode = match a.get("perms") {
        Some(p) => {
            let parsed = match p.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16),
                None => u32::from_str_radix(p, 8),
            };
            match parsed {
                Ok(m) => m,
                Err(_) => return fail(format!("invalid perms '{p}'")),
            }
        }
        None => 0o644,
    };
    // create_file opens the destination with O_CREAT and makes no parent directory.
    let parent = dest.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    if !parent.is_empty() && !inside::is_dir(g, parent) {
        return fail(format!("failed to create file: {dest}: No such file or directory"));
    }
    let data = FileData {
        content: src.content,
        mode,
        owner: a.get("user").unwrap_or("root").to_string(),
        group: a.get("group").unwrap_or("root").to_string(),
    };
    if let Some(g) = st.guests.get_mut(&id) {
        g.files.insert(dest.to_string(), data);
    }
    ok("")
}

/// What `PVE::LXC::Setup` writes into a container at start from its config: `/etc/hostname`
/// and `/etc/resolv.conf`. `pct set --hostname/--nameserver` on a running container only
/// changes the config, so the container keeps the old values until its next start.
pub(crate) fn setup_at_start(g: &mut Guest) {
    let hostname = g.config.get("hostname").cloned().unwrap_or_else(|| "localhost".into());
    g.files.insert("/etc/hostname".into(), inside::file(format!("{hostname}\n"), 0o644));
    let mut resolv = String::new();
    if let Some(sd) = g.config.get("searchdomain") {
        resolv.push_str(&format!("search {sd}\n"));
    }
    for ns in g.config.get("nameserver").map(|n| n.split([' ', ',', ';']).collect::<Vec<_>>()).unwrap_or_default() {
        if !ns.is_empty() {
            resolv.push_str(&format!("nameserver {ns}\n"));
        }
    }
    if !resolv.is_empty() {
        g.files.insert("/etc/resolv.conf".into(), inside::file(resolv, 0o644));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::SimHost;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn ok_run(h: &SimHost, line: &str) -> Output {
        let o = h.exec(&argv(line), None);
        assert_eq!(o.code, 0, "{line}: {}", o.stderr_str());
        o
    }

    const CREATE: &str = "pct create 120 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --hostname web01 --cores 2 --memory 2048 --swap 512 --rootfs local-zfs:8 --net0 name=eth0,bridge=vmbr0,ip=10.0.0.20/24,gw=10.0.0.1,firewall=1 --unprivileged 1 --features keyctl=1,nesting=1 --onboot 1 --startup order=2,up=30";

    #[test]
    fn missing_ct_errors() {
        let h = SimHost::new(SimState::default());
        for sub in ["status", "config", "listsnapshot", "pending", "start", "destroy"] {
            let o = h.exec(&argv(&format!("pct {sub} 100")), None);
            assert_eq!(
                (o.code, o.stderr_str().as_str()),
                (2, "Configuration file 'nodes/pve/lxc/100.conf' does not exist\n"),
                "{sub}"
            );
        }
        assert_eq!(h.exec(&argv("pct list"), None).stdout, b"");
    }

    #[test]
    fn create_matches_contract_config() {
        let h = SimHost::new(SimState::default());
        let o = ok_run(&h, CREATE);
        assert!(o
            .stdout_str()
            .starts_with("extracting archive '/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst'\n"));
        let cfg = ok_run(&h, "pct config 120").stdout_str();
        let mac = h.with_state(|s| s.guests[&120].config["net0"].split("hwaddr=").nth(1).unwrap()[..17].to_string());
        assert_eq!(
            cfg,
            format!(
                "arch: amd64\ncores: 2\nfeatures: keyctl=1,nesting=1\nhostname: web01\nmemory: 2048\n\
                 net0: name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr={mac},ip=10.0.0.20/24,type=veth\n\
                 onboot: 1\nostype: debian\nrootfs: local-zfs:subvol-120-disk-0,size=8G\nstartup: order=2,up=30\nswap: 512\nunprivileged: 1\n"
            )
        );
        assert!(h.with_state(|s| s.datasets.contains_key("rpool/data/subvol-120-disk-0")));
        assert_eq!(ok_run(&h, "pct list").stdout_str(), "VMID       Status     Lock         Name                \n120        stopped                 web01               \n");
        let dup = h.exec(&argv(CREATE), None);
        assert_eq!((dup.code, dup.stderr_str().as_str()), (255, "CT 120 already exists on node 'pve'\n"));
        let no_tmpl = h.exec(&argv("pct create 121 local:vztmpl/nope.tar.zst"), None);
        assert_eq!(no_tmpl.stderr_str(), "volume 'local:vztmpl/nope.tar.zst' does not exist\n");
        let not_enough = h.exec(&argv("pct create 121 --ostemplate local:vztmpl/x"), None);
        assert!(not_enough.stderr_str().starts_with("400 not enough arguments\n"));
    }

    #[test]
    fn lock_visible_during_create() {
        let h = std::sync::Arc::new(SimHost::new(SimState::default()));
        h.with_state(|s| {
            s.latency_ms.insert("pct create".into(), 300);
        });
        let h2 = std::sync::Arc::clone(&h);
        let t = std::thread::spawn(move || h2.exec(&argv(CREATE), None).code);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(h.exec(&argv("pct list"), None).stdout_str(), "VMID       Status     Lock         Name                \n120        stopped    create       CT120               \n");
        let locked = h.exec(&argv("pct set 120 --cores 4"), None);
        assert_eq!(locked.stderr_str(), "CT is locked (create)\n");
        assert_eq!(t.join().unwrap(), 0);
        assert_eq!(h.exec(&argv("pct set 120 --cores 4"), None).code, 0);
    }

    #[test]
    fn power_set_pending_exec_push() {
        let h = SimHost::new(SimState::default());
        ok_run(&h, CREATE);
        let ro = h.exec(&argv("pct set 120 --unprivileged 0"), None);
        assert_eq!(ro.stderr_str(), "unable to modify read-only option: 'unprivileged'\n");
        let nr = h.exec(&argv("pct exec 120 -- true"), None);
        assert_eq!(nr.stderr_str(), "container '120' not running!\n");
        assert_eq!(h.exec(&argv("pct stop 120"), None).stderr_str(), "CT 120 not running\n");
        ok_run(&h, "pct start 120");
        assert_eq!(h.exec(&argv("pct start 120"), None).stderr_str(), "CT 120 already running\n");
        assert_eq!(ok_run(&h, "pct status 120").stdout_str(), "status: running\n");
        ok_run(&h, "pct set 120 --cores 4 --features nesting=1 --delete onboot");
        assert_eq!(
            ok_run(&h, "pct pending 120").stdout_str().lines().filter(|l| l.starts_with("new ")).collect::<Vec<_>>(),
            vec!["new features: nesting=1"]
        );
        assert!(ok_run(&h, "pct config 120").stdout_str().contains("features: nesting=1\n"));
        assert!(ok_run(&h, "pct config 120 --current").stdout_str().contains("features: keyctl=1,nesting=1\n"));
        assert_eq!(h.exec(&argv("pct exec 120 -- false"), None).code, 1);
        assert_eq!(h.exec(&argv("pct exec 120 -- test -f /etc/x"), None).code, 1);
        assert_eq!(h.exec(&argv("pct exec 120 -- sh -c true;false"), None).code, 127);
        ok_run(&h, "pct push 120 /etc/hostname /etc/x --perms 600");
        assert_eq!(ok_run(&h, "pct exec 120 -- cat /etc/x").stdout, b"pve\n");
        assert_eq!(h.with_state(|s| s.guests[&120].files["/etc/x"].mode), 0o600);
        let d = h.exec(&argv("pct destroy 120"), None);
        assert_eq!(d.stderr_str(), "unable to destroy CT 120 - container is running\n");
        ok_run(&h, "pct destroy 120 --force --purge");
        assert!(h.with_state(|s| s.guests.is_empty() && !s.datasets.contains_key("rpool/data/subvol-120-disk-0")));
    }

    #[test]
    fn bind_mounts_and_push_as_proxmox_has_them() {
        let h = SimHost::new(SimState::default());
        ok_run(&h, CREATE);
        ok_run(&h, "pct set 120 --mp0 /srv/data,mp=/data");
        let start = h.exec(&argv("pct start 120"), None);
        assert_eq!(
            (start.code, start.stderr_str().as_str()),
            (255, "directory '/srv/data' does not exist\nstartup for container '120' failed\n")
        );
        ok_run(&h, "mkdir -p /srv/data");
        ok_run(&h, "pct start 120");
        // Hotplug of a new bind mount needs its source too; the config is not written.
        let hot = h.exec(&argv("pct set 120 --mp1 /srv/more,mp=/more"), None);
        assert_eq!(hot.code, 255);
        assert!(hot.stderr_str().starts_with("400 Parameter verification failed.\nmp1: unable to hotplug mp1: directory '/srv/more' does not exist\n"), "{}", hot.stderr_str());
        assert!(!ok_run(&h, "pct config 120").stdout_str().contains("mp1"));
        // push makes no parent directory.
        let staged = crate::file::FileWrite { content: b"x".to_vec(), mode: 0o600, owner: None, group: None };
        h.write_file("/tmp/x", &staged).unwrap();
        let push = h.exec(&argv("pct push 120 /tmp/x /opt/new/x"), None);
        assert_eq!(push.stderr_str(), "failed to create file: /opt/new/x: No such file or directory\n");
        ok_run(&h, "pct exec 120 -- mkdir -p /opt/new");
        ok_run(&h, "pct push 120 /tmp/x /opt/new/x");
        // A bind mount blocks snapshots and clones.
        let snap = h.exec(&argv("pct snapshot 120 s1"), None);
        assert_eq!(snap.stderr_str(), "snapshot feature is not available\n");
        ok_run(&h, "pct stop 120");
        let clone = h.exec(&argv("pct clone 120 121 --full 1"), None);
        assert_eq!(clone.stderr_str(), "unable to clone mountpoint 'mp0' (type bind)\n");
        ok_run(&h, "pct set 120 --delete mp0");
        ok_run(&h, "pct snapshot 120 s1");
    }

    #[test]
    fn snapshots_template_clone() {
        let h = SimHost::new(SimState::default());
        ok_run(&h, CREATE);
        ok_run(&h, "pct snapshot 120 before --description first");
        let dup = h.exec(&argv("pct snapshot 120 before"), None);
        assert_eq!(dup.stderr_str(), "snapshot name 'before' already used\n");
        let tree = ok_run(&h, "pct listsnapshot 120").stdout_str();
        assert!(
            tree.starts_with("`-> before                      2025-01-01 00:00:01     first\n `-> current"),
            "{tree}"
        );
        let t = h.exec(&argv("pct template 120"), None);
        assert_eq!(t.stderr_str(), "unable to create template, because CT contains snapshots\n");
        ok_run(&h, "pct delsnapshot 120 before");
        ok_run(&h, "pct template 120");
        assert!(ok_run(&h, "pct config 120").stdout_str().contains("rootfs: local-zfs:basevol-120-disk-0,size=8G\n"));
        let bad = h.exec(&argv("pct clone 120 130 --snapname nope"), None);
        assert_eq!(bad.stderr_str(), "snapshot 'nope' does not exist\n");
        let st = h.exec(&argv("pct clone 120 130 --storage local-zfs"), None);
        assert_eq!(st.stderr_str(), "parameter 'storage' not allowed for linked clones\n");
        ok_run(&h, "pct clone 120 130 --hostname web02");
        let cfg = ok_run(&h, "pct config 130").stdout_str();
        assert!(cfg.contains("rootfs: local-zfs:basevol-120-disk-0/subvol-130-disk-0,size=8G\n"), "{cfg}");
        assert!(cfg.contains("hostname: web02\n") && !cfg.contains("template"));
        let mac = |id: u32| h.with_state(|s| s.guests[&id].config["net0"].clone());
        assert_ne!(mac(120), mac(130));
        ok_run(&h, "pct clone 120 131 --full --storage local-zfs");
        assert!(ok_run(&h, "pct config 131").stdout_str().contains("rootfs: local-zfs:subvol-131-disk-0,size=8G\n"));
        ok_run(&h, "pct resize 131 rootfs +2G");
        assert!(ok_run(&h, "pct config 131").stdout_str().contains("rootfs: local-zfs:subvol-131-disk-0,size=10G\n"));
        assert_eq!(h.exec(&argv("pct resize 131 rootfs 4G"), None).stderr_str(), "unable to shrink disk size\n");
    }

    /// Golden: what `pct config` prints for a container carrying a PVE 9 mount key.
    #[test]
    fn newer_keys_golden() {
        let h = SimHost::new(SimState::default());
        ok_run(&h, CREATE);
        ok_run(&h, "pct set 120 --mp0 local-zfs:2,mp=/data,keepattrs=1");
        let cfg = ok_run(&h, "pct config 120").stdout_str();
        assert!(cfg.contains("mp0: local-zfs:subvol-120-disk-1,mp=/data,keepattrs=1,size=2G\n"), "{cfg}");
        // phoenix reading this output is tested beside its adapter (src/connector/sim.rs).
    }
}
