//! Host files. Most are stored as given; the pmxcfs files phoenix reads are VIRTUAL: rendered
//! from the model on read (`storage.cfg`, guest configs) and, for guest configs, parsed back
//! into the model on write.

use super::conf;
use super::error::SimError;
use super::pvesm::render_cfg;
use super::state::{Guest, GuestKind, SimState};
use crate::file::{FileData, FileWrite};

enum Virtual {
    StorageCfg,
    GuestConf(GuestKind, u32),
}

fn classify(st: &SimState, path: &str) -> Option<Virtual> {
    if path == "/etc/pve/storage.cfg" {
        return Some(Virtual::StorageCfg);
    }
    let node_prefix = format!("/etc/pve/nodes/{}/", st.node);
    let rel = path.strip_prefix(&node_prefix).or_else(|| path.strip_prefix("/etc/pve/"))?;
    let (dir, file) = rel.split_once('/')?;
    let kind = match dir {
        "lxc" => GuestKind::Lxc,
        "qemu-server" => GuestKind::Qemu,
        _ => return None,
    };
    let id = file.strip_suffix(".conf")?.parse().ok()?;
    Some(Virtual::GuestConf(kind, id))
}

/// pmxcfs presents every file as root:www-data 0640.
fn pmxcfs_file(content: String) -> FileData {
    FileData { content: content.into_bytes(), mode: 0o640, owner: "root".into(), group: "www-data".into() }
}

pub(crate) fn read(st: &SimState, path: &str) -> Option<FileData> {
    match classify(st, path) {
        Some(Virtual::StorageCfg) => Some(pmxcfs_file(render_cfg(st))),
        Some(Virtual::GuestConf(kind, id)) => {
            st.guests.get(&id).filter(|g| g.kind == kind).map(|g| pmxcfs_file(conf::render(g)))
        }
        None => st.files.get(path).cloned(),
    }
}

pub(crate) fn write(st: &mut SimState, path: &str, file: &FileWrite) -> Result<(), SimError> {
    match classify(st, path) {
        Some(Virtual::StorageCfg) => Err(SimError::Refused {
            path: path.into(),
            reason: "storage.cfg is rendered from the storage model; change storages with pvesm add/set/remove".into(),
        }),
        Some(Virtual::GuestConf(kind, id)) => {
            if let Some(other) = st.guests.get(&id).filter(|g| g.kind != kind) {
                let what = super::guest::word(other.kind);
                return Err(SimError::Refused {
                    path: path.into(),
                    reason: format!("{what} {id} already exists on node '{}'", st.node),
                });
            }
            let text = String::from_utf8(file.content.clone()).map_err(|_| SimError::Parse {
                path: path.into(),
                line: 0,
                message: "config is not UTF-8".into(),
            })?;
            let parsed = conf::parse(&text, kind).map_err(|(line, message)| SimError::Parse {
                path: path.into(),
                line,
                message,
            })?;
            let g = st.guests.entry(id).or_insert_with(|| Guest::new(kind));
            g.config = parsed.config;
            g.lxc = parsed.lxc;
            g.pending = parsed.pending;
            g.snapshots = parsed.snapshots;
            Ok(())
        }
        None => {
            let data = FileData {
                content: file.content.clone(),
                mode: file.mode,
                owner: file.owner.clone().unwrap_or_else(|| "root".into()),
                group: file.group.clone().unwrap_or_else(|| "root".into()),
            };
            st.files.insert(path.to_string(), data);
            Ok(())
        }
    }
}

pub(crate) fn remove(st: &mut SimState, path: &str) -> bool {
    match classify(st, path) {
        // storage.cfg cannot go away; the model always has one.
        Some(Virtual::StorageCfg) => false,
        Some(Virtual::GuestConf(kind, id)) => {
            if st.guests.get(&id).is_some_and(|g| g.kind == kind) {
                st.guests.remove(&id);
                true
            } else {
                false
            }
        }
        None => st.files.remove(path).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fw(text: &str) -> FileWrite {
        FileWrite { content: text.as_bytes().to_vec(), mode: 0o640, owner: None, group: None }
    }

    #[test]
    fn storage_cfg_is_virtual_and_read_only() {
        let mut st = SimState::default();
        let f = read(&st, "/etc/pve/storage.cfg").unwrap();
        assert!(String::from_utf8(f.content).unwrap().starts_with("dir: local\n\tpath /var/lib/vz\n"));
        assert!(matches!(write(&mut st, "/etc/pve/storage.cfg", &fw("x")), Err(SimError::Refused { .. })));
    }

    #[test]
    fn guest_conf_round_trip_through_both_paths() {
        let mut st = SimState::default();
        let text = "#my ct\narch: amd64\nhostname: a\nlxc.apparmor.profile: unconfined\n";
        write(&mut st, "/etc/pve/lxc/150.conf", &fw(text)).unwrap();
        assert_eq!(st.guests.get(&150).map(|g| g.kind), Some(GuestKind::Lxc));
        let a = read(&st, "/etc/pve/lxc/150.conf").unwrap();
        let b = read(&st, "/etc/pve/nodes/pve/lxc/150.conf").unwrap();
        assert_eq!(String::from_utf8(a.content.clone()).unwrap(), text);
        assert_eq!(a, b);
        assert!(read(&st, "/etc/pve/qemu-server/150.conf").is_none());
        assert!(matches!(
            write(&mut st, "/etc/pve/qemu-server/150.conf", &fw("cores: 1\n")),
            Err(SimError::Refused { .. })
        ));
        assert!(matches!(
            write(&mut st, "/etc/pve/lxc/150.conf", &fw("garbage line\n")),
            Err(SimError::Parse { line: 1, .. })
        ));
        assert!(remove(&mut st, "/etc/pve/lxc/150.conf"));
        assert!(st.guests.is_empty());
    }

    #[test]
    fn plain_files() {
        let mut st = SimState::default();
        write(
            &mut st,
            "/etc/x",
            &FileWrite { content: b"1".to_vec(), mode: 0o600, owner: Some("www-data".into()), group: None },
        )
        .unwrap();
        let f = read(&st, "/etc/x").unwrap();
        assert_eq!((f.mode, f.owner.as_str(), f.group.as_str()), (0o600, "www-data", "root"));
        assert!(remove(&mut st, "/etc/x"));
        assert!(!remove(&mut st, "/etc/x"));
    }
}
