//! The `key: value` line format shared by `pct config`, `qm config` and the guest config files
//! `/etc/pve/{lxc,qemu-server}/<id>.conf` (sections `[pve:pending]`/`[PENDING]`,
//! `[special:cloudinit]`, `[<snapname>]`; leading `#` lines = description, `%XX`-encoded).
//! Modelled on pve-container `parse_pct_config` and qemu-server `parse_vm_config`; unlike them
//! an unparseable line is an error naming the line, because a skipped line could hide a key
//! phoenix would then "add" again.

use indexmap::IndexMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfParseError {
    #[error("line {line}: unable to parse config line '{text}'")]
    Line { line: usize, text: String },
    #[error("line {line}: duplicate key '{key}' in section '{section}'")]
    DuplicateKey { line: usize, key: String, section: String },
    #[error("line {line}: duplicate section '[{section}]'")]
    DuplicateSection { line: usize, section: String },
    #[error("unexpected section '[{section}]' in command output")]
    UnexpectedSection { section: String },
}

/// One section of a guest config: keys in file order, raw `lxc.*` lines in order, description.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConfSection {
    /// Every `key: value` in order (values trimmed). `description` from `#` lines is not here.
    pub entries: IndexMap<String, String>,
    /// Raw LXC keys (`lxc.cgroup2.devices.allow`, …) in order; repeatable, so not a map.
    pub lxc: Vec<(String, String)>,
    /// Description from leading `#` lines (decoded, lines joined with `\n`), if any.
    pub comment: Option<String>,
}

impl ConfSection {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The description: `#` comment lines (config file) or the `description:` key (`pct config` /
    /// `qm config` output), URL-decoded either way.
    pub fn description(&self) -> Option<String> {
        match (&self.comment, self.get("description")) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(d)) => Some(percent_decode(d)),
            (None, None) => None,
        }
    }
}

/// A whole config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConfFile {
    pub main: ConfSection,
    /// `[pve:pending]` (CT) or `[PENDING]` (VM); may hold `delete: a,b`.
    pub pending: Option<ConfSection>,
    /// `[special:<name>]` sections (VM `[special:cloudinit]`).
    pub special: IndexMap<String, ConfSection>,
    /// Snapshot sections by name, in file order.
    pub snapshots: IndexMap<String, ConfSection>,
}

enum Target {
    Main,
    Pending,
    Special(String),
    Snapshot(String),
}

/// Parse a config file or `pct/qm config` output. Accepts `lxc.key: v` and `lxc.key = v`,
/// CRLF line ends, blank lines. Descriptions (`#…`) are collected per section.
pub fn parse_conf_file(text: &str) -> Result<ConfFile, ConfParseError> {
    let mut file = ConfFile::default();
    let mut target = Target::Main;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(name) = section_header(line) {
            let section_name = name.to_string();
            target = if name == "pve:pending" || name == "PENDING" {
                if file.pending.is_some() {
                    return Err(ConfParseError::DuplicateSection { line: line_no, section: section_name });
                }
                file.pending = Some(ConfSection::default());
                Target::Pending
            } else if let Some(special) = name.strip_prefix("special:") {
                if file.special.contains_key(special) {
                    return Err(ConfParseError::DuplicateSection { line: line_no, section: section_name });
                }
                file.special.insert(special.to_string(), ConfSection::default());
                Target::Special(special.to_string())
            } else if is_snapshot_name(name) {
                if file.snapshots.contains_key(name) {
                    return Err(ConfParseError::DuplicateSection { line: line_no, section: section_name });
                }
                file.snapshots.insert(name.to_string(), ConfSection::default());
                Target::Snapshot(name.to_string())
            } else {
                return Err(ConfParseError::Line { line: line_no, text: line.to_string() });
            };
            continue;
        }
        let (section_label, section) = match &target {
            Target::Main => ("main", Some(&mut file.main)),
            Target::Pending => ("pending", file.pending.as_mut()),
            Target::Special(n) => (n.as_str(), file.special.get_mut(n)),
            Target::Snapshot(n) => (n.as_str(), file.snapshots.get_mut(n)),
        };
        // The section was inserted when its header was read; absence would be a logic error,
        // reported as a parse error rather than a panic.
        let Some(section) = section else {
            return Err(ConfParseError::Line { line: line_no, text: line.to_string() });
        };
        if let Some(c) = line.strip_prefix('#') {
            let decoded = percent_decode(c);
            match &mut section.comment {
                Some(existing) => {
                    existing.push('\n');
                    existing.push_str(&decoded);
                }
                None => section.comment = Some(decoded),
            }
            continue;
        }
        if let Some((k, v)) = lxc_line(line) {
            section.lxc.push((k.to_string(), v.to_string()));
            continue;
        }
        match key_line(line) {
            // qemu-server reads the legacy `cdrom:` as `ide2` (`parse_vm_config`).
            Some(("cdrom", _)) if section.entries.contains_key("ide2") => {
                return Err(ConfParseError::DuplicateKey {
                    line: line_no,
                    key: "ide2".into(),
                    section: section_label.to_string(),
                });
            }
            Some(("cdrom", v)) => {
                section.entries.insert("ide2".to_string(), v.to_string());
            }
            Some((k, v)) => {
                if section.entries.contains_key(k) {
                    return Err(ConfParseError::DuplicateKey {
                        line: line_no,
                        key: k.to_string(),
                        section: section_label.to_string(),
                    });
                }
                section.entries.insert(k.to_string(), v.to_string());
            }
            None => return Err(ConfParseError::Line { line: line_no, text: line.to_string() }),
        }
    }
    Ok(file)
}

