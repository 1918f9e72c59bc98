//! Rhai positions are 1-based line and *character* column; miette wants byte offsets. The
//! conversion walks characters so tabs, non-ASCII text and CRLF line ends land where they should.

/// Byte offset of (line, column) in `text`, both 1-based; column 0 means the start of the line.
/// Out-of-range positions clamp to the end of the line or text rather than panicking.
pub fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    if line == 0 {
        return 0;
    }
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let content = l.trim_end_matches('\n').trim_end_matches('\r');
            let col = column.saturating_sub(1);
            let within = content.char_indices().nth(col).map(|(b, _)| b).unwrap_or(content.len());
            return offset + within;
        }
        offset += l.len();
    }
    text.len()
}

/// Length in bytes of the identifier-like token starting at `offset` (for a span that covers
/// a whole name), at least 1 byte when the text has any left, 0 at the end.
pub fn token_len(text: &str, offset: usize) -> usize {
    let rest = text.get(offset..).unwrap_or("");
    let n: usize = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').map(char::len_utf8).sum();
    if n > 0 {
        n
    } else {
        rest.chars().next().map(char::len_utf8).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii() {
        let t = "let a = 1;\nlet b = 2;\n";
        assert_eq!(byte_offset(t, 2, 5), 15);
        assert_eq!(&t[byte_offset(t, 2, 5)..][..1], "b");
    }

    #[test]
    fn non_ascii_counts_characters() {
        let t = "let ü = \"日本\"; foo();\n";
        // `foo` is the 15th character on the line (ü, 日 and 本 count as one each).
        let o = byte_offset(t, 1, 15);
        assert_eq!(&t[o..o + 3], "foo");
    }

    #[test]
    fn tabs_are_one_character() {
        let t = "\t\tfoo();";
        assert_eq!(byte_offset(t, 1, 3), 2);
    }

    #[test]
    fn crlf_lines() {
        let t = "a();\r\nbar();\r\n";
        let o = byte_offset(t, 2, 1);
        assert_eq!(&t[o..o + 3], "bar");
        assert_eq!(token_len(t, o), 3);
    }

    #[test]
    fn out_of_range_clamps() {
        let t = "x\ny";
        assert_eq!(byte_offset(t, 9, 9), 3);
        assert_eq!(byte_offset(t, 1, 99), 1);
        assert_eq!(token_len(t, 3), 0);
    }
}
