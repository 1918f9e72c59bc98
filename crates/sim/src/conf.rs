//! Guest config files (`/etc/pve/lxc/<id>.conf`, `/etc/pve/qemu-server/<id>.conf`), written
//! like `write_pct_config`/`write_vm_config` and parsed back losslessly (contracts §A.3, §B.3).

use super::state::{Guest, GuestKind, Snapshot};
use indexmap::IndexMap;
use std::collections::BTreeMap;

pub(crate) use crate::text::encode_text;

fn section(out: &mut String, config: &IndexMap<String, String>, lxc: &[(String, String)]) {
    if let Some(d) = config.get("description") {
        // Perl's `split(/\n/, …)` drops trailing empty fields: no `#` line for a final newline.
        let d = d.trim_end_matches('\n');
        for line in d.split('\n').filter(|_| !d.is_empty()) {
            out.push('#');
            out.push_str(&encode_text(line));
            out.push('\n');
        }
    }
    let mut keys: Vec<&String> =
        config.keys().filter(|k| k.as_str() != "description" && k.as_str() != "digest").collect();
    keys.sort();
    for k in keys {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(&config[k]);
        out.push('\n');
    }
    for (k, v) in lxc {
        out.push_str(&format!("{k}: {v}\n"));
    }
}

/// The file text.
pub(crate) fn render(g: &Guest) -> String {
    let mut out = String::new();
    section(&mut out, &g.config, &g.lxc);
    if !g.pending.is_empty() {
        out.push_str(match g.kind {
            GuestKind::Lxc => "\n[pve:pending]\n",
            GuestKind::Qemu => "\n[PENDING]\n",
        });
        section(&mut out, &g.pending, &[]);
    }
    for (name, snap) in &g.snapshots {
        out.push_str(&format!("\n[{name}]\n"));
        section(&mut out, &snap.config, &snap.lxc);
    }
    out
}

/// What a config file holds.
pub(crate) struct Parsed {
    pub config: IndexMap<String, String>,
    pub lxc: Vec<(String, String)>,
    pub pending: IndexMap<String, String>,
    pub snapshots: BTreeMap<String, Snapshot>,
}

enum Target {
    Main,
    Pending,
    Snap(String),
}

impl Parsed {
    /// The key/value map a section header points at (a snapshot section creates its entry).
    fn section(&mut self, target: &Target) -> &mut IndexMap<String, String> {
        match target {
            Target::Main => &mut self.config,
            Target::Pending => &mut self.pending,
            Target::Snap(s) => {
                &mut self
                    .snapshots
                    .entry(s.clone())
                    .or_insert_with(|| Snapshot { config: IndexMap::new(), lxc: Vec::new(), image: None })
                    .config
            }
        }
    }
}

/// Parse a config file; `Err((line, message))` on anything the real parser would not accept.
pub(crate) fn parse(text: &str, kind: GuestKind) -> Result<Parsed, (usize, String)> {
    let mut p =
        Parsed { config: IndexMap::new(), lxc: Vec::new(), pending: IndexMap::new(), snapshots: BTreeMap::new() };
    let mut target = Target::Main;
    // parse_pct_config / parse_vm_config: every `#` line of a section adds its decoded text
    // plus "\n" (so a description read from the file ends with a newline); the section's
    // description is set when the section ends.
    let mut descr = String::new();
    let flush_descr = |descr: &mut String, map: &mut IndexMap<String, String>| {
        if !descr.is_empty() {
            map.insert("description".into(), std::mem::take(descr));
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.trim_end().strip_suffix(']')) {
            let map = p.section(&target);
            flush_descr(&mut descr, map);
            target = match (name, kind) {
                ("pve:pending", GuestKind::Lxc) | ("PENDING", GuestKind::Qemu) => Target::Pending,
                (s, _) if s.starts_with("special:") || s.contains(':') => {
                    return Err((n, format!("unsupported section '[{s}]'")))
                }
                (s, _) if valid_snapname(s) => {
                    p.snapshots
                        .insert(s.to_string(), Snapshot { config: IndexMap::new(), lxc: Vec::new(), image: None });
                    Target::Snap(s.to_string())
                }
                (s, _) => return Err((n, format!("invalid section name '{s}'"))),
            };
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            descr.push_str(&crate::text::decode_text(c));
            descr.push('\n');
            continue;
        }
        let (key, value) =
            if let Some((k, v)) = line.split_once(':').filter(|(k, _)| !k.contains('=') && !k.contains(' ')) {
                (k.trim(), v.trim())
            } else if let Some((k, v)) = line.split_once('=').filter(|(k, _)| k.trim().starts_with("lxc.")) {
                (k.trim(), v.trim())
            } else {
                return Err((n, format!("unable to parse config line: {line}")));
            };
        if key.starts_with("lxc.") {
            if kind != GuestKind::Lxc {
                return Err((n, format!("invalid key '{key}' in VM config")));
            }
            match &target {
                Target::Main => p.lxc.push((key.to_string(), value.to_string())),
                Target::Snap(s) => {
                    if let Some(sn) = p.snapshots.get_mut(s) {
                        sn.lxc.push((key.to_string(), value.to_string()));
                    }
                }
                Target::Pending => return Err((n, format!("lxc.* keys cannot be pending: {key}"))),
            }
            continue;
        }
        let valid_key = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_key {
            return Err((n, format!("invalid key '{key}'")));
        }
        let map = match &target {
            Target::Main => &mut p.config,
            Target::Pending => &mut p.pending,
            Target::Snap(s) => match p.snapshots.get_mut(s) {
                Some(sn) => &mut sn.config,
                None => return Err((n, "internal: snapshot section lost".into())),
            },
        };
        // parse_vm_config: the legacy `cdrom:` key is read as `ide2`.
        let key = if kind == GuestKind::Qemu && key == "cdrom" { "ide2" } else { key };
        map.insert(key.to_string(), value.to_string());
    }
    let map = p.section(&target);
    flush_descr(&mut descr, map);
    Ok(p)
}

