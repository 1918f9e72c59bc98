//! Host directories phoenix makes (bind-mount sources, NFS export paths) and what Proxmox
//! allows around bind mounts.
//!
//! - A host path becomes a `mkdir`/`chown` argument, the first field of an `mpN` property
//!   string and a word of `/etc/exports`: it must be a plain absolute path (no `..`, no comma or
//!   `=` that would add a property, no blank or control character that would split a line).
//! - A bind mount is a path, not a volume: Proxmox refuses to clone a container that has one
//!   (`unable to clone mountpoint 'mp0' (type bind)`, `API2/LXC.pm` clone_vm) and to snapshot
//!   it (`snapshot feature is not available`, `AbstractConfig::snapshot_create` →
//!   `has_feature`). A clone source declaring bind mounts can never work: an error. A guest
//!   asking for lifecycle snapshots gets none while it has bind mounts: a warning (the state
//!   machine skips the snapshot; see the header of `stdlib/lxc.rhai`).

use super::diagnostic::ConfigProblem;
use super::hypervisor::HypervisorConfig;
use super::lxc::LxcFile;
use super::reader::Ctx;
use super::source::{child_pointer, SourceFile};

/// Longer than any real path (Linux's PATH_MAX is 4096).
const MAX_PATH: usize = 4096;

/// Why `path` cannot be a host directory phoenix makes, if it cannot.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.len() > MAX_PATH {
        return Some("is longer than 4096 bytes");
    }
    if !path.starts_with('/') {
        return Some("must be an absolute path (starting with `/`)");
    }
    if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("must not contain blanks or control characters");
    }
    if path.contains([',', '=', '"', '\'', '\\']) {
        return Some("must not contain `,`, `=`, quotes or backslashes (they change a Proxmox property string)");
    }
    if path.split('/').any(|c| c == ".." || c == ".") {
        return Some("must not contain `.` or `..` components");
    }
    if path.trim_end_matches('/').is_empty() {
        return Some("must not be `/` itself");
    }
    None
}

fn check_path(ctx: &Ctx, ptr: &str, path: &str) {
    if let Some(why) = path_problem(path) {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` {why}", ctx.path(ptr)))
                .label("host directory")
                .help("write the plain absolute path of a directory on the Proxmox host, e.g. /tank/data/101"),
        );
    }
}

fn lxc_problems(ctx: &Ctx, lxc: &LxcFile) {
    for g in lxc.guests.values() {
        let mounts_ptr = child_pointer(&g.at, "mount_points");
        for (i, m) in g.mount_points.iter().enumerate() {
            check_path(ctx, &child_pointer(&child_pointer(&mounts_ptr, &i.to_string()), "host_path"), &m.host_path);
        }
        if g.mount_points.is_empty() {
            continue;
        }
        let clones: Vec<String> =
            lxc.guests.values().filter(|c| c.clone_from_ctid == Some(g.id)).map(|c| c.id.to_string()).collect();
        if !clones.is_empty() {
            ctx.report(
                ctx.at_key(
                    &mounts_ptr,
                    format!(
                        "container {} is a clone source (of {}) and declares bind mounts: Proxmox cannot clone \
                         or snapshot a container with a bind mount (`unable to clone mountpoint 'mp0' (type bind)`)",
                        g.id,
                        clones.join(", ")
                    ),
                )
                .label("bind mounts on a template")
                .help("declare the mount points on the clones that need them; a template carries none"),
            );
        }
        if g.enable_lifecycle_snapshots == Some(true) {
            ctx.report(
                ctx.at_key(
                    &child_pointer(&g.at, "enable_lifecycle_snapshots"),
                    format!(
                        "container {} gets no lifecycle snapshot: Proxmox cannot snapshot a container with bind \
                         mounts (`snapshot feature is not available`)",
                        g.id
                    ),
                )
                .label("skipped while mount_points are declared")
                .help("snapshot the host datasets behind the mounts instead, or set this to false")
                .warning(),
            );
        }
    }
}

/// Problems with host directories and bind mounts in the files that decoded.
pub(crate) fn check(
    hv: Option<&(HypervisorConfig, SourceFile)>,
    lxc: Option<&(LxcFile, SourceFile)>,
) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    if let Some((hv, src)) = hv {
        let ctx = Ctx::new(src);
        for (i, e) in hv.nfs.iter().flat_map(|n| n.exports.iter()).enumerate() {
            check_path(&ctx, &format!("/nfs/exports/{i}/path"), &e.path);
        }
        out.extend(ctx.into_problems());
    }
    if let Some((lxc, src)) = lxc {
        let ctx = Ctx::new(src);
        lxc_problems(&ctx, lxc);
        out.extend(ctx.into_problems());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_problem;

    #[test]
    fn only_plain_absolute_paths_are_host_directories() {
        assert_eq!(path_problem("/tank/lxc-persistent-data/101/logs"), None);
        assert_eq!(path_problem("/fast/models/huggingface/"), None);
        for bad in ["tank/x", ",", "/tank/x,mp=/", "/a b", "/a\nb", "/a/../etc", "/a/./b", "/", "//", "/x=y", "/a'b"] {
            assert!(path_problem(bad).is_some(), "{bad:?} must be refused");
        }
        assert!(path_problem(&format!("/{}", "a".repeat(5000))).is_some());
    }
}
