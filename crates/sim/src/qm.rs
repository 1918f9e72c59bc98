//! `qm` (contracts §B): read side, the mutating commands, and the guest agent.

use super::args::{parse_bool, Args};
use super::guest::{
    self, check_lock, current_view, lookup, parse_vmid, print_config, print_pending, print_snapshot_tree,
};
use super::inside;
use super::lifecycle::{self, is_volume_key, volid_of};
use super::pvesh::perl_pretty;
use super::reply::{die, fail, ok, param_fail, Step};
use super::state::{unix_ms, Guest, GuestKind, PowerState, SimState};
use super::volumes::{self, VolKind};
use crate::output::Output;
use crate::propstring::{self as ps, VM_AGENT, VM_CICUSTOM, VM_DISK, VM_IPCONFIG, VM_NET};
use crate::size::pve_format;
use indexmap::IndexMap;
use serde_json::{json, Value};

const K: GuestKind = GuestKind::Qemu;

const BOOLS: &[&str] = &[
    "verbose",
    "current",
    "full",
    "purge",
    "force",
    "start",
    "onboot",
    "protection",
    "template",
    "skiplock",
    "overrule-shutdown",
    "forceStop",
    "keepActive",
    "destroy-unreferenced-disks",
    "synchronous",
    "pass-stdin",
    "vmstate",
    "ciupgrade",
    "numa",
    "tablet",
    "acpi",
    "kvm",
    "unique",
];

fn is_config_option(k: &str) -> bool {
    let digits = |p: &str| k.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    matches!(
        k,
        "name"
            | "memory"
            | "balloon"
            | "cores"
            | "sockets"
            | "cpu"
            | "cpulimit"
            | "cpuunits"
            | "numa"
            | "scsihw"
            | "boot"
            | "vga"
            | "agent"
            | "ostype"
            | "bios"
            | "machine"
            | "onboot"
            | "startup"
            | "tags"
            | "description"
            | "protection"
            | "ciuser"
            | "cipassword"
            | "sshkeys"
            | "nameserver"
            | "searchdomain"
            | "cicustom"
            | "citype"
            | "ciupgrade"
            | "tablet"
            | "acpi"
            | "kvm"
            | "hotplug"
            | "template"
            | "args"
            | "hookscript"
            | "smbios1"
            | "vmgenid"
            | "meta"
            | "localtime"
            | "serial"
            | "watchdog"
            | "rng0"
            | "audio0"
    ) || [
        "net", "scsi", "virtio", "sata", "ide", "efidisk", "tpmstate", "ipconfig", "serial", "usb", "hostpci", "unused",
    ]
    .iter()
    .any(|p| digits(p))
}

/// Options a running VM applies at once (fast-plug plus default hotplug network,disk,usb).
fn hotpluggable(k: &str) -> bool {
    matches!(k, "name" | "description" | "onboot" | "tags" | "protection" | "startup" | "hookscript")
        || ["net", "scsi", "virtio", "sata", "usb", "unused"]
            .iter()
            .any(|p| k.starts_with(p) && k[p.len()..].bytes().all(|b| b.is_ascii_digit()))
}

fn usage(sub: &str) -> String {
    let args = match sub {
        "clone" => " <vmid> <newid>",
        "snapshot" | "delsnapshot" | "rollback" => " <vmid> <snapname>",
        "resize" => " <vmid> <disk> <size>",
        "list" => "",
        _ => " <vmid>",
    };
    format!("qm {sub}{args} [OPTIONS]")
}

