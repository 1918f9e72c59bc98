//! `tar` on the host, for template archives and cloud images: what a container (or VM) created
//! from them starts with. phoenix's dry-run lists a template (`tar -tf`) and reads its dpkg
//! status (`tar -xOf <t> ./var/lib/dpkg/status`) to predict which packages, files and enabled
//! units a guest will already have. The answer is the same base image `pct create` and
//! `qm disk import` give the guest, so the prediction and the rehearsal agree.

use super::archive::{cannot_open, not_found, parse};
use super::catalogue;
use super::inside::base_image;
use super::reply::{die, ok};
use super::state::{GuestImage, SimState};
use crate::output::Output;
use std::collections::{BTreeMap, BTreeSet};

/// Where systemd keeps the enablement symlinks of `WantedBy=multi-user.target` units.
const WANTS: &str = "./etc/systemd/system/multi-user.target.wants/";

/// The base image an archive on the host unpacks to: an LXC template under
/// `template/cache/`, or a cloud image under `template/iso/` (cloud-init, no guest agent).
fn image_of(path: &str) -> Option<GuestImage> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.contains("/template/cache/") {
        let os = super::pct::ostype_from(name);
        return matches!(os, "ubuntu" | "debian").then(|| base_image(os, false));
    }
    if path.contains("/template/iso/") && (name.ends_with(".img") || name.ends_with(".qcow2")) {
        let os = if name.contains("debian") { "debian" } else { "ubuntu" };
        return Some(base_image(os, true));
    }
    None
}

/// `/var/lib/dpkg/status` for the image's packages, one stanza each, as dpkg writes it.
fn dpkg_status(img: &GuestImage) -> String {
    img.os
        .packages
        .iter()
        .map(|p| {
            format!(
                "Package: {p}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {}\n\n",
                catalogue::version(p)
            )
        })
        .collect()
}

/// Every member of the archive: path (`./usr/bin/curl`, directories ending in `/`) → content
/// (`None` for directories and symlinks).
fn members(img: &GuestImage) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut m: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let add_parents = |path: &str, dirs: &mut BTreeSet<String>| {
        let mut cur = String::from(".");
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            cur.push('/');
            cur.push_str(part);
            dirs.insert(format!("{cur}/"));
        }
    };
    for (path, f) in &img.files {
        add_parents(path, &mut dirs);
        m.insert(format!(".{path}"), Some(f.content.clone()));
    }
    for d in &img.os.dirs {
        add_parents(&format!("{d}/x"), &mut dirs);
    }
    let status = "/var/lib/dpkg/status";
    add_parents(status, &mut dirs);
    m.insert(format!(".{status}"), Some(dpkg_status(img).into_bytes()));
    for (unit, u) in &img.os.units {
        if u.enabled {
            add_parents(&format!("{}{unit}", &WANTS[1..]), &mut dirs);
            m.insert(format!("{WANTS}{unit}"), None);
        }
    }
    dirs.insert("./".into());
    for d in dirs {
        m.insert(d, None);
    }
    m
}

/// `tar -tf <archive>` / `tar -xOf <archive> <member>…` on the host.
pub(crate) fn run(st: &SimState, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = match parse(&args) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let Some(archive) = t.archive.clone() else {
        return die("tar: Refusing to read archive contents from terminal (missing -f option?)\ntar: Error is not recoverable: exiting now", 2);
    };
    if t.mode == 'c' || (t.mode == 'x' && !t.to_stdout) {
        return die("sim: tar on the host only lists (-t) or prints members (-xO)", 127);
    }
    if !st.files.contains_key(&archive) {
        return cannot_open(&archive, "No such file or directory");
    }
    let Some(img) = image_of(&archive) else {
        return cannot_open(&archive, "sim: not a template or cloud image the simulator models");
    };
    let all = members(&img);
    let missing: Vec<&String> = t.members.iter().filter(|m| !all.contains_key(*m)).collect();
    let wanted = |name: &String| {
        t.members.is_empty()
            || t.members.iter().any(|m| m == name || (m.ends_with('/') && name.starts_with(m.as_str())))
    };
    let mut stdout = Vec::new();
    for (name, content) in all.iter().filter(|(n, _)| wanted(n)) {
        if t.mode == 't' {
            stdout.extend_from_slice(name.as_bytes());
            stdout.push(b'\n');
        } else if let Some(c) = content {
            stdout.extend_from_slice(c);
        }
    }
    if missing.is_empty() {
        ok(stdout)
    } else {
        let mut o = die(not_found(&missing), 2);
        o.stdout = stdout;
        o
    }
}

