//! Simulated X.509 certificates: what the simulated step-ca issues and the simulated
//! `openssl x509` reads back. A certificate is a PEM block whose body is the base64 of a small
//! JSON record (subject, issuer, SANs, validity, key identifiers) instead of DER: the simulator
//! only has to answer the questions the real tools answer about it, in their formats, and a PEM
//! armour keeps it looking like a certificate to anything that only copies it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// What a simulated certificate says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cert {
    /// Distinguished name as OpenSSL 3 prints it (`O = lab CA, CN = lab CA Root CA`).
    pub subject: String,
    pub issuer: String,
    /// `DNS:x` / `IP Address:1.2.3.4`, in issuance order (empty for CA certificates).
    #[serde(default)]
    pub sans: Vec<String>,
    pub not_before: u64,
    pub not_after: u64,
    /// Subject key identifier, upper-case hex bytes joined by `:`.
    pub ski: String,
    /// Authority key identifier (the issuer's `ski`).
    pub aki: String,
}

/// A key identifier derived from a seed (20 bytes, OpenSSL's `AA:BB:…` form).
pub(crate) fn key_id(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    d.iter().take(20).map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// The PEM text of `c`.
pub(crate) fn encode(c: &Cert) -> String {
    let json = serde_json::to_vec(c).unwrap_or_default();
    format!("{BEGIN}\n{}{END}\n", super::openssl::base64(&json))
}

/// The first certificate of a PEM file (a leaf before its chain), or `None` when the text holds
/// no certificate this simulator wrote.
pub(crate) fn decode(pem: &[u8]) -> Option<Cert> {
    let text = std::str::from_utf8(pem).ok()?;
    let body = text.split(BEGIN).nth(1)?.split(END).next()?;
    let raw = unbase64(&body.split_whitespace().collect::<String>())?;
    serde_json::from_slice(&raw).ok()
}

fn unbase64(s: &str) -> Option<Vec<u8>> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for ch in s.bytes().filter(|b| *b != b'=') {
        let v = A.iter().position(|a| *a == ch)? as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// An ASN.1 time as `openssl x509 -enddate` prints it: `Jan  1 07:21:51 2027 GMT`.
pub(crate) fn openssl_time(epoch: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{} {:>2} {:02}:{:02}:{:02} {y} GMT", MONTHS[(m - 1) as usize], d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A Go duration as step's `--not-after` takes it (`2160h`, `90m`, `1h30m`, `45s`), in seconds.
pub(crate) fn go_duration(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    if s.is_empty() {
        return None;
    }
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match ch {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    num.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_like_openssl() {
        // Checked against `openssl x509 -enddate` of a real certificate.
        assert_eq!(openssl_time(1_798_788_111), "Jan  1 07:21:51 2027 GMT");
        assert_eq!(openssl_time(1_735_689_600), "Jan  1 00:00:00 2025 GMT");
        assert_eq!(openssl_time(1_740_787_200), "Mar  1 00:00:00 2025 GMT");
        assert_eq!(openssl_time(1_709_164_800), "Feb 29 00:00:00 2024 GMT");
    }

    #[test]
    fn a_certificate_survives_its_pem_armour() {
        let c = Cert {
            subject: "CN = a".into(),
            issuer: "O = x, CN = x Intermediate CA".into(),
            sans: vec!["DNS:a".into()],
            not_before: 1,
            not_after: 2,
            ski: key_id("a"),
            aki: key_id("x"),
        };
        let pem = encode(&c);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(decode(pem.as_bytes()), Some(c.clone()));
        let chain = format!("{pem}{}", encode(&Cert { subject: "other".into(), ..c.clone() }));
        assert_eq!(decode(chain.as_bytes()), Some(c));
        assert_eq!(decode(b"-----BEGIN CERTIFICATE-----\nMIIBabc\n-----END CERTIFICATE-----\n"), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("2160h"), Some(2160 * 3600));
        assert_eq!(go_duration("1h30m"), Some(5400));
        assert_eq!(go_duration("24"), None);
        assert_eq!(go_duration("3d"), None);
        assert_eq!(go_duration(""), None);
    }
}
