//! Proxmox property strings (`net0`, `mp0`, `rootfs`, `features`, `agent`, `ipconfig0`, …):
//! comma-separated `key=value` lists where one "default key" may appear as a bare value.
//!
//! Parsing follows pve-common `JSONSchema::parse_property_string` (split on `,`, empty parts
//! skipped, duplicate keys rejected, `key=` with an empty value rejected); printing follows
//! `print_property_string` (default key's value first without `key=`, then required keys sorted,
//! then the other keys sorted, `disk-size` values as `8G`). Phoenix compares *canonical* forms,
//! so `bridge=vmbr0,name=eth0` read from an old config equals what a fresh `pct set` writes.

use std::fmt;

/// Why a property string could not be read. Display texts are the ones the Proxmox tools die
/// with, so the simulator can reuse them; callers add the option name (`net0: …`) as context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropStringError {
    #[error("duplicate key in comma-separated list property: {key}")]
    DuplicateKey { key: String },
    #[error("value without key, but schema does not define a default key")]
    NoDefaultKey { part: String },
    #[error("missing value for key '{key}'")]
    EmptyValue { key: String },
    #[error("invalid key in comma-separated list property: {key}")]
    UnknownKey { key: String },
    #[error("{key}: property is missing and it is not optional")]
    MissingRequired { key: String },
    #[error("{key}: invalid value '{value}' ({reason})")]
    InvalidValue { key: String, value: String, reason: &'static str },
}

/// An ordered list of `(key, value)` pairs, in the order they were read (or set).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PropString {
    pairs: Vec<(String, String)>,
}

