//! Mounts inside a simulated guest: `mount <mountpoint>` from the guest's `/etc/fstab`,
//! `mountpoint -q`, `umount`, and the fstab mounts systemd makes at boot. Nothing is really
//! mounted: the guest remembers which mount points are, which is all the plans check (the
//! NFS volumes of `vm.rhai` mount once and are then left alone).

use super::inside::{done, is_dir, out};
use super::state::Guest;
use crate::output::Output;

/// One `/etc/fstab` line: device, mount point, type, options.
struct Entry {
    device: String,
    mountpoint: String,
    fstype: String,
    options: String,
}

/// A path as the kernel names a mount point (no trailing slash except for `/`).
fn norm(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() {
        "/".into()
    } else {
        p.to_string()
    }
}

fn fstab(g: &Guest) -> Vec<Entry> {
    let Some(f) = g.files.get("/etc/fstab") else {
        return Vec::new();
    };
    String::from_utf8_lossy(&f.content)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 2).then(|| Entry {
                device: w[0].to_string(),
                mountpoint: norm(w[1]),
                fstype: w.get(2).copied().unwrap_or("auto").to_string(),
                options: w.get(3).copied().unwrap_or("defaults").to_string(),
            })
        })
        .collect()
}

/// Mount one fstab entry, with util-linux's messages and exit code 32 for mount failures.
fn mount_entry(g: &mut Guest, e: &Entry) -> Result<(), Output> {
    if g.os.mounts.contains(&e.mountpoint) {
        return Err(out(32, "", format!("mount: {}: {} already mounted on {}.", e.mountpoint, e.device, e.mountpoint)));
    }
    if !is_dir(g, &e.mountpoint) {
        return Err(out(32, "", format!("mount: {}: mount point does not exist.", e.mountpoint)));
    }
    // Network filesystems need their helper (nfs-common ships /sbin/mount.nfs).
    if matches!(e.fstype.as_str(), "nfs" | "nfs4" | "cifs")
        && !["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| g.files.contains_key(&format!("{d}/mount.{}", e.fstype.trim_end_matches('4'))))
    {
        return Err(out(32, "", format!("mount: {}: bad option; for several filesystems (e.g. nfs, cifs) you might need a /sbin/mount.<type> helper program.", e.mountpoint)));
    }
    g.os.mounts.insert(e.mountpoint.clone());
    Ok(())
}

/// `mount` (list), `mount -a`, `mount <mountpoint-or-device>` (looked up in /etc/fstab).
pub(crate) fn mount(g: &mut Guest, args: &[&str]) -> Output {
    let pos: Vec<&str> = args.iter().copied().filter(|a| !a.starts_with('-')).collect();
    if args.contains(&"-a") || args.contains(&"--all") {
        for e in fstab(g) {
            if !e.options.split(',').any(|o| o == "noauto") && !g.os.mounts.contains(&e.mountpoint) {
                if let Err(o) = mount_entry(g, &e) {
                    return o;
                }
            }
        }
        return done("");
    }
    match pos.as_slice() {
        [] => {
            let table = fstab(g);
            let mut text = String::new();
            for mp in &g.os.mounts {
                if let Some(e) = table.iter().find(|e| &e.mountpoint == mp) {
                    text.push_str(&format!("{} on {} type {} (rw,relatime)\n", e.device, mp, e.fstype));
                }
            }
            done(text)
        }
        [target] => {
            let wanted = norm(target);
            let Some(e) = fstab(g).into_iter().find(|e| e.mountpoint == wanted || e.device == *target) else {
                return out(1, "", format!("mount: {target}: can't find in /etc/fstab."));
            };
            match mount_entry(g, &e) {
                Ok(()) => done(""),
                Err(o) => o,
            }
        }
        _ => out(127, "", format!("sim: mount {} not simulated in guest (only fstab mount points)", args.join(" "))),
    }
}

/// `mountpoint [-q] <dir>`: 0 when it is a mount point, 32 otherwise.
pub(crate) fn mountpoint(g: &Guest, args: &[&str]) -> Output {
    let quiet = args.iter().any(|a| *a == "-q" || *a == "--quiet");
    let Some(path) = args.iter().find(|a| !a.starts_with('-')) else {
        return out(1, "", "mountpoint: bad usage\nTry 'mountpoint --help' for more information.");
    };
    let p = norm(path);
    if !is_dir(g, &p) && !g.files.contains_key(&p) {
        return out(
            32,
            "",
            if quiet { String::new() } else { format!("mountpoint: {path}: No such file or directory") },
        );
    }
    let yes = p == "/" || g.os.mounts.contains(&p);
    let text = match (quiet, yes) {
        (true, _) => String::new(),
        (false, true) => format!("{path} is a mountpoint\n"),
        (false, false) => format!("{path} is not a mountpoint\n"),
    };
    out(if yes { 0 } else { 32 }, text, "")
}

/// `umount <mountpoint>`.
pub(crate) fn umount(g: &mut Guest, args: &[&str]) -> Output {
    let Some(path) = args.iter().find(|a| !a.starts_with('-')) else {
        return out(1, "", "umount: bad usage\nTry 'umount --help' for more information.");
    };
    let p = norm(path);
    if g.os.mounts.remove(&p) {
        return done("");
    }
    if is_dir(g, &p) {
        out(32, "", format!("umount: {path}: not mounted."))
    } else {
        out(32, "", format!("umount: {path}: no mount point specified."))
    }
}

/// Boot: systemd mounts every fstab entry without `noauto` (failures are ignored, as with
/// `nofail`, so a boot never fails on a mount).
pub(crate) fn mount_at_boot(g: &mut Guest) {
    for e in fstab(g) {
        if !e.options.split(',').any(|o| o == "noauto") && !g.os.mounts.contains(&e.mountpoint) {
            let _ignored = mount_entry(g, &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inside::base_image;
    use crate::state::{text_file, GuestKind};

    fn guest(fstab: &str) -> Guest {
        let mut g = Guest::new(GuestKind::Qemu);
        g.set_image(base_image("ubuntu", true));
        g.files.insert("/etc/fstab".into(), text_file(fstab));
        g
    }

    #[test]
    fn mount_follows_fstab() {
        let mut g = guest("# static\nLABEL=root / ext4 defaults 0 1\n10.0.0.5:/tank/media /mnt/media nfs defaults,_netdev,nofail 0 0\n");
        let none = mount(&mut g, &["/mnt/other"]);
        assert_eq!((none.code, none.stderr_str().as_str()), (1, "mount: /mnt/other: can't find in /etc/fstab.\n"));
        // No mount point directory yet, then no NFS helper yet.
        assert_eq!(mount(&mut g, &["/mnt/media"]).stderr_str(), "mount: /mnt/media: mount point does not exist.\n");
        g.os.dirs.insert("/mnt/media".into());
        let helper = mount(&mut g, &["/mnt/media"]);
        assert_eq!(helper.code, 32);
        assert!(helper.stderr_str().contains("mount.<type> helper"));
        g.files.insert("/usr/sbin/mount.nfs".into(), text_file(""));
        assert_eq!(mountpoint(&g, &["-q", "/mnt/media"]).code, 32);
        assert_eq!(mount(&mut g, &["/mnt/media/"]).code, 0);
        assert_eq!(mountpoint(&g, &["-q", "/mnt/media"]).code, 0);
        assert_eq!(mountpoint(&g, &["/mnt/media"]).stdout_str(), "/mnt/media is a mountpoint\n");
        assert_eq!(mount(&mut g, &[]).stdout_str(), "10.0.0.5:/tank/media on /mnt/media type nfs (rw,relatime)\n");
        let again = mount(&mut g, &["/mnt/media"]);
        assert_eq!(
            (again.code, again.stderr_str().as_str()),
            (32, "mount: /mnt/media: 10.0.0.5:/tank/media already mounted on /mnt/media.\n")
        );
        assert_eq!(umount(&mut g, &["/mnt/media"]).code, 0);
        assert_eq!(umount(&mut g, &["/mnt/media"]).stderr_str(), "umount: /mnt/media: not mounted.\n");
        assert_eq!(mountpoint(&g, &["-q", "/mnt/media"]).code, 32);
        assert_eq!(mountpoint(&g, &["-q", "/"]).code, 0);
        assert_eq!(mountpoint(&g, &["/nope"]).stderr_str(), "mountpoint: /nope: No such file or directory\n");
        // Boot mounts what fstab says (not noauto).
        g.files.insert(
            "/etc/fstab".into(),
            text_file("a:/x /mnt/media nfs defaults 0 0\nb:/y /mnt/manual nfs noauto 0 0\n"),
        );
        g.os.dirs.insert("/mnt/manual".into());
        mount_at_boot(&mut g);
        assert!(g.os.mounts.contains("/mnt/media"));
        assert!(!g.os.mounts.contains("/mnt/manual"));
        assert_eq!(mount(&mut g, &["-a"]).code, 0);
        assert!(!g.os.mounts.contains("/mnt/manual"));
    }
}
