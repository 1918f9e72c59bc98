//! What `pct` and `qm` share: guest lookup and its errors, config views, `pending`, the
//! snapshot tree printer, lock checks, MAC generation.

use super::conf::encode_text;
use super::reply::{die, fail, param_fail};
use super::state::{Guest, GuestKind, SimState};
use crate::output::Output;
use indexmap::IndexMap;

pub(crate) fn conf_dir(kind: GuestKind) -> &'static str {
    match kind {
        GuestKind::Lxc => "lxc",
        GuestKind::Qemu => "qemu-server",
    }
}

/// `CT` / `VM`.
pub(crate) fn word(kind: GuestKind) -> &'static str {
    match kind {
        GuestKind::Lxc => "CT",
        GuestKind::Qemu => "VM",
    }
}

pub(crate) fn missing_config(st: &SimState, kind: GuestKind, vmid: u32) -> Output {
    die(format!("Configuration file 'nodes/{}/{}/{vmid}.conf' does not exist", st.node, conf_dir(kind)), 2)
}

/// Parse a vmid argument the way the API schema checks it.
pub(crate) fn parse_vmid(s: Option<&String>, usage: &str) -> Result<u32, Output> {
    let Some(s) = s else {
        return Err(fail(format!("400 not enough arguments\n{usage}")));
    };
    match s.parse::<u32>() {
        Ok(v) if (100..=999_999_999).contains(&v) => Ok(v),
        Ok(_) => Err(param_fail("vmid", "value must have a minimum value of 100", usage)),
        Err(_) => Err(param_fail("vmid", &format!("type check ('integer') failed - got '{s}'"), usage)),
    }
}

/// The guest of this kind, or the exact missing-config error.
pub(crate) fn lookup(st: &SimState, kind: GuestKind, vmid: u32) -> Result<&Guest, Output> {
    match st.guests.get(&vmid) {
        Some(g) if g.kind == kind => Ok(g),
        _ => Err(missing_config(st, kind, vmid)),
    }
}

pub(crate) fn check_lock(g: &Guest, skiplock: bool) -> Result<(), Output> {
    match g.lock() {
        Some(l) if !skiplock => Err(fail(format!("{} is locked ({l})", word(g.kind)))),
        _ => Ok(()),
    }
}

/// The config with pending changes applied (unless `current`), as `load_current_config` does.
pub(crate) fn current_view(g: &Guest, current: bool) -> IndexMap<String, String> {
    let mut c = g.config.clone();
    if !current {
        for (k, v) in &g.pending {
            if k != "delete" {
                c.insert(k.clone(), v.clone());
            }
        }
        if let Some(del) = g.pending.get("delete") {
            for k in del.split(',') {
                c.shift_remove(k.trim());
            }
        }
    }
    c
}

