//! Packages inside a guest: `apt`, `dpkg`, `dpkg-query`, `pip`, vendor installers.

use super::*;

/// Can apt locate this package (known, and its repository configured)?
pub(super) fn locatable(g: &Guest, name: &str) -> bool {
    match catalogue::package(name) {
        Some(p) => match p.repo {
            None => true,
            Some(word) => g.files.iter().any(|(path, f)| {
                path.starts_with("/etc/apt/sources.list.d/") && String::from_utf8_lossy(&f.content).contains(word)
            }),
        },
        None => false,
    }
}

pub(super) const APT_HEADER: &str =
    "Reading package lists...\nBuilding dependency tree...\nReading state information...\n";

pub(super) fn apt(g: &mut Guest, args: &[&str]) -> Output {
    let sub = args.iter().find(|a| !a.starts_with('-')).copied().unwrap_or("");
    let mut names = Vec::new();
    let mut skip_next = false;
    let mut seen_sub = false;
    for x in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        if *x == "-o" {
            skip_next = true;
            continue;
        }
        if x.starts_with('-') {
            continue;
        }
        if !seen_sub {
            seen_sub = true;
            continue;
        }
        names.push(*x);
    }
    match sub {
        "update" => done("Hit:1 http://archive.ubuntu.com/ubuntu noble InRelease\nReading package lists...\n"),
        "upgrade" | "dist-upgrade" | "full-upgrade" | "autoremove" | "clean" => {
            done(format!("{APT_HEADER}0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"))
        }
        "install" => {
            let mut pkgs: Vec<String> = Vec::new();
            for n in &names {
                if n.starts_with('/') || n.starts_with("./") {
                    match deb_package(g, n) {
                        Ok(p) => pkgs.push(p),
                        Err(e) => return e,
                    }
                } else if !locatable(g, n) {
                    return out(100, APT_HEADER, format!("E: Unable to locate package {n}"));
                } else {
                    pkgs.push(n.to_string());
                }
            }
            let mut text = APT_HEADER.to_string();
            let new: Vec<&String> = pkgs.iter().filter(|p| !g.os.packages.contains(*p)).collect();
            for p in pkgs.iter().filter(|p| g.os.packages.contains(*p)) {
                text.push_str(&format!("{p} is already the newest version ({}).\n", catalogue::version(p)));
            }
            if !new.is_empty() {
                text.push_str("The following NEW packages will be installed:\n ");
                for p in &new {
                    text.push(' ');
                    text.push_str(p);
                }
                text.push('\n');
            }
            text.push_str(&format!("0 upgraded, {} newly installed, 0 to remove and 0 not upgraded.\n", new.len()));
            for p in &pkgs {
                install_with_deps(&mut g.files, &mut g.os, p);
                activate_units(&mut g.os, p);
            }
            done(text)
        }
        "remove" | "purge" => {
            for n in &names {
                if let Some(p) = catalogue::package(n).filter(|_| g.os.packages.contains(*n)) {
                    for f in &p.files {
                        g.files.shift_remove(f);
                    }
                    for u in p.units {
                        g.os.units.remove(*u);
                    }
                    g.os.packages.remove(*n);
                }
            }
            done(APT_HEADER)
        }
        other => out(127, "", format!("sim: apt-get {other} not simulated in guest")),
    }
}

/// Debian's postinst starts the services it enables (the guest is running when apt runs).
pub(super) fn activate_units(os: &mut GuestOs, name: &str) {
    if let Some(p) = catalogue::package(name) {
        for u in p.units {
            if let Some(unit) = os.units.get_mut(*u) {
                unit.active = unit.enabled;
            }
        }
    }
}

/// The package a downloaded `.deb` holds.
pub(super) fn deb_package(g: &Guest, path: &str) -> Result<String, Output> {
    let f = g
        .files
        .get(path)
        .ok_or_else(|| out(1, "", format!("dpkg: error: cannot access archive '{path}': No such file or directory")))?;
    let text = String::from_utf8_lossy(&f.content);
    text.strip_prefix(DEB_MARK)
        .map(|n| n.trim().to_string())
        .filter(|n| catalogue::package(n).is_some())
        .ok_or_else(|| out(2, "", format!("dpkg-deb: error: '{path}' is not a Debian format archive")))
}

