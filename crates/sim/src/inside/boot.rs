//! What happens inside a guest when it starts and stops: its address, hostname, cloud-init.

use super::*;

/// A stable made-up DHCP lease per guest.
pub(crate) fn dhcp_lease(id: u32) -> String {
    format!("10.0.{}.{}", (id / 250) % 250, id % 250 + 2)
}

/// The guest's eth0 address as `addr/prefix`, or `None` (no address configured).
pub(crate) fn eth0_address(g: &Guest, id: u32) -> Option<(String, bool)> {
    let ip = match g.kind {
        GuestKind::Lxc => {
            g.config.get("net0").and_then(|n| n.split(',').find_map(|p| p.strip_prefix("ip="))).map(String::from)?
        }
        GuestKind::Qemu => g
            .config
            .get("ipconfig0")
            .and_then(|c| c.split(',').find_map(|p| p.strip_prefix("ip=")))
            .map(String::from)
            .unwrap_or_else(|| "dhcp".into()),
    };
    if ip.contains('/') {
        Some((ip, false))
    } else if ip == "dhcp" && g.status == PowerState::Running {
        Some((format!("{}/24", dhcp_lease(id)), true))
    } else {
        None
    }
}

/// Boot: enabled units start; a VM from a cloud image runs cloud-init's first boot once with
/// the documents of its config drive (`seed`), keeping them where cloud-init does.
pub(crate) fn on_boot(g: &mut Guest, seed: Option<&crate::cloudinit::Seed>) {
    if let Some(seed) =
        seed.filter(|_| g.kind == GuestKind::Qemu && !g.os.cloud_init_done && g.os.packages.contains("cloud-init"))
    {
        g.os.cloud_init_done = true;
        g.files.insert(crate::cloudinit::USER_DATA_PATH.into(), file(seed.user_data.clone(), 0o600));
        run_cloud_config(g, &seed.user_data);
        if let Some(vendor) = &seed.vendor_data {
            g.files.insert(crate::cloudinit::VENDOR_DATA_PATH.into(), file(vendor.clone(), 0o600));
            run_cloud_config(g, vendor);
        }
    }
    mounts::mount_at_boot(g);
    for u in g.os.units.values_mut() {
        u.active = u.enabled;
    }
}

pub(crate) fn on_shutdown(g: &mut Guest) {
    for u in g.os.units.values_mut() {
        u.active = false;
    }
    g.os.mounts.clear();
}

pub(super) fn add_user(os: &mut GuestOs, name: &str) {
    if !os.users.contains_key(name) {
        let uid = (1000..).find(|n| !os.users.values().any(|u| u == n)).unwrap_or(1000);
        os.users.insert(name.to_string(), uid);
        os.groups.insert(name.to_string());
    }
}

/// The parts of a `#cloud-config` user-data document the simulator follows: `packages:` (list
/// items), `users:` (`- name: x`) and `runcmd:` items of the form `systemctl enable --now <u>`.
pub(super) fn run_cloud_config(g: &mut Guest, text: &str) {
    let mut section = "";
    // `user:` renames the default user; `ssh_authorized_keys:` go to that user.
    let mut user: Option<String> = None;
    let mut keys: Vec<String> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            section = line.split(':').next().unwrap_or("").trim();
            if let Some(name) = line.strip_prefix("user:").map(str::trim).filter(|n| !n.is_empty()) {
                add_user(&mut g.os, name);
                user = Some(name.to_string());
            }
            continue;
        }
        let item = line.trim().trim_start_matches('-').trim();
        match section {
            "ssh_authorized_keys" => keys.push(item.to_string()),
            "packages" => {
                let p = item.trim_matches(|c| c == '"' || c == '\'');
                if catalogue::package(p).is_some() {
                    install_with_deps(&mut g.files, &mut g.os, p);
                }
            }
            "users" => {
                if let Some(n) = item.strip_prefix("name:") {
                    add_user(&mut g.os, n.trim());
                }
            }
            "runcmd" => {
                let words: Vec<String> = item
                    .trim_matches(|c| c == '[' || c == ']')
                    .split([' ', ','])
                    .map(|w| w.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
                if words.first().map(String::as_str) == Some("systemctl") {
                    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
                    systemctl(g, &args);
                }
            }
            _ => {}
        }
    }
    if !keys.is_empty() {
        let owner = user.unwrap_or_else(|| "ubuntu".into());
        let home = if owner == "root" { "/root".to_string() } else { format!("/home/{owner}") };
        let mut f = file(keys.join("\n") + "\n", 0o600);
        f.owner = owner.clone();
        f.group = owner;
        g.files.insert(format!("{home}/.ssh/authorized_keys"), f);
    }
}