pub(crate) fn run(st: &mut SimState, argv: &[String], stdin: Option<&[u8]>) -> Step {
    let mut sub = argv.first().map(String::as_str).unwrap_or("").to_string();
    let mut rest: &[String] = argv.get(1..).unwrap_or(&[]);
    // `qm disk resize` = `qm resize`; `qm guest cmd|exec` and `qm agent` handled below.
    if sub == "disk" && rest.first().is_some_and(|s| s == "resize" || s == "import") {
        sub = if rest[0] == "resize" { "resize" } else { "importdisk" }.into();
        rest = &rest[1..];
    }
    if sub == "guest" {
        let which = rest.first().cloned().unwrap_or_default();
        sub = format!("guest {which}");
        rest = rest.get(1..).unwrap_or(&[]);
    }
    let a = match Args::parse(rest, BOOLS) {
        Ok(a) => a,
        Err(e) => return fail(format!("{e}{}", usage(&sub))).into(),
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
        "importdisk",
        "guest exec",
        "guest cmd",
        "agent",
    ];
    if !known.contains(&sub.as_str()) {
        return die(format!("unknown command 'qm {sub}'\nUSAGE: qm <COMMAND> [ARGS] [OPTIONS]"), 255).into();
    }
    let id = match parse_vmid(a.positional.first(), &usage(&sub)) {
        Ok(id) => id,
        Err(e) => return e.into(),
    };
    let pos = |i: usize| a.positional.get(i).map(String::as_str);
    let need = |i: usize| pos(i).ok_or_else(|| fail(format!("400 not enough arguments\n{}", usage(&sub))));
    let out: Output = match sub.as_str() {
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
        "destroy" => lifecycle::destroy(st, K, id, false, a.flag("skiplock")),
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
        "guest exec" => guest_exec(st, id, &a, stdin),
        "importdisk" => match (need(1), need(2)) {
            (Ok(src), Ok(sid)) => import_disk(st, id, src, sid, &a),
            (Err(e), _) | (_, Err(e)) => e,
        },
        "guest cmd" | "agent" => match need(1) {
            Ok(c) => agent_cmd(st, id, c),
            Err(e) => e,
        },
        _ => fail(format!("unknown command 'qm {sub}'")),
    };
    out.into()
}

fn boot_disk_gib(g: &Guest) -> f64 {
    let from_boot = g.config.get("boot").and_then(|b| {
        b.trim_start_matches("order=")
            .split(';')
            .find(|d| g.config.get(*d).is_some_and(|v| !v.contains("media=cdrom")) && is_volume_key(K, d))
            .map(String::from)
    });
    let disk = from_boot.or_else(|| {
        ["scsi0", "virtio0", "sata0", "ide0"]
            .iter()
            .find(|d| g.config.get(**d).is_some_and(|v| !v.contains("media=cdrom")))
            .map(|d| d.to_string())
    });
    disk.and_then(|d| g.config.get(&d).cloned())
        .and_then(|v| v.split(',').find_map(|p| p.strip_prefix("size=")).and_then(crate::size::pve_parse))
        .map(|b| b as f64 / (1u64 << 30) as f64)
        .unwrap_or(0.0)
}

fn list(st: &SimState) -> Output {
    let mut out = String::new();
    let mut any = false;
    for (id, g) in st.guests.iter().filter(|(_, g)| g.kind == K) {
        if !any {
            out.push_str(&format!(
                "{:>10} {:<20} {:<10} {:<10} {:>12} {:<10}\n",
                "VMID", "NAME", "STATUS", "MEM(MB)", "BOOTDISK(GB)", "PID"
            ));
            any = true;
        }
        let name = g.config.get("name").cloned().unwrap_or_else(|| format!("VM {id}"));
        let pid = if g.status == PowerState::Running { 10_000 + id } else { 0 };
        out.push_str(&format!(
            "{:>10} {:<20} {:<10} {:<10} {:>12.2} {:<10}\n",
            id,
            name,
            g.status.as_str(),
            guest::memory_mib(g, 2048),
            boot_disk_gib(g),
            pid
        ));
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
    let maxmem = guest::memory_mib(g, 2048) << 20;
    let mut kv: Vec<(String, String)> = vec![
        ("cpus".into(), g.config.get("cores").cloned().unwrap_or_else(|| "1".into())),
        ("disk".into(), "0".into()),
        ("diskread".into(), "0".into()),
        ("diskwrite".into(), "0".into()),
        ("maxdisk".into(), ((boot_disk_gib(g) * (1u64 << 30) as f64) as u64).to_string()),
        ("maxmem".into(), maxmem.to_string()),
        ("mem".into(), if running { (maxmem / 4).to_string() } else { "0".into() }),
        ("name".into(), g.config.get("name").cloned().unwrap_or_else(|| format!("VM {id}"))),
        ("netin".into(), "0".into()),
        ("netout".into(), "0".into()),
        ("qmpstatus".into(), g.status.as_str().into()),
        ("status".into(), g.status.as_str().into()),
        ("uptime".into(), if running { "60".into() } else { "0".into() }),
        ("vmid".into(), id.to_string()),
    ];
    if running {
        kv.push(("pid".into(), (10_000 + id).to_string()));
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
            Some(s) => ok(print_config(K, &s.config, &[])),
            None => fail(format!("snapshot '{snap}' does not exist")),
        };
    }
    if a.flag("current") || g.pending.is_empty() {
        return ok(print_config(K, &g.config, &[]));
    }
    ok(print_config(K, &current_view(g, false), &[]))
}

