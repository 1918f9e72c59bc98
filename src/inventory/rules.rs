//! The formats Proxmox (and the files phoenix writes) accept, as pure checks. Each rule
//! follows the source that enforces it, so `check` refuses what a run would fail on:
//! - pve-common `PVE/JSONSchema.pm`: `pve-vmid` (`[1-9][0-9]{2,8}`), `dns-name`, `pve-configid`
//!   (snapshot names, at most 40 characters), `pve-storage-id` (`[a-z][a-z0-9\-_.]*[a-z0-9]`,
//!   case-insensitive), `pve-bridge-id` (`[-_.\w\d]+`), `mac-addr` (unicast: the I/G bit clear),
//!   `CIDRv4` (prefix 8–32), `pve-iface`, `timezone` (UTC or a zone.tab entry);
//! - pve-container `PVE/LXC/Config.pm` and `API2/LXC/Snapshot.pm`: memory ≥ 16 MiB, cores
//!   1–8192, hostname a DNS name of at most 255 characters, `current`/`vzdump` reserved as
//!   snapshot names, `lxc.*` lines as `key: value` or `key = value`;
//! - qemu-server: memory ≥ 16 MiB, cores ≥ 1, the VM name a DNS name;
//! - pve-firewall `PVE/Firewall.pm`: ports and ranges up to 65535 in lists of at most 15,
//!   ports only with a protocol that has them, interfaces (`netN` on guests), address lists;
//! - exports(5): clients (`*`, host names with wildcards, addresses, networks, `@netgroup`)
//!   and the option names nfs-utils knows.
//!
//! A rule returns `Err(label)`: what is wrong, short enough for a diagnostic label.

use std::net::{IpAddr, Ipv4Addr};

type Check = Result<(), String>;

/// A named format: the message says "is not {what}", the hint is `help`.
pub(crate) struct Format {
    pub what: &'static str,
    pub help: &'static str,
    pub check: fn(&str) -> Check,
}

/// Characters that change how text looks or reads without being control characters
/// (direction overrides, zero-width, line and paragraph separators).
pub(crate) fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{061c}')
}

/// The first control character (C0, DEL, C1) or invisible direction/line control in `s`,
/// with its character index.
pub(crate) fn control_char(s: &str) -> Option<(usize, char)> {
    s.chars().enumerate().find(|(_, c)| c.is_control() || is_invisible_control(*c))
}

/// A name for a control character in a label.
pub(crate) fn control_name(c: char) -> String {
    match c {
        '\n' => "a line break (\\n)".into(),
        '\r' => "a carriage return (\\r)".into(),
        '\t' => "a tab (\\t)".into(),
        '\0' => "a NUL byte (\\x00)".into(),
        '\u{1b}' => "an escape character (\\x1b)".into(),
        c => format!("the control character {}", super::diagnostic::escaped(c)),
    }
}

fn first_bad(s: &str, ok: impl Fn(char) -> bool) -> Check {
    match s.chars().find(|c| !ok(*c)) {
        Some(c) => Err(format!("`{}` is not allowed here", super::diagnostic::escaped(c))),
        None => Ok(()),
    }
}

// ---- names ----

fn dns_label(l: &str) -> Check {
    if l.is_empty() {
        return Err("empty label (two dots, or a dot at an end)".into());
    }
    first_bad(l, |c| c.is_ascii_alphanumeric() || c == '-')?;
    if l.starts_with('-') || l.ends_with('-') {
        return Err("a label starts or ends with `-`".into());
    }
    if l.len() > 63 {
        return Err("a label is longer than 63 characters".into());
    }
    Ok(())
}

pub(crate) fn dns_name(s: &str) -> Check {
    if s.len() > 255 {
        return Err("longer than 255 characters".into());
    }
    s.split('.').try_for_each(dns_label)
}

pub(crate) const DNS_NAME: Format = Format {
    what: "a valid DNS name",
    help: "use letters, digits and `-` in dot-separated labels that do not start or end with `-`, e.g. \"web-01\" (Proxmox's dns-name format)",
    check: dns_name,
};

