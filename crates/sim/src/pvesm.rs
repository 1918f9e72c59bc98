//! `pvesm` (contracts §D.1, §D.2) and the rendering of `/etc/pve/storage.cfg`.

use super::args::{parse_bool, Args};
use super::reply::{fail, ok, param_fail};
use super::state::{DatasetKind, SimState, Storage};
use crate::output::Output;
use indexmap::IndexMap;

const TYPES: &[&str] = &[
    "btrfs",
    "cephfs",
    "cifs",
    "dir",
    "esxi",
    "iscsi",
    "iscsidirect",
    "lvm",
    "lvmthin",
    "nfs",
    "pbs",
    "rbd",
    "zfs",
    "zfspool",
];
const BOOL_OPTS: &[&str] =
    &["sparse", "disable", "shared", "create-base-path", "create-subdirs", "krbd", "saferemove", "tagged_only"];

/// Options fixed at creation, written first in this order (SectionConfig writes fixed
/// options before the others, which follow sorted).
fn fixed_options(kind: &str) -> &'static [&'static str] {
    match kind {
        "zfspool" => &["pool"],
        "dir" | "btrfs" => &["path"],
        "nfs" => &["path", "server", "export"],
        "cifs" => &["path", "server", "share"],
        "lvm" => &["vgname"],
        "lvmthin" => &["thinpool", "vgname"],
        _ => &[],
    }
}

fn required_options(kind: &str) -> &'static [&'static str] {
    match kind {
        "zfspool" => &["pool"],
        "dir" | "btrfs" => &["path"],
        "nfs" => &["server", "export"],
        "cifs" => &["server", "share"],
        "lvm" => &["vgname"],
        "lvmthin" => &["vgname", "thinpool"],
        _ => &[],
    }
}

fn allowed_content(kind: &str) -> &'static [&'static str] {
    match kind {
        "zfspool" | "lvm" | "lvmthin" | "rbd" | "zfs" | "iscsidirect" => &["images", "rootdir"],
        "pbs" => &["backup"],
        _ => &["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"],
    }
}

fn usage_line(sub: &str) -> String {
    match sub {
        "add" => "pvesm add <type> <storage> [OPTIONS]".into(),
        "set" => "pvesm set <storage> [OPTIONS]".into(),
        "remove" => "pvesm remove <storage>".into(),
        _ => format!("pvesm {sub} [OPTIONS]"),
    }
}

/// Put fixed options first, the rest sorted: the order SectionConfig writes them in.
fn normalise_order(kind: &str, opts: &mut IndexMap<String, String>) {
    let fixed = fixed_options(kind);
    opts.sort_by(|ka, _, kb, _| {
        let pa = fixed.iter().position(|f| f == ka).unwrap_or(usize::MAX);
        let pb = fixed.iter().position(|f| f == kb).unwrap_or(usize::MAX);
        pa.cmp(&pb).then_with(|| ka.cmp(kb))
    });
}

/// The exact `storage.cfg` text.
pub(crate) fn render_cfg(st: &SimState) -> String {
    let mut out = String::new();
    for (i, (id, s)) in st.storages.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}: {id}\n", s.kind));
        for (k, v) in &s.options {
            out.push_str(&format!("\t{k} {v}\n"));
        }
    }
    out
}

