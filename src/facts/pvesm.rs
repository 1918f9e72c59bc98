//! `pvesm status` output and `/etc/pve/storage.cfg` (contracts §D.1, §D.2).

use indexmap::IndexMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PvesmParseError {
    #[error("line {line}: unexpected output '{text}' ({reason})")]
    Line { line: usize, text: String, reason: &'static str },
    #[error("storage.cfg line {line}: {reason}: '{text}'")]
    Cfg { line: usize, text: String, reason: &'static str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageState {
    Active,
    Inactive,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StorageStatus {
    pub id: String,
    /// Plugin type: `dir`, `zfspool`, `nfs`, …
    pub kind: String,
    pub status: StorageState,
    pub total_kib: u64,
    pub used_kib: u64,
    pub avail_kib: u64,
}

/// `pvesm status`: header (either generation: `Total` or `Total (KiB)`), rows
/// `"%-Ns %10s %10s %15d %15d %15d % 7.2f%%"`; `%` is `N/A` for disabled storages.
pub fn parse_pvesm_status(text: &str) -> Result<Vec<StorageStatus>, PvesmParseError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let bad = |reason| PvesmParseError::Line { line: idx + 1, text: line.to_string(), reason };
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || (f.first() == Some(&"Name") && f.get(1) == Some(&"Type")) {
            continue;
        }
        let [id, kind, status, total, used, avail, pct] = f.as_slice() else {
            return Err(bad("expected Name Type Status Total Used Available %"));
        };
        let status = match *status {
            "active" => StorageState::Active,
            "inactive" => StorageState::Inactive,
            "disabled" => StorageState::Disabled,
            _ => return Err(bad("unknown status")),
        };
        let valid_pct = *pct == "N/A" || pct.strip_suffix('%').is_some_and(|p| p.parse::<f64>().is_ok());
        if !valid_pct {
            return Err(bad("bad percentage"));
        }
        let kib = |s: &str| s.parse::<u64>().map_err(|_| bad("size is not a number of KiB"));
        out.push(StorageStatus {
            id: id.to_string(),
            kind: kind.to_string(),
            status,
            total_kib: kib(total)?,
            used_kib: kib(used)?,
            avail_kib: kib(avail)?,
        });
    }
    Ok(out)
}

/// One section of storage.cfg: `<kind>: <id>` then TAB-indented `key value` lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StorageDef {
    pub kind: String,
    pub id: String,
    /// Options in file order. A bare key (installer-written `sparse`) has an empty value.
    pub options: IndexMap<String, String>,
}

/// Parse storage.cfg (pve-common SectionConfig format). Comments and blank lines between
/// sections are accepted; an option line outside a section, a malformed header or a duplicate
/// id/option is an error naming the line.
pub fn parse_storage_cfg(text: &str) -> Result<IndexMap<String, StorageDef>, PvesmParseError> {
    let mut out: IndexMap<String, StorageDef> = IndexMap::new();
    let mut current: Option<String> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let bad = |reason| PvesmParseError::Cfg { line: line_no, text: line.to_string(), reason };
        if line.trim().is_empty() {
            current = None;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(|c: char| c.is_whitespace()) {
            let id = current.as_ref().ok_or_else(|| bad("option outside a section"))?;
            let body = line.trim();
            let (k, v) = match body.split_once(char::is_whitespace) {
                Some((k, v)) => (k, v.trim()),
                None => (body, ""),
            };
            let def = out.get_mut(id).ok_or_else(|| bad("option outside a section"))?;
            if def.options.contains_key(k) {
                return Err(bad("duplicate option"));
            }
            def.options.insert(k.to_string(), v.to_string());
            continue;
        }
        let (kind, id) = line.split_once(':').ok_or_else(|| bad("expected '<type>: <id>'"))?;
        let id = id.trim();
        let kind = kind.trim();
        if kind.is_empty() || id.is_empty() || id.contains(char::is_whitespace) || kind.contains(char::is_whitespace) {
            return Err(bad("expected '<type>: <id>'"));
        }
        if out.contains_key(id) {
            return Err(bad("duplicate storage id"));
        }
        out.insert(id.to_string(), StorageDef { kind: kind.to_string(), id: id.to_string(), options: IndexMap::new() });
        current = Some(id.to_string());
    }
    Ok(out)
}

