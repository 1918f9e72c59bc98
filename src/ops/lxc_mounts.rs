//! A container's mount points (`mpN`): the declared ones matched with the live ones, and what
//! `pct set`/`pct resize` must change, each repaired in place under its own index.
//!
//! Matching, in this order, each live `mpN` used at most once:
//! 1. the same path inside the container (`mp=`): the identity of a mount point;
//! 2. for a declared mount whose container path matches none, a live mount of the same kind with
//!    the same source (a bind mount's host path, a volume's storage): its container path was
//!    changed (declared or by hand) and is set back under the same `mpN`, never doubled;
//! 3. otherwise the declared mount is new and gets the first free index.
//!
//! A live `mpN` nothing declares is reported (status and create show it as drift, with the
//! command that removes it) but never removed: it may hold data an operator added on purpose,
//! and phoenix does not delete data it did not declare. Options are compared too: `ro` (both
//! kinds), `backup` and `size` (volumes; grow only).
//!
//! Restarts (pve-container `apply_pending_mountpoint`): a NEW mount point is hot-plugged into a
//! running container, but a change to an existing `mpN` is left pending while it runs ("changing
//! mount points" is not hot-pluggable), so only a change needs the restart.

use super::{Diff, OpError};
use crate::facts::guest_config::ConfSection;
use crate::facts::propstring::{self, PropString};

/// A mount the container should have, identified by its path inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesiredMount {
    /// A host directory bind-mounted (`mpN: /host/path,mp=/ct/path`).
    Bind { host_path: String, mp: String, read_only: bool },
    /// A volume allocated on a storage (`mpN: <storage>:<GiB>,mp=/ct/path`).
    Volume { storage: String, size_gb: u32, mp: String, read_only: bool, backup: bool },
}

impl DesiredMount {
    pub fn mp(&self) -> &str {
        match self {
            DesiredMount::Bind { mp, .. } | DesiredMount::Volume { mp, .. } => mp,
        }
    }

    /// The value `pct set --mpN` gets for a new mount point (`storage:size` allocates).
    fn new_value(&self) -> String {
        let mut p = PropString::new();
        match self {
            DesiredMount::Bind { host_path, mp, read_only } => {
                p.set("volume", host_path.clone());
                p.set("mp", mp.clone());
                set_flag(&mut p, "ro", *read_only);
            }
            DesiredMount::Volume { storage, size_gb, mp, read_only, backup } => {
                p.set("volume", format!("{storage}:{size_gb}"));
                p.set("mp", mp.clone());
                set_flag(&mut p, "ro", *read_only);
                set_flag(&mut p, "backup", *backup);
            }
        }
        propstring::print_lxc_mount(&p, false)
    }
}

/// A boolean option as Proxmox stores it: `key=1`, or absent for the default (off).
fn set_flag(p: &mut PropString, key: &str, on: bool) {
    if on {
        p.set(key, "1");
    } else {
        p.remove(key);
    }
}

fn flag(p: &PropString, key: &str) -> bool {
    p.get(key).and_then(propstring::parse_bool).unwrap_or(false)
}

/// A bind mount's source is an absolute host path; a volume's is `storage:volume`.
fn is_bind(p: &PropString) -> bool {
    p.get("volume").is_some_and(|v| v.starts_with('/'))
}

fn same_source(m: &DesiredMount, p: &PropString) -> bool {
    match m {
        DesiredMount::Bind { host_path, .. } => is_bind(p) && p.get("volume") == Some(host_path.as_str()),
        DesiredMount::Volume { storage, .. } => {
            !is_bind(p) && p.get("volume").and_then(|v| v.split_once(':')).is_some_and(|(s, _)| s == storage)
        }
    }
}

/// What the mount points need.
#[derive(Debug, Default)]
pub struct MountPlan {
    /// `pct set` options (`mpN`, value).
    pub set: Vec<(String, String)>,
    /// `pct resize` (disk, GiB): grow only.
    pub resizes: Vec<(String, u32)>,
    pub reasons: Vec<String>,
    pub diffs: Vec<Diff>,
    /// A running container must restart for the changes to apply.
    pub restart: bool,
    /// Live mount points nothing declares, as `mpN: value` (reported, never removed).
    pub undeclared: Vec<String>,
}