/// Parse `pct config`/`qm config` output: like a config file but a section header is an error
/// (the commands print the main section only).
pub fn parse_config_output(text: &str) -> Result<ConfSection, ConfParseError> {
    let file = parse_conf_file(text)?;
    let extra = file
        .pending
        .as_ref()
        .map(|_| "pve:pending".to_string())
        .or_else(|| file.special.keys().next().map(|k| format!("special:{k}")))
        .or_else(|| file.snapshots.keys().next().cloned());
    match extra {
        Some(section) => Err(ConfParseError::UnexpectedSection { section }),
        None => Ok(file.main),
    }
}

fn section_header(line: &str) -> Option<&str> {
    let t = line.trim_end();
    t.strip_prefix('[')?.strip_suffix(']')
}

/// pve-configid: `^[a-z][a-z0-9_-]+$` (case-insensitive).
fn is_snapshot_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `lxc.key: value` or `lxc.key = value`.
fn lxc_line(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with("lxc.") {
        return None;
    }
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))?;
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let value = rest.strip_prefix(':').or_else(|| rest.strip_prefix('='))?;
    Some((key, value.trim()))
}

/// The keys of a pending `delete:` value, each with its force flag (`!key`), as
/// pve-guest-common's `parse_pending_delete` reads them: separated by `,`, `;` or white space.
/// Items that are not a key are skipped, as there.
pub fn pending_deletes(value: &str) -> Vec<(String, bool)> {
    value
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter_map(|item| {
            let (force, key) = match item.strip_prefix('!') {
                Some(k) => (true, k),
                None => (false, item),
            };
            let valid = !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            valid.then(|| (key.to_string(), force))
        })
        .collect()
}

/// `key: value` where key is `[a-z][a-z0-9_-]*` (qemu-server allows `-`, digits end `net0`).
fn key_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let mut chars = key.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    // Perl requires a non-empty value (`(.+?)`); `key:` alone is malformed.
    let value = value.trim();
    (valid && !value.is_empty()).then_some((key, value))
}

