//! POSIX shell quoting, for the one place a string must pass through a shell: the remote side of
//! an ssh connection, which joins argv with spaces and hands the result to the login shell.

/// Quote `s` so a POSIX shell reads it back as exactly one word with the same bytes.
/// Safe words are left bare so logs stay readable.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b',' | b'=' | b'@' | b'+' | b'%')
        });
    if safe {
        return s.to_string();
    }
    // Inside single quotes nothing is special except the quote itself: close, escape, reopen.
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

/// Join an argv into one shell command line, each word quoted.
pub fn join<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter().map(|a| quote(a.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(join(&["echo", "a;b"]), "echo 'a;b'");
    }
}
