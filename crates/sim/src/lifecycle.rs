//! Guest operations `pct` and `qm` share (power, destroy, snapshots, template, resize,
//! unlock), with each tool's own error wording.

use super::conf::valid_snapname;
use super::guest::{check_lock, lookup, word};
use super::reply::{fail, ok, task_fail};
use super::state::{GuestKind, PowerState, SimState, Snapshot};
use super::volumes;
use crate::output::Output;
use crate::size::pve_format;
use indexmap::IndexMap;

/// Config keys that hold volumes.
pub(crate) fn is_volume_key(kind: GuestKind, k: &str) -> bool {
    let digits = |p: &str| k.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match kind {
        GuestKind::Lxc => k == "rootfs" || digits("mp") || digits("unused"),
        GuestKind::Qemu => {
            digits("scsi")
                || digits("virtio")
                || digits("sata")
                || digits("ide")
                || digits("efidisk")
                || digits("tpmstate")
                || digits("unused")
        }
    }
}

/// The volume id of a volume property (`local-zfs:subvol-100-disk-0,size=8G` → the volid).
pub(crate) fn volid_of(value: &str) -> &str {
    let first = value.split(',').next().unwrap_or("");
    first.strip_prefix("volume=").or_else(|| first.strip_prefix("file=")).unwrap_or(first)
}

fn is_cdrom(v: &str) -> bool {
    v.split(',').any(|p| p == "media=cdrom") || v.starts_with("none,") || v == "none" || v.starts_with("cdrom")
}

fn running_word(kind: GuestKind, id: u32) -> String {
    format!("{} {id} not running", word(kind))
}

/// Apply `[pending]` changes (done at start for both kinds).
pub(crate) fn apply_pending(st: &mut SimState, id: u32) {
    if let Some(g) = st.guests.get_mut(&id) {
        let pending = std::mem::take(&mut g.pending);
        for (k, v) in &pending {
            if k != "delete" {
                g.config.insert(k.clone(), v.clone());
            }
        }
        if let Some(del) = pending.get("delete") {
            // `parse_pending_delete`: `,`, `;` or blanks between keys, `!` = forced.
            for k in del.split(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
                g.config.shift_remove(k.trim_start_matches('!'));
            }
        }
    }
}

pub(crate) fn start(st: &mut SimState, kind: GuestKind, id: u32, skiplock: bool) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, skiplock) {
        return e;
    }
    if g.is_template() {
        return fail(match kind {
            GuestKind::Lxc => "you can't start a CT if it's a template".to_string(),
            GuestKind::Qemu => "you can't start a vm if it's a template".to_string(),
        });
    }
    if g.status == PowerState::Running {
        return fail(format!("{} {id} already running", word(kind)));
    }
    apply_pending(st, id);
    // The pre-start hook mounts every mount point; a bind mount needs its host directory. The
    // hook's error reaches the start task's log, then vm_start dies.
    if kind == GuestKind::Lxc {
        let missing = st.guests.get(&id).and_then(|g| super::host_dirs::missing_bind_source(st, &g.config));
        if let Some(path) = missing {
            return fail(format!("directory '{path}' does not exist\nstartup for container '{id}' failed"));
        }
    }
    let seed = super::cloudinit::seed(st, id);
    if let Some(g) = st.guests.get_mut(&id) {
        g.status = PowerState::Running;
        g.started_at_ms = Some(super::state::unix_ms());
        if kind == GuestKind::Lxc {
            super::pct::setup_at_start(g);
        }
        super::inside::on_boot(g, seed.as_ref());
    }
    ok("")
}

/// stop / shutdown / reboot.
pub(crate) fn power_off(st: &mut SimState, kind: GuestKind, id: u32, skiplock: bool, reboot: bool) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, skiplock) {
        return e;
    }
    if g.status != PowerState::Running {
        return fail(running_word(kind, id));
    }
    if reboot {
        apply_pending(st, id);
    }
    if let Some(g) = st.guests.get_mut(&id) {
        if reboot {
            g.started_at_ms = Some(super::state::unix_ms());
            // A reboot is a stop and a start: the container setup runs again.
            if kind == GuestKind::Lxc {
                super::pct::setup_at_start(g);
            }
        } else {
            g.status = PowerState::Stopped;
            g.started_at_ms = None;
            super::inside::on_shutdown(g);
        }
    }
    ok("")
}