fn diff(field: String, live: Option<&str>, declared: &str) -> Diff {
    Diff { field, live: live.unwrap_or("(unset)").to_string(), declared: declared.to_string() }
}

fn bool01(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// Compare the declared mounts with the live conf section (pending changes applied).
pub fn plan_mounts(id: u32, have: &ConfSection, declared: &[DesiredMount]) -> Result<MountPlan, OpError> {
    let mut live: Vec<(u8, PropString)> = have
        .entries
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("mp")?.parse::<u8>().ok()?, propstring::lxc_mount(v, false).ok()?)))
        .collect();
    live.sort_by_key(|(i, _)| *i);

    // Which live index each declared mount maps to (None: new).
    let mut claimed: Vec<u8> = Vec::new();
    let mut matched: Vec<Option<u8>> = vec![None; declared.len()];
    for (n, m) in declared.iter().enumerate() {
        if let Some((i, _)) = live.iter().find(|(i, p)| !claimed.contains(i) && p.get("mp") == Some(m.mp())) {
            claimed.push(*i);
            matched[n] = Some(*i);
        }
    }
    for (n, m) in declared.iter().enumerate() {
        if matched[n].is_some() {
            continue;
        }
        // Not claimed by its own container path, nor declared under another one.
        let free = |p: &PropString| !declared.iter().any(|o| p.get("mp") == Some(o.mp()));
        if let Some((i, _)) = live.iter().find(|(i, p)| !claimed.contains(i) && free(p) && same_source(m, p)) {
            claimed.push(*i);
            matched[n] = Some(*i);
        }
    }

    let mut out = MountPlan::default();
    let mut used: Vec<u8> = live.iter().map(|(i, _)| *i).collect();
    for (m, found) in declared.iter().zip(&matched) {
        let Some(i) = *found else {
            let i = (0u8..=255).find(|i| !used.contains(i)).ok_or_else(|| OpError::Invalid {
                subject: format!("ct {id}"),
                message: "no free mount point index".into(),
            })?;
            used.push(i);
            let value = m.new_value();
            out.reasons.push(format!("mp{i}: + {}", m.mp()));
            out.diffs.push(diff(format!("mount {}", m.mp()), None, &value));
            out.set.push((format!("mp{i}"), value));
            // A new mount point is hot-plugged into a running container: no restart.
            continue;
        };
        let Some((_, p)) = live.iter().find(|(li, _)| *li == i) else { continue };
        let mut np = p.clone();
        let mut changed: Vec<String> = Vec::new();
        let mp = m.mp();
        if p.get("mp") != Some(mp) {
            changed.push(format!("path {} → {mp}", p.get("mp").unwrap_or("?")));
            out.diffs.push(diff(format!("mp{i} path"), p.get("mp"), mp));
            np.set("mp", mp.to_string());
        }
        let (read_only, backup) = match m {
            DesiredMount::Bind { host_path, read_only, .. } => {
                if p.get("volume") != Some(host_path.as_str()) {
                    changed.push(format!("{} → {host_path}", p.get("volume").unwrap_or("?")));
                    out.diffs.push(diff(format!("mount {mp}"), p.get("volume"), host_path));
                    np.set("volume", host_path.clone());
                }
                (*read_only, None)
            }
            DesiredMount::Volume { size_gb, read_only, backup, .. } => {
                let cur = p.get("size").and_then(propstring::parse_size).unwrap_or(0);
                if cur < u64::from(*size_gb) << 30 {
                    out.reasons.push(format!("mp{i} ({mp}): size {} → {size_gb}G", p.get("size").unwrap_or("?")));
                    out.diffs.push(diff(format!("mount {mp} size"), p.get("size"), &format!("{size_gb}G")));
                    out.resizes.push((format!("mp{i}"), *size_gb));
                }
                (*read_only, Some(*backup))
            }
        };
        let options = [("ro", Some(read_only)), ("backup", backup)];
        for (key, want) in options.iter().filter_map(|(k, w)| w.map(|w| (*k, w))) {
            if flag(p, key) != want {
                changed.push(format!("{key} {} → {}", bool01(flag(p, key)), bool01(want)));
                out.diffs.push(diff(format!("mount {mp} {key}"), Some(bool01(flag(p, key))), bool01(want)));
                set_flag(&mut np, key, want);
            }
        }
        if !changed.is_empty() {
            out.reasons.push(format!(
                "mp{i} ({mp}): {} (in place; a running container applies it at its restart)",
                changed.join(", ")
            ));
            out.set.push((format!("mp{i}"), propstring::print_lxc_mount(&np, false)));
            out.restart = true;
        }
    }
    for (i, p) in &live {
        if claimed.contains(i) {
            continue;
        }
        let value = propstring::print_lxc_mount(p, false);
        out.diffs.push(diff(
            format!("mp{i} (not declared)"),
            Some(&value),
            &format!("(absent: save its data, then `pct set {id} --delete mp{i}`)"),
        ));
        out.undeclared.push(format!("mp{i}: {value}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(lines: &[(&str, &str)]) -> ConfSection {
        let mut s = ConfSection::default();
        for (k, v) in lines {
            s.entries.insert(k.to_string(), v.to_string());
        }
        s
    }

    fn bind(host: &str, mp: &str) -> DesiredMount {
        DesiredMount::Bind { host_path: host.into(), mp: mp.into(), read_only: false }
    }

    fn vol(mp: &str, gb: u32) -> DesiredMount {
        DesiredMount::Volume { storage: "tank".into(), size_gb: gb, mp: mp.into(), read_only: false, backup: false }
    }

    #[test]
    fn a_changed_container_path_is_repaired_under_the_same_index() {
        let have = section(&[("mp3", "/tank/media,mp=/old")]);
        let p = plan_mounts(101, &have, &[bind("/tank/media", "/media")]).unwrap();
        assert_eq!(p.set, vec![("mp3".to_string(), "/tank/media,mp=/media".to_string())]);
        assert!(p.restart && p.undeclared.is_empty(), "{p:?}");
    }

    #[test]
    fn options_are_compared_and_set_back() {
        let have =
            section(&[("mp0", "/tank/a,mp=/a,ro=1"), ("mp1", "tank:subvol-101-disk-1,mp=/data,backup=1,size=8G")]);
        let p = plan_mounts(101, &have, &[bind("/tank/a", "/a"), vol("/data", 10)]).unwrap();
        assert_eq!(
            p.set,
            vec![
                ("mp0".to_string(), "/tank/a,mp=/a".to_string()),
                ("mp1".to_string(), "tank:subvol-101-disk-1,mp=/data,size=8G".to_string())
            ]
        );
        assert_eq!(p.resizes, vec![("mp1".to_string(), 10)]);
        let fields: Vec<&str> = p.diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["mount /a ro", "mount /data size", "mount /data backup"]);
    }

    #[test]
    fn an_undeclared_mount_is_reported_not_removed() {
        let have = section(&[("mp0", "/tank/a,mp=/a"), ("mp4", "/srv/extra,mp=/extra")]);
        let p = plan_mounts(101, &have, &[bind("/tank/a", "/a")]).unwrap();
        assert!(p.set.is_empty(), "{p:?}");
        assert_eq!(p.undeclared, vec!["mp4: /srv/extra,mp=/extra".to_string()]);
        assert_eq!(p.diffs[0].field, "mp4 (not declared)");
        assert!(p.diffs[0].declared.contains("pct set 101 --delete mp4"));
    }

    #[test]
    fn a_new_mount_takes_the_first_free_index_without_restart() {
        let have = section(&[("mp0", "/tank/a,mp=/a"), ("mp2", "/tank/b,mp=/b")]);
        let p = plan_mounts(101, &have, &[bind("/tank/a", "/a"), bind("/tank/b", "/b"), vol("/c", 4)]).unwrap();
        assert_eq!(p.set, vec![("mp1".to_string(), "tank:4,mp=/c".to_string())]);
        assert!(!p.restart);
    }

    #[test]
    fn a_host_path_change_keeps_the_index_and_another_mounts_path_is_not_stolen() {
        // /b's live mount keeps its container path, so the moved /a cannot take it.
        let have = section(&[("mp0", "/tank/old,mp=/a"), ("mp1", "/tank/x,mp=/b")]);
        let p = plan_mounts(101, &have, &[bind("/tank/new", "/a"), bind("/tank/x", "/b")]).unwrap();
        assert_eq!(p.set, vec![("mp0".to_string(), "/tank/new,mp=/a".to_string())]);
    }
}