/// `^[a-z][a-z0-9_-]+$`i, at most 40 characters (pve-configid).
pub(crate) fn valid_snapname(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b.len() <= 40
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Guest {
        let mut g = Guest::new(GuestKind::Lxc);
        for (k, v) in [
            ("hostname", "web01"),
            ("arch", "amd64"),
            ("description", "line 1: 100%\nzweite Zeile ü"),
            ("memory", "2048"),
            ("parent", "snap1"),
        ] {
            g.config.insert(k.into(), v.into());
        }
        g.lxc.push(("lxc.cgroup2.devices.allow".into(), "c 10:200 rwm".into()));
        g.lxc.push(("lxc.mount.entry".into(), "/dev/net dev/net none bind,create=dir".into()));
        g.pending.insert("cores".into(), "4".into());
        g.pending.insert("delete".into(), "swap".into());
        let mut snap = Snapshot { config: IndexMap::new(), lxc: Vec::new(), image: None };
        snap.config.insert("hostname".into(), "web01".into());
        snap.config.insert("snaptime".into(), "1714560000".into());
        g.snapshots.insert("snap1".into(), snap);
        g
    }

    #[test]
    fn render_format() {
        let text = render(&sample());
        assert_eq!(
            text,
            "#line 1%3A 100%\n#zweite Zeile %C3%BC\narch: amd64\nhostname: web01\nmemory: 2048\nparent: snap1\n\
             lxc.cgroup2.devices.allow: c 10:200 rwm\nlxc.mount.entry: /dev/net dev/net none bind,create=dir\n\
             \n[pve:pending]\ncores: 4\ndelete: swap\n\n[snap1]\nhostname: web01\nsnaptime: 1714560000\n"
        );
    }

    #[test]
    fn round_trip_is_lossless() {
        let g = sample();
        let p = parse(&render(&g), GuestKind::Lxc).unwrap();
        let mut back = Guest::new(GuestKind::Lxc);
        back.config = p.config;
        back.lxc = p.lxc;
        back.pending = p.pending;
        back.snapshots = p.snapshots;
        assert_eq!(render(&back), render(&g));
        // Read back from the file, every description line ends with a newline, as in Proxmox.
        assert_eq!(back.config.get("description").map(String::as_str), Some("line 1: 100%\nzweite Zeile ü\n"));
    }

    #[test]
    fn accepts_lxc_equals_and_rejects_garbage() {
        let p = parse("arch: amd64\nlxc.apparmor.profile = unconfined\n", GuestKind::Lxc).unwrap();
        assert_eq!(p.lxc, vec![("lxc.apparmor.profile".to_string(), "unconfined".to_string())]);
        assert_eq!(parse("arch: amd64\nthis is not config\n", GuestKind::Lxc).err().map(|e| e.0), Some(2));
        assert!(parse("lxc.foo: 1\n", GuestKind::Qemu).is_err());
        assert!(parse("[PENDING]\ncores: 2\n", GuestKind::Qemu).is_ok());
        let legacy = parse("cdrom: local:iso/x.iso,media=cdrom\n", GuestKind::Qemu).unwrap();
        assert_eq!(legacy.config.get("ide2").map(String::as_str), Some("local:iso/x.iso,media=cdrom"));
    }
}