pub(crate) fn destroy(st: &mut SimState, kind: GuestKind, id: u32, force: bool, skiplock: bool) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, skiplock) {
        return e;
    }
    if g.status == PowerState::Running && !force {
        return fail(match kind {
            GuestKind::Lxc => format!("unable to destroy CT {id} - container is running"),
            GuestKind::Qemu => format!("VM {id} is running - destroy failed"),
        });
    }
    let mut vols: Vec<String> = Vec::new();
    let collect = |m: &IndexMap<String, String>, vols: &mut Vec<String>| {
        for (k, v) in m {
            if is_volume_key(kind, k) && !is_cdrom(v) && !vols.contains(&volid_of(v).to_string()) {
                vols.push(volid_of(v).to_string());
            }
        }
    };
    collect(&g.config, &mut vols);
    collect(&g.pending, &mut vols);
    for s in g.snapshots.values() {
        collect(&s.config, &mut vols);
    }
    for v in vols {
        // Bind mounts (absolute paths) are not volumes.
        if !v.starts_with('/') {
            volumes::free(st, &v);
        }
    }
    st.guests.remove(&id);
    // The guest firewall file always goes with the guest.
    st.files.remove(&format!("/etc/pve/firewall/{id}.fw"));
    ok("")
}

pub(crate) fn snapshot(st: &mut SimState, kind: GuestKind, id: u32, name: &str, description: Option<&str>) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if name == "current" || name == "vzdump" {
        return fail(format!("unable to use snapshot name '{name}' (reserved name)"));
    }
    if !valid_snapname(name) {
        let usage =
            format!("{} snapshot <vmid> <snapname> [OPTIONS]", if kind == GuestKind::Lxc { "pct" } else { "qm" });
        return super::reply::param_fail(
            "snapname",
            &format!("invalid format - invalid configuration ID '{name}'"),
            &usage,
        );
    }
    if let Err(e) = check_lock(g, false) {
        return e;
    }
    if g.is_template() {
        return fail("you can't take a snapshot if it's a template");
    }
    if g.snapshots.contains_key(name) {
        return fail(format!("snapshot name '{name}' already used"));
    }
    // `has_feature('snapshot')` over every volume: a bind or device mount point is a path, not
    // a volume, so it never has the feature.
    let path_mount = |(k, v): (&String, &String)| k.starts_with("mp") && volid_of(v).starts_with('/');
    if kind == GuestKind::Lxc && g.config.iter().any(path_mount) {
        return fail("snapshot feature is not available");
    }
    st.clock += 1;
    let snaptime = st.clock;
    let Some(g) = st.guests.get_mut(&id) else {
        return fail(format!("{} {id} vanished", word(kind)));
    };
    let mut config = g.config.clone();
    config.shift_remove("lock");
    config.shift_remove("description");
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        config.insert("description".into(), d.to_string());
    }
    config.insert("snaptime".into(), snaptime.to_string());
    let snap = Snapshot { config, lxc: g.lxc.clone(), image: Some(g.image()) };
    g.snapshots.insert(name.to_string(), snap);
    g.config.insert("parent".into(), name.to_string());
    ok("")
}

pub(crate) fn delsnapshot(st: &mut SimState, kind: GuestKind, id: u32, name: &str) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, false) {
        return e;
    }
    let Some(snap) = g.snapshots.get(name) else {
        return fail(format!("snapshot '{name}' does not exist"));
    };
    let grandparent = snap.config.get("parent").cloned();
    let Some(g) = st.guests.get_mut(&id) else {
        return fail(format!("{} {id} vanished", word(kind)));
    };
    g.snapshots.remove(name);
    let reparent = |c: &mut IndexMap<String, String>| {
        if c.get("parent").is_some_and(|p| p == name) {
            match &grandparent {
                Some(gp) => {
                    c.insert("parent".into(), gp.clone());
                }
                None => {
                    c.shift_remove("parent");
                }
            }
        }
    };
    reparent(&mut g.config);
    for s in g.snapshots.values_mut() {
        reparent(&mut s.config);
    }
    ok("")
}

pub(crate) fn rollback(st: &mut SimState, kind: GuestKind, id: u32, name: &str, start_after: bool) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, false) {
        return e;
    }
    let Some(snap) = g.snapshots.get(name).cloned() else {
        return fail(format!("snapshot '{name}' does not exist"));
    };
    let Some(g) = st.guests.get_mut(&id) else {
        return fail(format!("{} {id} vanished", word(kind)));
    };
    // Rollback stops a running guest first.
    g.status = PowerState::Stopped;
    let mut config = snap.config;
    config.shift_remove("snaptime");
    config.insert("parent".into(), name.to_string());
    g.config = config;
    g.lxc = snap.lxc;
    if let Some(image) = snap.image {
        g.set_image(image);
    }
    g.pending.clear();
    if start_after {
        return start(st, kind, id, false);
    }
    ok("")
}

