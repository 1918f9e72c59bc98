//! `/etc/fstab` lines (fstab(5)): `<device> <mount point> <type> <options> <dump> <pass>`.
//! Fields are separated by blanks and a line is one mount, so a field with a blank, a newline
//! or a leading `#` would mount something else or hide the line; options are split at `,`.

use super::error::{token, GenerateError, Refusal};

const FORBIDDEN: &[(char, Refusal)] = &[('#', Refusal::Hash)];

/// One fstab line (without the newline); `dump` and `pass` are 0.
pub fn fstab_line(device: &str, mount_point: &str, fstype: &str, options: &[&str]) -> Result<String, GenerateError> {
    token("fstab device", device, FORBIDDEN)?;
    token("fstab mount point", mount_point, FORBIDDEN)?;
    if !mount_point.starts_with('/') {
        return Err(GenerateError::new("fstab mount point", mount_point, Refusal::NotAllowedWord));
    }
    token("fstab type", fstype, FORBIDDEN)?;
    for o in options {
        token("fstab option", o, &[('#', Refusal::Hash), (',', Refusal::Comma)])?;
    }
    let opts = if options.is_empty() { "defaults".to_string() } else { options.join(",") };
    Ok(format!("{device} {mount_point} {fstype} {opts} 0 0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mount_per_line() {
        assert_eq!(
            fstab_line("10.0.0.2:/tank/a", "/mnt/a", "nfs", &["defaults", "_netdev"]).unwrap(),
            "10.0.0.2:/tank/a /mnt/a nfs defaults,_netdev 0 0"
        );
        assert_eq!(fstab_line("h:/a", "/mnt/a b", "nfs", &[]).unwrap_err().reason, Refusal::Whitespace);
        assert_eq!(fstab_line("h:/a\n/dev/sda1", "/x", "nfs", &[]).unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(fstab_line("#h:/a", "/x", "nfs", &[]).unwrap_err().reason, Refusal::Hash);
        assert_eq!(fstab_line("h:/a", "x", "nfs", &[]).unwrap_err().reason, Refusal::NotAllowedWord);
    }
}
