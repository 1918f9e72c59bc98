//! LXC containers: the desired `pct` configuration derived from the inventory, and the ops
//! that bring a container to it — define (create or clone), configure (only what differs),
//! power, snapshots, destroy. The order of these steps is the plan's (`stdlib/lxc.rhai`).

use super::{Action, Change, Diff, Effect, OpError, Plan};
use crate::command::Command;
use crate::facts::guests::{conf_path, GuestChange, Origin};
use crate::facts::propstring::{self, PropString};
use crate::facts::Facts;
use crate::generate::{self, propstring::PropertyString, GenerateError};
use crate::graph::GuestKind;
use crate::inventory::LxcGuest;

const KIND: GuestKind = GuestKind::Lxc;

fn subject(id: u32) -> String {
    format!("ct {id}")
}

fn invalid(id: u32, message: impl Into<String>) -> OpError {
    OpError::Invalid { subject: subject(id), message: message.into() }
}

fn effect(id: u32, change: GuestChange) -> Effect {
    Effect::Guest { kind: KIND, id, change }
}

use super::lxc_mounts::plan_mounts;
pub use super::lxc_mounts::DesiredMount;

/// The container as the inventory declares it, in `pct` terms.
#[derive(Debug, Clone)]
pub struct DesiredCt {
    pub id: u32,
    pub hostname: String,
    pub cores: u32,
    pub memory: u32,
    pub swap: Option<u32>,
    /// Only the keys the inventory declares; others on the host are left alone.
    pub net0: PropString,
    pub nameserver: Option<String>,
    pub onboot: Option<bool>,
    pub startup: Option<String>,
    /// `features` keys (nesting, keyctl, …) that must be set.
    pub features: Vec<(String, String)>,
    pub storage: String,
    pub rootfs_gb: u32,
    pub unprivileged: bool,
    pub mounts: Vec<DesiredMount>,
    /// Raw `lxc.*` lines that must be present in the conf file.
    pub lxc_lines: Vec<(String, String)>,
}

/// Split `key=value` or `key: value` at the first separator, so a value may hold the other one
/// (`lxc.environment: FOO=bar`, `lxc.mount.entry = /a b none bind,create=dir`).
fn split_kv(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once(['=', ':'])?;
    let (k, v) = (k.trim(), v.trim());
    (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
}

/// NVIDIA device lines for GPU passthrough. Majors of nvidia-uvm and nvidia-caps differ per
/// host, so they come from the host's /proc/devices (the original hard-coded 243 and omitted caps).
pub fn gpu_lines(gpus: &[u32], proc_devices: &str) -> Result<Vec<(String, String)>, String> {
    let major = |name: &str| {
        proc_devices.lines().find_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?;
            (w.next()? == name).then(|| n.to_string())
        })
    };
    let uvm = major("nvidia-uvm")
        .ok_or("GPU passthrough needs the NVIDIA driver loaded on the host: /proc/devices has no nvidia-uvm")?;
    let mut lines = vec![("lxc.cgroup2.devices.allow".to_string(), "c 195:* rwm".to_string())];
    lines.push(("lxc.cgroup2.devices.allow".into(), format!("c {uvm}:* rwm")));
    if let Some(caps) = major("nvidia-caps") {
        lines.push(("lxc.cgroup2.devices.allow".into(), format!("c {caps}:* rwm")));
    }
    let entry = |dev: &str, create: &str| {
        ("lxc.mount.entry".to_string(), format!("/dev/{dev} dev/{dev} none bind,optional,create={create}"))
    };
    for g in gpus {
        lines.push(entry(&format!("nvidia{g}"), "file"));
    }
    for dev in ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"] {
        lines.push(entry(dev, "file"));
    }
    lines.push(entry("nvidia-caps", "dir"));
    Ok(lines)
}

