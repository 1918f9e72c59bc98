//! The small cryptography the simulator needs, written from the standards with `sha2` only:
//! random bytes (getrandom), base64 (RFC 4648, standard and URL-safe), HMAC-SHA256 (RFC 2104)
//! for HS256 JWTs, salted password hashes and Portainer's API-key digest.

use sha2::{Digest, Sha256};

/// `n` bytes from the OS generator. A simulator that cannot read randomness cannot issue
/// secrets, so the failure is reported to the caller rather than papered over.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(buf)
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (Go's `base64.StdEncoding`).
pub fn b64_std(data: &[u8]) -> String {
    encode(data, STD, true)
}

/// URL-safe base64 without padding (JWT segments, RFC 7515 §2).
pub fn b64_url(data: &[u8]) -> String {
    encode(data, URL, false)
}

/// Decode URL-safe base64 without padding; `None` on any foreign character or bad length.
pub fn b64_url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = URL.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone trailing symbol (6 bits) cannot come from whole bytes.
    if text.len() % 4 == 1 {
        return None;
    }
    Some(out)
}

pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 (RFC 2104, block size 64).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(message).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().into()
}

/// Compare without an early exit, so a wrong secret takes as long as a right one.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Salted, iterated SHA-256 for user passwords. Portainer stores bcrypt (`$2a$10$…`); the
/// simulator keeps the property that matters to its callers — the password itself is never
/// stored — with a format that says plainly it is not bcrypt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = random_bytes(16)?;
    Ok(format!("sim-sha256$10000${}${}", hex(&salt), hex(&stretch(&salt, password))))
}

pub fn verify_password(stored: &str, password: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [scheme, "10000", salt_hex, digest_hex] = parts.as_slice() else { return false };
    if *scheme != "sim-sha256" {
        return false;
    }
    let Some(salt) = unhex(salt_hex) else { return false };
    constant_time_eq(hex(&stretch(&salt, password)).as_bytes(), digest_hex.as_bytes())
}

fn stretch(salt: &[u8], password: &str) -> [u8; 32] {
    let mut d: [u8; 32] = Sha256::new().chain_update(salt).chain_update(password).finalize().into();
    for _ in 1..10_000 {
        d = Sha256::new().chain_update(salt).chain_update(d).finalize().into();
    }
    d
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Portainer's API-key digest (api/apikey/service.go HashRaw): base64(sha256(raw key)).
pub fn api_key_digest(raw_key: &str) -> String {
    b64_std(&Sha256::digest(raw_key.as_bytes()))
}

/// A random RFC 4122 version-4 UUID (Portainer's InstanceID and JWT ids).
pub fn uuid_v4() -> Result<String, String> {
    let mut b = random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, std, url) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ] {
            assert_eq!(b64_std(plain.as_bytes()), std);
            assert_eq!(b64_url(plain.as_bytes()), url);
            assert_eq!(b64_url_decode(url).unwrap(), plain.as_bytes());
        }
        assert_eq!(b64_url(&[0xfb, 0xff]), "-_8");
        assert!(b64_url_decode("ab$c").is_none());
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn password_hash_verifies_only_the_password() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(!h.contains("correct"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("garbage", "x"));
    }

    #[test]
    fn uuid_has_version_4_shape() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