/// A deterministic UUID from the MAC counter (reproducible runs).
fn next_uuid(st: &mut SimState) -> String {
    st.mac_counter += 1;
    let x = st.mac_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let y = x.rotate_left(29) ^ 0x5851_F42D_4C95_7F2D;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xFFFF,
        x & 0xFFF,
        y >> 52,
        y & 0xFFFF_FFFF_FFFF
    )
}

/// `virtio,bridge=vmbr0` → `virtio=<MAC>,bridge=vmbr0` (model=MAC first, the rest sorted).
fn canonical_net(st: &mut SimState, key: &str, v: &str) -> Result<String, String> {
    let mut p = ps::parse(&VM_NET, v, key).map_err(|e| format!("invalid format - {e}"))?;
    // qemu-server `parse_net`: no MAC given → a new random one (on a running VM the NIC is
    // replaced with it).
    if !p.contains_key("macaddr") {
        p.insert("macaddr".into(), guest::next_mac(st));
    }
    Ok(ps::print(&VM_NET, &p))
}

/// Disk options: allocate `<storage>:<GiB>`, cloud-init drives, imports.
fn disk_option(st: &mut SimState, id: u32, k: &str, v: &str, u: &str) -> Result<String, Output> {
    let mut p = ps::parse(&VM_DISK, v, k).map_err(|e| param_fail(k, &format!("invalid format - {e}"), u))?;
    let file = p.get("file").cloned().unwrap_or_default();
    if let Some((sid, what)) = file.split_once(':') {
        if what == "cloudinit" {
            if !st.storages.contains_key(sid) {
                return Err(fail(format!("storage '{sid}' does not exist")));
            }
            p.insert("file".into(), format!("{sid}:vm-{id}-cloudinit"));
            p.insert("media".into(), "cdrom".into());
        } else if let Ok(gib) = what.parse::<f64>() {
            let mut bytes = (gib * (1u64 << 30) as f64) as u64;
            if let Some(src) = p.remove("import-from") {
                if !src.contains(':') && !st.files.contains_key(&src) {
                    return Err(fail(format!("{src}: non-existent or non-regular file")));
                }
                // The simulator does not know image sizes: imported cloud images are 3.5 GiB.
                bytes = 3584 << 20;
                adopt_cloud_image(st, id, &src);
            }
            let volid = volumes::allocate(st, sid, id, bytes, VolKind::Image).map_err(fail)?;
            p.insert("file".into(), volid);
            p.insert("size".into(), pve_format(bytes));
        }
    }
    Ok(ps::print(&VM_DISK, &p))
}