/// Derive the desired container. `extra_features` are `features` keys the plan adds for the
/// guest's feature modules (docker needs nesting and keyctl); `proc_devices` is the host's
/// /proc/devices, needed only for GPU passthrough.
pub fn desired(g: &LxcGuest, extra_features: &[String], proc_devices: Option<&str>) -> Result<DesiredCt, OpError> {
    let id = g.id;
    let n = &g.network_config;
    let mut net0 = PropString::new();
    net0.set("name", n.name.clone());
    net0.set("bridge", n.bridge.clone());
    net0.set("ip", n.ip.clone());
    if let Some(gw) = &n.gw {
        net0.set("gw", gw.clone());
    }
    if let Some(mac) = &g.mac_address {
        net0.set("hwaddr", mac.to_ascii_uppercase());
    }
    if g.firewall.as_ref().is_some_and(|f| f.enabled) {
        net0.set("firewall", "1");
    }

    let mut features: Vec<(String, String)> = Vec::new();
    for opt in g.pct_options.iter().chain(extra_features) {
        for part in opt.split(',') {
            let (k, v) = split_kv(part).ok_or_else(|| invalid(id, format!("pct option `{part}` is not key=value")))?;
            let v = propstring::parse_bool(&v).map(|b| if b { "1".to_string() } else { "0".to_string() }).unwrap_or(v);
            match features.iter_mut().find(|(fk, _)| *fk == k) {
                Some(existing) => existing.1 = v,
                None => features.push((k, v)),
            }
        }
    }
    features.sort();

    let startup = g.boot_order.map(|o| {
        let mut s = format!("order={o}");
        if let Some(d) = g.boot_delay {
            s.push_str(&format!(",up={d}"));
        }
        s
    });

    let mut lxc_lines = Vec::new();
    for line in &g.lxc_options {
        let (k, v) =
            split_kv(line).ok_or_else(|| invalid(id, format!("lxc option `{line}` is not `lxc.key: value`")))?;
        if k == "lxc.cap.keep" || k == "lxc.cap.drop" {
            // One capability per line, as LXC reads them.
            for cap in v.split([',', ' ']).filter(|c| !c.is_empty()) {
                lxc_lines.push((k.clone(), cap.to_string()));
            }
        } else {
            lxc_lines.push((k, v));
        }
    }
    if let Some(p) = &g.apparmor_profile {
        lxc_lines.push(("lxc.apparmor.profile".into(), p.clone()));
        if g.apparmor_manages_nesting == Some(true) {
            lxc_lines.push(("lxc.apparmor.allow_nesting".into(), "1".into()));
        }
    }
    for m in &g.id_maps {
        let field = |k: &[&str]| k.iter().find_map(|k| m.get(*k)).map(|v| v.to_string().trim_matches('"').to_string());
        match (
            field(&["type", "kind"]),
            field(&["container_id", "container"]),
            field(&["host_id", "host"]),
            field(&["range", "size"]),
        ) {
            (Some(t), Some(c), Some(h), Some(r)) => {
                // LXC knows `u` and `g`; the original tool's configs spell them `uid`/`gid`.
                let t = match t.as_str() {
                    "uid" => "u",
                    "gid" => "g",
                    other => other,
                };
                lxc_lines.push(("lxc.idmap".into(), format!("{t} {c} {h} {r}")))
            }
            _ => return Err(invalid(id, format!("id map {m} needs type, container_id, host_id and range"))),
        }
    }
    if !g.gpu_assignment.is_empty() {
        let devices = proc_devices.unwrap_or("");
        lxc_lines.extend(gpu_lines(&g.gpu_assignment, devices).map_err(|e| invalid(id, e))?);
    }

    let mut mounts = Vec::new();
    for m in &g.mount_points {
        // The inventory declares no mount options: the declared state is Proxmox's default
        // (read-write, and volumes outside backups); a live `ro=1`/`backup=1` is drift.
        mounts.push(DesiredMount::Bind {
            host_path: m.host_path.clone(),
            mp: m.container_path.clone(),
            read_only: false,
        });
    }
    for v in &g.zfs_volumes {
        mounts.push(DesiredMount::Volume {
            storage: v.pool.clone(),
            size_gb: v.size_gb,
            mp: v.mount_point.clone(),
            read_only: false,
            backup: false,
        });
    }

    let d = DesiredCt {
        id,
        hostname: g.name.clone(),
        cores: g.cores,
        memory: g.memory_mb,
        swap: g.swap_mb,
        net0,
        nameserver: n.nameservers.clone(),
        onboot: g.start_at_boot,
        startup,
        features,
        storage: g.storage_pool.clone(),
        rootfs_gb: g.storage_size_gb,
        unprivileged: g.unprivileged.unwrap_or(true),
        mounts,
        lxc_lines,
    };
    check_generated(&d).map_err(|e| invalid(id, e.to_string()))?;
    Ok(d)
}

