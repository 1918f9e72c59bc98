//! Cheap saves of a simulator state after every mutating command. The guests are most of the
//! state (a 50-guest host is ~400 KB of JSON, nearly all guests), and a command changes at most
//! a guest or two, so each guest's JSON is cached and only the guests a command touched are
//! serialised again. A command phoenix cannot attribute to guests marks every guest dirty.
//! The file is ordinary state JSON (the guests come first); the end of a run writes it whole.

use phoenix_sim::SimState;
use std::collections::{BTreeSet, HashMap};

/// Guests changed since the last save.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    all: bool,
    ids: BTreeSet<u32>,
}

impl Dirty {
    /// Note what a mutating command (or `file.write <path>` / `file.remove <path>`) touched.
    pub(super) fn note(&mut self, argv: &[String]) {
        match touched_guests(argv) {
            Some(ids) => self.ids.extend(ids),
            None => self.all = true,
        }
    }

    pub(super) fn take(&mut self) -> Dirty {
        std::mem::take(self)
    }
}

/// Serialised guests, by id.
#[derive(Debug, Default)]
pub(super) struct GuestCache {
    json: HashMap<u32, Vec<u8>>,
}

impl GuestCache {
    /// Forget everything (after a failed save: the dirty set that went with it is gone).
    pub(super) fn clear(&mut self) {
        self.json.clear();
    }

    /// The whole state as compact JSON, re-serialising only dirty or unseen guests.
    pub(super) fn snapshot(&mut self, st: &mut SimState, dirty: &Dirty) -> Result<Vec<u8>, serde_json::Error> {
        if dirty.all {
            self.json.clear();
        }
        self.json.retain(|id, _| st.guests.contains_key(id) && !dirty.ids.contains(id));
        let mut out = Vec::with_capacity(self.json.values().map(Vec::len).sum::<usize>() + 16 * 1024);
        out.extend_from_slice(b"{\"guests\":{");
        for (n, (id, guest)) in st.guests.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let json = match self.json.get(id) {
                Some(j) => j,
                None => self.json.entry(*id).or_insert(serde_json::to_vec(guest)?),
            };
            out.extend_from_slice(format!("\"{id}\":").as_bytes());
            out.extend_from_slice(json);
        }
        out.push(b'}');
        // Everything else, without the guests: an empty map is not serialised (see SimState).
        let guests = std::mem::take(&mut st.guests);
        let rest = serde_json::to_vec(&*st);
        st.guests = guests;
        let rest = rest?;
        if rest.len() > 2 {
            out.push(b',');
            out.extend_from_slice(&rest[1..]);
        } else {
            out.push(b'}');
        }
        Ok(out)
    }
}

/// The guests a mutating command can change, or `None` when phoenix cannot tell (then every
/// guest is serialised again). Errs on the side of `None`: a guest left out would make the saved
/// state lag behind the journal.
fn touched_guests(argv: &[String]) -> Option<Vec<u32>> {
    let a = |i: usize| argv.get(i).map(String::as_str).unwrap_or("");
    let id = |i: usize| a(i).parse::<u32>().ok();
    match (a(0), a(1)) {
        ("pct" | "qm", "clone") => Some(vec![id(2)?, id(3)?]),
        ("qm", "guest" | "disk") => Some(vec![id(3)?]),
        ("pct" | "qm", _) => Some(vec![id(2)?]),
        ("file.write" | "file.remove", _) => {
            let path = a(1);
            // Guest configs are files in /etc/pve; anything else there may be too.
            if path.starts_with("/etc/pve/") && !path.starts_with("/etc/pve/firewall/") {
                None
            } else {
                Some(Vec::new())
            }
        }
        ("zpool", _) | ("pvesm", _) | ("pve-firewall", _) | ("exportfs", _) => Some(Vec::new()),
        ("zfs", "create" | "set" | "inherit" | "snapshot") => Some(Vec::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoenix_sim::SimHost;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn guests_are_attributed_or_everything_is_dirty() {
        assert_eq!(touched_guests(&argv("pct clone 200 301 --full")), Some(vec![200, 301]));
        assert_eq!(touched_guests(&argv("pct exec 301 -- apt-get install -y x")), Some(vec![301]));
        assert_eq!(touched_guests(&argv("qm guest exec 9100 -- true")), Some(vec![9100]));
        assert_eq!(touched_guests(&argv("zfs set compression=lz4 tank")), Some(vec![]));
        assert_eq!(touched_guests(&argv("file.write /etc/exports")), Some(vec![]));
        assert_eq!(touched_guests(&argv("file.write /etc/pve/lxc/301.conf")), None);
        assert_eq!(touched_guests(&argv("zfs rollback tank/x@s")), None);
        assert_eq!(touched_guests(&argv("bash -s")), None);
        assert_eq!(touched_guests(&argv("pct set abc")), None);
    }

    #[test]
    fn the_assembled_json_is_the_state() {
        let host = SimHost::new(SimState::default());
        let mut cache = GuestCache::default();
        let mut dirty = Dirty::default();
        let check = |cache: &mut GuestCache, dirty: &Dirty| {
            let json = host.with_state(|st| cache.snapshot(st, dirty)).unwrap();
            let back: SimState = serde_json::from_slice(&json).unwrap();
            assert_eq!(back, host.with_state(|st| st.clone()));
        };
        check(&mut cache, &dirty);
        for cmd in [
            "pct create 200 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --rootfs local-zfs:1",
            "pct create 201 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --rootfs local-zfs:1",
            "pct set 200 --memory 1024",
            "pct start 201",
            "zfs create rpool/data/x",
            "pct destroy 200",
        ] {
            host.exec(&argv(cmd), None);
            dirty.note(&argv(cmd));
            check(&mut cache, &dirty.take());
        }
        // A change the cache was not told about stays stale: attribution is what keeps it right.
        host.with_state(|st| {
            st.guests.values_mut().for_each(|g| {
                g.config.insert("x".into(), "1".into());
            })
        });
        let json = host.with_state(|st| cache.snapshot(st, &Dirty::default())).unwrap();
        let back: SimState = serde_json::from_slice(&json).unwrap();
        assert_ne!(back, host.with_state(|st| st.clone()));
        let mut all = Dirty::default();
        all.note(&argv("bash -s"));
        check(&mut cache, &all);
    }
}
