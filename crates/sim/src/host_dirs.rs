//! Host directories: `mkdir`, `chown` and `stat` on the node, and the question Proxmox asks
//! before it bind-mounts a host path into a container ("is it a directory?").
//!
//! A directory exists when `mkdir` made it, when a mounted ZFS filesystem sits there, or when
//! something below it exists (a file or another directory): the simulator never stores the
//! parents of what it knows about. Implicit directories read as root:root 0755.

use super::reply::die;
use super::state::{DatasetKind, HostDir, SimState};
use crate::output::Output;

const IMPLICIT: HostDir = HostDir { uid: 0, gid: 0, mode: 0o755 };

/// A path as the kernel names it (no trailing slash except for `/`).
fn norm(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        "/".into()
    } else {
        p.to_string()
    }
}

/// Where a filesystem dataset is mounted (`None`: `none`/`legacy`, or a volume).
fn dataset_mountpoint(st: &SimState, name: &str) -> Option<String> {
    if st.datasets.get(name).is_some_and(|d| d.kind != DatasetKind::Filesystem) {
        return None;
    }
    let mut cur = name;
    loop {
        if let Some(mp) = st.datasets.get(cur).and_then(|d| d.props.get("mountpoint")) {
            if mp == "none" || mp == "legacy" {
                return None;
            }
            let rel = &name[cur.len()..];
            return Some(format!("{}{rel}", mp.trim_end_matches('/')));
        }
        match cur.rsplit_once('/') {
            Some((parent, _)) => cur = parent,
            None => return Some(format!("/{name}")),
        }
    }
}

/// The directory at `path`, if there is one.
pub(crate) fn dir(st: &SimState, path: &str) -> Option<HostDir> {
    let p = norm(path);
    if p == "/" {
        return Some(IMPLICIT);
    }
    if let Some(d) = st.dirs.get(&p) {
        return Some(*d);
    }
    if st.files.contains_key(&p) {
        return None;
    }
    let below = format!("{p}/");
    let mounted = st.datasets.keys().filter_map(|n| dataset_mountpoint(st, n)).any(|m| m == p || m.starts_with(&below));
    let holds = st.files.keys().any(|k| k.starts_with(&below)) || st.dirs.keys().any(|k| k.starts_with(&below));
    (mounted || holds).then_some(IMPLICIT)
}

/// Whether `path` is a directory on the host (Perl's `-d`).
pub(crate) fn is_dir(st: &SimState, path: &str) -> bool {
    dir(st, path).is_some()
}

/// How pve-container classifies a mount point value (`classify_mountpoint`): a path under
/// `/dev/` is a device, any other absolute path a bind mount, the rest a storage volume.
pub(crate) fn bind_source(value: &str) -> Option<&str> {
    let vol = super::lifecycle::volid_of(value);
    (vol.starts_with('/') && !vol.starts_with("/dev/")).then_some(vol)
}

/// The first `mpN` bind mount of `config` whose host directory is missing (`__mountpoint_mount`
/// dies `directory '<path>' does not exist` when it mounts it).
pub(crate) fn missing_bind_source<'a>(
    st: &SimState,
    config: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Option<String> {
    config
        .into_iter()
        .filter(|(k, _)| k.strip_prefix("mp").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|(_, v)| bind_source(v))
        .find(|p| !is_dir(st, p))
        .map(String::from)
}

fn parent(p: &str) -> String {
    match p.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((a, _)) => a.to_string(),
    }
}

/// Operands and the value of one option taking an argument (`-m 0750`), after `--` too.
fn split_args<'a>(args: &'a [String], with_value: &str) -> (Vec<&'a str>, Vec<&'a str>, Option<&'a str>) {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut value = None;
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let a = args[i].as_str();
        if only_operands || !a.starts_with('-') || a == "-" {
            operands.push(a);
        } else if a == "--" {
            only_operands = true;
        } else if a == with_value {
            i += 1;
            value = args.get(i).map(String::as_str);
        } else {
            flags.push(a);
        }
        i += 1;
    }
    (flags, operands, value)
}

/// `mkdir [-p] [-m MODE] [--] DIR…` with coreutils' messages (exit 1).
pub(crate) fn mkdir(st: &mut SimState, args: &[String]) -> Output {
    let (flags, dirs, mode) = split_args(args, "-m");
    let parents = flags.iter().any(|f| *f == "-p" || *f == "--parents");
    let mode = match mode.map(|m| u32::from_str_radix(m, 8)) {
        None => 0o755,
        Some(Ok(m)) if m <= 0o7777 => m,
        Some(_) => return die(format!("mkdir: invalid mode '{}'", mode.unwrap_or_default()), 1),
    };
    if dirs.is_empty() {
        return die("mkdir: missing operand\nTry 'mkdir --help' for more information.", 1);
    }
    for d in dirs {
        let p = norm(d);
        if st.files.contains_key(&p) || (!parents && is_dir(st, &p)) {
            return die(format!("mkdir: cannot create directory '{d}': File exists"), 1);
        }
        if is_dir(st, &p) {
            continue;
        }
        if !parents && !is_dir(st, &parent(&p)) {
            return die(format!("mkdir: cannot create directory '{d}': No such file or directory"), 1);
        }
        // `-p` makes the missing parents 0755 and applies `-m` to the last component only.
        let mut cur = String::new();
        for part in p.split('/').filter(|s| !s.is_empty()) {
            cur.push('/');
            cur.push_str(part);
            if st.files.contains_key(&cur) {
                return die(format!("mkdir: cannot create directory '{d}': Not a directory"), 1);
            }
            if !is_dir(st, &cur) {
                let m = if cur == p { mode } else { 0o755 };
                st.dirs.insert(cur.clone(), HostDir { mode: m, ..IMPLICIT });
            }
        }
    }
    super::reply::ok("")
}