pub(crate) fn storage_id(s: &str) -> Check {
    if s.len() < 2 {
        return Err("shorter than 2 characters".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))?;
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("does not start with a letter".into());
    }
    if !s.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("does not end with a letter or digit".into());
    }
    Ok(())
}

pub(crate) const STORAGE_ID: Format = Format {
    what: "a valid Proxmox storage id",
    help: "a storage id starts with a letter, ends with a letter or digit and holds only letters, digits, `-`, `_` and `.`, e.g. \"local-lvm\"",
    check: storage_id,
};

fn bridge_like(s: &str) -> Check {
    if s.is_empty() {
        return Err("empty".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(crate) const BRIDGE: Format = Format {
    what: "a valid bridge name",
    help: "a bridge name holds only letters, digits, `-`, `_` and `.`, e.g. \"vmbr0\"",
    check: bridge_like,
};

pub(crate) const NET_DEVICE: Format = Format {
    what: "a valid network device name",
    help: "a device name holds only letters, digits, `-`, `_` and `.`, e.g. \"eth0\"",
    check: bridge_like,
};

pub(crate) fn simple_name(s: &str) -> Check {
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))?;
    if s.starts_with(['.', '-']) {
        return Err("starts with `.` or `-`".into());
    }
    Ok(())
}

pub(crate) const SIMPLE_NAME: Format = Format {
    what: "a valid name",
    help: "use letters, digits, `-`, `_` and `.` (not first), e.g. \"vllm_models\"",
    check: simple_name,
};

pub(crate) fn unicast_mac(s: &str) -> Check {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err("expected six hex pairs".into());
    }
    let first = u8::from_str_radix(parts[0], 16).map_err(|_| "expected six hex pairs".to_string())?;
    if first & 1 == 1 {
        return Err("a multicast address (the lowest bit of the first byte is set)".into());
    }
    if parts.iter().all(|p| *p == "00") {
        return Err("the all-zero address".into());
    }
    Ok(())
}

pub(crate) fn snapshot_name(s: &str) -> Check {
    if s == "current" || s == "vzdump" {
        return Err(format!("`{s}` is reserved by Proxmox"));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("does not start with a letter".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))?;
    match s.len() {
        0..=1 => Err("shorter than 2 characters".into()),
        41.. => Err("longer than 40 characters".into()),
        _ => Ok(()),
    }
}

pub(crate) const SNAPSHOT_NAME: Format = Format {
    what: "a valid snapshot name",
    help: "a snapshot name is 2–40 letters, digits, `-` and `_`, starting with a letter (not `current` or `vzdump`), e.g. \"final-form\"",
    check: snapshot_name,
};

pub(crate) fn linux_user(s: &str) -> Check {
    let name = s.strip_suffix('$').unwrap_or(s);
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        return Err("does not start with a lowercase letter or `_`".into());
    }
    first_bad(name, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))?;
    if s.len() > 32 {
        return Err("longer than 32 characters".into());
    }
    Ok(())
}

pub(crate) const LINUX_USER: Format = Format {
    what: "a valid Linux user name",
    help: "a user name is at most 32 lowercase letters, digits, `_` and `-`, starting with a letter or `_`, e.g. \"phoenix_admin\"",
    check: linux_user,
};

pub(crate) fn timezone(s: &str) -> Check {
    if s == "UTC" {
        return Ok(());
    }
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err("expected Area/City".into());
    }
    for p in &parts {
        if p.is_empty() || !p.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err("expected Area/City".into());
        }
        first_bad(p, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))?;
    }
    Ok(())
}

pub(crate) const TIMEZONE: Format = Format {
    what: "a time zone",
    help: "write UTC or an Area/City zone name as in /usr/share/zoneinfo, e.g. \"Europe/Berlin\"",
    check: timezone,
};

pub(crate) fn zfs_pool(s: &str) -> Check {
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("does not start with a letter".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))?;
    let reserved = ["mirror", "raidz", "draid", "spare", "log"];
    if reserved.iter().any(|r| s.starts_with(r)) {
        return Err("a name ZFS reserves".into());
    }
    Ok(())
}

