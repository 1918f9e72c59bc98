//! Other tools features run inside a guest: downloads, shells and scripts, CA updates, GPU and network tools.

use super::*;

pub(super) fn update_ca(g: &mut Guest) -> Output {
    let certs: Vec<(String, FileData)> = g
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("/usr/local/share/ca-certificates/") && p.ends_with(".crt"))
        .map(|(p, f)| (p.clone(), f.clone()))
        .collect();
    let mut added = 0;
    for (p, f) in certs {
        let base = p.rsplit('/').next().unwrap_or(&p).trim_end_matches(".crt").to_string();
        let pem = format!("/etc/ssl/certs/{base}.pem");
        if g.files.get(&pem).map(|x| &x.content) != Some(&f.content) {
            g.files.insert(pem, file(f.content.clone(), 0o644));
            added += 1;
        }
    }
    done(format!(
        "Updating certificates in /etc/ssl/certs...\n{added} added, 0 removed; done.\nRunning hooks in /etc/ca-certificates/update.d...\ndone.\n"
    ))
}

pub(super) fn download(g: &mut Guest, tool: &str, args: &[&str]) -> Output {
    let mut dest: Option<&str> = None;
    let mut url: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        if let Some(flags) = x.strip_prefix('-').filter(|f| !f.starts_with('-')) {
            // Clusters like -fsSLo / -qO: the value follows when the cluster ends in o/O.
            if flags.ends_with('o') || flags.ends_with('O') {
                i += 1;
                dest = args.get(i).copied();
            }
        } else if let Some(v) = x.strip_prefix("--output=").or_else(|| x.strip_prefix("--output-document=")) {
            dest = Some(v);
        } else if x == "--output" || x == "--output-document" {
            i += 1;
            dest = args.get(i).copied();
        } else if !x.starts_with('-') {
            url = Some(x);
        }
        i += 1;
    }
    let Some(url) = url else {
        return out(2, "", format!("{tool}: no URL specified"));
    };
    if let Some(code) = super::docker::ping(g, url).filter(|_| tool == "curl") {
        // curl -w '%{http_code}' prints 000 and exits 7 when nothing listens.
        return if code == 0 { out(7, "000", "") } else { done(code.to_string()) };
    }
    let data = catalogue::download(url);
    match dest {
        Some("-") | None => done(data),
        Some(d) => {
            g.files.insert(d.to_string(), file(data, 0o644));
            done("")
        }
    }
}

pub(super) fn shell(g: &mut Guest, id: u32, args: &[&str], stdin: Option<&[u8]>, p: &Proc) -> Output {
    if crate::batch::is_batch(args) {
        let all: Vec<String> = ["sh"].iter().chain(args).map(|s| s.to_string()).collect();
        return crate::batch::run(&all, |item| match item {
            crate::batch::Item::File(path) => crate::batch::file_answer(g.files.get(path)),
            crate::batch::Item::Command(cmd) => {
                let o = run_as(g, id, cmd, None, p);
                (o.code, o.stdout)
            }
        });
    }
    match args {
        ["-c", script, ..] => {
            // Only a single simple command: anything with shell syntax is not interpreted.
            if script.contains(['|', ';', '&', '>', '<', '$', '`', '(', '\'', '"']) {
                return out(127, "", format!("sim: shell syntax not simulated in guest: {script}"));
            }
            let words: Vec<String> = script.split_whitespace().map(String::from).collect();
            run_as(g, id, &words, stdin, p)
        }
        [path, rest @ ..] if !path.starts_with('-') => {
            if !g.files.contains_key(*path) {
                return out(127, "", format!("sh: 0: cannot open {path}: No such file"));
            }
            run_file(g, path, rest)
        }
        _ => out(127, "", "sim: interactive shell not simulated in guest"),
    }
}

/// Run a script file: a catalogue installer does what the catalogue says; any other script is
/// recorded as run (scripts.rs says why it is not interpreted).
pub(super) fn run_file(g: &mut Guest, path: &str, args: &[&str]) -> Output {
    let installer = g.files.get(path).and_then(|f| {
        String::from_utf8_lossy(&f.content)
            .lines()
            .find_map(|l| l.strip_prefix(INSTALLER_MARK).map(|n| n.trim().to_string()))
    });
    match installer {
        Some(name) => run_installer(g, &name),
        None => scripts::run_guest(g, path, args),
    }
}

/// GPU passthrough: LXC device/cgroup lines for /dev/nvidia*, or a VM `hostpciN`.
pub(super) fn has_gpu(g: &Guest) -> bool {
    match g.kind {
        GuestKind::Lxc => {
            g.lxc.iter().any(|(k, v)| {
                (k.starts_with("lxc.cgroup2.devices.allow") && v.contains("195:"))
                    || (k == "lxc.mount.entry" && v.contains("/dev/nvidia"))
            }) || g.config.iter().any(|(k, v)| k.starts_with("dev") && v.contains("/dev/nvidia"))
        }
        GuestKind::Qemu => g.config.keys().any(|k| k.starts_with("hostpci")),
    }
}

pub(super) fn nvidia_smi(g: &Guest) -> Output {
    if !has_gpu(g) {
        return out(9, "", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.");
    }
    done("+-----------------------------------------------------------------------------------------+\n| NVIDIA-SMI 550.120                Driver Version: 550.120        CUDA Version: 12.4     |\n|   0  NVIDIA GeForce RTX 3090        Off |   00000000:01:00.0 Off |                  N/A |\n+-----------------------------------------------------------------------------------------+\n")
}

pub(super) fn ip(g: &Guest, id: u32, args: &[&str]) -> Output {
    let shows = args.contains(&"addr") && args.contains(&"show");
    let dev = args.iter().position(|a| *a == "dev").and_then(|i| args.get(i + 1)).copied().unwrap_or("eth0");
    if !shows {
        return out(127, "", format!("sim: ip {} not simulated in guest", args.join(" ")));
    }
    if dev != "eth0" {
        return out(1, "", format!("Device \"{dev}\" does not exist."));
    }
    let Some((cidr, dynamic)) = eth0_address(g, id) else {
        return done("");
    };
    let (addr, prefix) = cidr.split_once('/').unwrap_or((&cidr, "24"));
    let brd = broadcast(addr, prefix.parse().unwrap_or(24));
    done(format!(
        "2: eth0    inet {addr}/{prefix} brd {brd} scope global {}eth0\\       valid_lft forever preferred_lft forever\n",
        if dynamic { "dynamic " } else { "" }
    ))
}

pub(super) fn broadcast(addr: &str, prefix: u32) -> String {
    let Ok(ip) = addr.parse::<std::net::Ipv4Addr>() else {
        return addr.to_string();
    };
    let host_bits = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
    std::net::Ipv4Addr::from(u32::from(ip) | host_bits).to_string()
}