impl PropString {
    /// An empty property string.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse `s`. `default_key`: the key a bare value belongs to (`mp0: local-zfs:subvol…,mp=/x`
    /// → `volume`). Keys are not checked against a schema here; see [`Format`] for that.
    pub fn parse(s: &str, default_key: Option<&str>) -> Result<PropString, PropStringError> {
        let mut out = PropString::new();
        for part in s.split(',') {
            // Perl skips blank parts (`a=1,,b=2`, trailing comma).
            if part.trim().is_empty() {
                continue;
            }
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => {
                    if k.is_empty() {
                        return Err(PropStringError::NoDefaultKey { part: part.to_string() });
                    }
                    if v.is_empty() {
                        return Err(PropStringError::EmptyValue { key: k.to_string() });
                    }
                    (k, v)
                }
                None => match default_key {
                    Some(dk) => (dk, part),
                    None => return Err(PropStringError::NoDefaultKey { part: part.to_string() }),
                },
            };
            if out.get(key).is_some() {
                return Err(PropStringError::DuplicateKey { key: key.to_string() });
            }
            out.pairs.push((key.to_string(), value.to_string()));
        }
        Ok(out)
    }

    /// Parse and check against a schema: unknown keys and missing required keys are errors.
    pub fn parse_format(s: &str, format: &Format) -> Result<PropString, PropStringError> {
        let ps = Self::parse(s, format.default_key)?;
        ps.check(format)?;
        Ok(ps)
    }

    /// Parse host output against a schema, leniently: required keys and sizes are checked, but a
    /// key the schema does not list is kept, not refused — a host newer than phoenix writes keys
    /// phoenix does not know (PVE 9: mount `idmap`/`keepattrs`), and the printers keep them.
    pub fn parse_host(s: &str, format: &Format) -> Result<PropString, PropStringError> {
        let ps = Self::parse(s, format.default_key)?;
        ps.check(&Format { keys: None, ..*format })?;
        Ok(ps)
    }

    /// Check keys against a schema (unknown keys, missing required keys incl. the default key
    /// when the schema marks it required).
    pub fn check(&self, format: &Format) -> Result<(), PropStringError> {
        if let Some(allowed) = format.keys {
            if let Some(k) = self.keys().find(|k| !allowed.contains(k)) {
                return Err(PropStringError::UnknownKey { key: k.to_string() });
            }
        }
        for req in format.required.iter().chain(format.default_required.then_some(format.default_key).flatten().iter())
        {
            if self.get(req).is_none() {
                return Err(PropStringError::MissingRequired { key: req.to_string() });
            }
        }
        for k in format.sizes {
            if let Some(v) = self.get(k) {
                if parse_size(v).is_none() {
                    return Err(PropStringError::InvalidValue {
                        key: k.to_string(),
                        value: v.to_string(),
                        reason: "not a disk size",
                    });
                }
            }
        }
        Ok(())
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut out = PropString::new();
        for (k, v) in pairs {
            out.set(&k.into(), v);
        }
        out
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    /// A boolean value (`1|on|yes|true` / `0|off|no|false`, case-insensitive, as Perl accepts).
    /// `None` when absent; `Some(Err)` when present but not a boolean.
    pub fn get_bool(&self, k: &str) -> Option<Result<bool, PropStringError>> {
        self.get(k).map(|v| {
            parse_bool(v).ok_or_else(|| PropStringError::InvalidValue {
                key: k.to_string(),
                value: v.to_string(),
                reason: "not a boolean",
            })
        })
    }

    /// Replace the value of `k` in place, or append it.
    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        let v = v.into();
        match self.pairs.iter_mut().find(|(key, _)| key == k) {
            Some(pair) => pair.1 = v,
            None => self.pairs.push((k.to_string(), v)),
        }
    }

    pub fn remove(&mut self, k: &str) {
        self.pairs.retain(|(key, _)| key != k);
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Canonical form per pve-common `print_property_string`: default key's value first with no
    /// `key=`, then `required` keys sorted, then the rest sorted.
    pub fn to_canonical(&self, default_key: Option<&str>, required: &[&str]) -> String {
        self.print(default_key, required, &[])
    }

    /// Canonical form for a schema (also renders its `disk-size` keys like `8G`).
    pub fn to_canonical_format(&self, format: &Format) -> String {
        self.print(format.default_key, format.required, format.sizes)
    }

    fn print(&self, default_key: Option<&str>, required: &[&str], sizes: &[&str]) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(self.pairs.len());
        if let Some(v) = default_key.and_then(|dk| self.get(dk)) {
            parts.push(v.to_string());
        }
        let is_default = |k: &str| Some(k) == default_key;
        let render = |k: &str, v: &str| -> String {
            if sizes.contains(&k) {
                if let Some(bytes) = parse_size(v) {
                    return format!("{k}={}", format_size(bytes));
                }
            }
            format!("{k}={v}")
        };
        let mut req: Vec<&str> = required.iter().copied().filter(|k| !is_default(k)).collect();
        req.sort_unstable();
        req.dedup();
        for k in &req {
            if let Some(v) = self.get(k) {
                parts.push(render(k, v));
            }
        }
        let mut rest: Vec<(&str, &str)> = self.iter().filter(|(k, _)| !is_default(k) && !req.contains(k)).collect();
        rest.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in rest {
            parts.push(render(k, v));
        }
        parts.join(",")
    }
}

/// The pairs in their current order, every key written out (`volume=…,mp=/x`).
impl fmt::Display for PropString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// The schema of one kind of property string (the subset of pve-common's format hashes that
/// matters for reading and re-serialising).
#[derive(Debug, Clone, Copy)]
pub struct Format {
    pub default_key: Option<&'static str>,
    /// Whether a missing default key is an error (rootfs/mpN `volume`).
    pub default_required: bool,
    /// Required keys other than the default key; printed first, sorted.
    pub required: &'static [&'static str],
    /// Allowed keys; `None` = anything (formats phoenix does not model key by key).
    pub keys: Option<&'static [&'static str]>,
    /// Keys of type `disk-size` (`size=8G`).
    pub sizes: &'static [&'static str],
}

/// `netN` of a container [pve-container LXC/Config.pm $netconf_desc].
pub const LXC_NET: Format = Format {
    default_key: None,
    default_required: false,
    required: &["name"],
    keys: Some(&[
        "name",
        "bridge",
        "firewall",
        "gw",
        "gw6",
        "host-managed",
        "hwaddr",
        "ip",
        "ip6",
        "link_down",
        "mtu",
        "rate",
        "tag",
        "trunks",
        "type",
    ]),
    sizes: &[],
};