pub(crate) fn template(st: &mut SimState, kind: GuestKind, id: u32) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, false) {
        return e;
    }
    if g.is_template() {
        return fail("you can't convert a template to a template");
    }
    if g.status == PowerState::Running {
        return fail(match kind {
            GuestKind::Lxc => "you can't convert a CT to template if the CT is running",
            GuestKind::Qemu => "you can't convert a VM to template if VM is running",
        });
    }
    if !g.snapshots.is_empty() {
        return fail(format!("unable to create template, because {} contains snapshots", word(kind)));
    }
    let keys: Vec<(String, String)> = g
        .config
        .iter()
        .filter(|(k, v)| is_volume_key(kind, k) && !is_cdrom(v) && !k.starts_with("unused"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in keys {
        let vol = volid_of(&v).to_string();
        if vol.starts_with('/') {
            continue;
        }
        let base = volumes::to_base(st, &vol);
        if let Some(g) = st.guests.get_mut(&id) {
            g.config.insert(k, v.replacen(&vol, &base, 1));
        }
    }
    if let Some(g) = st.guests.get_mut(&id) {
        g.config.insert("template".into(), "1".into());
    }
    ok("")
}

pub(crate) fn resize(st: &mut SimState, kind: GuestKind, id: u32, disk: &str, size: &str) -> Output {
    let g = match lookup(st, kind, id) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = check_lock(g, false) {
        return e;
    }
    let Some(value) = g.config.get(disk).filter(|_| is_volume_key(kind, disk)).cloned() else {
        return fail(format!("unable to parse volume ID '{disk}'"));
    };
    let current = value.split(',').find_map(|p| p.strip_prefix("size=")).and_then(crate::size::pve_parse).unwrap_or(0);
    let (relative, amount) = match size.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, size),
    };
    let Some(bytes) = crate::size::pve_parse(amount) else {
        let usage =
            format!("{} resize <vmid> <disk> <size> [OPTIONS]", if kind == GuestKind::Lxc { "pct" } else { "qm" });
        return super::reply::param_fail("size", "value does not match the regex pattern", &usage);
    };
    let new = if relative { current + bytes } else { bytes };
    if new < current {
        return fail("unable to shrink disk size");
    }
    if new == current {
        return fail("disk is already at specified size");
    }
    let vol = volid_of(&value).to_string();
    volumes::resize(st, &vol, new);
    let mut parts: Vec<String> = value.split(',').filter(|p| !p.starts_with("size=")).map(String::from).collect();
    parts.push(format!("size={}", pve_format(new)));
    // Keep canonical order: volume first, then sorted keys.
    let (head, mut rest) = (parts[0].clone(), parts[1..].to_vec());
    rest.sort_by(|a, b| a.split('=').next().cmp(&b.split('=').next()));
    let mut canonical = vec![head];
    if kind == GuestKind::Lxc {
        // `mp=` is a required key and stays right after the volume.
        if let Some(pos) = rest.iter().position(|p| p.starts_with("mp=")) {
            canonical.push(rest.remove(pos));
        }
    }
    canonical.extend(rest);
    if let Some(g) = st.guests.get_mut(&id) {
        g.config.insert(disk.to_string(), canonical.join(","));
    }
    ok("")
}

pub(crate) fn unlock(st: &mut SimState, kind: GuestKind, id: u32) -> Output {
    if let Err(e) = lookup(st, kind, id) {
        return e;
    }
    if let Some(g) = st.guests.get_mut(&id) {
        g.config.shift_remove("lock");
    }
    ok("")
}

/// A task that failed inside the worker.
pub(crate) fn worker_error(out: String, msg: &str) -> Output {
    task_fail(out, msg)
}

/// The end of a clone task, the same for `pct clone` and `qm clone`: the source's clone lock
/// (`src_lock`) is released; on a failure the half-made target goes; otherwise `install` fills
/// the target guest in. `noun` is "CT" or "VM" for the message.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_clone(
    st: &mut SimState,
    src: u32,
    src_lock: &str,
    new: u32,
    noun: &str,
    log: String,
    failure: Option<String>,
    install: impl FnOnce(&mut super::state::Guest),
) -> Output {
    if let Some(g) = st.guests.get_mut(&src) {
        if g.lock() == Some(src_lock) {
            g.config.shift_remove("lock");
        }
    }
    if let Some(e) = failure {
        st.guests.remove(&new);
        return worker_error(log, &format!("clone failed: {e}"));
    }
    match st.guests.get_mut(&new) {
        Some(g) => {
            install(g);
            ok(log)
        }
        None => worker_error(log, &format!("clone failed: config file of {noun} {new} vanished")),
    }
}