pub(crate) const ZFS_POOL: Format = Format {
    what: "a valid ZFS pool name",
    help: "a pool name starts with a letter and holds letters, digits, `_`, `-`, `.` and `:` (not mirror…, raidz…, draid…, spare…, log…)",
    check: zfs_pool,
};

pub(crate) fn zfs_dataset(s: &str) -> Check {
    for part in s.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err("an empty, `.` or `..` component".into());
        }
        first_bad(part, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))?;
    }
    Ok(())
}

pub(crate) const ZFS_DATASET: Format = Format {
    what: "a valid ZFS dataset name",
    help: "dataset names are `/`-separated components of letters, digits, `_`, `-`, `.` and `:`",
    check: zfs_dataset,
};

pub(crate) fn env_name(s: &str) -> Check {
    if !s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err("does not start with a letter or `_`".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) const ENV_NAME: Format = Format {
    what: "a valid variable name",
    help: "variable names are letters, digits and `_`, starting with a letter or `_`, e.g. \"API_PORT\"",
    check: env_name,
};

pub(crate) fn file_name(s: &str) -> Check {
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))?;
    if s.starts_with('.') {
        return Err("starts with `.`".into());
    }
    Ok(())
}

pub(crate) const FILE_NAME: Format = Format {
    what: "a plain file name",
    help:
        "a file name without folders: letters, digits, `-`, `_`, `.` and `+`, e.g. \"noble-server-cloudimg-amd64.img\"",
    check: file_name,
};

pub(crate) fn docker_image(s: &str) -> Check {
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("does not start with a letter or digit".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
}

pub(crate) const DOCKER_IMAGE: Format = Format {
    what: "a Docker image reference",
    help: "write an image reference such as \"portainer/agent:2.21.5\"",
    check: docker_image,
};

pub(crate) fn url(s: &str) -> Check {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).ok_or("not an http(s) URL")?;
    if rest.is_empty() {
        return Err("no host".into());
    }
    first_bad(s, |c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '`' | '\\' | '<' | '>'))
}

pub(crate) const URL: Format = Format {
    what: "an http(s) URL",
    help: "write a URL such as \"https://10.0.0.10:9000\" (no spaces or quotes)",
    check: url,
};

pub(crate) fn apparmor_profile(s: &str) -> Check {
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
}

pub(crate) const APPARMOR_PROFILE: Format = Format {
    what: "an AppArmor profile name",
    help: "a profile name such as \"unconfined\" or \"lxc-container-default-cgns\"",
    check: apparmor_profile,
};