/// `mpN` of a container.
pub const LXC_MOUNT: Format = Format {
    default_key: Some("volume"),
    default_required: true,
    required: &["mp"],
    keys: Some(&[
        "volume",
        "mp",
        "acl",
        "backup",
        "idmap",
        "keepattrs",
        "mountoptions",
        "quota",
        "replicate",
        "ro",
        "shared",
        "size",
    ]),
    sizes: &["size"],
};

/// `rootfs` of a container.
pub const LXC_ROOTFS: Format = Format {
    default_key: Some("volume"),
    default_required: true,
    required: &[],
    keys: Some(&["volume", "acl", "mountoptions", "quota", "replicate", "ro", "shared", "size"]),
    sizes: &["size"],
};

/// `features` of a container.
pub const LXC_FEATURES: Format = Format {
    default_key: None,
    default_required: false,
    required: &[],
    keys: Some(&["force_rw_sys", "fuse", "keyctl", "mknod", "mount", "nesting"]),
    sizes: &[],
};

/// `startup` (containers and VMs): `[[order=]\d+][,up=\d+][,down=\d+]`.
pub const STARTUP: Format = Format {
    default_key: Some("order"),
    default_required: false,
    required: &[],
    keys: Some(&["order", "up", "down"]),
    sizes: &[],
};

/// `agent` of a VM: `[enabled=]1[,fstrim_cloned_disks=1][,type=virtio][,freeze-fs-on-backup=1]`.
pub const VM_AGENT: Format =
    Format { default_key: Some("enabled"), default_required: false, required: &[], keys: None, sizes: &[] };

/// VM disks (`scsiN`, `virtioN`, `ideN`, `sataN`, `efidisk0`, `unusedN`): `[file=]<volume>,…`.
pub const VM_DISK: Format =
    Format { default_key: Some("file"), default_required: true, required: &[], keys: None, sizes: &["size"] };

/// `ipconfigN` of a VM (cloud-init).
pub const VM_IPCONFIG: Format = Format {
    default_key: None,
    default_required: false,
    required: &[],
    keys: Some(&["ip", "gw", "ip6", "gw6"]),
    sizes: &[],
};

/// NIC models qemu-server accepts as `model=MAC` key aliases [qemu-server $nic_model_list].
pub const VM_NIC_MODELS: &[&str] = &[
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "virtio",
    "vmxnet3",
];

const VM_NET_KEYS: &[&str] =
    &["model", "macaddr", "bridge", "firewall", "link_down", "mtu", "queues", "rate", "tag", "trunks"];

/// Container `netN` as the host prints it: `name` required, keys newer than phoenix kept.
pub fn lxc_net(s: &str) -> Result<PropString, PropStringError> {
    PropString::parse_host(s, &LXC_NET)
}

/// Container `netN` as pve-container writes it: `name=` first, the rest sorted, `type=veth`
/// always present (the writer adds it).
pub fn print_lxc_net(net: &PropString) -> String {
    let mut net = net.clone();
    net.set("type", "veth");
    net.to_canonical_format(&LXC_NET)
}

/// Container `mpN` (`rootfs == false`, `mp` required) or `rootfs`; default key `volume`.
/// Read from the host: keys newer than phoenix are kept.
pub fn lxc_mount(s: &str, rootfs: bool) -> Result<PropString, PropStringError> {
    PropString::parse_host(s, if rootfs { &LXC_ROOTFS } else { &LXC_MOUNT })
}

/// Canonical `mpN` / `rootfs` (`local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=8G`).
pub fn print_lxc_mount(mount: &PropString, rootfs: bool) -> String {
    mount.to_canonical_format(if rootfs { &LXC_ROOTFS } else { &LXC_MOUNT })
}