/// A numeric id or one of the names a PVE node has for sure.
fn id_of(name: &str) -> Option<u32> {
    match name {
        "root" => Some(0),
        "www-data" => Some(33),
        n => n.parse().ok(),
    }
}

fn name_of(id: u32) -> String {
    match id {
        0 => "root".into(),
        33 => "www-data".into(),
        n => n.to_string(),
    }
}

/// `chown [-R] OWNER[:GROUP] [--] PATH…` (numeric ids, `root`, `www-data`).
pub(crate) fn chown(st: &mut SimState, args: &[String]) -> Output {
    let (_flags, operands, _) = split_args(args, "");
    let Some((spec, paths)) = operands.split_first().filter(|(_, p)| !p.is_empty()) else {
        return die("chown: missing operand\nTry 'chown --help' for more information.", 1);
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (*spec, None),
    };
    let (Some(uid), gid) = (id_of(user), group.map(id_of)) else {
        return die(format!("chown: invalid user: '{spec}'"), 1);
    };
    if gid == Some(None) {
        return die(format!("chown: invalid group: '{spec}'"), 1);
    }
    let gid = gid.flatten();
    for path in paths {
        let p = norm(path);
        if let Some(f) = st.files.get_mut(&p) {
            f.owner = name_of(uid);
            if let Some(g) = gid {
                f.group = name_of(g);
            }
            continue;
        }
        let Some(mut d) = dir(st, &p) else {
            return die(format!("chown: cannot access '{path}': No such file or directory"), 1);
        };
        d.uid = uid;
        d.gid = gid.unwrap_or(d.gid);
        st.dirs.insert(p, d);
    }
    super::reply::ok("")
}

/// `stat -c FORMAT [--] PATH…` with `%u %g %a %F %n`: a line per path found; a missing one is
/// named on stderr and makes the exit 1.
pub(crate) fn stat(st: &SimState, args: &[String]) -> Output {
    let (_flags, operands, format) = split_args(args, "-c");
    let Some(format) = format.filter(|_| !operands.is_empty()) else {
        return die("sim: stat is simulated only as `stat -c FORMAT PATH…`", 127);
    };
    let mut out = String::new();
    let mut err = String::new();
    for path in operands {
        let p = norm(path);
        let (uid, gid, mode, kind) = if let Some(f) = st.files.get(&p) {
            (id_of(&f.owner).unwrap_or(0), id_of(&f.group).unwrap_or(0), f.mode, "regular file")
        } else if let Some(d) = dir(st, &p) {
            (d.uid, d.gid, d.mode, "directory")
        } else {
            err.push_str(&format!("stat: cannot statx '{path}': No such file or directory\n"));
            continue;
        };
        let line = format
            .replace("%u", &uid.to_string())
            .replace("%g", &gid.to_string())
            .replace("%a", &format!("{mode:o}"))
            .replace("%F", kind)
            .replace("%n", path);
        out.push_str(&line);
        out.push('\n');
    }
    Output { code: if err.is_empty() { 0 } else { 1 }, stdout: out.into_bytes(), stderr: err.into_bytes() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn mkdir_chown_stat() {
        let mut st = SimState::default();
        assert!(!is_dir(&st, "/tank/data/101"));
        let o = mkdir(&mut st, &argv("/tank/data/101"));
        assert_eq!(
            (o.code, o.stderr_str().as_str()),
            (1, "mkdir: cannot create directory '/tank/data/101': No such file or directory\n")
        );
        assert_eq!(mkdir(&mut st, &argv("-p -m 0750 -- /tank/data/101")).code, 0);
        assert_eq!(dir(&st, "/tank/data"), Some(IMPLICIT));
        assert_eq!(dir(&st, "/tank/data/101/"), Some(HostDir { uid: 0, gid: 0, mode: 0o750 }));
        assert_eq!(chown(&mut st, &argv("100033:100033 -- /tank/data/101")).code, 0);
        assert_eq!(stat(&st, &argv("-c %u:%g:%a:%F -- /tank/data/101")).stdout_str(), "100033:100033:750:directory\n");
        let missing = stat(&st, &argv("-c %u -- /nope"));
        assert_eq!(
            (missing.code, missing.stderr_str().as_str()),
            (1, "stat: cannot statx '/nope': No such file or directory\n")
        );
        assert_eq!(chown(&mut st, &argv("0:0 /nope")).code, 1);
        let both = stat(&st, &argv("-c %F|%n -- /nope /tank/data"));
        assert_eq!((both.code, both.stdout_str().as_str()), (1, "directory|/tank/data\n"));
        // A mounted dataset is a directory; the pool's root dataset is mounted at /rpool.
        assert!(is_dir(&st, "/rpool"));
    }
}
