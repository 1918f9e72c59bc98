//! Proxmox property strings (`--net0 name=eth0,bridge=vmbr0`, `--mp0 /tank/x,mp=/data`,
//! `--rootfs local-zfs:8`, `--ipconfig0 ip=…,gw=…`): the one place phoenix composes them.
//!
//! The grammar (pve-common `parse_property_string`) splits on every `,` and a part at its first
//! `=`; a part without `=` is the default key's value. So a value with a `,` becomes a second
//! property (`/tank/x,mp=/` adds `mp=/`), and a bare value with a `=` becomes a key. The builder
//! refuses both, and control characters anywhere (the value also lands in a conf file line).

use super::error::{no_control, GenerateError, Refusal};
use crate::facts::propstring::PropString;

/// Builds one property string; every part is checked as it is added.
#[derive(Debug, Clone)]
pub struct PropertyString {
    /// The option it is for (`net0`, `mp1`, `rootfs`), named in errors.
    option: String,
    parts: Vec<String>,
}

impl PropertyString {
    pub fn new(option: impl Into<String>) -> Self {
        PropertyString { option: option.into(), parts: Vec::new() }
    }

    /// The default key's value, written without `key=` (a volume, a NIC model).
    pub fn bare(mut self, value: &str) -> Result<Self, GenerateError> {
        check_bare(&self.option, value)?;
        self.parts.push(value.to_string());
        Ok(self)
    }

    /// `key=value`.
    pub fn pair(mut self, key: &str, value: &str) -> Result<Self, GenerateError> {
        check_key(&self.option, key)?;
        check_value(&format!("{}.{key}", self.option), value)?;
        self.parts.push(format!("{key}={value}"));
        Ok(self)
    }

    /// `key=value` when the value is there.
    pub fn pair_opt(self, key: &str, value: Option<&str>) -> Result<Self, GenerateError> {
        match value {
            Some(v) => self.pair(key, v),
            None => Ok(self),
        }
    }

    pub fn build(self) -> String {
        self.parts.join(",")
    }
}

/// A key: letters, digits, `_` and `-` (every key of the Proxmox schemas).
fn check_key(option: &str, key: &str) -> Result<(), GenerateError> {
    let ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(GenerateError::new(format!("{option} key"), key, Refusal::KeyCharset));
    }
    Ok(())
}

/// A keyed value: no `,`, no control characters, not blank (a blank part is skipped by the
/// parser, `key=` is refused by it). An `=` is fine after the key: the parser splits at the first.
pub fn check_value(field: &str, value: &str) -> Result<(), GenerateError> {
    if value.trim().is_empty() {
        return Err(GenerateError::new(field, value, Refusal::Empty));
    }
    no_control(field, value)?;
    if value.contains(',') {
        return Err(GenerateError::new(field, value, Refusal::Comma));
    }
    Ok(())
}

/// A bare (default key) value: a keyed value that also has no `=`.
pub fn check_bare(field: &str, value: &str) -> Result<(), GenerateError> {
    check_value(field, value)?;
    if value.contains('=') {
        return Err(GenerateError::new(field, value, Refusal::Equals));
    }
    Ok(())
}

/// Check every pair of an already assembled [`PropString`] (the ops keep desired state as one
/// and print it canonically): `default_key`'s value is printed bare, so it gets the bare rules.
pub fn check_props(option: &str, ps: &PropString, default_key: Option<&str>) -> Result<(), GenerateError> {
    for (k, v) in ps.iter() {
        check_key(option, k)?;
        let field = format!("{option}.{k}");
        if Some(k) == default_key {
            check_bare(&field, v)?;
        } else {
            check_value(&field, v)?;
        }
    }
    Ok(())
}

/// A volume on a storage, `<storage>:<rest>` (`local-zfs:8`): the storage id also may not have
/// a `:` (the volume parser splits there) nor anything a bare value may not.
pub fn volume(option: &str, storage: &str, rest: &str) -> Result<String, GenerateError> {
    let field = format!("{option} storage");
    check_bare(&field, storage)?;
    if storage.contains(':') || storage.chars().any(char::is_whitespace) {
        return Err(GenerateError::new(field, storage, Refusal::KeyCharset));
    }
    let v = format!("{storage}:{rest}");
    check_bare(option, &v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::propstring::lxc_mount;

    #[test]
    fn builds_and_parses_back() {
        let s = PropertyString::new("mp0").bare("/tank/x").unwrap().pair("mp", "/data").unwrap().build();
        assert_eq!(s, "/tank/x,mp=/data");
        let p = lxc_mount(&s, false).unwrap();
        assert_eq!(p.get("volume"), Some("/tank/x"));
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn refuses_what_would_add_a_property() {
        let e = PropertyString::new("mp0").bare("/tank/x,mp=/").unwrap_err();
        assert_eq!(e.reason, Refusal::Comma);
        assert_eq!(e.field, "mp0");
        let e = PropertyString::new("mp0").bare("/a").unwrap().pair("mp", "/d,ro=1").unwrap_err();
        assert_eq!(e.field, "mp0.mp");
        assert_eq!(PropertyString::new("net0").bare("a=b").unwrap_err().reason, Refusal::Equals);
        assert_eq!(PropertyString::new("net0").pair("bridge", "vmbr0\n").unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(PropertyString::new("net0").pair("bridge", " ").unwrap_err().reason, Refusal::Empty);
        assert_eq!(PropertyString::new("net0").pair("a b", "x").unwrap_err().reason, Refusal::KeyCharset);
        // `=` after a key is data: the parser splits at the first one.
        assert!(PropertyString::new("x").pair("mountoptions", "a=b").is_ok());
    }

    #[test]
    fn volumes_refuse_a_colon_in_the_storage() {
        assert_eq!(volume("rootfs", "local-zfs", "8").unwrap(), "local-zfs:8");
        assert_eq!(volume("rootfs", "a:b", "8").unwrap_err().reason, Refusal::KeyCharset);
        assert_eq!(volume("rootfs", "a,size=1", "8").unwrap_err().reason, Refusal::Comma);
    }

    #[test]
    fn assembled_strings_are_checked_pair_by_pair() {
        let mut ps = PropString::new();
        ps.set("volume", "/x");
        ps.set("mp", "/y");
        assert!(check_props("mp0", &ps, Some("volume")).is_ok());
        ps.set("volume", "k=v");
        assert_eq!(check_props("mp0", &ps, Some("volume")).unwrap_err().reason, Refusal::Equals);
    }
}