/// Container `features` (`nesting=1,keyctl=1`); boolean values normalised to `1`/`0`.
pub fn features(s: &str) -> Result<PropString, PropStringError> {
    features_with(PropString::parse_host(s, &LXC_FEATURES)?)
}

/// `features` checked against the schema: a key phoenix does not know is refused (the
/// simulator's `pct set`, which refuses what pve-container refuses).
pub fn features_strict(s: &str) -> Result<PropString, PropStringError> {
    features_with(PropString::parse_format(s, &LXC_FEATURES)?)
}

fn features_with(mut ps: PropString) -> Result<PropString, PropStringError> {
    normalise_bools(&mut ps, &["force_rw_sys", "fuse", "keyctl", "mknod", "nesting"])?;
    Ok(ps)
}

/// Canonical `features`: keys sorted.
pub fn print_features(features: &PropString) -> String {
    features.to_canonical_format(&LXC_FEATURES)
}

/// VM `netN`. Special case: qemu-server's schema has a key alias per NIC model, so
/// `virtio=BC:24:11:…` means `model=virtio,macaddr=BC:24:11:…`; a bare `virtio` is the model
/// alone. The result always uses the `model` / `macaddr` keys.
///
/// Read from the host: keys newer than phoenix are kept.
pub fn vm_net(s: &str) -> Result<PropString, PropStringError> {
    vm_net_with(s, false)
}

/// VM `netN` checked against the schema: an unknown key is refused (the simulator's `qm set`).
pub fn vm_net_strict(s: &str) -> Result<PropString, PropStringError> {
    vm_net_with(s, true)
}

fn vm_net_with(s: &str, strict: bool) -> Result<PropString, PropStringError> {
    let raw = PropString::parse(s, Some("model"))?;
    let mut out = PropString::new();
    for (k, v) in raw.iter() {
        let (key, value) = if VM_NIC_MODELS.contains(&k) {
            // The alias sets both keys; a second model spelling is a duplicate model.
            if out.get("model").is_some() {
                return Err(PropStringError::DuplicateKey { key: "model".into() });
            }
            out.set("model", k);
            ("macaddr", v)
        } else {
            (k, v)
        };
        if strict && !VM_NET_KEYS.contains(&key) {
            return Err(PropStringError::UnknownKey { key: key.to_string() });
        }
        if out.get(key).is_some() {
            return Err(PropStringError::DuplicateKey { key: key.to_string() });
        }
        out.set(key, value);
    }
    if out.get("model").is_none() {
        return Err(PropStringError::MissingRequired { key: "model".into() });
    }
    Ok(out)
}

/// VM `netN` as qemu-server writes it: `model=MAC` first (just `model` without a MAC), then
/// the other keys sorted.
pub fn print_vm_net(net: &PropString) -> String {
    let mut head = match (net.get("model"), net.get("macaddr")) {
        (Some(m), Some(mac)) => format!("{m}={mac}"),
        (Some(m), None) => m.to_string(),
        (None, Some(mac)) => format!("macaddr={mac}"),
        (None, None) => String::new(),
    };
    let mut rest = net.clone();
    rest.remove("model");
    rest.remove("macaddr");
    let tail = rest.to_canonical(None, &[]);
    if !head.is_empty() && !tail.is_empty() {
        head.push(',');
    }
    head + tail.as_str()
}

/// `startup: [[order=]\d+][,up=\d+][,down=\d+]` — seconds for up/down delays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Startup {
    pub order: Option<u32>,
    pub up: Option<u32>,
    pub down: Option<u32>,
}

impl fmt::Display for Startup {
    /// `order=2,up=30` — the form phoenix writes (keys spelled out, order/up/down).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [("order", self.order), ("up", self.up), ("down", self.down)]
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Parse a `startup` value; every value must be a non-negative integer.
pub fn startup(s: &str) -> Result<Startup, PropStringError> {
    let ps = PropString::parse_format(s, &STARTUP)?;
    let num = |k: &str| -> Result<Option<u32>, PropStringError> {
        ps.get(k)
            .map(|v| {
                v.parse::<u32>().map_err(|_| PropStringError::InvalidValue {
                    key: k.to_string(),
                    value: v.to_string(),
                    reason: "not a non-negative integer",
                })
            })
            .transpose()
    };
    Ok(Startup { order: num("order")?, up: num("up")?, down: num("down")? })
}

/// Perl's boolean spellings (`1|on|yes|true`, `0|off|no|false`, any case).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    }
}

