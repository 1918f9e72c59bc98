//! File permissions inside a guest: owner, group and mode checks for the running user.

use super::*;

/// Owner, group and mode of a path: a file's own, a directory's recorded or root:root 0755
/// (`/tmp` 1777).
pub(super) fn meta(g: &Guest, path: &str) -> Option<(String, String, u32)> {
    let p = path.trim_end_matches('/');
    if let Some(f) = g.files.get(p) {
        return Some((f.owner.clone(), f.group.clone(), f.mode));
    }
    if let Some(m) = g.os.dir_meta.get(p) {
        return Some((m.owner.clone(), m.group.clone(), m.mode));
    }
    if p == "/tmp" || p == "/var/tmp" {
        return Some(("root".into(), "root".into(), 0o1777));
    }
    is_dir(g, p).then(|| ("root".into(), "root".into(), 0o755))
}

/// Does `user` have permission `bit` (4 read, 2 write, 1 execute) on `path`? Root always
/// does; users' only group is their own (useradd --user-group).
pub(super) fn permitted(g: &Guest, path: &str, user: &str, bit: u32) -> bool {
    let Some((owner, group, mode)) = meta(g, path) else {
        return false;
    };
    if user == "root" {
        return true;
    }
    let shift = if owner == user {
        6
    } else if group == user {
        3
    } else {
        0
    };
    mode >> shift & bit != 0
}

pub(crate) fn may_read(g: &Guest, path: &str, user: &str) -> bool {
    permitted(g, path, user, 4)
}

/// Writing an existing path needs its write bit; creating one needs the directory's.
pub(crate) fn may_write(g: &Guest, path: &str, user: &str) -> bool {
    if meta(g, path).is_some() {
        return permitted(g, path, user, 2);
    }
    let parent = match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((d, _)) => d,
    };
    permitted(g, parent, user, 2)
}
