//! Guest volumes on simulated storages: allocation (`<storage>:<GiB>`), naming per plugin
//! (ZFS `subvol-`/`vm-`/`basevol-`/`base-`, dir `<id>/vm-<id>-disk-<n>.raw`), and the ZFS
//! datasets behind zfspool volumes.

use super::state::{DatasetKind, SimState};
use super::zfs::create_for_volume;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VolKind {
    /// Container root/mount point.
    Subvol,
    /// VM disk.
    Image,
}

fn disk_index_used(st: &SimState, name_part: &str) -> bool {
    st.guests.values().any(|g| {
        g.config.values().chain(g.pending.values()).any(|v| v.contains(name_part))
            || g.snapshots.values().any(|s| s.config.values().any(|v| v.contains(name_part)))
    }) || st.datasets.keys().any(|d| d.ends_with(name_part))
}

/// Allocate a new volume of `bytes` on storage `sid` for guest `vmid`; returns the volume id.
pub(crate) fn allocate(st: &mut SimState, sid: &str, vmid: u32, bytes: u64, kind: VolKind) -> Result<String, String> {
    let Some(storage) = st.storages.get(sid) else {
        return Err(format!("storage '{sid}' does not exist"));
    };
    if storage.disabled() {
        return Err(format!("storage '{sid}' is disabled"));
    }
    let content_needed = match kind {
        VolKind::Subvol => "rootdir",
        VolKind::Image => "images",
    };
    if !storage.content().split(',').any(|c| c == content_needed) {
        return Err(match kind {
            VolKind::Subvol => format!("storage '{sid}' does not support container directories"),
            VolKind::Image => format!("storage '{sid}' does not support vm images"),
        });
    }
    let storage_kind = storage.kind.clone();
    let pool = storage.options.get("pool").cloned();
    let prefix = match (kind, storage_kind.as_str()) {
        (VolKind::Subvol, "zfspool") => "subvol",
        _ => "vm",
    };
    let mut n = 0;
    while disk_index_used(st, &format!("{prefix}-{vmid}-disk-{n}")) {
        n += 1;
    }
    let name = format!("{prefix}-{vmid}-disk-{n}");
    match storage_kind.as_str() {
        "zfspool" => {
            let pool = pool.unwrap_or_default();
            if !st.datasets.contains_key(pool.as_str()) {
                return Err(format!("zfs error: cannot open '{pool}': dataset does not exist"));
            }
            let ds = format!("{pool}/{name}");
            match kind {
                VolKind::Subvol => create_for_volume(st, &ds, None, Some(bytes)),
                VolKind::Image => create_for_volume(st, &ds, Some(bytes), None),
            };
            Ok(format!("{sid}:{name}"))
        }
        "dir" | "nfs" | "cifs" | "btrfs" => {
            let ext = if kind == VolKind::Image { "qcow2" } else { "raw" };
            Ok(format!("{sid}:{vmid}/{name}.{ext}"))
        }
        "lvmthin" | "lvm" | "rbd" => Ok(format!("{sid}:{name}")),
        other => Err(format!("storage type '{other}' cannot allocate volumes in the simulator")),
    }
}

/// The ZFS dataset behind a volume id, if it lives on a zfspool storage.
pub(crate) fn dataset_of(st: &SimState, volid: &str) -> Option<String> {
    let (sid, name) = volid.split_once(':')?;
    let s = st.storages.get(sid)?;
    if s.kind != "zfspool" {
        return None;
    }
    // A linked clone `basevol-100-disk-0/subvol-101-disk-0` is its own dataset (a zfs clone).
    let leaf = name.rsplit('/').next().unwrap_or(name);
    Some(format!("{}/{leaf}", s.options.get("pool")?))
}

/// Free a volume (destroy its dataset). Unknown volumes are ignored, like `vdisk_free` on a
/// volume that is already gone.
pub(crate) fn free(st: &mut SimState, volid: &str) {
    if let Some(ds) = dataset_of(st, volid) {
        st.datasets.remove(&ds);
    }
}

/// Copy a volume for a full clone: a new volume of the same size on `target_sid`.
pub(crate) fn copy(
    st: &mut SimState,
    volid: &str,
    target_sid: &str,
    vmid: u32,
    bytes: u64,
    kind: VolKind,
) -> Result<String, String> {
    let new = allocate(st, target_sid, vmid, bytes, kind)?;
    if let (Some(src), Some(dst)) = (dataset_of(st, volid), dataset_of(st, &new)) {
        let referenced = st.datasets.get(&src).map(|d| d.referenced);
        if let (Some(r), Some(d)) = (referenced, st.datasets.get_mut(&dst)) {
            d.referenced = r;
        }
    }
    Ok(new)
}