/// URI-escape as the qm CLI stores `sshkeys` (everything but unreserved characters).
pub fn uri_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Decode `%XX` escapes (pve `decode_text` / `uri_unescape`); invalid escapes stay literal,
/// bytes that are not UTF-8 become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT_FILE: &str = "#web server%3A main\n#second line %C3%A9\narch: amd64\ncores: 2\nhostname: web01\nparent: before\nlxc.apparmor.profile = unconfined\nlxc.mount.entry: /dev/net dev/net none bind,create=dir\n\n[pve:pending]\ncores: 4\ndelete: swap\n\n[before]\narch: amd64\ncores: 1\nsnaptime: 1714560000\n";

    #[test]
    fn conf_file_sections() {
        let f = parse_conf_file(CT_FILE).unwrap();
        assert_eq!(f.main.comment.as_deref(), Some("web server: main\nsecond line é"));
        assert_eq!(f.main.get("cores"), Some("2"));
        assert_eq!(f.main.get("parent"), Some("before"));
        assert_eq!(
            f.main.lxc,
            vec![
                ("lxc.apparmor.profile".to_string(), "unconfined".to_string()),
                ("lxc.mount.entry".to_string(), "/dev/net dev/net none bind,create=dir".to_string())
            ]
        );
        let p = f.pending.unwrap();
        assert_eq!(p.get("cores"), Some("4"));
        assert_eq!(p.get("delete"), Some("swap"));
        assert_eq!(f.snapshots["before"].get("snaptime"), Some("1714560000"));
        assert_eq!(f.snapshots["before"].get("cores"), Some("1"));
    }

    #[test]
    fn crlf_and_vm_sections() {
        let f = parse_conf_file(
            "name: a\r\n\r\n[PENDING]\r\nmemory: 4096\r\n[special:cloudinit]\r\nipconfig0: ip=dhcp\r\n",
        )
        .unwrap();
        assert_eq!(f.main.get("name"), Some("a"));
        assert_eq!(f.pending.unwrap().get("memory"), Some("4096"));
        assert_eq!(f.special["cloudinit"].get("ipconfig0"), Some("ip=dhcp"));
    }

    #[test]
    fn garbage_names_the_line() {
        let err = parse_conf_file("cores: 2\nthis is not a config line\n").unwrap_err();
        assert_eq!(err, ConfParseError::Line { line: 2, text: "this is not a config line".into() });
        assert!(err.to_string().starts_with("line 2:"));
        assert!(matches!(parse_conf_file("cores: 2\ncores: 3\n"), Err(ConfParseError::DuplicateKey { line: 2, .. })));
        assert!(matches!(parse_conf_file("cores:\n"), Err(ConfParseError::Line { line: 1, .. })));
        assert!(matches!(parse_config_output("a: 1\n[snap]\n"), Err(ConfParseError::UnexpectedSection { .. })));
    }

    #[test]
    fn pending_delete_lists_as_the_host_writes_them() {
        let keys = |v: &str| pending_deletes(v);
        assert_eq!(keys("swap"), vec![("swap".to_string(), false)]);
        assert_eq!(
            keys("mp0,!net1; swap  cores;;,"),
            vec![
                ("mp0".to_string(), false),
                ("net1".to_string(), true),
                ("swap".to_string(), false),
                ("cores".to_string(), false)
            ]
        );
        assert_eq!(keys("!"), Vec::<(String, bool)>::new());
        assert_eq!(keys("a/b,ok"), vec![("ok".to_string(), false)]);
    }

    /// A VM config as qemu-server 8/9 leaves it: a legacy `cdrom:`, keys phoenix does not know,
    /// and a pending section deleting with `!` and mixed separators.
    #[test]
    fn real_shaped_vm_config() {
        let text = concat!(
            "boot: order=scsi0;ide2\ncdrom: none,media=cdrom\ncores: 2\n",
            "meta: creation-qemu=9.2.0,ctime=1754000000\n",
            "net0: virtio=BC:24:11:00:00:01,bridge=vmbr0,host-tunnel=1\n",
            "scsi0: local-zfs:vm-100-disk-0,size=32G\n",
            "tpmstate0: local-zfs:vm-100-disk-1,size=4M,version=v2.0\nfuture-option: 1\n\n",
            "[PENDING]\ndelete: !net1;tags balloon\nmemory: 4096\n",
        );
        let f = parse_conf_file(text).unwrap();
        assert_eq!(f.main.get("ide2"), Some("none,media=cdrom"));
        assert_eq!(f.main.get("cdrom"), None);
        assert_eq!(f.main.get("future-option"), Some("1"));
        let p = f.pending.unwrap();
        assert_eq!(
            pending_deletes(p.get("delete").unwrap()).into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["net1", "tags", "balloon"]
        );
        assert!(matches!(
            parse_conf_file(
                "ide2: none,media=cdrom
cdrom: none
"
            ),
            Err(ConfParseError::DuplicateKey { line: 2, .. })
        ));
    }

    #[test]
    fn decode() {
        assert_eq!(percent_decode("ssh-ed25519%20AAAA%20user%40host%0A"), "ssh-ed25519 AAAA user@host\n");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
    }
}
