//! Proxmox property strings (`net0: name=eth0,bridge=vmbr0`, `mp0: <volume>,mp=/data`), read
//! and written the way pve-common's `parse_property_string` / `print_property_string` do:
//!
//! - parts split on `,`; blank parts skipped; `key=value` splits at the first `=` and the value
//!   may hold more `=`; a part without `=` is the schema's default key (`volume`, `file`,
//!   `model`), once;
//! - key aliases: qemu's NIC models (`virtio=<MAC>` sets `model=virtio` and `macaddr=<MAC>`);
//! - schema booleans are normalised to `1`/`0` while parsing; `disk-size` keys print like `8G`;
//! - printing: the default key's value bare (or `model=<MAC>` when its alias partner is set),
//!   then the required keys sorted, then every other key sorted.

use crate::args::parse_bool;
use crate::size;
use std::collections::BTreeMap;

/// The type of one key, as far as reading and printing depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Bool,
    DiskSize,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn text(name: &'static str) -> Key {
    Key { name, kind: Kind::Text, required: false }
}
const fn boolean(name: &'static str) -> Key {
    Key { name, kind: Kind::Bool, required: false }
}
const fn required(name: &'static str) -> Key {
    Key { name, kind: Kind::Text, required: true }
}
const fn disk_size(name: &'static str) -> Key {
    Key { name, kind: Kind::DiskSize, required: false }
}

/// A `format` hash of pve-common, reduced to what the simulator checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Schema {
    pub keys: &'static [Key],
    /// The key a bare part belongs to.
    pub default_key: Option<&'static str>,
    /// `(names, alias, key_alias)`: writing `<name>=<v>` sets `alias=<v>` and `key_alias=<name>`.
    pub key_aliases: Option<(&'static [&'static str], &'static str, &'static str)>,
    /// Keys not listed are accepted as text (formats the simulator does not model key by key).
    pub open: bool,
}

impl Schema {
    fn key(&self, name: &str) -> Option<Key> {
        match self.keys.iter().find(|k| k.name == name) {
            Some(k) => Some(*k),
            // An open schema's unlisted key: optional text.
            None if self.open => Some(text("")),
            None => None,
        }
    }
}

/// Parsed values by key (a Perl hash: the order of writing does not matter).
pub(crate) type Props = BTreeMap<String, String>;

/// Parse `data` for the option `path` (`net0`). The error is the text Proxmox puts after
/// `<path>: invalid format - `.
pub(crate) fn parse(schema: &Schema, data: &str, path: &str) -> Result<Props, String> {
    let mut res = Props::new();
    let mut default_used = false;
    for part in data.split(',') {
        if part.trim().is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                if res.contains_key(k) {
                    return Err(format!("duplicate key in comma-separated list property: {k}"));
                }
                let mut key = k;
                if let Some((names, alias, key_alias)) = schema.key_aliases {
                    if names.contains(&k) {
                        if res.contains_key(key_alias) {
                            return Err(format!("key alias '{key_alias}' is already defined"));
                        }
                        res.insert(key_alias.to_string(), k.to_string());
                        key = alias;
                    }
                }
                let Some(spec) = schema.key(key) else {
                    return Err(format!("invalid key in comma-separated list property: {key}"));
                };
                let value = match spec.kind {
                    Kind::Bool => parse_bool(v).map_or(v.to_string(), |b| if b { "1" } else { "0" }.to_string()),
                    _ => v.to_string(),
                };
                res.insert(key.to_string(), value);
            }
            None => {
                let Some(dk) = schema.default_key else {
                    return Err("value without key, but schema does not define a default key".into());
                };
                if default_used || res.contains_key(dk) {
                    return Err(format!("duplicate key in comma-separated list property: {dk}"));
                }
                default_used = true;
                res.insert(dk.to_string(), part.to_string());
            }
            Some(_) => return Err("missing key in comma-separated list property".into()),
        }
    }
    check(schema, &res, path)?;
    Ok(res)
}

/// pve-common `check_object`: required keys present, booleans and sizes well-formed.
fn check(schema: &Schema, res: &Props, path: &str) -> Result<(), String> {
    let mut errors: Vec<String> = Vec::new();
    for key in schema.keys {
        match res.get(key.name) {
            None if key.required => {
                errors.push(format!("{path}.{}: property is missing and it is not optional", key.name))
            }
            Some(v) if key.kind == Kind::Bool && parse_bool(v).is_none() => {
                errors.push(format!("{path}.{}: type check ('boolean') failed - got '{v}'", key.name))
            }
            Some(v) if key.kind == Kind::DiskSize && size::pve_parse(v).is_none() => errors
                .push(format!("{path}.{}: invalid format - value does not look like a valid disk size: {v}", key.name)),
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("format error\n{}", errors.join("\n")))
    }
}

