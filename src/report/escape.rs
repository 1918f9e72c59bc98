//! Values from the configuration printed in run output: a terminal escape sequence or a
//! carriage return in a guest name, a comment or an error message could repaint the operator's
//! screen or hide a line. Control characters are shown escaped (`\x1b`, `\r`); a newline is
//! kept only where the reporter splits on it itself (multi-line errors).

/// `text` with every control character escaped, newlines included.
pub fn one_line(text: &str) -> String {
    escape(text, false)
}

/// `text` with every control character but `\n` escaped.
pub fn lines(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, keep_newline: bool) -> String {
    if !text.chars().any(|c| c.is_control() && !(keep_newline && c == '\n')) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' if keep_newline => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(one_line("web\x1b[2J\x1b[31mred"), "web\\x1b[2J\\x1b[31mred");
        assert_eq!(one_line("a\r\nb\tc\u{7f}"), "a\\r\\nb\\tc\\x7f");
        assert_eq!(lines("a\nb\x07"), "a\nb\\x07");
        assert_eq!(one_line("plain é ✓"), "plain é ✓");
    }
}