pub(crate) fn run(st: &mut SimState, argv: &[String]) -> Output {
    let sub = argv.first().map(String::as_str).unwrap_or("");
    let rest = argv.get(1..).unwrap_or(&[]);
    let args =
        match Args::parse(rest, &["enabled", "sparse", "disable", "shared", "create-base-path", "create-subdirs"]) {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
    match sub {
        "status" => status(st, &args),
        "add" => add(st, &args),
        "set" => set(st, &args),
        "remove" => remove(st, &args),
        "list" => list(st, &args),
        _ => fail("USAGE: pvesm <COMMAND> [ARGS] [OPTIONS]"),
    }
}

/// (total, used, available) in KiB for an active storage.
fn capacity(st: &SimState, s: &Storage) -> (u64, u64, u64) {
    let from_dataset = |name: &str| -> Option<(u64, u64, u64)> {
        st.datasets.get(name)?;
        let used = dataset_used(st, name);
        let pool = st.pools.get(name.split('/').next().unwrap_or(name))?;
        let alloc: u64 = st
            .datasets
            .iter()
            .filter(|(k, _)| k.split('/').next() == name.split('/').next())
            .map(|(_, d)| d.referenced)
            .sum();
        let avail = (pool.size - pool.size / 32).saturating_sub(alloc);
        Some(((used + avail) / 1024, used / 1024, avail / 1024))
    };
    let r = match s.kind.as_str() {
        "zfspool" => s.options.get("pool").and_then(|p| from_dataset(p)),
        "dir" => {
            // The dataset mounted at (or above) the path, else the root file system.
            let path = s.options.get("path").map(String::as_str).unwrap_or("/");
            st.datasets
                .iter()
                .filter(|(_, d)| d.kind == DatasetKind::Filesystem)
                .filter_map(|(n, d)| d.props.get("mountpoint").map(|m| (n, m)))
                .filter(|(_, m)| path == m.as_str() || path.starts_with(&format!("{}/", m.trim_end_matches('/'))))
                .max_by_key(|(_, m)| m.len())
                .and_then(|(n, _)| from_dataset(n))
        }
        _ => None,
    };
    // Network storages: a plausible 1 TiB share, 10 % used.
    r.unwrap_or((1_073_741_824, 107_374_182, 966_367_642))
}

fn dataset_used(st: &SimState, name: &str) -> u64 {
    let prefix = format!("{name}/");
    st.datasets
        .iter()
        .filter(|(k, _)| k.as_str() == name || k.starts_with(&prefix))
        .map(|(_, d)| d.referenced.max(d.props.get("refreservation").and_then(|v| v.parse().ok()).unwrap_or(0)))
        .sum()
}

fn status(st: &SimState, a: &Args) -> Output {
    if let Some(id) = a.get("storage") {
        if !st.storages.contains_key(id) {
            return fail(format!("storage '{id}' does not exist"));
        }
    }
    let selected: Vec<(&String, &Storage)> = st
        .storages
        .iter()
        .filter(|(id, _)| a.get("storage").is_none_or(|s| s == id.as_str()))
        .filter(|(_, s)| a.get("content").is_none_or(|c| s.content().split(',').any(|x| x == c)))
        .filter(|(_, s)| !a.flag("enabled") || !s.disabled())
        .collect();
    let mut rows: Vec<(&String, &Storage)> = selected;
    rows.sort_by(|x, y| x.0.cmp(y.0));
    let maxlen = st
        .storages
        .keys()
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
        .max(rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0))
        + 1;
    let mut out = format!(
        "{:<maxlen$} {:>10} {:>10} {:>15} {:>15} {:>15} {:>8}\n",
        "Name", "Type", "Status", "Total (KiB)", "Used (KiB)", "Available (KiB)", "%"
    );
    for (id, s) in rows {
        if s.disabled() {
            out.push_str(&format!(
                "{id:<maxlen$} {:>10} {:>10} {:>15} {:>15} {:>15} {:>8}\n",
                s.kind, "disabled", 0, 0, 0, "N/A"
            ));
            continue;
        }
        let (total, used, avail) = capacity(st, s);
        let pct = if total == 0 { 0.0 } else { used as f64 * 100.0 / total as f64 };
        out.push_str(&format!(
            "{id:<maxlen$} {:>10} {:>10} {total:>15} {used:>15} {avail:>15} {pct:>7.2}%\n",
            s.kind, "active"
        ));
    }
    ok(out)
}

/// Validate the options of `add`/`set` and normalise booleans.
fn check_options(kind: &str, a: &Args, usage: &str) -> Result<IndexMap<String, String>, Output> {
    let mut out = IndexMap::new();
    for (k, v) in &a.opts {
        if k == "delete" || k == "digest" {
            continue;
        }
        let v = if BOOL_OPTS.contains(&k.as_str()) {
            match parse_bool(v) {
                Some(b) => if b { "1" } else { "0" }.to_string(),
                None => return Err(param_fail(k, &format!("type check ('boolean') failed - got '{v}'"), usage)),
            }
        } else {
            v.clone()
        };
        if k == "content" {
            let allowed = allowed_content(kind);
            if let Some(bad) = v.split(',').find(|c| !allowed.contains(c)) {
                return Err(param_fail("content", &format!("invalid content type '{bad}'"), usage));
            }
        }
        out.insert(k.clone(), v);
    }
    Ok(out)
}

fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.first().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_uppercase())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn add(st: &mut SimState, a: &Args) -> Output {
    let usage = usage_line("add");
    let (Some(kind), Some(id)) = (a.positional.first(), a.positional.get(1)) else {
        return fail(format!("400 not enough arguments\n{usage}"));
    };
    if a.positional.len() > 2 {
        return fail(format!("400 too many arguments\n{usage}"));
    }
    if !TYPES.contains(&kind.as_str()) {
        return param_fail(
            "type",
            &format!("value '{kind}' does not have a value in the enumeration '{}'", TYPES.join(", ")),
            &usage,
        );
    }
    if !valid_id(id) {
        return param_fail(
            "storage",
            &format!("invalid format - storage ID '{id}' contains illegal characters"),
            &usage,
        );
    }
    let mut opts = match check_options(kind, a, &usage) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if let Some(missing) = required_options(kind).iter().find(|k| !opts.contains_key(**k)) {
        return param_fail(missing, "property is missing and it is not optional", &usage);
    }
    if st.storages.contains_key(id.as_str()) {
        return fail(format!("create storage failed: storage ID '{id}' already defined"));
    }
    match kind.as_str() {
        "zfspool" => {
            let pool = opts.get("pool").cloned().unwrap_or_default();
            // Activation runs `zfs list` on the pool: a missing dataset aborts the add.
            if !st.datasets.contains_key(pool.as_str()) {
                return fail(format!("create storage failed: zfs error: cannot open '{pool}': dataset does not exist"));
            }
            opts.entry("content".into()).or_insert_with(|| "images,rootdir".into());
        }
        "nfs" | "cifs" => {
            opts.entry("path".into()).or_insert_with(|| format!("/mnt/pve/{id}"));
            opts.entry("content".into()).or_insert_with(|| "images".into());
        }
        "dir" => {
            opts.entry("content".into()).or_insert_with(|| "images,rootdir".into());
        }
        _ => {}
    }
    normalise_order(kind, &mut opts);
    st.storages.insert(id.clone(), Storage { kind: kind.clone(), options: opts });
    ok("")
}

fn set(st: &mut SimState, a: &Args) -> Output {
    let usage = usage_line("set");
    let Some(id) = a.positional.first() else {
        return fail(format!("400 not enough arguments\n{usage}"));
    };
    let Some(kind) = st.storages.get(id.as_str()).map(|s| s.kind.clone()) else {
        return fail(format!(
            "update storage failed: error with cfs lock 'file-storage_cfg': storage '{id}' does not exist"
        ));
    };
    let opts = match check_options(&kind, a, &usage) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let fixed = fixed_options(&kind);
    if let Some(k) = opts.keys().find(|k| fixed.contains(&k.as_str())) {
        return param_fail(k, &format!("can't change value of fixed parameter '{k}'"), &usage);
    }
    let deletes: Vec<String> =
        a.get("delete").map(|d| d.split(',').map(|s| s.trim().to_string()).collect()).unwrap_or_default();
    if let Some(k) =
        deletes.iter().find(|k| fixed.contains(&k.as_str()) || required_options(&kind).contains(&k.as_str()))
    {
        return param_fail("delete", &format!("unable to delete required option '{k}'"), &usage);
    }
    if let Some(s) = st.storages.get_mut(id.as_str()) {
        for k in &deletes {
            s.options.shift_remove(k);
        }
        s.options.extend(opts);
        normalise_order(&kind, &mut s.options);
    }
    ok("")
}

fn remove(st: &mut SimState, a: &Args) -> Output {
    let Some(id) = a.positional.first() else {
        return fail(format!("400 not enough arguments\n{}", usage_line("remove")));
    };
    if st.storages.shift_remove(id.as_str()).is_none() {
        return fail(format!(
            "delete storage failed: error with cfs lock 'file-storage_cfg': storage '{id}' does not exist"
        ));
    }
    ok("")
}