/// Every value of the desired container that becomes a property string, a conf line or the
/// host name, put through its builder once: a value that would add a property or a line stops
/// the op before any action is planned (defence in depth behind the configuration's validation).
fn check_generated(d: &DesiredCt) -> Result<(), GenerateError> {
    generate::hostname::check("hostname", &d.hostname)?;
    generate::propstring::check_props("net0", &d.net0, None)?;
    let mut features = PropertyString::new("features");
    for (k, v) in &d.features {
        features = features.pair(k, v)?;
    }
    generate::propstring::volume("rootfs", &d.storage, &d.rootfs_gb.to_string())?;
    if let Some(ns) = &d.nameserver {
        // A list (`10.0.0.2 1.1.1.1`) is fine: it is one argv element and one conf line.
        generate::error::no_control("nameserver", ns)?;
    }
    for m in &d.mounts {
        mount_value(m)?;
    }
    for (k, v) in &d.lxc_lines {
        generate::lxc_conf::check_line(k, v)?;
    }
    Ok(())
}

/// The `mpN` value for a new mount point: `/host/path,mp=/ct/path` or `<storage>:<GiB>,mp=/ct/path`.
fn mount_value(m: &DesiredMount) -> Result<String, GenerateError> {
    let ps = match m {
        DesiredMount::Bind { host_path, mp, .. } => {
            PropertyString::new("mount point").bare(host_path)?.pair("mp", mp)?
        }
        DesiredMount::Volume { storage, size_gb, mp, .. } => PropertyString::new("mount point")
            .bare(&generate::propstring::volume("mount point", storage, &size_gb.to_string())?)?
            .pair("mp", mp)?,
    };
    Ok(ps.build())
}

