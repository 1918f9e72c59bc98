//! Conversions between Rhai values and Rust values at the API boundary.

use super::Res;
use rhai::{Dynamic, Map};

/// Any serialisable value as a Rhai value (maps, arrays, strings, numbers). Goes through JSON
/// first: Rhai maps only have string keys, and JSON turns integer keys (`nets: {0: …}`) into
/// strings the way a plan expects to index them (`cfg.nets["0"]`).
pub fn to_dynamic<T: serde::Serialize>(value: &T) -> Res<Dynamic> {
    let json = serde_json::to_value(value).map_err(|e| format!("cannot convert to a plan value: {e}"))?;
    rhai::serde::to_dynamic(json)
}

/// A guest id from a Rhai value: an integer, or a string of digits (as config files allow).
pub fn guest_id(v: &Dynamic) -> Res<u32> {
    if let Ok(i) = v.as_int() {
        return u32::try_from(i).map_err(|_| format!("guest id {i} is out of range").into());
    }
    if let Ok(s) = v.clone().into_immutable_string() {
        return s.trim().parse::<u32>().map_err(|_| format!("`{s}` is not a guest id").into());
    }
    Err(format!("a guest id must be an integer, not {}", v.type_name()).into())
}

pub fn guest_ids(arr: &rhai::Array) -> Res<Vec<u32>> {
    arr.iter().map(guest_id).collect()
}

pub fn ids_to_array(ids: &[u32]) -> rhai::Array {
    ids.iter().map(|i| Dynamic::from(*i as i64)).collect()
}

/// An optional string field of an options map.
pub fn opt_str(map: &Map, key: &str) -> Res<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => {
            v.clone().into_string().map(Some).map_err(|t| format!("option `{key}` must be a string, not {t}").into())
        }
    }
}

/// A file mode: an integer (0o640 written as 416, or as 640 meaning octal digits) or a string
/// of octal digits ("0640"). Integers whose decimal digits are all octal are read as octal,
/// because that is what an operator writing `mode: 640` means.
pub fn mode(map: &Map, key: &str, default: u32) -> Res<u32> {
    let Some(v) = map.get(key) else {
        return Ok(default);
    };
    let text = if let Ok(i) = v.as_int() {
        i.to_string()
    } else {
        v.clone().into_string().map_err(|t| format!("option `{key}` must be an octal string like \"0640\", not {t}"))?
    };
    let digits = text.trim().trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("option `{key}`: `{text}` is not an octal file mode like \"0640\"").into())
}

/// Reject keys an options map does not know, naming the function, the accepted keys and the
/// closest one. Every API function that takes an options map goes through here (or through
/// [`Options`]), so a typo (`#{ contnt: … }`) stops the rehearsal instead of being ignored.
pub fn known_keys(map: &Map, what: &str, known: &[&str]) -> Res<()> {
    let mut keys: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
    // Report the same key whatever the map's internal order.
    keys.sort_unstable();
    for k in keys {
        if !known.contains(&k) {
            let hint = crate::types::suggest::closest(k, known.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            // A long list (pvesm's options) would bury the message: the hint is enough then.
            let listed = if known.len() <= 12 { known.join(", ") } else { format!("{} options", known.len()) };
            return Err(format!("{what}: unknown option `{}` (known: {listed}){hint}", printable(k)).into());
        }
    }
    Ok(())
}

/// Settable native ZFS properties (zfsprops(7)). User properties (`module:name`) and
/// `userquota@…`-style ones are open-ended and always accepted.
pub const ZFS_PROPERTIES: &[&str] = &[
    "aclinherit",
    "aclmode",
    "acltype",
    "atime",
    "canmount",
    "casesensitivity",
    "checksum",
    "compression",
    "context",
    "copies",
    "dedup",
    "defcontext",
    "devices",
    "direct",
    "dnodesize",
    "encryption",
    "exec",
    "filesystem_limit",
    "fscontext",
    "keyformat",
    "keylocation",
    "logbias",
    "mlslabel",
    "mountpoint",
    "nbmand",
    "normalization",
    "overlay",
    "pbkdf2iters",
    "prefetch",
    "primarycache",
    "quota",
    "readonly",
    "recordsize",
    "redundant_metadata",
    "refquota",
    "refreservation",
    "relatime",
    "reservation",
    "rootcontext",
    "secondarycache",
    "setuid",
    "sharenfs",
    "sharesmb",
    "snapdev",
    "snapdir",
    "snapshot_limit",
    "special_small_blocks",
    "sync",
    "utf8only",
    "version",
    "volblocksize",
    "volmode",
    "volsize",
    "vscan",
    "xattr",
    "zoned",
];

/// Refuse a ZFS property name `zfs create -o`/`zfs set` would refuse, naming the closest.
pub fn zfs_property_names<'k>(what: &str, names: impl IntoIterator<Item = &'k str>) -> Res<()> {
    for name in names {
        if name.contains(':') || name.contains('@') || ZFS_PROPERTIES.contains(&name) {
            continue;
        }
        let hint = crate::types::suggest::closest(name, ZFS_PROPERTIES.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(format!(
            "{what}: `{}` is not a ZFS property (user properties are written `module:name`){hint}",
            printable(name)
        )
        .into());
    }
    Ok(())
}

/// Options `pvesm add`/`pvesm set` accept, over every storage type (the storage plugins'
/// schemas); the type's own checks are left to pvesm.
pub const PVESM_OPTIONS: &[&str] = &[
    "authsupported",
    "base",
    "blocksize",
    "bwlimit",
    "comstar_hg",
    "comstar_tg",
    "content",
    "content-dirs",
    "create-base-path",
    "create-subdirs",
    "data-pool",
    "datastore",
    "disable",
    "domain",
    "encryption-key",
    "export",
    "fingerprint",
    "format",
    "fs-name",
    "fuse",
    "is_mountpoint",
    "iscsiprovider",
    "keyring",
    "krbd",
    "lio_tpg",
    "master-pubkey",
    "max-protected-backups",
    "maxfiles",
    "mkdir",
    "monhost",
    "mountpoint",
    "namespace",
    "nocow",
    "nodes",
    "nowritecache",
    "options",
    "password",
    "path",
    "pool",
    "port",
    "portal",
    "preallocation",
    "prune-backups",
    "saferemove",
    "saferemove_throughput",
    "server",
    "server2",
    "share",
    "shared",
    "skip-cert-verification",
    "smbversion",
    "snapshot-as-volume-chain",
    "sparse",
    "subdir",
    "tagged_only",
    "target",
    "thinpool",
    "transport",
    "username",
    "vgname",
    "zfs-base-path",
];

/// A key as it may be shown in a message: bounded, control characters escaped.
fn printable(key: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = key.chars().take(MAX).flat_map(char::escape_debug).collect();
    if key.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// An options map checked against the keys a function accepts, read with typed getters that
/// name the function and the option in their errors.
#[derive(Debug)]
pub struct Options<'a> {
    map: &'a Map,
    what: &'a str,
}

impl<'a> Options<'a> {
    /// Refuses a key not in `known` (see [`known_keys`]).
    pub fn new(map: &'a Map, what: &'a str, known: &[&str]) -> Res<Options<'a>> {
        known_keys(map, what, known)?;
        Ok(Options { map, what })
    }

    /// An optional string option (`()` = absent).
    pub fn str(&self, key: &str) -> Res<Option<String>> {
        opt_str(self.map, key).map_err(|e| self.named(e))
    }

    /// A string option that must be there.
    pub fn required_str(&self, key: &str) -> Res<String> {
        self.str(key)?.ok_or_else(|| format!("{}: option `{key}` is required", self.what).into())
    }

    /// A file mode option (see [`mode`]).
    pub fn mode(&self, key: &str, default: u32) -> Res<u32> {
        mode(self.map, key, default).map_err(|e| self.named(e))
    }

    /// An error of a shared reader, prefixed with the function it was read for.
    fn named(&self, e: Box<rhai::EvalAltResult>) -> Box<rhai::EvalAltResult> {
        let text = match e.as_ref() {
            rhai::EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
            other => other.to_string(),
        };
        format!("{}: {text}", self.what).into()
    }

    /// The raw value of an option, if given.
    pub fn get(&self, key: &str) -> Option<&Dynamic> {
        self.map.get(key).filter(|v| !v.is_unit())
    }
}