/// `print_property_string`.
pub(crate) fn print(schema: &Schema, props: &Props) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(props.len());
    let mut done: Vec<&str> = Vec::new();
    let value_of = |key: &str, v: &str| -> String {
        match schema.key(key).map(|k| k.kind) {
            Some(Kind::DiskSize) => size::pve_parse(v).map_or_else(|| v.to_string(), size::pve_format),
            _ => v.to_string(),
        }
    };
    if let Some(dk) = schema.default_key {
        if let Some(v) = props.get(dk) {
            match schema.key_aliases.and_then(|(_, alias, key_alias)| {
                (key_alias == dk).then(|| props.get(alias).map(|a| (alias, a))).flatten()
            }) {
                Some((alias, a)) => {
                    parts.push(format!("{v}={}", value_of(alias, a)));
                    done.push(alias);
                }
                None => parts.push(value_of(dk, v)),
            }
            done.push(dk);
        }
    }
    let required: Vec<&str> = {
        let mut r: Vec<&str> = schema.keys.iter().filter(|k| k.required).map(|k| k.name).collect();
        r.sort_unstable();
        r
    };
    for k in required {
        if let Some(v) = props.get(k).filter(|_| !done.contains(&k)) {
            parts.push(format!("{k}={}", value_of(k, v)));
            done.push(k);
        }
    }
    for (k, v) in props {
        if !done.contains(&k.as_str()) {
            parts.push(format!("{k}={}", value_of(k, v)));
        }
    }
    parts.join(",")
}

// ---- the formats the simulator checks (pve-container LXC/Config.pm, qemu-server) ----

/// Container `netN` ($netconf_desc).
pub(crate) const LXC_NET: Schema = Schema {
    keys: &[
        required("name"),
        text("bridge"),
        boolean("firewall"),
        text("gw"),
        text("gw6"),
        boolean("host-managed"),
        text("hwaddr"),
        text("ip"),
        text("ip6"),
        boolean("link_down"),
        text("mtu"),
        text("rate"),
        text("tag"),
        text("trunks"),
        text("type"),
    ],
    default_key: None,
    key_aliases: None,
    open: false,
};

/// Container `rootfs` ($rootfs_desc).
pub(crate) const LXC_ROOTFS: Schema = Schema {
    keys: &[
        required("volume"),
        boolean("acl"),
        text("mountoptions"),
        boolean("quota"),
        boolean("replicate"),
        boolean("ro"),
        boolean("shared"),
        disk_size("size"),
    ],
    default_key: Some("volume"),
    key_aliases: None,
    open: false,
};

/// Container `mpN` ($mp_desc): rootfs's keys plus `mp` (required) and `backup`.
pub(crate) const LXC_MOUNT: Schema = Schema {
    keys: &[
        required("volume"),
        required("mp"),
        boolean("acl"),
        boolean("backup"),
        // PVE 9 (pve-container 6): id-mapping and attribute keeping for mount points.
        text("idmap"),
        boolean("keepattrs"),
        text("mountoptions"),
        boolean("quota"),
        boolean("replicate"),
        boolean("ro"),
        boolean("shared"),
        disk_size("size"),
    ],
    default_key: Some("volume"),
    key_aliases: None,
    open: false,
};

/// Container `features`.
pub(crate) const LXC_FEATURES: Schema = Schema {
    keys: &[
        boolean("force_rw_sys"),
        boolean("fuse"),
        boolean("keyctl"),
        boolean("mknod"),
        text("mount"),
        boolean("nesting"),
    ],
    default_key: None,
    key_aliases: None,
    open: false,
};