fn bool01(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

fn features_string(features: &[(String, String)]) -> Result<String, GenerateError> {
    let mut ps = PropertyString::new("features");
    for (k, v) in features {
        ps = ps.pair(k, v)?;
    }
    Ok(ps.build())
}

/// Make the container exist: `pct create` from its OS template, or `pct clone` from its clone
/// source at the source's template snapshot. An existing container is left as it is.
pub fn ensure_defined(
    facts: &Facts,
    d: &DesiredCt,
    g: &LxcGuest,
    source_snapshot: Option<&str>,
) -> Result<Plan, OpError> {
    let id = d.id;
    if facts.guest_conf(KIND, id)?.is_some() {
        return Ok(Plan::noop(subject(id), "exists"));
    }
    if let Some(other) = facts.guest(id)? {
        return Err(invalid(id, format!("id {id} is taken by a {} on the host", other.kind)));
    }
    if !facts.storages()?.contains_key(&d.storage) {
        return Err(invalid(id, format!(
            "storage `{}` does not exist on the host: declare it (a zfs dataset with proxmox_storage_type) and run `phoenix setup` first",
            d.storage
        )));
    }
    generate::hostname::check("hostname", &d.hostname).map_err(|e| invalid(id, e.to_string()))?;
    let ids = id.to_string();
    let action = match g.clone_from_ctid {
        Some(src) => {
            let src_conf = facts.guest_conf(KIND, src)?;
            let Some(src_conf) = src_conf.as_ref() else {
                return Err(invalid(id, format!("clone source {src} does not exist yet; converge it first")));
            };
            let mut cmd = Command::new(["pct", "clone"]).arg(src.to_string()).arg(ids.as_str());
            cmd = cmd.arg("--hostname").arg(d.hostname.as_str()).arg("--full").arg("1");
            let base = match source_snapshot {
                Some(snap) => {
                    let Some(sec) = src_conf.file.snapshots.get(snap) else {
                        return Err(invalid(
                            id,
                            format!(
                                "clone source {src} has no snapshot `{snap}` (it is taken when {src} is converged)"
                            ),
                        ));
                    };
                    cmd = cmd.arg("--snapname").arg(snap);
                    sec.clone()
                }
                None => src_conf.effective(),
            };
            cmd = cmd.arg("--storage").arg(d.storage.as_str());
            // The clone gets the source's config with a new hostname, new MACs, new volumes.
            let mut entries = base.entries.clone();
            entries.shift_remove("snaptime");
            entries.shift_remove("parent");
            entries.shift_remove("lock");
            entries.shift_remove("template");
            entries.insert("hostname".into(), d.hostname.clone());
            for (k, v) in entries.iter_mut() {
                if k.starts_with("net") {
                    if let Ok(mut p) = propstring::lxc_net(v) {
                        p.remove("hwaddr");
                        *v = propstring::print_lxc_net(&p);
                    }
                }
            }
            entries.insert("rootfs".into(), format!("{}:subvol-{id}-disk-0,size={}", d.storage, rootfs_size(&base)));
            let text = render_conf(&entries, &base.lxc);
            Action::new(
                Change::Create,
                subject(id),
                format!(
                    "absent; clone of {src}{}",
                    source_snapshot.map(|s| format!(" at snapshot {s}")).unwrap_or_default()
                ),
            )
            .exec(cmd)
            .effect(effect(
                id,
                GuestChange::Created { name: d.hostname.clone(), conf: text, origin: Origin::Clone(src) },
            ))
            .serialize_on(format!("clone source {src}"))
        }
        None => {
            let Some(template) = &g.template else {
                return Err(invalid(id, "declares neither `template` nor `clone_from_ctid`"));
            };
            let net0 = propstring::print_lxc_net(&d.net0);
            let mut cmd = Command::new(["pct", "create"]).arg(ids.as_str()).arg(template.as_str());
            cmd = cmd
                .arg("--hostname")
                .arg(d.hostname.as_str())
                .arg("--cores")
                .arg(d.cores.to_string())
                .arg("--memory")
                .arg(d.memory.to_string())
                .arg("--rootfs")
                .arg(
                    generate::propstring::volume("rootfs", &d.storage, &d.rootfs_gb.to_string())
                        .map_err(|e| invalid(id, e.to_string()))?,
                )
                .arg("--net0")
                .arg(net0.as_str())
                .arg("--unprivileged")
                .arg(bool01(d.unprivileged));
            let mut entries = indexmap::IndexMap::new();
            entries.insert("arch".to_string(), "amd64".to_string());
            entries.insert("cores".into(), d.cores.to_string());
            entries.insert("hostname".into(), d.hostname.clone());
            entries.insert("memory".into(), d.memory.to_string());
            entries.insert("net0".into(), net0.clone());
            entries.insert("rootfs".into(), format!("{}:subvol-{id}-disk-0,size={}G", d.storage, d.rootfs_gb));
            entries.insert("swap".into(), d.swap.unwrap_or(512).to_string());
            entries.insert("unprivileged".into(), bool01(d.unprivileged).into());
            if let Some(s) = d.swap {
                cmd = cmd.arg("--swap").arg(s.to_string());
            }
            if !d.features.is_empty() {
                let f = features_string(&d.features).map_err(|e| invalid(id, e.to_string()))?;
                cmd = cmd.arg("--features").arg(f.as_str());
                entries.insert("features".into(), f);
            }
            if let Some(ns) = &d.nameserver {
                cmd = cmd.arg("--nameserver").arg(ns.as_str());
                entries.insert("nameserver".into(), ns.clone());
            }
            if let Some(b) = d.onboot {
                cmd = cmd.arg("--onboot").arg(bool01(b));
                entries.insert("onboot".into(), bool01(b).into());
            }
            if let Some(s) = &d.startup {
                cmd = cmd.arg("--startup").arg(s.as_str());
                entries.insert("startup".into(), s.clone());
            }
            entries.sort_keys();
            let text = render_conf(&entries, &[]);
            Action::new(Change::Create, subject(id), format!("absent; from {template}")).exec(cmd).effect(effect(
                id,
                GuestChange::Created { name: d.hostname.clone(), conf: text, origin: Origin::Image(template.clone()) },
            ))
        }
    };
    Ok(Plan::with(subject(id), vec![action.for_guest(Some(id))]))
}

/// The rootfs size of a config section, as `pct` writes it (`8G`), for a modelled clone.
fn rootfs_size(sec: &crate::facts::guest_config::ConfSection) -> String {
    sec.get("rootfs")
        .and_then(|r| propstring::lxc_mount(r, true).ok())
        .and_then(|p| p.get("size").map(str::to_string))
        .unwrap_or_else(|| "8G".to_string())
}

fn render_conf(entries: &indexmap::IndexMap<String, String>, lxc: &[(String, String)]) -> String {
    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    let mut out = String::new();
    for k in keys {
        out.push_str(&format!("{k}: {}\n", entries[k]));
    }
    for (k, v) in lxc {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

/// What `ensure_config` found: the plan, the differences behind it, and whether the changes
/// only take effect after a restart of a running container (features, mounts, lxc lines).
pub struct ConfigPlan {
    pub plan: Plan,
    pub diffs: Vec<Diff>,
    pub restart_needed: bool,
    /// Why the restart: the changed settings that wait for it (`hostname, nameserver changed;
    /// applied at the next start`), empty when none does.
    pub restart_reason: String,
    /// Live mount points nothing declares (`mpN: value`): drift phoenix reports, never removes.
    pub undeclared: Vec<String>,
}

/// The reason a restart gives: which changed settings only a (re)start applies.
fn restart_reason(what: &[String]) -> String {
    if what.is_empty() {
        String::new()
    } else {
        format!("{} changed; a running container applies them at its next start", what.join(", "))
    }
}

/// An `mpN` value as the host stores it after `pct set`: `storage:GiB` (a new volume) becomes
/// the allocated volume with its size; any other value is kept.
fn allocated(id: u32, n: u8, value: &str) -> String {
    let Ok(mut p) = propstring::lxc_mount(value, false) else { return value.to_string() };
    let Some((storage, gib)) = p.get("volume").and_then(|v| v.split_once(':')) else { return value.to_string() };
    let Ok(gib) = gib.parse::<u32>() else { return value.to_string() };
    let storage = storage.to_string();
    p.set("volume", format!("{storage}:subvol-{id}-disk-{}", n + 1));
    p.set("size", format!("{gib}G"));
    propstring::print_lxc_mount(&p, false)
}

/// Bring an existing container's configuration to `d`, changing only what differs (`pct set`,
/// `pct resize`). Raw lxc lines are `ensure_lxc_lines`, planned after this has run.
pub fn ensure_config(facts: &Facts, d: &DesiredCt) -> Result<ConfigPlan, OpError> {
    let id = d.id;
    let conf = facts.guest_conf(KIND, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; define it first"));
    };
    let have = conf.effective();
    let get = |k: &str| have.entries.get(k).map(String::as_str);
    let mut set: Vec<(String, String)> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut diffs: Vec<Diff> = Vec::new();
    // What needs a restart to take effect, named for the restart's reason.
    let mut restart_why: Vec<String> = Vec::new();
    let diff = |field: &str, live: Option<&str>, declared: &str| Diff {
        field: field.to_string(),
        live: live.unwrap_or("(unset)").to_string(),
        declared: declared.to_string(),
    };
    let mut differ = |key: &str,
                      cur: Option<&str>,
                      want: String,
                      needs_restart: bool,
                      set: &mut Vec<(String, String)>,
                      diffs: &mut Vec<Diff>| {
        if cur != Some(want.as_str()) {
            reasons.push(format!("{key}: {} → {want}", cur.unwrap_or("(unset)")));
            diffs.push(diff(key, cur, &want));
            set.push((key.to_string(), want));
            if needs_restart {
                restart_why.push(key.to_string());
            }
        }
    };

    // Hostname and nameserver reach a running container only through the setup code at its
    // next start (`PVE::LXC::Setup`): `pct set` changes the config, not the live system.
    differ("hostname", get("hostname"), d.hostname.clone(), true, &mut set, &mut diffs);
    differ("cores", get("cores"), d.cores.to_string(), false, &mut set, &mut diffs);
    differ("memory", get("memory"), d.memory.to_string(), false, &mut set, &mut diffs);
    if let Some(s) = d.swap {
        differ("swap", get("swap"), s.to_string(), false, &mut set, &mut diffs);
    }
    if let Some(ns) = &d.nameserver {
        differ("nameserver", get("nameserver"), ns.clone(), true, &mut set, &mut diffs);
    }
    if let Some(b) = d.onboot {
        differ(
            "onboot",
            get("onboot").map(|v| if propstring::parse_bool(v) == Some(true) { "1" } else { "0" }),
            bool01(b).into(),
            false,
            &mut set,
            &mut diffs,
        );
    }
    if let Some(s) = &d.startup {
        let cur = get("startup").and_then(|v| propstring::startup(v).ok()).map(|s| s.to_string());
        let want = propstring::startup(s).map(|s| s.to_string()).unwrap_or_else(|_| s.clone());
        differ("startup", cur.as_deref(), want, false, &mut set, &mut diffs);
    }
    // net0: only the declared keys count; the rest (a generated MAC) stays as it is.
    {
        let cur = get("net0").and_then(|v| propstring::lxc_net(v).ok()).unwrap_or_default();
        let mut merged = cur.clone();
        let mut changed = Vec::new();
        for (k, v) in d.net0.iter() {
            let same = match cur.get(k) {
                Some(c) if k == "hwaddr" => c.eq_ignore_ascii_case(v),
                Some(c) => c == v,
                None => false,
            };
            if !same {
                // A generated MAC (a clone's) is unknown until apply: name only the new one, so
                // the dry-run and apply say the same.
                if k == "hwaddr" {
                    changed.push(format!("hwaddr → {v}"));
                } else {
                    changed.push(format!("{k} {}→{v}", cur.get(k).unwrap_or("(unset)")));
                }
                diffs.push(diff(&format!("net0.{k}"), cur.get(k), v));
                merged.set(k, v.to_string());
            }
        }
        if !changed.is_empty() {
            reasons.push(format!("net0: {}", changed.join(", ")));
            set.push(("net0".into(), propstring::print_lxc_net(&merged)));
        }
    }
    // features: the declared keys must have the declared values.
    if !d.features.is_empty() {
        let cur = get("features").and_then(|v| propstring::features(v).ok()).unwrap_or_default();
        let mut merged = cur.clone();
        let mut changed = Vec::new();
        for (k, v) in &d.features {
            if cur.get(k) != Some(v.as_str()) {
                changed.push(format!("{k}={v}"));
                diffs.push(diff(&format!("features.{k}"), cur.get(k), v));
                merged.set(k, v.clone());
            }
        }
        if !changed.is_empty() {
            reasons.push(format!("features: + {}", changed.join(",")));
            set.push(("features".into(), propstring::print_features(&merged)));
            restart_why.push("features".into());
        }
    }
    if let Some(u) = get("unprivileged") {
        let cur = propstring::parse_bool(u).unwrap_or(false);
        if cur != d.unprivileged {
            return Err(invalid(id, format!(
                "is {}privileged on the host but declared {}privileged; this cannot change after creation (recreate it)",
                if cur { "un" } else { "" },
                if d.unprivileged { "un" } else { "" }
            )));
        }
    }

    // Mount points: matched by their path in the container, so indices stay stable and a
    // drifted one is repaired in place (see `plan_mounts`).
    let mounts = plan_mounts(id, &have, &d.mounts)?;
    reasons.extend(mounts.reasons);
    diffs.extend(mounts.diffs);
    set.extend(mounts.set);
    if mounts.restart {
        restart_why.push("mount points".into());
    }
    let mut resizes = mounts.resizes;
    let undeclared = mounts.undeclared;

    let mut actions = Vec::new();
    if !set.is_empty() {
        let mut cmd = Command::new(["pct", "set"]).arg(id.to_string());
        for (k, v) in &set {
            cmd = cmd.arg(format!("--{k}")).arg(v.as_str());
        }
        // What the host will store: a new volume (`storage:GiB`) is allocated and named.
        let modelled: Vec<(String, String)> = set
            .iter()
            .map(|(k, v)| match k.strip_prefix("mp").and_then(|n| n.parse::<u8>().ok()) {
                Some(n) => (k.clone(), allocated(id, n, v)),
                None => (k.clone(), v.clone()),
            })
            .collect();
        actions.push(
            Action::new(Change::Update, subject(id), reasons.join("; "))
                .exec(cmd)
                .effect(effect(id, GuestChange::Set { set: modelled, delete: Vec::new() })),
        );
    }
    // Grow only: ZFS and pct cannot shrink a volume.
    let rootfs_cur = get("rootfs")
        .and_then(|r| propstring::lxc_mount(r, true).ok())
        .and_then(|p| p.get("size").and_then(propstring::parse_size));
    if let Some(cur) = rootfs_cur {
        if cur < u64::from(d.rootfs_gb) << 30 {
            diffs.push(diff("rootfs size", Some(&propstring::format_size(cur)), &format!("{}G", d.rootfs_gb)));
            resizes.insert(0, ("rootfs".into(), d.rootfs_gb));
        }
    }
    for (disk, gb) in resizes {
        let cur_value = get(&disk).unwrap_or("").to_string();
        let mut p = propstring::lxc_mount(&cur_value, disk == "rootfs").unwrap_or_default();
        p.set("size", format!("{gb}G"));
        let new_value = propstring::print_lxc_mount(&p, disk == "rootfs");
        actions.push(
            Action::new(
                Change::Update,
                subject(id),
                format!("{disk} size {} → {gb}G", p.get("size").map(|_| cur_size(&cur_value)).unwrap_or_default()),
            )
            .exec(Command::new(["pct", "resize"]).arg(id.to_string()).arg(disk.as_str()).arg(format!("{gb}G")))
            .effect(effect(id, GuestChange::Set { set: vec![(disk.clone(), new_value)], delete: Vec::new() })),
        );
    }
    let plan = if actions.is_empty() {
        Plan::noop(subject(id), "configuration matches")
    } else {
        Plan::with(subject(id), actions.into_iter().map(|a| a.for_guest(Some(id))).collect())
    };
    let restart_needed = !restart_why.is_empty();
    let restart_reason = restart_reason(&restart_why);
    Ok(ConfigPlan { plan, diffs, restart_needed, restart_reason, undeclared })
}

/// Add the declared raw `lxc.*` lines the conf file lacks, keeping every other line as it is.
/// Planned after `ensure_config` ran (so its `pct set` is in the file first); the lines are added
/// under Proxmox's config lock by a command that re-reads the file there. Returns the plan and
/// the lines added (as diffs).
pub fn ensure_lxc_lines(facts: &Facts, d: &DesiredCt) -> Result<(Plan, Vec<Diff>), OpError> {
    let id = d.id;
    let conf = facts.guest_conf(KIND, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; define it first"));
    };
    let missing: Vec<(String, String)> =
        d.lxc_lines.iter().filter(|l| !conf.file.main.lxc.contains(l)).cloned().collect();
    let path = conf_path(KIND, id);
    let subj = format!("{} ({path})", subject(id));
    if missing.is_empty() {
        return Ok((Plan::noop(subj, "lxc lines present"), Vec::new()));
    }
    for (k, v) in &missing {
        generate::lxc_conf::check_line(k, v).map_err(|e| invalid(id, e.to_string()))?;
    }
    let text = conf.with_lxc_lines(&missing);
    let shown: Vec<String> = missing.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let diffs =
        shown.iter().map(|l| Diff { field: "lxc line".into(), live: "(absent)".into(), declared: l.clone() }).collect();
    // Under pve-container's config lock, re-reading the file there (see `locked_conf`).
    let action = Action::new(Change::Update, subj.clone(), format!("+ {}", shown.join("; ")))
        .exec(super::locked_conf::add_lxc_lines(id, &path, &shown))
        .effect(effect(id, GuestChange::ConfText(text)))
        .for_guest(Some(id));
    Ok((Plan::with(subj, vec![action]), diffs))
}

fn cur_size(value: &str) -> String {
    propstring::lxc_mount(value, true)
        .ok()
        .and_then(|p| p.get("size").map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Stop and destroy the container with purge (its firewall file goes with it).
pub fn destroy(facts: &Facts, id: u32) -> Result<Plan, OpError> {
    super::guest::destroy(facts, KIND, id, subject(id))
}

/// The container's IPv4 address on eth0 once it has one; `None` when not (yet) up.
pub fn address(facts: &Facts, id: u32) -> Result<Option<String>, OpError> {
    let argv: Vec<String> = ["ip", "-4", "-o", "addr", "show", "dev", "eth0"].iter().map(|s| s.to_string()).collect();
    let (code, out) = facts.run_in_guest(KIND, id, &argv)?;
    if code != 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out);
    Ok(text.split_whitespace().skip_while(|w| *w != "inet").nth(1).map(|a| a.to_string()))
}
