//! What `openssl x509 -noout -enddate -ext subjectAltName,authorityKeyIdentifier
//! [-ext subjectKeyIdentifier] -checkend N` says about a certificate, parsed from OpenSSL 3's
//! output (checked against a real certificate):
//!
//! ```text
//! notAfter=Jan  1 07:21:51 2027 GMT
//! X509v3 Authority Key Identifier:
//!     3F:60:DA:F4:21:57:75:FA:5A:29:3C:47:FF:E2:61:25:E3:36:EB:36
//! X509v3 Subject Alternative Name:
//!     DNS:a.example, DNS:b.example, IP Address:10.0.0.1
//! Certificate will not expire
//! ```
//!
//! Extensions print in the certificate's order, a header line then indented values; OpenSSL 1.1
//! printed `keyid:` before the authority key identifier, which is accepted too.

use serde::Serialize;

/// The facts the certificate stage decides on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CertFacts {
    /// `notAfter=` as printed (for messages).
    pub not_after: Option<String>,
    /// `DNS:` names lowercased and `IP Address:` values, as the certificate lists them.
    pub sans: Vec<String>,
    /// Authority key identifier (upper-case hex with `:`): which CA key signed it.
    pub authority_key_id: Option<String>,
    /// Subject key identifier (for a CA certificate: what its leaves carry as authority key id).
    pub subject_key_id: Option<String>,
    /// The `-checkend` verdict: `Some(true)` = expires within the window.
    pub expiring: Option<bool>,
}

pub fn parse(stdout: &str) -> CertFacts {
    let mut f = CertFacts::default();
    let mut section: Option<&str> = None;
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix("notAfter=") {
            f.not_after = Some(v.trim().to_string());
            section = None;
        } else if line == "Certificate will expire" {
            f.expiring = Some(true);
        } else if line == "Certificate will not expire" {
            f.expiring = Some(false);
        } else if let Some(header) = line.strip_prefix("X509v3 ") {
            section = Some(match header.trim_end().trim_end_matches(':') {
                "Subject Alternative Name" => "san",
                "Authority Key Identifier" => "aki",
                "Subject Key Identifier" => "ski",
                _ => "other",
            });
        } else if line.starts_with(' ') {
            let v = line.trim();
            match section {
                Some("san") => {
                    for item in v.split(", ") {
                        if let Some(d) = item.strip_prefix("DNS:") {
                            f.sans.push(d.to_ascii_lowercase());
                        } else if let Some(ip) = item.strip_prefix("IP Address:") {
                            f.sans.push(ip.to_string());
                        }
                    }
                }
                Some("aki") => f.authority_key_id = Some(v.trim_start_matches("keyid:").to_ascii_uppercase()),
                Some("ski") => f.subject_key_id = Some(v.to_ascii_uppercase()),
                _ => {}
            }
        } else {
            section = None;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output of OpenSSL 3.0.19 for a real certificate (see the module comment).
    const REAL: &str = "notAfter=Jan  1 07:21:51 2027 GMT\nX509v3 Authority Key Identifier: \n    3F:60:DA:F4:21:57:75:FA:5A:29:3C:47:FF:E2:61:25:E3:36:EB:36\nX509v3 Subject Alternative Name: \n    DNS:a.example, DNS:B.example, IP Address:10.0.0.1\nCertificate will not expire\n";

    #[test]
    fn reads_openssl_3_output() {
        let f = parse(REAL);
        assert_eq!(f.not_after.as_deref(), Some("Jan  1 07:21:51 2027 GMT"));
        assert_eq!(f.sans, ["a.example", "b.example", "10.0.0.1"]);
        assert_eq!(f.authority_key_id.as_deref(), Some("3F:60:DA:F4:21:57:75:FA:5A:29:3C:47:FF:E2:61:25:E3:36:EB:36"));
        assert_eq!(f.expiring, Some(false));
        assert_eq!(parse("Certificate will expire\n").expiring, Some(true));
        let ski = parse("X509v3 Subject Key Identifier: \n    3f:60\n");
        assert_eq!(ski.subject_key_id.as_deref(), Some("3F:60"));
        let old = parse("X509v3 Authority Key Identifier: \n    keyid:3F:60\n\n");
        assert_eq!(old.authority_key_id.as_deref(), Some("3F:60"));
        assert_eq!(parse(""), CertFacts::default());
    }
}