#[cfg(test)]
mod tests {
    use crate::host::SimHost;
    use crate::output::Output;
    use crate::state::SimState;

    fn run(h: &SimHost, line: &str) -> Output {
        h.exec(&line.split_whitespace().map(String::from).collect::<Vec<_>>(), None)
    }
    const T: &str = "/var/lib/vz/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst";

    #[test]
    fn template_listing_matches_the_created_container() {
        let h = SimHost::new(SimState::default());
        let list = run(&h, &format!("tar -tf {T}"));
        assert_eq!(list.code, 0, "{}", list.stderr_str());
        let text = list.stdout_str();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"./"));
        assert!(lines.contains(&"./usr/bin/"));
        assert!(lines.contains(&"./usr/bin/curl"));
        assert!(lines.contains(&"./usr/bin/tar"));
        assert!(lines.contains(&"./var/lib/dpkg/status"));
        assert!(!lines.contains(&"./usr/bin/docker"));
        // The same files a container created from it has.
        assert_eq!(
            run(&h, &format!("pct create 120 local:vztmpl/{} --rootfs local-zfs:4", T.rsplit('/').next().unwrap()))
                .code,
            0
        );
        let files: Vec<String> = h.with_state(|s| s.guests[&120].files.keys().cloned().collect());
        for f in &files {
            assert!(lines.contains(&format!(".{f}").as_str()), "{f} missing from the listing");
        }
        let status = run(&h, &format!("tar -xOf {T} ./var/lib/dpkg/status"));
        assert_eq!(status.code, 0);
        let s = status.stdout_str();
        assert!(s.contains("Package: curl\nStatus: install ok installed\n"));
        assert!(s.contains("Package: python3\n"));
        assert_eq!(s.matches("Package: ").count(), h.with_state(|st| st.guests[&120].os.packages.len()));
        assert!(s.ends_with("\n\n"));
        assert!(run(&h, &format!("tar -xOf {T} ./etc/os-release")).stdout_str().contains("ID=ubuntu"));
        let absent = run(&h, &format!("tar -xOf {T} ./nope"));
        assert_eq!(
            (absent.code, absent.stderr_str().as_str()),
            (2, "tar: ./nope: Not found in archive\ntar: Exiting with failure status due to previous errors\n")
        );
        let missing = run(&h, "tar -tf /var/lib/vz/template/cache/none.tar.zst");
        assert_eq!(missing.code, 2);
        assert!(missing
            .stderr_str()
            .starts_with("tar: /var/lib/vz/template/cache/none.tar.zst: Cannot open: No such file or directory\n"));
        // Reads only: a dry-run may run them.
        assert!(h.log().iter().filter(|l| l.argv[0] == "tar").all(|l| !l.mutating));
    }

    #[test]
    fn cloud_image_has_cloud_init_enabled_and_no_agent() {
        let h = SimHost::new(SimState::default());
        let img = "/var/lib/vz/template/iso/noble-server-cloudimg-amd64.img";
        assert_eq!(
            run(
                &h,
                &format!(
                    "curl -fsSL -o {img} https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
                )
            )
            .code,
            0
        );
        let list = run(&h, &format!("tar -tf {img}")).stdout_str();
        assert!(list.lines().any(|l| l == "./etc/systemd/system/multi-user.target.wants/cloud-init.service"));
        assert!(list.lines().any(|l| l == "./etc/systemd/system/multi-user.target.wants/"));
        let wants = run(&h, &format!("tar -tf {img} ./etc/systemd/system/multi-user.target.wants/")).stdout_str();
        assert_eq!(wants, "./etc/systemd/system/multi-user.target.wants/\n./etc/systemd/system/multi-user.target.wants/cloud-init.service\n");
        let status = run(&h, &format!("tar -xOf {img} ./var/lib/dpkg/status")).stdout_str();
        assert!(status.contains("Package: cloud-init\n"));
        assert!(!status.contains("qemu-guest-agent"));
    }
}