pub(super) fn dpkg(g: &mut Guest, args: &[&str]) -> Output {
    match args {
        ["-i", debs @ ..] | ["--install", debs @ ..] => {
            for d in debs {
                match deb_package(g, d) {
                    Ok(p) => {
                        install_with_deps(&mut g.files, &mut g.os, &p);
                        activate_units(&mut g.os, &p);
                    }
                    Err(e) => return e,
                }
            }
            done("")
        }
        // `dpkg -s a b c`: a stanza per installed package; exit 1 if any is not installed.
        ["-s" | "--status", pkgs @ ..] if !pkgs.is_empty() => {
            let mut stdout = String::new();
            let mut stderr = String::new();
            for p in pkgs {
                if g.os.packages.contains(*p) {
                    if !stdout.is_empty() {
                        stdout.push('\n');
                    }
                    stdout.push_str(&format!(
                        "Package: {p}\nStatus: install ok installed\nVersion: {}\n",
                        catalogue::version(p)
                    ));
                } else {
                    stderr.push_str(&format!(
                        "dpkg-query: package '{p}' is not installed and no information is available\n"
                    ));
                }
            }
            if stderr.is_empty() {
                done(stdout)
            } else {
                out(1, stdout, stderr.trim_end())
            }
        }
        _ => out(127, "", format!("sim: dpkg {} not simulated in guest", args.join(" "))),
    }
}

pub(super) fn dpkg_query(g: &Guest, args: &[&str]) -> Output {
    let mut format: Option<String> = None;
    let mut names = Vec::new();
    let mut i = 0;
    let mut show = false;
    while i < args.len() {
        let x = args[i];
        if x == "-W" || x == "--show" {
            show = true;
        } else if x == "-f" || x == "--showformat" {
            i += 1;
            format = args.get(i).map(|s| s.to_string());
        } else if let Some(f) = x.strip_prefix("-f=").or_else(|| x.strip_prefix("--showformat=")) {
            format = Some(f.to_string());
        } else if let Some(f) = x.strip_prefix("-f") {
            format = Some(f.to_string());
        } else {
            names.push(x);
        }
        i += 1;
    }
    if !show {
        return out(127, "", format!("sim: dpkg-query {} not simulated in guest", args.join(" ")));
    }
    let format = format
        .map(|f| f.trim_matches('\'').trim_matches('"').to_string())
        .unwrap_or_else(|| "${Package}\t${Version}\n".into());
    let mut text = String::new();
    for n in &names {
        if !g.os.packages.contains(*n) {
            return out(1, text, format!("dpkg-query: no packages found matching {n}"));
        }
        text.push_str(
            &format
                .replace("${Status}", "install ok installed")
                .replace("${db:Status-Abbrev}", "ii ")
                .replace("${Package}", n)
                .replace("${Version}", catalogue::version(n))
                .replace("\\n", "\n"),
        );
    }
    done(text)
}

pub(super) fn run_installer(g: &mut Guest, name: &str) -> Output {
    let Some(inst) = catalogue::INSTALLERS.iter().find(|i| i.name == name) else {
        return out(127, "", format!("sim: unknown installer {name}"));
    };
    for p in inst.packages {
        install_with_deps(&mut g.files, &mut g.os, p);
        activate_units(&mut g.os, p);
    }
    for f in inst.files {
        g.files.insert(f.to_string(), file(format!("#!sim {name}\n"), catalogue::file_mode(f)));
    }
    if let Some(u) = inst.user {
        add_user(&mut g.os, u);
    }
    for u in inst.units {
        g.os.units.insert(u.to_string(), Unit { enabled: true, active: true });
    }
    done(inst.stdout)
}

pub(super) fn pip(g: &mut Guest, argv0: &str, args: &[&str]) -> Output {
    // A venv's pip installs its scripts next to itself; the system pip into /usr/local/bin.
    let bin = match argv0.rsplit_once('/') {
        Some((dir, _)) if !dir.starts_with("/usr/") && !dir.is_empty() => dir.to_string(),
        _ => "/usr/local/bin".to_string(),
    };
    let env = bin.trim_end_matches("/bin").to_string();
    match args.first().copied() {
        Some("install") => {
            let dists: Vec<&str> = args[1..].iter().copied().filter(|a| !a.starts_with('-')).collect();
            let mut installed = Vec::new();
            for d in dists {
                let name = d.split(['=', '<', '>', '[']).next().unwrap_or(d).to_lowercase();
                for s in catalogue::pip_scripts(&name) {
                    g.files.insert(format!("{bin}/{s}"), file(format!("#!sim pip {name}\n"), 0o755));
                }
                g.os.pip.insert(format!("{env}:{name}"));
                installed.push(format!("{name}-1.0"));
            }
            done(format!("Successfully installed {}\n", installed.join(" ")))
        }
        Some("show") => {
            let name = args.get(1).copied().unwrap_or("").to_lowercase();
            if g.os.pip.contains(&format!("{env}:{name}")) {
                done(format!("Name: {name}\nVersion: 1.0\n"))
            } else {
                out(1, "", format!("WARNING: Package(s) not found: {name}"))
            }
        }
        _ => out(127, "", format!("sim: pip {} not simulated in guest", args.join(" "))),
    }
}