pub(crate) fn workgroup(s: &str) -> Check {
    if s.len() > 15 {
        return Err("longer than 15 characters".into());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(crate) const WORKGROUP: Format = Format {
    what: "a valid workgroup name",
    help: "at most 15 letters, digits, `-`, `_` and `.`, e.g. \"WORKGROUP\"",
    check: workgroup,
};

// ---- addresses ----

/// An IPv4 address with a prefix length Proxmox accepts (8–32, CIDRv4).
pub(crate) fn cidr_v4(s: &str) -> Check {
    let (addr, len) = s.split_once('/').ok_or("expected address/prefix")?;
    addr.parse::<Ipv4Addr>().map_err(|_| "expected address/prefix".to_string())?;
    match len.parse::<u8>() {
        Ok(8..=32) => Ok(()),
        Ok(_) => Err("Proxmox accepts prefix lengths 8 to 32".into()),
        Err(_) => Err("expected address/prefix".into()),
    }
}

/// One or more IP addresses separated by spaces or commas (`--nameserver`).
pub(crate) fn nameservers(s: &str) -> Check {
    let mut any = false;
    for part in s.split([' ', ',']).filter(|p| !p.is_empty()) {
        any = true;
        if part.parse::<IpAddr>().is_err() {
            return Err(format!("`{}` is not an IP address", super::diagnostic::shown(part)));
        }
    }
    if any {
        Ok(())
    } else {
        Err("no address".into())
    }
}

pub(crate) const NAMESERVERS: Format = Format {
    what: "a list of name server addresses",
    help: "write one or more IP addresses separated by spaces, e.g. \"10.0.0.13 8.8.8.8\"",
    check: nameservers,
};

/// A host-side address list as the Proxmox firewall takes it: addresses, networks and
/// `a-b` ranges (comma-separated, one IP version), an IP set `+name` or an alias.
pub(crate) fn firewall_address(s: &str) -> Check {
    if s.len() > 512 {
        return Err("longer than 512 characters".into());
    }
    let name = |n: &str| {
        n.starts_with(|c: char| c.is_ascii_alphabetic())
            && n.len() >= 2
            && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    };
    if let Some(set) = s.strip_prefix('+') {
        let set = set.strip_prefix("guest/").or_else(|| set.strip_prefix("dc/")).unwrap_or(set);
        return if name(set) { Ok(()) } else { Err("not a valid IP set name".into()) };
    }
    let alias = s.strip_prefix("guest/").or_else(|| s.strip_prefix("dc/")).unwrap_or(s);
    if name(alias) {
        return Ok(());
    }
    let mut v4 = None;
    let parts: Vec<&str> = s.split(',').collect();
    for part in &parts {
        let (first, rest) = match part.split_once('-') {
            Some((a, b)) if parts.len() == 1 => (a, Some(b)),
            Some(_) => return Err("a range cannot be part of a list".into()),
            None => (*part, None),
        };
        let (addr, prefix) = match first.split_once('/') {
            Some((a, p)) if rest.is_none() => (a, Some(p)),
            Some(_) => return Err(format!("`{}` is not an address", super::diagnostic::shown(part))),
            None => (first, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| format!("`{}` is not an address", super::diagnostic::shown(part)))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if let Some(p) = prefix {
            match p.parse::<u8>() {
                Ok(n) if n <= max => {}
                _ => return Err(format!("`{}` has no valid prefix length", super::diagnostic::shown(part))),
            }
        }
        if let Some(end) = rest {
            let end: IpAddr =
                end.parse().map_err(|_| format!("`{}` is not an address range", super::diagnostic::shown(part)))?;
            if end.is_ipv4() != ip.is_ipv4() {
                return Err("a range mixes IPv4 and IPv6".into());
            }
        }
        if *v4.get_or_insert(ip.is_ipv4()) != ip.is_ipv4() {
            return Err("the list mixes IPv4 and IPv6".into());
        }
    }
    Ok(())
}

pub(crate) const FIREWALL_ADDRESS: Format = Format {
    what: "a firewall address",
    help: "write an address, a network (\"10.0.0.0/24\"), a range (\"10.0.0.5-10.0.0.9\"), a comma-separated list, an IP set (\"+name\") or an alias",
    check: firewall_address,
};

/// A port list as pve-firewall parses it: `N`, `N:M` (ascending), service names, comma
/// separated, at most 15 numbers (a range counts two). Port 0 is refused too: it matches no
/// TCP or UDP traffic.
pub(crate) fn firewall_ports(s: &str) -> Check {
    let items: Vec<&str> = s.split(',').collect();
    let mut count = 0;
    for item in &items {
        if item.is_empty() {
            return Err("an empty entry (extra comma)".into());
        }
        let number = |p: &str| -> Result<u32, String> {
            match p.parse::<u32>() {
                Ok(n @ 1..=65535) => Ok(n),
                _ => Err(format!("`{}` is not a port from 1 to 65535", super::diagnostic::shown(p))),
            }
        };
        if let Some((a, b)) = item.split_once(':') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("backwards range `{item}`: write `{b}:{a}`"));
            }
            count += 2;
        } else if item.starts_with(|c: char| c.is_ascii_digit()) {
            number(item)?;
            count += 1;
        } else if item.starts_with(|c: char| c.is_ascii_alphabetic())
            && item.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
        {
            // A service name from /etc/services (or an ICMP type), resolved by pve-firewall.
        } else {
            return Err(format!("`{}` is not a port", super::diagnostic::shown(item)));
        }
    }
    if count > 15 {
        return Err("more than 15 ports (a range counts as two)".into());
    }
    Ok(())
}