fn normalise(st: &mut SimState, id: u32, k: &str, v: &str, u: &str) -> Result<String, Output> {
    let bad = |msg: String| param_fail(k, &msg, u);
    if matches!(
        k,
        "onboot" | "protection" | "template" | "numa" | "tablet" | "acpi" | "kvm" | "ciupgrade" | "localtime"
    ) {
        return parse_bool(v)
            .map(|b| if b { "1" } else { "0" }.to_string())
            .ok_or_else(|| bad(format!("type check ('boolean') failed - got '{v}'")));
    }
    if matches!(k, "cores" | "sockets" | "balloon") && v.parse::<u64>().is_err() {
        return Err(bad(format!("type check ('integer') failed - got '{v}'")));
    }
    if k.starts_with("net") && k[3..].bytes().all(|b| b.is_ascii_digit()) {
        return canonical_net(st, k, v).map_err(|e| param_fail(k, &e, u));
    }
    if is_volume_key(K, k) && !k.starts_with("unused") {
        return disk_option(st, id, k, v, u);
    }
    if k == "agent" {
        // Validated, then stored as written (qemu-server keeps the parameter verbatim).
        ps::parse(&VM_AGENT, v, k).map_err(|e| bad(format!("invalid format - {e}")))?;
        return Ok(v.to_string());
    }
    if k.starts_with("ipconfig") {
        let p = ps::parse(&VM_IPCONFIG, v, k).map_err(|e| bad(format!("invalid format - {e}")))?;
        if p.contains_key("gw") && !p.contains_key("ip") {
            return Err(bad("gateway specified without specifying an IP address".into()));
        }
        return Ok(v.to_string());
    }
    if k == "cipassword" {
        // Stored crypt()-hashed; the simulator only needs a stable non-clear value.
        return Ok(if v.starts_with('$') { v.to_string() } else { format!("$5$sim${}", v.len()) });
    }
    if k == "cicustom" {
        let p = ps::parse(&VM_CICUSTOM, v, k).map_err(|e| bad(format!("invalid format - {e}")))?;
        for volid in p.values() {
            if snippet_path(st, volid).is_none_or(|path| !st.files.contains_key(&path)) {
                return Err(fail(format!("volume '{volid}' does not exist")));
            }
        }
        return Ok(v.to_string());
    }
    if k == "sshkeys" {
        // The CLI reads the file and stores it URI-escaped.
        let content = st
            .files
            .get(v)
            .map(|f| String::from_utf8_lossy(&f.content).into_owned())
            .ok_or_else(|| fail(format!("unable to open file '{v}' - No such file or directory")))?;
        return Ok(crate::text::uri_escape(&content));
    }
    Ok(v.to_string())
}

/// The host path of a `<storage>:snippets/<file>` volume.
pub(crate) fn snippet_path(st: &SimState, volid: &str) -> Option<String> {
    let (sid, rest) = volid.split_once(':')?;
    let file = rest.strip_prefix("snippets/")?;
    let base = st.storages.get(sid)?.options.get("path")?;
    Some(format!("{base}/snippets/{file}"))
}

/// Importing a cloud image gives the VM that image's inside (cloud-init, no guest agent), unless
/// the VM already has a modelled OS. Image names say which distribution they are.
fn adopt_cloud_image(st: &mut SimState, id: u32, src: &str) {
    let os = if src.contains("debian") { "debian" } else { "ubuntu" };
    if let Some(g) = st.guests.get_mut(&id) {
        if g.os.packages.is_empty() {
            g.set_image(inside::base_image(os, true));
        }
    }
}

/// `qm disk import <vmid> <source> <storage> [--format f] [--target-disk d]` (contracts §B.6).
fn import_disk(st: &mut SimState, id: u32, src: &str, sid: &str, a: &Args) -> Output {
    let g = match lookup(st, K, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, false) {
        return e;
    }
    if !src.contains(':') && !st.files.contains_key(src) {
        return fail(format!("{src}: non-existent or non-regular file"));
    }
    let Some(storage) = st.storages.get(sid) else {
        return fail(format!("storage '{sid}' does not exist"));
    };
    if !storage.content().split(',').any(|c| c == "images") {
        return fail(format!("storage {sid} does not support vm images"));
    }
    let target = match a.get("target-disk") {
        Some(t) => t.to_string(),
        None => {
            let n = (0..).find(|n| !g.config.contains_key(&format!("unused{n}"))).unwrap_or(0);
            format!("unused{n}")
        }
    };
    let bytes: u64 = 3584 << 20;
    let volid = match volumes::allocate(st, sid, id, bytes, VolKind::Image) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    adopt_cloud_image(st, id, src);
    let value =
        if target.starts_with("unused") { volid.clone() } else { format!("{volid},size={}", pve_format(bytes)) };
    if let Some(g) = st.guests.get_mut(&id) {
        g.config.insert(target.clone(), value);
    }
    ok(format!(
        "importing disk '{src}' to VM {id} ...
transferred 3.5 GiB of 3.5 GiB (100.00%)
{target}: successfully imported disk '{volid}'
"
    ))
}