/// `pvesm list <storage>`: the guest volumes allocated on it.
fn list(st: &SimState, a: &Args) -> Output {
    let Some(id) = a.positional.first() else {
        return fail(format!("400 not enough arguments\n{}", usage_line("list")));
    };
    if !st.storages.contains_key(id.as_str()) {
        return fail(format!("storage '{id}' does not exist"));
    }
    let vmid_filter: Option<u32> = a.get("vmid").and_then(|v| v.parse().ok());
    let mut rows: Vec<(String, &str, &str, u64, u32)> = Vec::new();
    for (vmid, g) in &st.guests {
        if vmid_filter.is_some_and(|f| f != *vmid) {
            continue;
        }
        for (k, v) in &g.config {
            let is_disk = k == "rootfs"
                || k.starts_with("mp")
                || k.starts_with("scsi")
                || k.starts_with("virtio")
                || k.starts_with("sata")
                || k.starts_with("ide")
                || k.starts_with("efidisk")
                || k.starts_with("unused");
            let vol = v.split(',').next().unwrap_or("");
            if !is_disk || !vol.starts_with(&format!("{id}:")) || v.contains("media=cdrom") {
                continue;
            }
            let size = v.split(',').find_map(|p| p.strip_prefix("size=")).and_then(crate::size::pve_parse).unwrap_or(0);
            let (format, kind) = if vol.contains("subvol-") { ("subvol", "rootdir") } else { ("raw", "images") };
            rows.push((vol.to_string(), format, kind, size, *vmid));
        }
    }
    rows.sort();
    let mut out = format!("{:<40} {:<10} {:<10} {:>12} {}\n", "Volid", "Format", "Type", "Size", "VMID");
    for (vol, format, kind, size, vmid) in rows {
        out.push_str(&format!("{vol:<40} {format:<10} {kind:<10} {size:>12} {vmid}\n"));
    }
    ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_line(st: &mut SimState, line: &str) -> Output {
        let v: Vec<String> = line.split_whitespace().map(String::from).collect();
        run(st, &v[1..])
    }

    #[test]
    fn default_storage_cfg() {
        let st = SimState::default();
        assert_eq!(render_cfg(&st), "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nzfspool: local-zfs\n\tpool rpool/data\n\tcontent images,rootdir\n\tsparse 1\n");
    }

    #[test]
    fn status_layout() {
        let mut st = SimState::default();
        run_line(&mut st, "pvesm add nfs nfs1 --server 10.0.0.10 --export /space --content iso --disable 1");
        let out = run_line(&mut st, "pvesm status").stdout_str();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %"
        );
        assert!(lines[1].starts_with("local             dir     active "), "{}", lines[1]);
        assert!(lines[1].ends_with('%'));
        assert_eq!(
            lines[3],
            "nfs1              nfs   disabled               0               0               0      N/A"
        );
        let only = run_line(&mut st, "pvesm status --content images --enabled").stdout_str();
        assert_eq!(only.lines().count(), 2);
        assert!(only.contains("local-zfs"));
    }

    #[test]
    fn add_set_remove() {
        let mut st = SimState::default();
        let o = run_line(&mut st, "pvesm add zfspool vmdata --pool rpool/data --content rootdir,images --sparse");
        assert_eq!(o.code, 0, "{}", o.stderr_str());
        assert!(
            render_cfg(&st).ends_with("\nzfspool: vmdata\n\tpool rpool/data\n\tcontent rootdir,images\n\tsparse 1\n")
        );
        let dup = run_line(&mut st, "pvesm add zfspool vmdata --pool rpool/data");
        assert_eq!(
            (dup.code, dup.stderr_str().as_str()),
            (255, "create storage failed: storage ID 'vmdata' already defined\n")
        );
        let nopool = run_line(&mut st, "pvesm add zfspool x --pool tank/x");
        assert_eq!(
            nopool.stderr_str(),
            "create storage failed: zfs error: cannot open 'tank/x': dataset does not exist\n"
        );
        let missing = run_line(&mut st, "pvesm add zfspool y");
        assert!(missing
            .stderr_str()
            .starts_with("400 Parameter verification failed.\npool: property is missing and it is not optional\n"));
        assert_eq!(run_line(&mut st, "pvesm set vmdata --disable 1 --delete sparse").code, 0);
        assert!(render_cfg(&st).ends_with("\tpool rpool/data\n\tcontent rootdir,images\n\tdisable 1\n"));
        assert_eq!(run_line(&mut st, "pvesm set vmdata --pool other").code, 255);
        assert_eq!(run_line(&mut st, "pvesm remove vmdata").code, 0);
        assert!(!st.storages.contains_key("vmdata"));
        run_line(&mut st, "pvesm add nfs iso-templates --server 10.0.0.10 --export /space/iso-templates --options vers=3,soft --content iso,vztmpl");
        assert!(render_cfg(&st).ends_with("nfs: iso-templates\n\tpath /mnt/pve/iso-templates\n\tserver 10.0.0.10\n\texport /space/iso-templates\n\tcontent iso,vztmpl\n\toptions vers=3,soft\n"));
    }
}
