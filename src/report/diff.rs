//! The unified diff a dry-run shows for a file phoenix would write (old → new), bounded and
//! with secrets kept out: a file that only its owner may read (mode without group/other read)
//! is never shown, values of secret-looking keys are masked, a large or binary file is
//! summarised, and a long diff is cut after [`MAX_LINES`] lines.

use similar::TextDiff;

/// Files larger than this are summarised, not diffed (diffing is quadratic at worst).
const MAX_BYTES: usize = 1 << 20;
/// At most this many diff lines are shown.
const MAX_LINES: usize = 200;

/// Words that mark a line's value as secret (`password = …`, `"api_key": …`, `TOKEN=…`).
const SECRET_WORDS: &[&str] = &["pass", "secret", "token", "key", "credential", "private"];

/// A line with the value after its first `=` or `:` replaced by `***` when its key looks
/// secret; PEM blocks' base64 lines are masked by [`mask_text`].
fn mask_line(line: &str) -> String {
    let Some(i) = line.find(['=', ':']) else { return line.to_string() };
    let key = line[..i].to_ascii_lowercase();
    if SECRET_WORDS.iter().any(|w| key.contains(w)) && !line[i + 1..].trim().is_empty() {
        format!("{}{} ***", &line[..i], &line[i..=i])
    } else {
        line.to_string()
    }
}

/// Text with secret-looking values and the insides of PEM blocks masked.
fn mask_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_pem = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let shown = if bare.starts_with("-----BEGIN ") {
            in_pem = true;
            bare.to_string()
        } else if bare.starts_with("-----END ") {
            in_pem = false;
            bare.to_string()
        } else if in_pem {
            "***".to_string()
        } else {
            mask_line(bare)
        };
        out.push_str(&shown);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The diff of `old` (None: absent) → `new` for `path` written with `mode`, or a one-line
/// summary when it cannot or must not be shown. `None` when the contents are equal.
pub fn file_diff(path: &str, old: Option<&[u8]>, new: &[u8], mode: u32) -> Option<String> {
    let old_bytes = old.unwrap_or_default();
    if old_bytes == new {
        return None;
    }
    if mode & 0o044 == 0 {
        return Some(format!(
            "(content not shown: {path} is readable by its owner only; {} → {} bytes)",
            old_bytes.len(),
            new.len()
        ));
    }
    if old_bytes.len() > MAX_BYTES || new.len() > MAX_BYTES {
        return Some(format!("(content not shown: too large to diff; {} → {} bytes)", old_bytes.len(), new.len()));
    }
    let (Ok(a), Ok(b)) = (std::str::from_utf8(old_bytes), std::str::from_utf8(new)) else {
        return Some(format!("(content not shown: binary; {} → {} bytes)", old_bytes.len(), new.len()));
    };
    let (a, b) = (mask_text(a), mask_text(b));
    let from = if old.is_some() { format!("a{path}") } else { "/dev/null".to_string() };
    let diff = TextDiff::from_lines(&a, &b);
    let text = diff.unified_diff().context_radius(3).header(&from, &format!("b{path}")).to_string();
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        return Some(format!("{}\n… ({more} more diff lines not shown)", lines.join("\n")));
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_old_to_new_with_context() {
        let d = file_diff("/etc/x.conf", Some(b"a\nb\nc\n"), b"a\nB\nc\n", 0o644).unwrap();
        assert!(d.starts_with("--- a/etc/x.conf\n+++ b/etc/x.conf\n@@"), "{d}");
        assert!(d.contains("\n-b\n+B\n"), "{d}");
        let new = file_diff("/etc/y", None, b"hello\n", 0o644).unwrap();
        assert!(new.starts_with("--- /dev/null\n+++ b/etc/y"), "{new}");
        assert_eq!(file_diff("/etc/x", Some(b"same"), b"same", 0o644), None);
    }

    #[test]
    fn secrets_never_appear() {
        let d = file_diff("/etc/app.env", Some(b"PORT=1\n"), b"PORT=2\nDB_PASSWORD=hunter2\n", 0o644).unwrap();
        assert!(!d.contains("hunter2") && d.contains("+DB_PASSWORD= ***"), "{d}");
        let pem = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";
        let d = file_diff("/etc/k.pem", None, pem, 0o644).unwrap();
        assert!(!d.contains("MIIEvQ"), "{d}");
        let private = file_diff("/etc/k", None, b"anything", 0o600).unwrap();
        assert!(private.contains("readable by its owner only") && !private.contains("anything"), "{private}");
    }

    #[test]
    fn large_binary_and_long_diffs_are_bounded() {
        let big = vec![b'x'; 50 * 1024 * 1024];
        let d = file_diff("/big", None, &big, 0o644).unwrap();
        assert!(d.len() < 120 && d.contains("52428800 bytes"), "{d}");
        assert!(file_diff("/bin", None, &[0xff, 0xfe, 0x00], 0o644).unwrap().contains("binary"));
        let many: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        let d = file_diff("/many", None, many.as_bytes(), 0o644).unwrap();
        assert_eq!(d.lines().count(), MAX_LINES + 1, "cut, with a note");
        assert!(d.ends_with("more diff lines not shown)"), "{d}");
    }
}
