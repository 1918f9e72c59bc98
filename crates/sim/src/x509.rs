//! X.509 certificates of the simulated lab: what the simulated step-ca issues, the simulated
//! `openssl x509` reads back and the simulated Portainer serves over TLS.
//!
//! Each is a real DER certificate (Ed25519, signed by its issuer's key), so a real TLS client —
//! phoenix's, trusting the lab root CA — verifies the chain and the names exactly as it would on
//! a lab. It also carries the simulator's own record of it (subject, issuer, SANs, validity, key
//! identifiers as OpenSSL prints them) in a private, non-critical extension under the IANA
//! documentation enterprise number (1.3.6.1.4.1.32473.1, RFC 5612), which TLS ignores and the
//! simulated `openssl` reads, so no ASN.1 parser is needed here.
//!
//! Keys: a certificate's key pair is derived from its subject key identifier (itself derived
//! from what issued it), so an issuer's key can be found again to sign with and the key file
//! step writes holds the real private key of its certificate. Never secret — a simulator.
//!
//! Clocks: the lab runs on the simulated clock (`SimState::clock`, from 2025-01-01), which
//! `openssl -checkend` and step use through the record. A TLS peer on this machine checks
//! validity against the machine's clock, so the DER carries the same validity moved by the whole
//! days between the two clocks at issuance: a certificate fresh in the lab is fresh on the wire.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The record's extension: 1.3.6.1.4.1.32473.1, and its DER encoding (tag, length, content).
const RECORD_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 32473, 1];
const RECORD_OID_DER: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x81, 0xfd, 0x59, 0x01];
/// PKCS#8 v1 of an Ed25519 key (RFC 8410), before its 32-byte seed.
const ED25519_PKCS8_PREFIX: &[u8] =
    &[0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

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

/// The PKCS#8 DER of the key pair of the certificate whose subject key identifier is `ski`.
pub(crate) fn key_pkcs8(ski: &str) -> Vec<u8> {
    let seed = Sha256::digest(format!("phoenix-sim key/{ski}").as_bytes());
    [ED25519_PKCS8_PREFIX, seed.as_slice()].concat()
}

/// That key as a PEM file (`-----BEGIN PRIVATE KEY-----`, what step writes for a leaf).
pub(crate) fn key_pem(ski: &str) -> String {
    format!("-----BEGIN PRIVATE KEY-----\n{}-----END PRIVATE KEY-----\n", super::openssl::base64(&key_pkcs8(ski)))
}

fn key_pair(ski: &str) -> Result<rcgen::KeyPair, String> {
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(key_pkcs8(ski));
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519).map_err(|e| format!("key {ski}: {e}"))
}

/// `O = lab CA, CN = lab CA Root CA` as a distinguished name (the attributes step uses).
fn distinguished_name(text: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    for part in text.split(", ") {
        let Some((k, v)) = part.split_once(" = ") else { continue };
        let kind = match k {
            "CN" => rcgen::DnType::CommonName,
            "O" => rcgen::DnType::OrganizationName,
            "OU" => rcgen::DnType::OrganizationalUnitName,
            "C" => rcgen::DnType::CountryName,
            _ => continue,
        };
        dn.push(kind, v);
    }
    dn
}

/// `AA:BB:…` as bytes.
fn id_bytes(id: &str) -> Vec<u8> {
    id.split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect()
}

/// A lab instant on the machine's clock (see the module documentation): moved by the whole
/// days between the machine's clock and the lab's `now`.
fn machine_time(epoch: u64, now: u64) -> Result<time::OffsetDateTime, String> {
    let machine_now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (machine_now / 86_400) as i64 - (now / 86_400) as i64;
    time::OffsetDateTime::from_unix_timestamp(epoch as i64 + days * 86_400).map_err(|e| e.to_string())
}

fn params(c: &Cert, now: u64) -> Result<rcgen::CertificateParams, String> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = distinguished_name(&c.subject);
    p.not_before = machine_time(c.not_before, now)?;
    p.not_after = machine_time(c.not_after, now)?;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&id_bytes(&c.ski)[..16.min(id_bytes(&c.ski).len())]));
    p.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(id_bytes(&c.ski));
    for san in &c.sans {
        let name = if let Some(d) = san.strip_prefix("DNS:") {
            rcgen::SanType::DnsName(d.to_string().try_into().map_err(|e| format!("SAN {san}: {e}"))?)
        } else if let Some(ip) = san.strip_prefix("IP Address:") {
            rcgen::SanType::IpAddress(ip.parse().map_err(|e| format!("SAN {san}: {e}"))?)
        } else {
            continue;
        };
        p.subject_alt_names.push(name);
    }
    if c.sans.is_empty() {
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    } else {
        // step-ca's leaf template: digital signature, server and client authentication.
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    }
    let record = serde_json::to_vec(c).map_err(|e| e.to_string())?;
    p.custom_extensions.push(rcgen::CustomExtension::from_oid_content(RECORD_OID, der_utf8(&record)));
    Ok(p)
}

/// A DER UTF8String holding `bytes`.
fn der_utf8(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0c];
    out.extend(der_length(bytes.len()));
    out.extend_from_slice(bytes);
    out
}

