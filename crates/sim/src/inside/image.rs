//! The files and packages a fresh guest image starts with, and package installation into it.

use super::*;

/// The image a Debian/Ubuntu LXC template or cloud image unpacks to. `os` names the distribution
/// (`ubuntu`, `debian`); anything else gets an empty image (nothing modelled inside).
pub(crate) fn base_image(os: &str, cloud: bool) -> GuestImage {
    let mut img = GuestImage::default();
    let (pretty, id, version) = match os {
        "ubuntu" => ("Ubuntu 24.04.1 LTS", "ubuntu", "24.04"),
        "debian" => ("Debian GNU/Linux 12 (bookworm)", "debian", "12"),
        _ => return img,
    };
    for p in catalogue::BASE_PACKAGES {
        install_files(&mut img.files, &mut img.os, p);
    }
    if os == "ubuntu" {
        install_files(&mut img.files, &mut img.os, "python3");
    }
    if cloud {
        install_files(&mut img.files, &mut img.os, "cloud-init");
    }
    img.files.insert(
        "/etc/os-release".into(),
        file(format!("PRETTY_NAME=\"{pretty}\"\nID={id}\nVERSION_ID=\"{version}\"\n"), 0o644),
    );
    for (u, uid) in [("root", 0), ("daemon", 1), ("nobody", 65534), ("_apt", 42)] {
        img.os.users.insert(u.into(), uid);
        img.os.groups.insert(u.into());
    }
    for d in ["/root", "/tmp", "/etc", "/usr/local/bin", "/etc/systemd/system"] {
        img.os.dirs.insert(d.into());
    }
    img
}

/// Put a package's files and units in place (no dependency or repository checks).
pub(super) fn install_files(files: &mut indexmap::IndexMap<String, FileData>, os: &mut GuestOs, name: &str) {
    let Some(p) = catalogue::package(name) else {
        return;
    };
    for f in &p.files {
        files.entry(f.clone()).or_insert_with(|| file(format!("#!sim {name}\n"), catalogue::file_mode(f)));
    }
    for u in p.units {
        os.units.entry(u.to_string()).or_insert(Unit { enabled: true, active: false });
    }
    if name.starts_with("docker") {
        os.groups.insert("docker".into());
    }
    os.packages.insert(name.to_string());
}

pub(super) fn install_with_deps(files: &mut indexmap::IndexMap<String, FileData>, os: &mut GuestOs, name: &str) {
    if os.packages.contains(name) {
        return;
    }
    if let Some(p) = catalogue::package(name) {
        for d in p.deps {
            install_with_deps(files, os, d);
        }
    }
    install_files(files, os, name);
}