/// Rewrite the given boolean keys to `1`/`0`, as the Proxmox writers do.
pub fn normalise_bools(ps: &mut PropString, keys: &[&str]) -> Result<(), PropStringError> {
    for k in keys {
        if let Some(b) = ps.get_bool(k).transpose()? {
            ps.set(k, if b { "1" } else { "0" });
        }
    }
    Ok(())
}

/// A `disk-size` value in bytes: `\d+(\.\d+)?[KMGT]?`, no suffix = bytes (pve-common parse_size).
pub fn parse_size(v: &str) -> Option<u64> {
    let (num, mult): (&str, u64) = match v.as_bytes().last()? {
        b'K' => (&v[..v.len() - 1], 1 << 10),
        b'M' => (&v[..v.len() - 1], 1 << 20),
        b'G' => (&v[..v.len() - 1], 1 << 30),
        b'T' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (num, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = int.parse::<u64>().ok()?.checked_mul(mult)?;
    match frac {
        None => Some(whole),
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            // Perl truncates `int($n * $mult)`; do the same with integer arithmetic.
            let digits = f.len().min(18) as u32;
            let f_val: u64 = f[..digits as usize].parse().ok()?;
            let frac_bytes = (u128::from(f_val) * u128::from(mult)) / 10u128.pow(digits);
            whole.checked_add(u64::try_from(frac_bytes).ok()?)
        }
        Some(_) => None,
    }
}

/// A byte count as pve-common `format_size` prints it: the largest exact unit (`8G`, `3584M`),
/// plain bytes when not a multiple of 1 KiB.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (unit, suffix) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    if bytes == 0 {
        return "0".to_string();
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mount_point_with_bare_volume() {
        let mp = lxc_mount("local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=8G", false).unwrap();
        assert_eq!(mp.get("volume"), Some("local-zfs:subvol-100-disk-1"));
        assert_eq!(mp.get("mp"), Some("/data"));
        assert_eq!(mp.get("size"), Some("8G"));
        assert_eq!(print_lxc_mount(&mp, false), "local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=8G");
    }

    #[test]
    fn mount_point_explicit_volume_key_and_size_normalised() {
        let mp = lxc_mount("size=8192M,mp=/data,volume=/mnt/bind", false).unwrap();
        assert_eq!(print_lxc_mount(&mp, false), "/mnt/bind,mp=/data,size=8G");
    }

    #[test]
    fn mount_point_requires_mp_and_volume() {
        assert_eq!(
            lxc_mount("local-zfs:subvol-100-disk-1", false),
            Err(PropStringError::MissingRequired { key: "mp".into() })
        );
        assert_eq!(lxc_mount("mp=/x", false), Err(PropStringError::MissingRequired { key: "volume".into() }));
        assert!(lxc_mount("local-zfs:subvol-100-disk-0,size=8G", true).is_ok());
    }

    #[test]
    fn lxc_net_old_and_new_order_are_equal_canonically() {
        let old = lxc_net("bridge=vmbr0,hwaddr=66:64:66:64:64:36,ip=dhcp,name=eth0,type=veth").unwrap();
        assert_eq!(print_lxc_net(&old), "name=eth0,bridge=vmbr0,hwaddr=66:64:66:64:64:36,ip=dhcp,type=veth");
        let new =
            lxc_net("name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:5E:7A:01,ip=10.0.0.20/24,type=veth")
                .unwrap();
        assert_eq!(
            print_lxc_net(&new),
            "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:5E:7A:01,ip=10.0.0.20/24,type=veth"
        );
    }

    #[test]
    fn lxc_net_adds_type_and_requires_name() {
        let n = lxc_net("name=eth0,bridge=vmbr0,ip=10.0.0.20/24,gw=10.0.0.1").unwrap();
        assert_eq!(print_lxc_net(&n), "name=eth0,bridge=vmbr0,gw=10.0.0.1,ip=10.0.0.20/24,type=veth");
        assert_eq!(lxc_net("bridge=vmbr0"), Err(PropStringError::MissingRequired { key: "name".into() }));
        assert_eq!(
            PropString::parse_format("name=eth0,colour=red", &LXC_NET),
            Err(PropStringError::UnknownKey { key: "colour".into() })
        );
        assert!(matches!(lxc_net("eth0,bridge=vmbr0"), Err(PropStringError::NoDefaultKey { .. })));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(PropString::parse("a=1,a=2", None), Err(PropStringError::DuplicateKey { key: "a".into() }));
        assert_eq!(PropString::parse("a=", None), Err(PropStringError::EmptyValue { key: "a".into() }));
        assert_eq!(
            PropString::parse("x,size=1G,y", Some("volume")),
            Err(PropStringError::DuplicateKey { key: "volume".into() })
        );
        assert_eq!(
            PropStringError::DuplicateKey { key: "a".into() }.to_string(),
            "duplicate key in comma-separated list property: a"
        );
    }

    #[test]
    fn blank_parts_skipped_and_value_may_contain_equals() {
        let p = PropString::parse("a=1,,b=x=y,", None).unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(p.get("b"), Some("x=y"));
        assert!(PropString::parse("", None).unwrap().is_empty());
    }

    #[test]
    fn set_get_remove_keep_order() {
        let mut p = PropString::parse("b=2,a=1", None).unwrap();
        p.set("b", "3");
        p.set("c", "4");
        assert_eq!(p.to_string(), "b=3,a=1,c=4");
        p.remove("a");
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["b", "c"]);
        assert_eq!(p.get("a"), None);
        assert_eq!(p.to_canonical(Some("c"), &[]), "4,b=3");
    }

    #[test]
    fn vm_net_model_alias() {
        let n = vm_net("virtio=BC:24:11:12:34:56,bridge=vmbr0,firewall=1").unwrap();
        assert_eq!(n.get("model"), Some("virtio"));
        assert_eq!(n.get("macaddr"), Some("BC:24:11:12:34:56"));
        assert_eq!(n.get("bridge"), Some("vmbr0"));
        assert_eq!(print_vm_net(&n), "virtio=BC:24:11:12:34:56,bridge=vmbr0,firewall=1");

        let bare = vm_net("virtio,bridge=vmbr0").unwrap();
        assert_eq!(bare.get("model"), Some("virtio"));
        assert_eq!(bare.get("macaddr"), None);
        assert_eq!(print_vm_net(&bare), "virtio,bridge=vmbr0");

        let spelled = vm_net("tag=5,bridge=vmbr1,model=e1000,macaddr=AA:BB:CC:DD:EE:FF").unwrap();
        assert_eq!(print_vm_net(&spelled), "e1000=AA:BB:CC:DD:EE:FF,bridge=vmbr1,tag=5");

        assert_eq!(vm_net("bridge=vmbr0"), Err(PropStringError::MissingRequired { key: "model".into() }));
        assert_eq!(
            vm_net("virtio=AA:BB:CC:DD:EE:FF,e1000=AA:BB:CC:DD:EE:00"),
            Err(PropStringError::DuplicateKey { key: "model".into() })
        );
        assert_eq!(vm_net_strict("virtio,speed=9"), Err(PropStringError::UnknownKey { key: "speed".into() }));
    }

    /// Host output from a release newer than phoenix: unknown keys are kept (and printed back),
    /// what phoenix needs is still checked.
    #[test]
    fn host_output_with_newer_keys_is_read() {
        let mp =
            lxc_mount("tank:subvol-101-disk-1,mp=/data,idmap=u:0:100000:65536,keepattrs=1,size=8G", false).unwrap();
        assert_eq!((mp.get("idmap"), mp.get("keepattrs")), (Some("u:0:100000:65536"), Some("1")));
        assert_eq!(
            print_lxc_mount(&mp, false),
            "tank:subvol-101-disk-1,mp=/data,idmap=u:0:100000:65536,keepattrs=1,size=8G"
        );
        let bind = lxc_mount("/srv/x,mp=/x,future-key=on", false).unwrap();
        assert_eq!(bind.get("future-key"), Some("on"));
        let n = lxc_net("name=eth0,bridge=vmbr0,host-tunnel=1,hwaddr=BC:24:11:00:00:01,type=veth").unwrap();
        assert_eq!(n.get("host-tunnel"), Some("1"));
        assert!(print_lxc_net(&n).contains("host-tunnel=1"));
        let v = vm_net("virtio=BC:24:11:00:00:02,bridge=vmbr0,host-tunnel=1").unwrap();
        assert_eq!(print_vm_net(&v), "virtio=BC:24:11:00:00:02,bridge=vmbr0,host-tunnel=1");
        assert_eq!(features("nesting=1,newfeature=1").unwrap().get("newfeature"), Some("1"));
        assert!(features_strict("nesting=1,newfeature=1").is_err());
        // Still strict where phoenix relies on a value.
        assert_eq!(lxc_net("bridge=vmbr0,host-tunnel=1"), Err(PropStringError::MissingRequired { key: "name".into() }));
        assert!(lxc_mount("tank:1,mp=/x,size=lots", false).is_err());
    }

    #[test]
    fn startup_forms() {
        assert_eq!(startup("order=2,up=30").unwrap(), Startup { order: Some(2), up: Some(30), down: None });
        assert_eq!(startup("3,down=10").unwrap(), Startup { order: Some(3), up: None, down: Some(10) });
        assert_eq!(startup("up=5").unwrap().to_string(), "up=5");
        assert_eq!(startup("down=1,order=2").unwrap().to_string(), "order=2,down=1");
        assert!(matches!(startup("order=x"), Err(PropStringError::InvalidValue { .. })));
        assert!(matches!(startup("order=1,late=2"), Err(PropStringError::UnknownKey { .. })));
    }

    #[test]
    fn features_normalised_and_sorted() {
        let f = features("nesting=yes,keyctl=1,mount=nfs;cifs").unwrap();
        assert_eq!(print_features(&f), "keyctl=1,mount=nfs;cifs,nesting=1");
        assert!(matches!(features("nesting=maybe"), Err(PropStringError::InvalidValue { .. })));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8G"), Some(8 << 30));
        assert_eq!(parse_size("3584M"), Some(3584 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("8g"), None);
        assert_eq!(parse_size("1."), None);
        assert_eq!(format_size(8 << 30), "8G");
        assert_eq!(format_size(3584 << 20), "3584M");
        assert_eq!(format_size(1 << 40), "1T");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
    }

    proptest! {
        /// A canonical string parses and re-prints to itself.
        #[test]
        fn canonical_roundtrip(
            default in proptest::option::of("[a-z0-9:/_-]{1,12}"),
            pairs in proptest::collection::btree_map("[a-z]{1,6}", "[A-Za-z0-9:/._-]{1,10}", 0..6),
        ) {
            // `volume` is the default key here; drop it from the keyed pairs.
            let mut parts: Vec<String> = Vec::new();
            if let Some(d) = &default { parts.push(d.clone()); }
            for (k, v) in pairs.iter().filter(|(k, _)| k.as_str() != "volume") {
                parts.push(format!("{k}={v}"));
            }
            let s = parts.join(",");
            let ps = PropString::parse(&s, Some("volume")).unwrap();
            prop_assert_eq!(ps.to_canonical(Some("volume"), &[]), s);
        }

        #[test]
        fn size_roundtrip(n in 0u64..(1u64 << 50)) {
            let printed = format_size(n);
            prop_assert_eq!(parse_size(&printed), Some(n));
        }
    }
}