fn der_length(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// The PEM text of `c` issued when the lab's clock read `now`: a real certificate signed by
/// the key of its issuer (`c.aki`; itself when `aki == ski`).
pub(crate) fn encode(c: &Cert, now: u64) -> Result<String, String> {
    let subject_key = key_pair(&c.ski)?;
    let cert = if c.aki == c.ski {
        params(c, now)?.self_signed(&subject_key)
    } else {
        // The issuer as rcgen needs it: its name and key identifier, and its key to sign.
        let issuer_key = key_pair(&c.aki)?;
        let mut ip = rcgen::CertificateParams::default();
        ip.distinguished_name = distinguished_name(&c.issuer);
        ip.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(id_bytes(&c.aki));
        ip.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = ip.self_signed(&issuer_key).map_err(|e| e.to_string())?;
        let mut p = params(c, now)?;
        p.use_authority_key_identifier_extension = true;
        p.signed_by(&subject_key, &issuer, &issuer_key)
    }
    .map_err(|e| format!("certificate {}: {e}", c.subject))?;
    Ok(format!("{BEGIN}\n{}{END}\n", super::openssl::base64(cert.der())))
}

/// The first certificate of a PEM file (a leaf before its chain), or `None` when the text holds
/// no certificate this simulator wrote.
pub(crate) fn decode(pem: &[u8]) -> Option<Cert> {
    let text = std::str::from_utf8(pem).ok()?;
    let body = text.split(BEGIN).nth(1)?.split(END).next()?;
    let raw = unbase64(&body.split_whitespace().collect::<String>())?;
    // States saved before certificates were real hold the bare JSON record.
    if let Ok(c) = serde_json::from_slice(&raw) {
        return Some(c);
    }
    serde_json::from_slice(record_of(&raw)?).ok()
}

/// The record extension's UTF8String in a DER certificate: after its OID, an optional
/// `critical` BOOLEAN, then the OCTET STRING holding the UTF8String.
fn record_of(der: &[u8]) -> Option<&[u8]> {
    let at = der.windows(RECORD_OID_DER.len()).position(|w| w == RECORD_OID_DER)? + RECORD_OID_DER.len();
    let mut rest = der.get(at..)?;
    if rest.first() == Some(&0x01) {
        rest = rest.get(3..)?;
    }
    let (tag, octets) = tlv(rest)?;
    let (inner_tag, record) = tlv(octets).filter(|_| tag == 0x04)?;
    (inner_tag == 0x0c).then_some(record)
}

/// One DER tag-length-value: its tag and content.
fn tlv(b: &[u8]) -> Option<(u8, &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, start) = match first {
        0..=0x7f => (first as usize, 2),
        0x81 => (*b.get(2)? as usize, 3),
        0x82 => (((*b.get(2)? as usize) << 8) | *b.get(3)? as usize, 4),
        _ => return None,
    };
    Some((tag, b.get(start..start + len)?))
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
        let pem = encode(&c, 1_735_689_600).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(decode(pem.as_bytes()), Some(c.clone()));
        let chain = format!("{pem}{}", encode(&Cert { subject: "other".into(), ..c.clone() }, 1_735_689_600).unwrap());
        assert_eq!(decode(chain.as_bytes()), Some(c));
        assert_eq!(decode(b"-----BEGIN CERTIFICATE-----\nMIIBabc\n-----END CERTIFICATE-----\n"), None);
    }

    /// The chain step writes verifies with a real TLS stack (rustls, ring) against the root,
    /// for the names in the leaf only; validity is on the machine's clock.
    #[test]
    fn a_real_tls_client_verifies_the_chain_and_the_names() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let now = 1_735_689_600;
        let mk = |subject: &str, issuer: &str, sans: Vec<String>, ski: &str, aki: &str| Cert {
            subject: subject.into(),
            issuer: issuer.into(),
            sans,
            not_before: now - 60,
            not_after: now + 86_400,
            ski: key_id(ski),
            aki: key_id(aki),
        };
        let root = mk("O = lab, CN = lab Root CA", "O = lab, CN = lab Root CA", vec![], "r", "r");
        let inter = mk("O = lab, CN = lab Intermediate CA", &root.subject, vec![], "i", "r");
        let leaf = mk("CN = p.lab", &inter.subject, vec!["DNS:p.lab".into(), "IP Address:10.0.0.5".into()], "l", "i");
        let der = |c: &Cert| {
            let pem = encode(c, now).unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            CertificateDer::from(unbase64(&body).unwrap())
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(&root)).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(std::sync::Arc::new(roots), provider)
            .build()
            .unwrap();
        let check = |name: &str| {
            v.verify_server_cert(
                &der(&leaf),
                &[der(&inter)],
                &ServerName::try_from(name.to_string()).unwrap(),
                &[],
                UnixTime::now(),
            )
        };
        assert!(check("p.lab").is_ok(), "{:?}", check("p.lab"));
        assert!(check("10.0.0.5").is_ok(), "{:?}", check("10.0.0.5"));
        assert!(check("other.lab").is_err());
        assert_eq!(decode(encode(&leaf, now).unwrap().as_bytes()), Some(leaf.clone()));
        // The key file step writes is the leaf's own key.
        assert!(key_pem(&leaf.ski).starts_with("-----BEGIN PRIVATE KEY-----\n"));
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