/// The result an ensure function returns to the plan.
pub fn outcome(changed: bool, actions: usize) -> Dynamic {
    let mut m = Map::new();
    m.insert("changed".into(), changed.into());
    m.insert("actions".into(), (actions as i64).into());
    m.into()
}

/// A command's result for the plan: #{code, stdout, stderr}, added to `map`.
pub fn insert_output(map: &mut Map, out: &crate::executor::CommandOutput) {
    map.insert("code".into(), (out.code as i64).into());
    map.insert("stdout".into(), out.stdout.clone().into());
    map.insert("stderr".into(), out.stderr.clone().into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs.iter().map(|(k, v)| ((*k).into(), v.clone())).collect()
    }

    #[test]
    fn an_unknown_key_names_the_function_the_known_keys_and_the_closest() {
        let m = map(&[("content", "a".into()), ("contnt", "x".into())]);
        let err = Options::new(&m, "file::ensure", &["content", "mode"]).expect_err("refused").to_string();
        assert!(
            err.contains("file::ensure: unknown option `contnt` (known: content, mode); did you mean `content`?"),
            "{err}"
        );
    }

    #[test]
    fn a_hostile_key_is_escaped_and_bounded_in_the_message() {
        let long = format!("x\n{}", "y".repeat(10_000));
        let m = map(&[(long.as_str(), Dynamic::UNIT)]);
        let err = known_keys(&m, "f", &["content"]).expect_err("refused").to_string();
        assert!(!err.contains('\n') && err.len() < 300, "{err}");
        let m = map(&[("a\u{1b}[31m", Dynamic::UNIT)]);
        let err = known_keys(&m, "f", &["content"]).expect_err("refused").to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
    }

    #[test]
    fn zfs_property_typos_are_refused_and_user_properties_pass() {
        let err =
            zfs_property_names("zfs::ensure_dataset", ["compression", "compresion"]).expect_err("typo").to_string();
        assert!(
            err.contains("`compresion` is not a ZFS property") && err.contains("did you mean `compression`?"),
            "{err}"
        );
        assert!(zfs_property_names("f", ["com.example:owner", "userquota@bob", "atime", "recordsize"]).is_ok());
    }

    #[test]
    fn typed_getters_name_the_function_and_the_option() {
        let m = map(&[("content", Dynamic::from(5_i64)), ("mode", "0999".into())]);
        let o = Options::new(&m, "file::ensure", &["content", "mode"]).expect("known keys");
        let err = o.str("content").expect_err("not a string").to_string();
        assert!(err.contains(": file::ensure: option `content` must be a string"), "{err}");
        let err = o.mode("mode", 0o644).expect_err("not octal").to_string();
        assert!(err.contains(": file::ensure: option `mode`"), "{err}");
        assert_eq!(o.str("owner").expect("absent is fine"), None);
        let err = o.required_str("owner").expect_err("required").to_string();
        assert!(err.contains("option `owner` is required"), "{err}");
    }
}