/// `pct config` / `qm config` output.
pub(crate) fn print_config(kind: GuestKind, config: &IndexMap<String, String>, lxc: &[(String, String)]) -> String {
    let mut keys: Vec<&String> = config.keys().filter(|k| k.as_str() != "digest").collect();
    keys.sort();
    let mut out = String::with_capacity(keys.len() * 24);
    for k in keys {
        let v = &config[k];
        let shown = if k == "description" {
            encode_text(v)
        } else if kind == GuestKind::Qemu && k == "cipassword" {
            "**********".to_string()
        } else {
            v.clone()
        };
        out.push_str(&format!("{k}: {shown}\n"));
    }
    for (k, v) in lxc {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

/// `pct pending` / `qm pending` (`format_pending`).
pub(crate) fn print_pending(g: &Guest) -> String {
    let deleted: Vec<&str> = g.pending.get("delete").map(|d| d.split(',').map(str::trim).collect()).unwrap_or_default();
    let mut keys: Vec<&String> =
        g.config.keys().chain(g.pending.keys()).filter(|k| k.as_str() != "delete" && k.as_str() != "digest").collect();
    for d in &deleted {
        if let Some(k) = g.config.keys().find(|k| k.as_str() == *d) {
            keys.push(k);
        }
    }
    keys.sort();
    keys.dedup();
    let enc = |k: &str, v: &str| {
        if k == "description" {
            encode_text(v)
        } else {
            v.to_string()
        }
    };
    let mut out = String::new();
    for k in keys {
        let cur = g.config.get(k);
        let new = g.pending.get(k);
        match (cur, new) {
            (Some(v), _) if deleted.contains(&k.as_str()) => out.push_str(&format!("del {k}: {}\n", enc(k, v))),
            (Some(v), Some(p)) => out.push_str(&format!("cur {k}: {}\nnew {k}: {}\n", enc(k, v), enc(k, p))),
            (Some(v), None) => out.push_str(&format!("cur {k}: {}\n", enc(k, v))),
            (None, Some(p)) => out.push_str(&format!("new {k}: {}\n", enc(k, p))),
            (None, None) => {}
        }
    }
    out
}

/// Format a unix time as `%F %H:%M:%S`. The simulator has no time zone: UTC.
pub(crate) fn format_time(epoch: u64) -> String {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), valid for all post-1970 dates.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `listsnapshot` output (`print_snapshot_tree`).
pub(crate) fn print_snapshot_tree(g: &Guest) -> String {
    struct Node {
        name: String,
        snaptime: Option<u64>,
        description: String,
        parent: Option<String>,
    }
    let mut nodes: Vec<Node> = g
        .snapshots
        .iter()
        .map(|(n, s)| Node {
            name: n.clone(),
            snaptime: s.snaptime(),
            description: s.config.get("description").cloned().unwrap_or_default(),
            parent: s.config.get("parent").cloned(),
        })
        .collect();
    nodes.push(Node {
        name: "current".into(),
        snaptime: None,
        description: "You are here!".into(),
        parent: g.config.get("parent").cloned(),
    });
    let exists = |n: &str| nodes.iter().any(|x| x.name == n && x.name != "current");
    let order = |a: &&Node, b: &&Node| match (a.snaptime, b.snaptime) {
        (None, _) => std::cmp::Ordering::Greater,
        (_, None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    };
    let mut out = String::new();
    fn walk(
        out: &mut String,
        prefix: &str,
        node: &Node,
        all: &[Node],
        order: &dyn Fn(&&Node, &&Node) -> std::cmp::Ordering,
    ) {
        let desc = if node.description.is_empty() {
            "no-description"
        } else {
            node.description.lines().next().unwrap_or("no-description")
        };
        let time = node.snaptime.map(format_time).unwrap_or_default();
        let len = 30usize.saturating_sub(prefix.len());
        out.push_str(&format!("{prefix} {:<len$} {time:<23} {desc}\n", node.name));
        let mut kids: Vec<&Node> = all.iter().filter(|n| n.parent.as_deref() == Some(node.name.as_str())).collect();
        kids.sort_by(order);
        let child_prefix = format!(" {prefix}");
        for k in kids {
            walk(out, &child_prefix, k, all, order);
        }
    }
    let mut roots: Vec<&Node> = nodes.iter().filter(|n| n.parent.as_deref().is_none_or(|p| !exists(p))).collect();
    roots.sort_by(order);
    for r in roots {
        walk(&mut out, "`->", r, &nodes, &order);
    }
    out
}

/// Next deterministic MAC with the Proxmox OUI.
pub(crate) fn next_mac(st: &mut SimState) -> String {
    st.mac_counter += 1;
    // Spread consecutive counters over the address space, reproducibly.
    let x = (st.mac_counter.wrapping_mul(2_654_435_761) ^ 0x5E_7A_01) & 0xFF_FFFF;
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", (x >> 16) & 0xFF, (x >> 8) & 0xFF, x & 0xFF)
}

/// `status --verbose` values common to both kinds (sorted by the caller).
pub(crate) fn memory_mib(g: &Guest, default: u64) -> u64 {
    g.config
        .get("memory")
        .and_then(|m| m.trim_start_matches("current=").split(',').next().and_then(|v| v.parse().ok()))
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Snapshot;

    #[test]
    fn snapshot_tree_matches_contract() {
        let mut g = Guest::new(GuestKind::Lxc);
        assert_eq!(print_snapshot_tree(&g), format!("`-> current{}You are here!\n", " ".repeat(45)));
        let mut s = Snapshot { config: IndexMap::new(), lxc: Vec::new(), image: None };
        s.config.insert("snaptime".into(), "1714564800".into());
        g.snapshots.insert("snap1".into(), s);
        g.config.insert("parent".into(), "snap1".into());
        assert_eq!(
            print_snapshot_tree(&g),
            "`-> snap1                       2024-05-01 12:00:00     no-description\n `-> current                                            You are here!\n"
        );
    }

    #[test]
    fn pending_lines() {
        let mut g = Guest::new(GuestKind::Lxc);
        g.config.insert("cores".into(), "2".into());
        g.config.insert("swap".into(), "512".into());
        g.config.insert("memory".into(), "512".into());
        g.pending.insert("cores".into(), "4".into());
        g.pending.insert("onboot".into(), "1".into());
        g.pending.insert("delete".into(), "swap".into());
        assert_eq!(print_pending(&g), "cur cores: 2\nnew cores: 4\ncur memory: 512\nnew onboot: 1\ndel swap: 512\n");
        let view = current_view(&g, false);
        assert_eq!(view.get("cores").map(String::as_str), Some("4"));
        assert!(!view.contains_key("swap"));
        assert_eq!(current_view(&g, true).get("cores").map(String::as_str), Some("2"));
    }

    #[test]
    fn macs_are_deterministic_and_distinct() {
        let mut a = SimState::default();
        let mut b = SimState::default();
        let m1 = next_mac(&mut a);
        assert_eq!(m1, next_mac(&mut b));
        assert_ne!(m1, next_mac(&mut a));
        assert!(m1.starts_with("BC:24:11:"));
        assert_eq!(m1.len(), 17);
    }

    #[test]
    fn time_format() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_714_564_800), "2024-05-01 12:00:00");
    }
}