/// Linked clone of a template's base volume: `<sid>:basevol-<t>-disk-0/subvol-<new>-disk-0`.
pub(crate) fn link(st: &mut SimState, base_volid: &str, vmid: u32, kind: VolKind) -> Result<String, String> {
    let (sid, base) = base_volid.split_once(':').ok_or_else(|| format!("invalid volume id '{base_volid}'"))?;
    let base_leaf = base.rsplit('/').next().unwrap_or(base).to_string();
    let prefix = if kind == VolKind::Subvol { "subvol" } else { "vm" };
    let mut n = 0;
    while disk_index_used(st, &format!("{prefix}-{vmid}-disk-{n}")) {
        n += 1;
    }
    let leaf = format!("{prefix}-{vmid}-disk-{n}");
    let src_ds = dataset_of(st, base_volid);
    if let Some(src) = src_ds {
        let parent = src.rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default();
        let (k, volsize) =
            st.datasets.get(&src).map(|d| (d.kind, d.volsize)).unwrap_or((DatasetKind::Filesystem, None));
        create_for_volume(st, &format!("{parent}/{leaf}"), if k == DatasetKind::Volume { volsize } else { None }, None);
    }
    Ok(format!("{sid}:{base_leaf}/{leaf}"))
}

/// Rename a volume to its template base name (`subvol-` → `basevol-`, `vm-` → `base-`).
pub(crate) fn to_base(st: &mut SimState, volid: &str) -> String {
    let Some((sid, name)) = volid.split_once(':') else {
        return volid.to_string();
    };
    if name.contains('/') && !name.ends_with(".raw") && !name.ends_with(".qcow2") {
        // Already a linked clone: PVE refuses, the simulator keeps it unchanged.
        return volid.to_string();
    }
    let new_name = if let Some(rest) = name.strip_prefix("subvol-") {
        format!("basevol-{rest}")
    } else if let Some(rest) = name.strip_prefix("vm-") {
        format!("base-{rest}")
    } else {
        name.replace("/vm-", "/base-")
    };
    if let Some(old_ds) = dataset_of(st, volid) {
        if let Some(d) = st.datasets.remove(&old_ds) {
            let parent = old_ds.rsplit_once('/').map(|(p, _)| p.to_string()).unwrap_or_default();
            st.datasets.insert(format!("{parent}/{new_name}"), d);
        }
    }
    format!("{sid}:{new_name}")
}

/// Set a volume's size (resize): refquota for subvols, volsize for zvols.
pub(crate) fn resize(st: &mut SimState, volid: &str, bytes: u64) {
    if let Some(ds) = dataset_of(st, volid) {
        if let Some(d) = st.datasets.get_mut(&ds) {
            match d.kind {
                DatasetKind::Volume => d.volsize = Some(bytes),
                DatasetKind::Filesystem => {
                    d.props.insert("refquota".into(), bytes.to_string());
                }
            }
        }
    }
}

/// Clone one volume of a guest config for guest `new` (full copy or linked clone) and return the
/// config value pointing at the new volume, plus the task-log line the real tools print.
/// `what` names the config entry in the log: "mountpoint" (pct) or "drive" (qm).
#[allow(clippy::too_many_arguments)]
pub(crate) fn clone_volume(
    st: &mut SimState,
    key: &str,
    value: &str,
    full: bool,
    storage: Option<&str>,
    new: u32,
    kind: VolKind,
    what: &str,
) -> Result<(String, String), String> {
    let vol = super::lifecycle::volid_of(value).to_string();
    let size = value.split(',').find_map(|p| p.strip_prefix("size=")).and_then(crate::size::pve_parse).unwrap_or(0);
    let (log, new_vol) = if full {
        let sid = storage.map(str::to_string).unwrap_or_else(|| vol.split(':').next().unwrap_or("local").to_string());
        (format!("create full clone of {what} {key} ({vol})\n"), copy(st, &vol, &sid, new, size, kind)?)
    } else {
        (format!("create linked clone of {what} {key} ({vol})\n"), link(st, &vol, new, kind)?)
    };
    Ok((value.replacen(&vol, &new_vol, 1), log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocate_on_zfs_and_dir() {
        let mut st = SimState::default();
        let v = allocate(&mut st, "local-zfs", 100, 8 << 30, VolKind::Subvol).unwrap();
        assert_eq!(v, "local-zfs:subvol-100-disk-0");
        assert!(st.datasets.contains_key("rpool/data/subvol-100-disk-0"));
        assert_eq!(
            allocate(&mut st, "local-zfs", 100, 1 << 30, VolKind::Subvol).unwrap(),
            "local-zfs:subvol-100-disk-1"
        );
        assert_eq!(
            allocate(&mut st, "local", 100, 1 << 30, VolKind::Subvol).unwrap_err(),
            "storage 'local' does not support container directories"
        );
        assert_eq!(allocate(&mut st, "nope", 100, 1, VolKind::Subvol).unwrap_err(), "storage 'nope' does not exist");
        let base = to_base(&mut st, "local-zfs:subvol-100-disk-0");
        assert_eq!(base, "local-zfs:basevol-100-disk-0");
        assert!(st.datasets.contains_key("rpool/data/basevol-100-disk-0"));
        assert_eq!(
            link(&mut st, &base, 101, VolKind::Subvol).unwrap(),
            "local-zfs:basevol-100-disk-0/subvol-101-disk-0"
        );
        assert!(st.datasets.contains_key("rpool/data/subvol-101-disk-0"));
    }
}