pub(crate) const FIREWALL_PORTS: Format = Format {
    what: "a port specification",
    help: "write a port (\"443\"), a range (\"8000:8010\"), a service name or a comma-separated list of at most 15",
    check: firewall_ports,
};

/// A network interface name for host rules (pve-iface).
pub(crate) fn firewall_iface(s: &str) -> Check {
    let (name, suffix) = match s.find([':', '.']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) || !(2..=21).contains(&name.len()) {
        return Err("expected a letter then 1–20 letters, digits or `_`".into());
    }
    first_bad(name, |c| c.is_ascii_alphanumeric() || c == '_')?;
    if let Some(n) = suffix {
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
            return Err("a VLAN or alias suffix must be digits".into());
        }
    }
    Ok(())
}

pub(crate) const FIREWALL_IFACE: Format = Format {
    what: "a network interface name",
    help: "write an interface name such as \"vmbr0\" or \"eth0.10\"",
    check: firewall_iface,
};

/// Guest rules name the guest's network device key (`net0`), as pve-firewall requires.
pub(crate) fn guest_iface(s: &str) -> Check {
    match s.strip_prefix("net") {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err("guest rules take the device key `netN`".into()),
    }
}

pub(crate) const GUEST_IFACE: Format = Format {
    what: "a guest network device key",
    help: "rules of a guest name its network device by key: \"net0\"",
    check: guest_iface,
};

// ---- exports(5) ----

/// One NFS client: `*`, a host name (wildcards allowed), an address, a network, `@netgroup`.
pub(crate) fn nfs_client(s: &str) -> Check {
    if s == "*" {
        return Ok(());
    }
    if let Some(group) = s.strip_prefix('@') {
        return simple_name(group).map_err(|e| format!("netgroup: {e}"));
    }
    if let Some((addr, prefix)) = s.split_once('/') {
        let ip: IpAddr = addr.parse().map_err(|_| "not an address/prefix".to_string())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return match prefix.parse::<u8>() {
            Ok(n) if n <= max => Ok(()),
            _ if ip.is_ipv4() && prefix.parse::<Ipv4Addr>().is_ok() => Ok(()),
            _ => Err("not a valid prefix length or netmask".into()),
        };
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    first_bad(s, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '?'))
}

pub(crate) const NFS_CLIENT: Format = Format {
    what: "an NFS client",
    help: "write an address (\"10.0.0.111\"), a network (\"10.0.0.0/24\"), a host name (wildcards allowed), \"@netgroup\" or \"*\" (see exports(5))",
    check: nfs_client,
};

/// Export options nfs-utils knows (exports(5)); those taking a value are listed with `=`.
const NFS_FLAGS: [&str; 28] = [
    "rw",
    "ro",
    "sync",
    "async",
    "secure",
    "insecure",
    "wdelay",
    "no_wdelay",
    "hide",
    "nohide",
    "crossmnt",
    "subtree_check",
    "no_subtree_check",
    "secure_locks",
    "insecure_locks",
    "auth_nlm",
    "no_auth_nlm",
    "mp",
    "root_squash",
    "no_root_squash",
    "all_squash",
    "no_all_squash",
    "nordirplus",
    "pnfs",
    "no_pnfs",
    "security_label",
    "no_acl",
    "acl",
];
const NFS_VALUED: [&str; 8] = ["mountpoint", "mp", "fsid", "refer", "replicas", "anonuid", "anongid", "sec"];