/// qemu-server `$nic_model_list`: each name is a key alias (`virtio=<MAC>`).
pub(crate) const NIC_MODELS: &[&str] = &[
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

/// VM `netN` ($net_fmt): `model` is the default key and required.
pub(crate) const VM_NET: Schema = Schema {
    keys: &[
        required("model"),
        text("macaddr"),
        text("bridge"),
        boolean("firewall"),
        boolean("link_down"),
        text("mtu"),
        text("queues"),
        text("rate"),
        text("tag"),
        text("trunks"),
    ],
    default_key: Some("model"),
    key_aliases: Some((NIC_MODELS, "macaddr", "model")),
    open: false,
};

/// VM disks (`scsiN`, `virtioN`, `sataN`, `ideN`, `efidisk0`, `tpmstate0`): `file` default and
/// required; the many tuning keys are accepted as text, the boolean ones normalised.
pub(crate) const VM_DISK: Schema = Schema {
    keys: &[
        required("file"),
        boolean("backup"),
        boolean("iothread"),
        boolean("replicate"),
        boolean("ro"),
        boolean("shared"),
        boolean("snapshot"),
        boolean("ssd"),
        disk_size("size"),
    ],
    default_key: Some("file"),
    key_aliases: None,
    open: true,
};

/// VM `agent` ($agent_fmt).
pub(crate) const VM_AGENT: Schema = Schema {
    keys: &[boolean("enabled"), boolean("fstrim_cloned_disks"), boolean("freeze-fs-on-backup"), text("type")],
    default_key: Some("enabled"),
    key_aliases: None,
    open: false,
};

/// VM `ipconfigN` (cloud-init).
pub(crate) const VM_IPCONFIG: Schema = Schema {
    keys: &[text("ip"), text("gw"), text("ip6"), text("gw6")],
    default_key: None,
    key_aliases: None,
    open: false,
};

/// VM `cicustom`.
pub(crate) const VM_CICUSTOM: Schema = Schema {
    keys: &[text("meta"), text("network"), text("user"), text("vendor")],
    default_key: None,
    key_aliases: None,
    open: false,
};

/// `startup` (`pve-startup-order`, not a property string): `[[order=]\d+][,up=\d+][,down=\d+]`.
/// Proxmox validates it and stores the text as given.
pub(crate) fn valid_startup(v: &str) -> bool {
    let mut any = false;
    for p in v.split(',') {
        if p.trim().is_empty() {
            continue;
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let ok = digits(p.strip_prefix("order=").unwrap_or(p))
            || p.strip_prefix("up=").is_some_and(digits)
            || p.strip_prefix("down=").is_some_and(digits);
        if !ok {
            return false;
        }
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(schema: &Schema, s: &str) -> String {
        print(schema, &parse(schema, s, "x").unwrap())
    }

    #[test]
    fn lxc_net_name_first_then_sorted() {
        assert_eq!(
            round(&LXC_NET, "bridge=vmbr0,ip=dhcp,name=eth0,firewall=on,hwaddr=BC:24:11:00:00:01,type=veth"),
            "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth"
        );
        assert_eq!(
            parse(&LXC_NET, "bridge=vmbr0", "net0").unwrap_err(),
            "format error\nnet0.name: property is missing and it is not optional"
        );
        assert_eq!(
            parse(&LXC_NET, "name=eth0,colour=red", "net0").unwrap_err(),
            "invalid key in comma-separated list property: colour"
        );
        assert_eq!(
            parse(&LXC_NET, "name=eth0,name=eth1", "net0").unwrap_err(),
            "duplicate key in comma-separated list property: name"
        );
        assert_eq!(
            parse(&LXC_NET, "eth0", "net0").unwrap_err(),
            "value without key, but schema does not define a default key"
        );
        assert_eq!(parse(&LXC_NET, "name=", "net0").unwrap_err(), "missing key in comma-separated list property");
        assert_eq!(
            parse(&LXC_NET, "name=eth0,firewall=maybe", "net0").unwrap_err(),
            "format error\nnet0.firewall: type check ('boolean') failed - got 'maybe'"
        );
    }

    #[test]
    fn mount_point_volume_then_required_mp_then_sorted() {
        assert_eq!(
            round(&LXC_MOUNT, "size=8192M,backup=yes,local-zfs:subvol-100-disk-1,mp=/data"),
            "local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=8G"
        );
        assert_eq!(round(&LXC_MOUNT, "volume=/srv/share,mp=/shared,ro=1"), "/srv/share,mp=/shared,ro=1");
        assert_eq!(
            parse(&LXC_MOUNT, "/a,/b,mp=/x", "mp0").unwrap_err(),
            "duplicate key in comma-separated list property: volume"
        );
        assert_eq!(
            parse(&LXC_MOUNT, "/srv/x,mp=/x,size=lots", "mp0").unwrap_err(),
            "format error\nmp0.size: invalid format - value does not look like a valid disk size: lots"
        );
        assert_eq!(round(&LXC_ROOTFS, "local-zfs:subvol-100-disk-0,size=8G"), "local-zfs:subvol-100-disk-0,size=8G");
    }

    #[test]
    fn a_value_may_hold_equals_signs() {
        let p = parse(&VM_CICUSTOM, "user=local:snippets/a=b.yaml", "cicustom").unwrap();
        assert_eq!(p["user"], "local:snippets/a=b.yaml");
    }

    #[test]
    fn vm_net_model_alias() {
        assert_eq!(
            round(&VM_NET, "bridge=vmbr0,virtio=BC:24:11:12:34:56,firewall=1"),
            "virtio=BC:24:11:12:34:56,bridge=vmbr0,firewall=1"
        );
        assert_eq!(round(&VM_NET, "model=e1000,macaddr=BC:24:11:00:00:02"), "e1000=BC:24:11:00:00:02");
        assert_eq!(round(&VM_NET, "virtio,bridge=vmbr1"), "virtio,bridge=vmbr1");
        assert_eq!(
            parse(&VM_NET, "virtio=BC:24:11:00:00:01,e1000=BC:24:11:00:00:02", "net0").unwrap_err(),
            "key alias 'model' is already defined"
        );
        assert_eq!(
            parse(&VM_NET, "bridge=vmbr0", "net0").unwrap_err(),
            "format error\nnet0.model: property is missing and it is not optional"
        );
    }

    #[test]
    fn disks_keep_unknown_tuning_keys() {
        assert_eq!(
            round(&VM_DISK, "local-zfs:vm-100-disk-0,size=32768M,iothread=on,discard=on,cache=none"),
            "local-zfs:vm-100-disk-0,cache=none,discard=on,iothread=1,size=32G"
        );
    }

    #[test]
    fn startup_order() {
        for ok in ["2", "order=2,up=30", "up=5", "order=1,up=30,down=60"] {
            assert!(valid_startup(ok), "{ok}");
        }
        for bad in ["", "first", "order=x", "up=-1", "order=1,sideways=2"] {
            assert!(!valid_startup(bad), "{bad}");
        }
    }
}