const CREATE_ONLY: &[&str] = &["start", "storage", "pool", "force", "unique", "archive", "live-restore", "bwlimit"];

fn create(st: &mut SimState, id: u32, a: &Args) -> Step {
    let u = "qm create <vmid> [OPTIONS]";
    if a.positional.len() > 1 {
        return fail(format!("400 too many arguments\n{u}")).into();
    }
    if let Some((k, _)) = a.opts.iter().find(|(k, _)| !is_config_option(k) && !CREATE_ONLY.contains(&k.as_str())) {
        return param_fail(
            k,
            "property is not defined in schema and the schema does not allow additional properties",
            u,
        )
        .into();
    }
    if let Some(g) = st.guests.get(&id) {
        return fail(format!(
            "unable to create VM {id} - {} {id} already exists on node '{}'",
            guest::word(g.kind),
            st.node
        ))
        .into();
    }
    let mut config: IndexMap<String, String> = IndexMap::new();
    let mut requested: Vec<(String, String)> = a.opts.iter().filter(|(k, _)| is_config_option(k)).cloned().collect();
    requested.sort_by_key(|(k, _)| is_volume_key(K, k));
    for (k, v) in &requested {
        match normalise(st, id, k, v, u) {
            Ok(v) => {
                config.insert(k.clone(), v);
            }
            Err(e) => {
                for (ck, cv) in &config {
                    if is_volume_key(K, ck) {
                        volumes::free(st, volid_of(cv));
                    }
                }
                return e.into();
            }
        }
    }
    st.clock += 1;
    config.insert("meta".into(), format!("creation-qemu=9.2.0,ctime={}", st.clock));
    let smbios = format!("uuid={}", next_uuid(st));
    config.entry("smbios1".into()).or_insert(smbios);
    let genid = next_uuid(st);
    config.entry("vmgenid".into()).or_insert(genid);
    let start_after = a.flag("start");
    // `qm create --scsi0 …,import-from=<img>`: the guest does not exist yet when the disk is
    // allocated, so its inside is set once the config is in place.
    let imported =
        a.opts.iter().find_map(|(_, v)| v.split(',').find_map(|p| p.strip_prefix("import-from=")).map(String::from));
    let mut placeholder = Guest::new(K);
    placeholder.config.insert("lock".into(), "create".into());
    st.guests.insert(id, placeholder);
    Step::Then(Box::new(move |st: &mut SimState| {
        let Some(g) = st.guests.get_mut(&id) else {
            return lifecycle::worker_error(String::new(), &format!("unable to create VM {id} - config file vanished"));
        };
        g.config = config;
        if let Some(src) = imported {
            adopt_cloud_image(st, id, &src);
        }
        if start_after {
            let out = lifecycle::start(st, K, id, false);
            if !out.success() {
                return lifecycle::worker_error(String::new(), &String::from_utf8_lossy(&out.stderr));
            }
        }
        ok("")
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
    if let Some((k, _)) = a.opts.iter().find(|(k, _)| {
        !is_config_option(k) && !matches!(k.as_str(), "delete" | "revert" | "digest" | "skiplock" | "sshkey")
    }) {
        return param_fail(
            k,
            "property is not defined in schema and the schema does not allow additional properties",
            &u,
        );
    }
    let running = g.status == PowerState::Running;
    let mut changes = Vec::new();
    for (k, v) in &a.opts {
        let k = if k == "sshkey" { "sshkeys" } else { k.as_str() };
        if !is_config_option(k) {
            continue;
        }
        // A NIC given without its MAC gets a new random one, as qemu-server's `parse_net` does
        // (contracts §I.4): the caller must pass the current MAC to keep it.
        match normalise(st, id, k, v, &u) {
            Ok(v) => changes.push((k.to_string(), v)),
            Err(e) => return e,
        }
    }
    let deletes: Vec<String> = a
        .get("delete")
        .map(|d| d.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let Some(g) = st.guests.get_mut(&id) else {
        return fail(format!("VM {id} vanished"));
    };
    for (k, v) in changes {
        if running && !hotpluggable(&k) {
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
        } else if let Some(old) = g.config.shift_remove(&d) {
            if is_volume_key(K, &d) && !d.starts_with("unused") && !old.contains("media=cdrom") {
                let n = (0..).find(|n| !g.config.contains_key(&format!("unused{n}"))).unwrap_or(0);
                g.config.insert(format!("unused{n}"), volid_of(&old).to_string());
            }
        }
    }
    ok("")
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
    if st.guests.contains_key(&new) {
        return fail(format!("unable to create VM {new}: config file already exists")).into();
    }
    let template = g.is_template();
    // Full clone is forced for non-templates.
    let full = !template || a.get("full").and_then(parse_bool).unwrap_or(false);
    if !full && a.get("storage").is_some() {
        return fail("parameter 'storage' not allowed for linked clones").into();
    }
    if !full && a.get("format").is_some() {
        return fail("parameter 'format' not allowed for linked clones").into();
    }
    // The clone's disks hold the source's inside at the snapshot (or now).
    let (mut config, image) = match a.get("snapname") {
        Some(s) => match g.snapshots.get(s) {
            Some(snap) => (snap.config.clone(), snap.image.clone().unwrap_or_else(|| g.image())),
            None => return fail(format!("snapshot '{s}' does not exist")).into(),
        },
        None => (g.config.clone(), g.image()),
    };
    for k in ["lock", "parent", "snaptime", "template", "vmstate"] {
        config.shift_remove(k);
    }
    config.insert(
        "name".into(),
        a.get("name").map(String::from).unwrap_or_else(|| {
            format!("Copy-of-VM-{}", config.get("name").cloned().unwrap_or_else(|| src.to_string()))
        }),
    );
    if let Some(d) = a.get("description") {
        config.insert("description".into(), d.to_string());
    }
    let nets: Vec<String> = config.keys().filter(|k| k.starts_with("net")).cloned().collect();
    for k in nets {
        if let Some(v) = config.get(&k).cloned() {
            let model = v.split(',').next().and_then(|m| m.split('=').next()).unwrap_or("virtio").to_string();
            let tail: Vec<&str> = v.split(',').skip(1).collect();
            let mut nv = format!("{model}={}", guest::next_mac(st));
            for t in tail {
                nv.push(',');
                nv.push_str(t);
            }
            config.insert(k, nv);
        }
    }
    let smbios = format!("uuid={}", next_uuid(st));
    config.insert("smbios1".into(), smbios);
    let genid = next_uuid(st);
    config.insert("vmgenid".into(), genid);
    let storage = a.get("storage").map(String::from);
    if let Some(g) = st.guests.get_mut(&src) {
        if !template {
            g.config.insert("lock".into(), "clone".into());
        }
    }
    let mut placeholder = Guest::new(K);
    placeholder.config.insert("lock".into(), "create".into());
    st.guests.insert(new, placeholder);
    Step::Then(Box::new(move |st: &mut SimState| {
        let mut log = String::new();
        let keys: Vec<String> =
            config.keys().filter(|k| is_volume_key(K, k) && !k.starts_with("unused")).cloned().collect();
        let mut failure = None;
        for k in keys {
            let Some(v) = config.get(&k).cloned() else {
                continue;
            };
            if v.contains("media=cdrom") {
                if v.contains("-cloudinit") {
                    let sid = v.split(':').next().unwrap_or("local").to_string();
                    config.insert(k.clone(), format!("{sid}:vm-{new}-cloudinit,media=cdrom"));
                }
                continue;
            }
            match volumes::clone_volume(st, &k, &v, full, storage.as_deref(), new, VolKind::Image, "drive") {
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
        lifecycle::finish_clone(st, src, "clone", new, "VM", log, failure, |g| {
            g.config = config;
            g.set_image(image);
        })
    }))
}

/// The agent checks, in PVE's order.
fn agent_available(st: &SimState, id: u32) -> Result<&Guest, Output> {
    let g = lookup(st, K, id)?;
    let enabled = g.config.get("agent").is_some_and(|a| {
        let first = a.split(',').next().unwrap_or("");
        parse_bool(first.trim_start_matches("enabled=")).unwrap_or(false)
    });
    if !enabled {
        return Err(fail("No QEMU guest agent configured"));
    }
    if g.status != PowerState::Running {
        return Err(fail(format!("VM {id} is not running")));
    }
    let delay = g.agent_ready_after_ms.unwrap_or(st.agent_ready_after_ms);
    let booted = g.started_at_ms.is_some_and(|t| unix_ms() >= t + delay);
    // A guest whose OS is modelled needs the agent installed in it (a cloud image without
    // qemu-guest-agent never answers: the real failure when the user-data forgets it).
    let installed = g.os.packages.is_empty() || g.os.packages.contains("qemu-guest-agent");
    if !booted || !installed {
        return Err(fail("QEMU guest agent is not running"));
    }
    Ok(g)
}

fn guest_exec(st: &mut SimState, id: u32, a: &Args, stdin: Option<&[u8]>) -> Output {
    if let Err(e) = agent_available(st, id) {
        return e;
    }
    let cmd: Vec<String> = match &a.rest {
        Some(r) if !r.is_empty() => r.clone(),
        _ if a.positional.len() > 1 => a.positional[1..].to_vec(),
        _ => return fail("No command given"),
    };
    if a.get("synchronous").and_then(parse_bool) == Some(false) {
        return ok(format!("{}\n", perl_pretty(&json!({"pid": 1000 + id}), 0)));
    }
    let input = if a.flag("pass-stdin") { stdin } else { None };
    let now = st.clock;
    let Some(g) = st.guests.get_mut(&id) else {
        return fail(format!("VM {id} vanished"));
    };
    let r = inside::run(g, id, &cmd, input, now);
    let mut obj = serde_json::Map::new();
    obj.insert("exitcode".into(), json!(r.code));
    obj.insert("exited".into(), json!(1));
    if !r.stdout.is_empty() {
        obj.insert("out-data".into(), json!(String::from_utf8_lossy(&r.stdout)));
    }
    if !r.stderr.is_empty() {
        obj.insert("err-data".into(), json!(String::from_utf8_lossy(&r.stderr)));
    }
    // The CLI exits 0 whatever the guest command returned.
    ok(format!("{}\n", perl_pretty(&Value::Object(obj), 0)))
}

fn agent_cmd(st: &SimState, id: u32, cmd: &str) -> Output {
    let g = match agent_available(st, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    let name = g.config.get("name").cloned().unwrap_or_else(|| format!("vm{id}"));
    let value = match cmd {
        "ping" | "fsfreeze-thaw" | "fstrim" | "shutdown" => return ok(""),
        "get-host-name" => json!({"host-name": name}),
        "get-osinfo" => {
            json!({"id": "ubuntu", "kernel-release": "6.8.0-45-generic", "name": "Ubuntu", "pretty-name": "Ubuntu 24.04.1 LTS", "version": "24.04.1 LTS (Noble Numbat)", "version-id": "24.04"})
        }
        "info" => json!({"version": "8.2.2", "supported_commands": []}),
        "get-time" => json!(unix_ms() * 1_000_000),
        "fsfreeze-status" => json!("thawed"),
        "network-get-interfaces" => {
            let cidr =
                inside::eth0_address(g, id).map(|(c, _)| c).unwrap_or_else(|| format!("{}/24", inside::dhcp_lease(id)));
            let (addr, prefix) = match cidr.split_once('/') {
                Some((a, p)) => (a.to_string(), p.parse::<u32>().unwrap_or(24)),
                None => (cidr.clone(), 24),
            };
            let mac = g
                .config
                .get("net0")
                .and_then(|n| n.split(',').next())
                .and_then(|m| m.split_once('='))
                .map(|(_, m)| m.to_ascii_lowercase())
                .unwrap_or_default();
            json!([
                {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
                {"name": "eth0", "hardware-address": mac, "ip-addresses": [{"ip-address": addr, "ip-address-type": "ipv4", "prefix": prefix}]}
            ])
        }
        other => return fail(format!("Agent error: The command {other} has not been found")),
    };
    ok(format!("{}\n", perl_pretty(&json!({"result": value})["result"], 0)))
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

    #[test]
    fn read_side_and_errors() {
        let h = SimHost::new(SimState::default());
        let o = h.exec(&argv("qm config 9000"), None);
        assert_eq!(
            (o.code, o.stderr_str().as_str()),
            (2, "Configuration file 'nodes/pve/qemu-server/9000.conf' does not exist\n")
        );
        assert_eq!(ok_run(&h, "qm list").stdout, b"");
        h.with_state(|s| s.files.insert("/tmp/img.qcow2".into(), crate::state::text_file("")));
        ok_run(&h, "qm create 9000 --name ubuntu-tmpl --memory 2048 --net0 virtio,bridge=vmbr0,firewall=1 --scsihw virtio-scsi-pci");
        ok_run(&h, "qm set 9000 --scsi0 local-zfs:0,import-from=/tmp/img.qcow2 --ide2 local-zfs:cloudinit --boot order=scsi0 --cipassword secret --agent 1");
        let cfg = ok_run(&h, "qm config 9000").stdout_str();
        assert!(cfg.contains("agent: 1\n"), "{cfg}");
        assert!(cfg.contains("cipassword: **********\n"));
        assert!(cfg.contains("ide2: local-zfs:vm-9000-cloudinit,media=cdrom\n"));
        assert!(cfg.contains("scsi0: local-zfs:vm-9000-disk-0,size=3584M\n"));
        assert!(cfg
            .lines()
            .any(|l| l.starts_with("net0: virtio=BC:24:11:") && l.ends_with(",bridge=vmbr0,firewall=1")));
        assert_eq!(
            ok_run(&h, "qm list").stdout_str(),
            "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n      9000 ubuntu-tmpl          stopped    2048               3.50 0         \n"
        );
        let dup = h.exec(&argv("qm create 9000"), None);
        assert_eq!(dup.stderr_str(), "unable to create VM 9000 - VM 9000 already exists on node 'pve'\n");
    }

    #[test]
    fn agent_and_exec() {
        let h = SimHost::new(SimState::default());
        ok_run(&h, "qm create 100 --name a --memory 1024");
        assert_eq!(h.exec(&argv("qm agent 100 ping"), None).stderr_str(), "No QEMU guest agent configured\n");
        ok_run(&h, "qm set 100 --agent enabled=1");
        assert_eq!(h.exec(&argv("qm agent 100 ping"), None).stderr_str(), "VM 100 is not running\n");
        h.with_state(|s| s.guests.get_mut(&100).unwrap().agent_ready_after_ms = Some(60_000));
        ok_run(&h, "qm start 100");
        assert_eq!(h.exec(&argv("qm guest cmd 100 ping"), None).stderr_str(), "QEMU guest agent is not running\n");
        h.with_state(|s| s.guests.get_mut(&100).unwrap().agent_ready_after_ms = Some(0));
        assert_eq!(ok_run(&h, "qm agent 100 ping").stdout, b"");
        let o = ok_run(&h, "qm guest exec 100 -- false");
        assert_eq!(o.stdout_str(), "{\n   \"exitcode\" : 1,\n   \"exited\" : 1\n}\n");
        assert_eq!(h.exec(&argv("qm start 100"), None).stderr_str(), "VM 100 already running\n");
        assert_eq!(h.exec(&argv("qm destroy 100"), None).stderr_str(), "VM 100 is running - destroy failed\n");
        ok_run(&h, "qm stop 100");
        ok_run(&h, "qm template 100");
        ok_run(&h, "qm clone 100 101 --name b");
        assert!(ok_run(&h, "qm config 101").stdout_str().contains("name: b\n"));
        let exists = h.exec(&argv("qm clone 100 101"), None);
        assert_eq!(exists.stderr_str(), "unable to create VM 101: config file already exists\n");
    }
}