pub(crate) fn nfs_option(s: &str) -> Check {
    match s.split_once('=') {
        None if NFS_FLAGS.contains(&s) => Ok(()),
        Some((k, v)) if NFS_VALUED.contains(&k) => {
            if v.is_empty() {
                return Err(format!("`{k}=` needs a value"));
            }
            first_bad(v, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@'))
        }
        _ => Err(format!("`{}` is not an export option", super::diagnostic::shown(s))),
    }
}

pub(crate) const NFS_OPTION: Format = Format {
    what: "an NFS export option",
    help: "write one option per entry, as exports(5) names them: \"rw\", \"sync\", \"no_subtree_check\", \"anonuid=1000\", …",
    check: nfs_option,
};

// ---- container options ----

/// Container features `pct set --features` takes.
const PCT_FEATURES: [&str; 6] = ["fuse", "keyctl", "mknod", "mount", "nesting", "force_rw_sys"];

/// A `pct_options` entry: `feature=value` pairs (comma-separated), joined into `--features`.
pub(crate) fn pct_option(s: &str) -> Check {
    for part in s.split(',') {
        let (k, v) =
            part.split_once('=').ok_or_else(|| format!("`{}` is not key=value", super::diagnostic::shown(part)))?;
        let k = k.trim();
        if !PCT_FEATURES.contains(&k) {
            return Err(format!("`{}` is not a container feature", super::diagnostic::shown(k)));
        }
        let v = v.trim();
        if v.is_empty() {
            return Err(format!("`{k}` has no value"));
        }
        first_bad(v, |c| c.is_ascii_alphanumeric() || matches!(c, ';' | '_' | '-' | '.'))?;
    }
    Ok(())
}

pub(crate) const PCT_OPTION: Format = Format {
    what: "a container feature option",
    help: "write feature=value pairs: nesting, keyctl, fuse, mknod, force_rw_sys (0 or 1) or mount (fs;fs), e.g. \"nesting=1\"",
    check: pct_option,
};

/// An `lxc.*` line for the container's config: `lxc.key: value` or `lxc.key = value`, the
/// key first (a `=` inside a `key: value` line would make the key ambiguous).
pub(crate) fn lxc_option(s: &str) -> Check {
    let key_end = s.find([':', '=', ' ']).ok_or("expected `lxc.key: value`")?;
    let key = &s[..key_end];
    if !key.starts_with("lxc.") || key.len() < 5 {
        return Err("the key must start with `lxc.`".into());
    }
    first_bad(key, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))?;
    let rest = s[key_end..].trim_start();
    let sep = rest.chars().next().ok_or("expected `lxc.key: value`")?;
    if sep != ':' && sep != '=' {
        return Err("expected `:` or `=` after the key".into());
    }
    if rest[sep.len_utf8()..].trim().is_empty() {
        // An empty value is not a line LXC reads back as written.
        return Err("the value after the key is empty".into());
    }
    // After `:` the value is verbatim and may hold `=` (`lxc.mount.entry: … create=dir`): the
    // conf line is split at the first separator only (pve-container's raw `lxc.*` lines).
    Ok(())
}

pub(crate) const LXC_OPTION: Format = Format {
    what: "an lxc.* configuration line",
    help: "write one `lxc.key = value` (or `lxc.key: value`) per entry, e.g. \"lxc.apparmor.profile = unconfined\"",
    check: lxc_option,
};

/// `k=v,k=v` ZFS properties.
pub(crate) fn zfs_properties(s: &str) -> Check {
    for part in s.split(',') {
        let (k, v) =
            part.split_once('=').ok_or_else(|| format!("`{}` is not key=value", super::diagnostic::shown(part)))?;
        if k.is_empty() {
            return Err("a property without a name".into());
        }
        first_bad(k, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | ':' | '.'))?;
        if v.is_empty() {
            return Err(format!("`{k}` has no value"));
        }
        first_bad(v, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '@' | '+'))?;
    }
    Ok(())
}

pub(crate) const ZFS_PROPERTIES: Format = Format {
    what: "a ZFS property list",
    help: "write comma-separated name=value pairs, e.g. \"compression=lz4,recordsize=128K\"",
    check: zfs_properties,
};

const CONTENT_TYPES: [&str; 7] = ["images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"];

pub(crate) fn content_types(s: &str) -> Check {
    for part in s.split(',') {
        if !CONTENT_TYPES.contains(&part.trim()) {
            return Err(format!("`{}` is not a content type", super::diagnostic::shown(part)));
        }
    }
    Ok(())
}

pub(crate) const CONTENT_TYPES_FORMAT: Format = Format {
    what: "a Proxmox content type list",
    help: "write a comma-separated list of images, rootdir, iso, vztmpl, backup, snippets, import",
    check: content_types,
};

// ---- paths ----

