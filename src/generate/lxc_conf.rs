//! Raw `lxc.*` lines of a container's conf file (`/etc/pve/lxc/<id>.conf`): `lxc.key: value`,
//! one per line. A newline in a value would add a line of its own choosing (another device,
//! another mount), so values are one line without control characters; keys are `lxc.` and
//! letters, digits, `.` and `_` (LXC's key names).

use super::error::{no_control, GenerateError, Refusal};

/// Check one `lxc.*` key and value; the caller stores the pair.
pub fn check_line(key: &str, value: &str) -> Result<(), GenerateError> {
    let key_ok = key.starts_with("lxc.")
        && key.len() > 4
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
    if !key_ok {
        return Err(GenerateError::new("lxc option key", key, Refusal::KeyCharset));
    }
    let field = format!("lxc option {key}");
    no_control(&field, value)?;
    if value.trim().is_empty() {
        return Err(GenerateError::new(field, value, Refusal::Empty));
    }
    if value.trim() != value {
        return Err(GenerateError::new(field, value, Refusal::LeadingOrTrailingSpace));
    }
    Ok(())
}

/// The line as the conf file holds it (`lxc.apparmor.profile: unconfined`).
pub fn line(key: &str, value: &str) -> Result<String, GenerateError> {
    check_line(key, value)?;
    Ok(format!("{key}: {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_pair() {
        assert_eq!(line("lxc.cgroup2.devices.allow", "c 195:* rwm").unwrap(), "lxc.cgroup2.devices.allow: c 195:* rwm");
        assert_eq!(line("lxc.mount.entry", "/dev/x dev/x\nlxc.cap.drop:").unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(line("lxc.a b", "1").unwrap_err().reason, Refusal::KeyCharset);
        assert_eq!(line("hostname", "x").unwrap_err().reason, Refusal::KeyCharset);
        assert_eq!(line("lxc.x", " ").unwrap_err().reason, Refusal::Empty);
    }
}
