//! Text escapes Proxmox applies to free text in config files and on the command line
//! (pve-common `PVE::Tools::encode_text`/`decode_text`, `URI::Escape::uri_escape`).

/// `encode_text`: `uri_escape` of the UTF-8 bytes with the unsafe set `^\x20-\x39\x3b-\x7e` —
/// control bytes, `:` (0x3a), DEL and every non-ASCII byte become `%XX`. Note what stays:
/// space and `%` itself (so a literal `%41` in a description does not survive a round trip —
/// that is Proxmox's behaviour, reproduced).
pub(crate) fn encode_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let safe = (0x20..=0x39).contains(&b) || (0x3b..=0x7e).contains(&b);
        if safe {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `decode_text`: `uri_unescape` (every `%` followed by two hex digits) then UTF-8 decoding;
/// malformed UTF-8 becomes U+FFFD.
pub(crate) fn decode_text(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hi = char::from(b[i + 1]).to_digit(16);
            let lo = char::from(b[i + 2]).to_digit(16);
            if let (Some(h), Some(l)) = (hi, lo) {
                out.push((h << 4 | l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `URI::Escape::uri_escape` with its default unsafe set: everything except
/// `A-Za-z0-9`, `-`, `.`, `_` and `~`, byte by byte, upper-case hex. qm's CLI applies it to the
/// file given to `--sshkeys` before storing it.
pub(crate) fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_text_keeps_space_and_percent() {
        assert_eq!(encode_text("line 1: 100%"), "line 1%3A 100%");
        assert_eq!(encode_text("tab\there ü"), "tab%09here %C3%BC");
        assert_eq!(encode_text("~DEL\x7f"), "~DEL%7F");
    }

    #[test]
    fn decode_text_reverses_and_is_lenient() {
        assert_eq!(decode_text("line 1%3A 100%"), "line 1: 100%");
        assert_eq!(decode_text("%C3%BC%zz%4"), "ü%zz%4");
        assert_eq!(decode_text("%FF"), "\u{FFFD}");
    }

    #[test]
    fn uri_escape_default_set() {
        assert_eq!(uri_escape("ssh-ed25519 AAAA user@host\n"), "ssh-ed25519%20AAAA%20user%40host%0A");
        assert_eq!(uri_escape("a.b_c~d-e"), "a.b_c~d-e");
    }
}