/// Write storage.cfg as SectionConfig does: `type: id`, TAB-indented `key value` lines in the
/// stored order, and a blank line after every section.
pub fn render_storage_cfg(cfg: &IndexMap<String, StorageDef>) -> String {
    let mut out = String::new();
    for def in cfg.values() {
        out.push_str(&format!("{}: {}\n", def.kind, def.id));
        for (k, v) in &def.options {
            if v.is_empty() {
                out.push_str(&format!("\t{k}\n"));
            } else {
                out.push_str(&format!("\t{k} {v}\n"));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_new_header() {
        let text = "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %\nlocal             dir     active        98497780        12345678        81102756   12.53%\nlocal-zfs     zfspool     active       450000000         1000000       449000000    0.22%\nnfs1              nfs   disabled               0               0               0      N/A\n";
        let s = parse_pvesm_status(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0],
            StorageStatus {
                id: "local".into(),
                kind: "dir".into(),
                status: StorageState::Active,
                total_kib: 98497780,
                used_kib: 12345678,
                avail_kib: 81102756
            }
        );
        assert_eq!(s[1].kind, "zfspool");
        assert_eq!(s[2].status, StorageState::Disabled);
        assert_eq!(s[2].total_kib, 0);
    }

    #[test]
    fn status_old_header_and_errors() {
        let text = "Name         Type     Status           Total            Used       Available        %\r\nlocal         dir     active        98497780        12345678        81102756   12.53%\r\n";
        assert_eq!(parse_pvesm_status(text).unwrap()[0].avail_kib, 81102756);
        assert!(parse_pvesm_status("").unwrap().is_empty());
        assert!(matches!(parse_pvesm_status("local dir weird 1 2 3 4%\n"), Err(PvesmParseError::Line { line: 1, .. })));
        assert!(matches!(parse_pvesm_status("x\n"), Err(PvesmParseError::Line { line: 1, .. })));
        assert!(parse_pvesm_status("local dir active 1 2 -3 4%\n").is_err());
    }

    const CFG: &str = "zfspool: vmdata\n\tpool tank/vmdata\n\tcontent rootdir,images\n\tsparse 1\n\nnfs: iso-templates\n\tpath /mnt/pve/iso-templates\n\tserver 10.0.0.10\n\texport /space/iso-templates\n\toptions vers=3,soft\n\tcontent iso,vztmpl\n";

    #[test]
    fn storage_cfg_contract_example() {
        let cfg = parse_storage_cfg(CFG).unwrap();
        assert_eq!(cfg.keys().collect::<Vec<_>>(), vec!["vmdata", "iso-templates"]);
        assert_eq!(cfg["vmdata"].kind, "zfspool");
        assert_eq!(cfg["vmdata"].options["pool"], "tank/vmdata");
        assert_eq!(cfg["iso-templates"].options["options"], "vers=3,soft");
        // The writer ends every section with a blank line; the contract snippet omits the last.
        assert_eq!(render_storage_cfg(&cfg), format!("{CFG}\n"));
    }

    #[test]
    fn storage_cfg_installer_form_and_errors() {
        let text = "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nzfspool: local-zfs\n\tpool rpool/data\n\tsparse\n\tcontent images,rootdir\n\n";
        let cfg = parse_storage_cfg(text).unwrap();
        assert_eq!(cfg["local-zfs"].options["sparse"], "");
        assert_eq!(render_storage_cfg(&cfg), text);
        assert!(matches!(parse_storage_cfg("\tpool x\n"), Err(PvesmParseError::Cfg { line: 1, .. })));
        assert!(matches!(
            parse_storage_cfg("dir: a\n\tpath /x\n\ndir: a\n"),
            Err(PvesmParseError::Cfg { line: 4, .. })
        ));
        assert!(matches!(parse_storage_cfg("garbage\n"), Err(PvesmParseError::Cfg { line: 1, .. })));
        assert!(matches!(
            parse_storage_cfg("dir: a\n\tpath /x\n\tpath /y\n"),
            Err(PvesmParseError::Cfg { line: 3, .. })
        ));
    }

    fn arb_cfg() -> impl Strategy<Value = IndexMap<String, StorageDef>> {
        let def = (
            "(dir|zfspool|nfs|lvmthin)",
            proptest::collection::vec(("[a-z_]{1,10}", "([a-zA-Z0-9/=,._-]{1,12}( [a-z]{1,4})?)?"), 0..5),
        );
        proptest::collection::btree_map("[a-z][a-z0-9-]{0,10}", def, 0..5).prop_map(|m| {
            m.into_iter()
                .map(|(id, (kind, opts))| {
                    let options: IndexMap<String, String> = opts.into_iter().collect();
                    (id.clone(), StorageDef { kind, id, options })
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn storage_cfg_roundtrip(cfg in arb_cfg()) {
            let text = render_storage_cfg(&cfg);
            let back = parse_storage_cfg(&text).unwrap();
            prop_assert_eq!(&back, &cfg);
            prop_assert_eq!(render_storage_cfg(&back), text);
        }
    }
}