/// An absolute, normalised path that can sit inside a property string or a line of a file:
/// no `.`/`..`/empty components, no whitespace, and none of `,` `;` `=` (which would add a
/// property to `--mpN` or an option to an exports line).
pub(crate) fn host_path(s: &str) -> Check {
    if !s.starts_with('/') {
        return Err("not an absolute path".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || matches!(c, ',' | ';' | '=' | '"' | '\'' | '\\')) {
        return Err(format!("`{}` is not allowed in a path here", super::diagnostic::escaped(c)));
    }
    if s == "/" {
        return Ok(());
    }
    for part in s[1..].split('/') {
        match part {
            "" => return Err("not normalised (`//` or a trailing `/`)".into()),
            "." | ".." => return Err(format!("a `{part}` component")),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) const HOST_PATH: Format = Format {
    what: "an absolute, normalised path",
    help: "write the path from `/` without `.`, `..`, `//`, a trailing `/`, spaces, `,`, `;` or `=`, e.g. \"/mnt/pve/data/101\"",
    check: host_path,
};

/// A pool member: a device path (`/dev/disk/by-id/…`) or a bare device name (`sda`), as
/// `zpool create` takes them.
pub(crate) fn disk(s: &str) -> Check {
    if s.starts_with('/') {
        host_path(s)
    } else {
        simple_name(s)
    }
}

pub(crate) const DISK: Format = Format {
    what: "a disk",
    help: "write a device path such as \"/dev/disk/by-id/nvme-…\" or a device name such as \"sda\"",
    check: disk,
};

/// The OS template of `pct create`: an absolute file path or a volume id
/// (`storage:vztmpl/name.tar.zst`). It is a positional argument, so it may not start with `-`.
pub(crate) fn os_template(s: &str) -> Check {
    if s.starts_with('/') {
        return host_path(s);
    }
    let (storage, volume) = s.split_once(':').ok_or("neither an absolute path nor storage:volume")?;
    storage_id(storage).map_err(|e| format!("storage `{}`: {e}", super::diagnostic::shown(storage)))?;
    relative_path(volume)?;
    first_bad(volume, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+'))
}

pub(crate) const OS_TEMPLATE: Format = Format {
    what: "an OS template",
    help: "write an absolute path (\"/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst\") or a volume id (\"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst\")",
    check: os_template,
};

/// A path below a folder: relative, only ordinary components.
pub(crate) fn relative_path(s: &str) -> Check {
    if s.starts_with('/') {
        return Err("an absolute path".into());
    }
    for part in s.split('/') {
        match part {
            "" => return Err("not normalised (`//` or a trailing `/`)".into()),
            "." | ".." => return Err(format!("a `{part}` component")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(f: fn(&str) -> Check, good: &[&str], bad: &[&str]) {
        for g in good {
            assert_eq!(f(g), Ok(()), "{g:?} should pass");
        }
        for b in bad {
            assert!(f(b).is_err(), "{b:?} should be refused");
        }
    }

    #[test]
    fn dns_names_as_proxmox() {
        ok(
            dns_name,
            &["web", "Copy-Cuda12.8", "vllm-granite-3.3-8b-fp8", "a", "x1.example.org"],
            &["", "$(id)", "a b", "-a", "a-", "a..b", "a.", "a\nb", "a,b", "é", &"a".repeat(64)],
        );
    }

    #[test]
    fn storage_ids_and_bridges() {
        ok(storage_id, &["local-lvm", "quickOS-vm-disks", "ab", "a.b_c"], &["a", "1abc", "abc-", "a,b", "a b", "a=b"]);
        ok(bridge_like, &["vmbr0", "vmbr0.10", "br_lan-1"], &["", "vmbr0,firewall=1", "vm br", "vmbr0\n"]);
    }

    #[test]
    fn macs_are_unicast_and_not_zero() {
        ok(
            unicast_mac,
            &["52:54:00:AA:bb:01", "02:00:00:00:00:01"],
            &["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "52:54:00:12:34", "52-54-00-12-34-56"],
        );
    }

    #[test]
    fn snapshot_names_users_timezones() {
        ok(
            snapshot_name,
            &["final-form", "initial_clean_state", "ab"],
            &["a", "1st", "current", "vzdump", "a b", &"a".repeat(41)],
        );
        ok(
            linux_user,
            &["phoenix_admin", "heads", "_svc", "machine$"],
            &["Root", "1user", "a b", "a:b", &"a".repeat(33)],
        );
        ok(
            timezone,
            &["UTC", "America/New_York", "Etc/GMT+5", "America/Argentina/Buenos_Aires"],
            &["EST", "../etc/passwd", "Europe/", "/Europe/Berlin", "Europe/Ber lin"],
        );
    }

    #[test]
    fn addresses() {
        ok(
            cidr_v4,
            &["10.0.0.10/24", "10.0.0.10/8", "10.0.0.10/32"],
            &["10.0.0.10", "10.0.0.10/7", "10.0.0.10/33", "x/24"],
        );
        ok(nameservers, &["8.8.8.8", "10.0.0.13 8.8.8.8", "1.1.1.1,2606:4700::1111"], &["", "dns.google", "8.8.8.8;x"]);
        ok(
            firewall_address,
            &["10.0.0.0/24", "10.0.0.1,10.0.0.2", "10.0.0.5-10.0.0.9", "+trusted", "dc/lan", "fe80::1"],
            &["10.0.0.1,fe80::1", "10.0.0.1 -j ACCEPT", "10.0.0.0/33", "1.2.3.4-5.6.7.8,1.1.1.1", "x\ny"],
        );
    }

    #[test]
    fn firewall_ports_and_ifaces() {
        ok(
            firewall_ports,
            &["443", "8000:8010", "80,443", "ssh", "1", "65535"],
            &["0", "65536", "10:5", "80,,443", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "80 -j", "-1"],
        );
        ok(firewall_iface, &["vmbr0", "eth0.10", "bond0:1"], &["0eth", "e", "eth-0", "vmbr0 x"]);
        ok(guest_iface, &["net0", "net12"], &["eth0", "net", "net0,x"]);
    }

    #[test]
    fn exports() {
        ok(
            nfs_client,
            &["*", "10.0.0.111", "10.0.0.0/24", "10.0.0.0/255.255.255.0", "*.example.org", "@trusted"],
            &["10.0.0.1(rw)", "a b", "10.0.0.0/99", "x\ny"],
        );
        ok(
            nfs_option,
            &["rw", "sync", "no_subtree_check", "no_root_squash", "anonuid=1000", "sec=krb5p"],
            &["rw\n/ *(rw", "rw,no_root_squash", "bogus", "anonuid=", "fsid=1 x"],
        );
    }

    #[test]
    fn container_options() {
        ok(pct_option, &["nesting=1", "nesting=1,keyctl=1", "mount=nfs;cifs"], &["nesting", "evil=1", "nesting=1 x"]);
        ok(
            lxc_option,
            &[
                "lxc.apparmor.profile=unconfined",
                "lxc.mount.auto:sys:rw",
                "lxc.cap.keep = a b",
                "lxc.cgroup2.devices.allow: c 195:* rwm",
                "lxc.mount.entry: /a b none bind,create=dir",
            ],
            &["apparmor=x", "lxc.", "lxc.x", "LXC.x=1", "lxc.environment: ", "lxc.x ="],
        );
        ok(zfs_properties, &["recordsize=128K,compression=lz4,quota=1.4T"], &["compression", "a=b c", "=x"]);
    }

    #[test]
    fn paths() {
        ok(
            host_path,
            &["/", "/mnt/pve/quickOS/lxc-persistent-data/101/logs", "/vllm_models"],
            &["relative", "/a/../b", "/a/./b", "/a//b", "/a/", "/tank/x,mp=/", "/a b", "/a;b", "/a=b"],
        );
        ok(relative_path, &["x.sh", "health_checks/check.sh"], &["/etc/passwd", "../x", "a/../../x", "a//b", "./x"]);
        ok(
            os_template,
            &["/var/lib/vz/template/cache/x.tar.zst", "local:vztmpl/debian-12.tar.zst"],
            &["-x", "--delete", "local:../x", "x", "local:vztmpl/a b", "/t.tar.zst,x"],
        );
    }
}
