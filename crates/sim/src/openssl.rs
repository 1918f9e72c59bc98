//! `openssl` inside a guest.
//!
//! `openssl rand [-base64|-hex] [-out <file>] <n>`: random-looking content of the right size.
//! Deterministic (derived from the path and size) so rehearsals are reproducible; nothing reads
//! these bytes but the simulated tools, which only need them non-empty.
//!
//! `openssl x509 -in <file> -noout [-enddate] [-startdate] [-subject] [-issuer] [-ext a,b]
//! [-checkend <secs>]`: the fields of a simulated certificate (`x509.rs`) in OpenSSL 3.0's
//! format and order (each printing option where it stands on the command line; the extensions
//! of `-ext` in the certificate's own order), `-checkend` against the simulated clock.

use super::inside::{done, file, may_write, out, Proc};
use super::state::Guest;
use crate::output::Output;
use sha2::{Digest, Sha256};

/// `n` bytes from a SHA-256 chain seeded with `seed`.
fn bytes(seed: &str, n: usize) -> Vec<u8> {
    let mut outb = Vec::with_capacity(n + 32);
    let mut block = Sha256::digest(seed.as_bytes());
    while outb.len() < n {
        outb.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    outb.truncate(n);
    outb
}

/// Standard base64 with padding, wrapped at 64 columns like `openssl -base64`.
pub(crate) fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let b = [c[0], c.get(1).copied().unwrap_or(0), c.get(2).copied().unwrap_or(0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    let mut wrapped = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && i % 64 == 0 {
            wrapped.push('\n');
        }
        wrapped.push(ch);
    }
    wrapped.push('\n');
    wrapped
}

pub(crate) fn run(g: &mut Guest, args: &[&str], p: &Proc) -> Output {
    if args.first() == Some(&"x509") {
        return x509(g, &args[1..], p);
    }
    if args.first() != Some(&"rand") {
        return out(127, "", format!("sim: openssl {} not simulated in guest", args.join(" ")));
    }
    let (mut b64, mut hex, mut dest, mut n) = (false, false, None, None);
    let mut i = 1;
    while i < args.len() {
        match args[i] {
            "-base64" => b64 = true,
            "-hex" => hex = true,
            "-out" => {
                i += 1;
                dest = args.get(i).copied();
            }
            x if !x.starts_with('-') => n = x.parse::<usize>().ok().or(Some(usize::MAX)),
            x => return out(1, "", format!("rand: Unknown option: {x}\nrand: Use -help for summary.")),
        }
        i += 1;
    }
    let Some(n) = n.filter(|n| *n != usize::MAX) else {
        return out(1, "", "rand: Invalid number of bytes\nrand: Use -help for summary.");
    };
    let raw = bytes(&format!("{}:{n}", dest.unwrap_or("-")), n);
    let content = if b64 {
        base64(&raw).into_bytes()
    } else if hex {
        let mut h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        h.push('\n');
        h.into_bytes()
    } else {
        raw
    };
    let Some(path) = dest else {
        return done(content);
    };
    if !may_write(g, path, p.user()) {
        return out(1, "", format!("Can't open \"{path}\" for writing, Permission denied"));
    }
    // Writing an existing file keeps its owner and mode (how the 0600 password files stay so).
    match g.files.get_mut(path) {
        Some(f) => f.content = content,
        None => {
            let mut f = file(content, 0o644);
            f.owner = p.user().to_string();
            f.group = p.user().to_string();
            g.files.insert(path.to_string(), f);
        }
    }
    done("")
}

/// The extensions a step-ca leaf carries, in its order, with OpenSSL's long names.
const EXTENSIONS: &[(&str, &str)] = &[
    ("subjectKeyIdentifier", "X509v3 Subject Key Identifier"),
    ("authorityKeyIdentifier", "X509v3 Authority Key Identifier"),
    ("subjectAltName", "X509v3 Subject Alternative Name"),
];

fn x509(g: &Guest, args: &[&str], p: &Proc) -> Output {
    let mut input = None;
    let mut prints: Vec<(&str, &str)> = Vec::new();
    let mut checkend = None;
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        match x {
            "-in" | "-ext" | "-checkend" => {
                i += 1;
                let Some(v) = args.get(i).copied() else {
                    return out(1, "", format!("x509: Option {x} needs a value\nx509: Use -help for summary."));
                };
                match x {
                    "-in" => input = Some(v),
                    "-ext" => prints.push((x, v)),
                    _ => match v.parse::<u64>() {
                        Ok(n) => checkend = Some(n),
                        Err(_) => {
                            return out(1, "", format!("x509: Invalid number \"{v}\" for option -checkend"));
                        }
                    },
                }
            }
            "-noout" => {}
            "-enddate" | "-startdate" | "-subject" | "-issuer" => prints.push((x, "")),
            _ => return out(1, "", format!("x509: Unknown option: {x}\nx509: Use -help for summary.")),
        }
        i += 1;
    }
    let Some(path) = input else {
        return out(127, "", "sim: openssl x509 reads only from -in <file> in guest");
    };
    let Some(f) = g.files.get(path) else {
        return out(
            1,
            "",
            format!("Could not open file or uri for loading certificate from {path}\nUnable to load certificate"),
        );
    };
    if !super::inside::may_read(g, path, p.user()) {
        return out(
            1,
            "",
            format!("Could not open file or uri for loading certificate from {path}\nUnable to load certificate"),
        );
    }
    let Some(c) = super::x509::decode(&f.content) else {
        return out(1, "", "Could not read certificate from <stdin>\nUnable to load certificate");
    };
    let mut text = String::new();
    for (opt, value) in prints {
        match opt {
            "-enddate" => text.push_str(&format!("notAfter={}\n", super::x509::openssl_time(c.not_after))),
            "-startdate" => text.push_str(&format!("notBefore={}\n", super::x509::openssl_time(c.not_before))),
            "-subject" => text.push_str(&format!("subject={}\n", c.subject)),
            "-issuer" => text.push_str(&format!("issuer={}\n", c.issuer)),
            _ => {
                let wanted: Vec<&str> = value.split(',').map(str::trim).collect();
                if let Some(bad) = wanted.iter().find(|w| !EXTENSIONS.iter().any(|(n, _)| n == *w)) {
                    return out(1, text, format!("Invalid extension name: {bad}"));
                }
                for (name, long) in EXTENSIONS.iter().filter(|(n, _)| wanted.contains(n)) {
                    let body = match *name {
                        "subjectKeyIdentifier" => c.ski.clone(),
                        "authorityKeyIdentifier" => c.aki.clone(),
                        _ if c.sans.is_empty() => continue,
                        _ => c.sans.join(", "),
                    };
                    text.push_str(&format!("{long}: \n    {body}\n"));
                }
            }
        }
    }
    match checkend {
        Some(n) if c.not_after < p.now().saturating_add(n) => {
            text.push_str("Certificate will expire\n");
            out(1, text, "")
        }
        Some(_) => {
            text.push_str("Certificate will not expire\n");
            done(text)
        }
        None => done(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy\n");
        assert_eq!(base64(b"fo"), "Zm8=\n");
        assert_eq!(base64(b"f"), "Zg==\n");
        assert_eq!(base64(&[0u8; 48]).lines().map(str::len).collect::<Vec<_>>(), vec![64]);
        assert_eq!(base64(&[0u8; 60]).lines().map(str::len).collect::<Vec<_>>(), vec![64, 16]);
        assert_eq!(bytes("a", 70).len(), 70);
        assert_ne!(bytes("a", 32), bytes("b", 32));
    }
}
