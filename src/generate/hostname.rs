//! Host names phoenix passes to `pct create/clone --hostname` and `qm create/clone --name`:
//! DNS names (RFC 1123 labels of letters, digits and `-`, not starting or ending with `-`,
//! 1–63 characters, at most 253 in all). Config validation refuses others first; this is the
//! check right before the command is built, so nothing else can ever reach the argv.

use super::error::{GenerateError, Refusal};

pub fn check(field: &str, name: &str) -> Result<(), GenerateError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(GenerateError::new(field, name, Refusal::NotDnsName));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_only() {
        for ok in ["web", "web-1", "a.lab.example", "x1"] {
            assert!(check("hostname", ok).is_ok(), "{ok}");
        }
        for bad in ["", "$(id)", "-x", "x-", "a..b", "a b", "a_b", "x\n", &"a".repeat(64)] {
            assert_eq!(check("hostname", bad).unwrap_err().reason, Refusal::NotDnsName, "{bad}");
        }
    }
}
