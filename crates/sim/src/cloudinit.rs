//! What a VM's cloud-init reads from its config drive (qemu-server `PVE::QemuServer::Cloudinit`):
//! the user-data is the `cicustom user=` snippet when one is set — it *replaces* the generated
//! document, so `ciuser`, `sshkeys`, the hostname and `ciupgrade` are then never applied — and
//! otherwise the document `cloudinit_userdata` generates from the config. A `vendor=` snippet
//! comes alongside and leaves the user-data alone.
//!
//! Written from the contract (contracts §I.5 and `cloudinit_userdata`), not from phoenix's
//! printers: the simulator is a witness of what the VM would see.

use super::state::SimState;

/// The documents a VM's first boot reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seed {
    pub user_data: String,
    pub vendor_data: Option<String>,
}

/// Where cloud-init keeps the documents it ran (a test reads what the VM saw there).
pub(crate) const USER_DATA_PATH: &str = "/var/lib/cloud/instance/user-data.txt";
pub(crate) const VENDOR_DATA_PATH: &str = "/var/lib/cloud/instance/vendor-data.txt";

/// The seed of VM `id`, or `None` when it has no cloud-init drive (`ideN`/`scsiN` `…cloudinit`).
pub(crate) fn seed(st: &SimState, id: u32) -> Option<Seed> {
    let g = st.guests.get(&id)?;
    if !g.config.values().any(|v| v.contains("-cloudinit")) {
        return None;
    }
    let custom = g.config.get("cicustom").map(String::as_str).unwrap_or("");
    let snippet = |kind: &str| {
        custom
            .split(',')
            .find_map(|p| p.strip_prefix(kind).and_then(|r| r.strip_prefix('=')))
            .and_then(|volid| super::qm::snippet_path(st, volid))
            .and_then(|path| st.files.get(&path))
            .map(|f| String::from_utf8_lossy(&f.content).into_owned())
    };
    let user_data = snippet("user").unwrap_or_else(|| generated_user_data(&g.config, id));
    Some(Seed { user_data, vendor_data: snippet("vendor") })
}

/// `cloudinit_userdata`: hostname/fqdn, user, keys, `chpasswd`, the default user, upgrade.
fn generated_user_data(config: &indexmap::IndexMap<String, String>, id: u32) -> String {
    let name = config.get("name").cloned().unwrap_or_else(|| format!("VM{id}"));
    let (hostname, fqdn) = match (name.split_once('.'), config.get("searchdomain")) {
        (Some((short, _)), _) => (short.to_string(), name.clone()),
        (None, Some(search)) => (name.clone(), format!("{name}.{search}")),
        (None, None) => (name.clone(), name.clone()),
    };
    let mut out = format!("#cloud-config\nhostname: {hostname}\nmanage_etc_hosts: true\nfqdn: {fqdn}\n");
    let user = config.get("ciuser");
    if let Some(u) = user {
        out.push_str(&format!("user: {u}\n"));
        if u == "root" {
            out.push_str("disable_root: False\n");
        }
    }
    if config.contains_key("cipassword") {
        out.push_str("password: **********\n");
    }
    if let Some(keys) = config.get("sshkeys") {
        out.push_str("ssh_authorized_keys:\n");
        for k in uri_unescape(keys).lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&format!("  - {k}\n"));
        }
    }
    out.push_str("chpasswd:\n  expire: False\n");
    if user.is_none_or(|u| u != "root") {
        out.push_str("users:\n  - default\n");
    }
    if config.get("ciupgrade").is_none_or(|v| v != "0") {
        out.push_str("package_upgrade: true\n");
    }
    out
}

/// `URI::Escape::uri_unescape` (qm stores `sshkeys` escaped).
fn uri_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_document_follows_cloudinit_userdata() {
        let mut c = indexmap::IndexMap::new();
        c.insert("name".to_string(), "web".to_string());
        c.insert("searchdomain".to_string(), "lan".to_string());
        c.insert("ciuser".to_string(), "ops".to_string());
        c.insert("sshkeys".to_string(), "ssh-ed25519%20AAAA%20me%40h%0A".to_string());
        assert_eq!(
            generated_user_data(&c, 7),
            "#cloud-config\nhostname: web\nmanage_etc_hosts: true\nfqdn: web.lan\nuser: ops\n\
             ssh_authorized_keys:\n  - ssh-ed25519 AAAA me@h\nchpasswd:\n  expire: False\nusers:\n  - default\n\
             package_upgrade: true\n"
        );
        assert_eq!(uri_unescape("100%"), "100%");
        assert_eq!(uri_unescape("%4"), "%4");
    }
}
