//! `openssl rand [-base64|-hex] [-out <file>] <n>` inside a guest: random-looking content of the
//! right size. Deterministic (derived from the path and size) so rehearsals are reproducible;
//! nothing reads these bytes but the simulated tools, which only need them non-empty.

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
fn base64(data: &[u8]) -> String {
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
