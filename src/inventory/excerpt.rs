//! What a diagnostic may print of a config file. miette prints the whole lines around a span;
//! a 50 MB value sits on one line, and a raw DEL or C1 character in a JSON string would reach
//! the terminal. For such lines the source given to miette is an excerpt instead: the same line
//! number, the line cut around the span, unsafe characters escaped.

use super::diagnostic::escaped;
use super::rules::is_invisible_control;
use miette::SourceSpan;

/// Lines longer than this (in bytes) are not printed whole.
const MAX_LINE: usize = 400;
/// Characters kept before the span and of the span itself in an excerpt.
const KEEP_BEFORE: usize = 40;
const KEEP_SPAN: usize = 60;
const KEEP_AFTER: usize = 20;

fn unsafe_to_print(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || is_invisible_control(c)
}

/// Start of the line holding byte `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// End (exclusive, before the newline) of the line holding byte `at`.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

fn clean(text: &str) -> String {
    text.chars().map(|c| if unsafe_to_print(c) { escaped(c) } else { c.to_string() }).collect()
}

fn head(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        // ASCII dots, not `…`: miette draws the underline per byte and would cut a multi-byte
        // character in half.
        Some((i, _)) => format!("{}...", clean(&text[..i])),
        None => clean(text),
    }
}

fn tail(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    if count <= chars {
        return clean(text);
    }
    let start = text.char_indices().nth(count - chars).map_or(0, |(i, _)| i);
    format!("...{}", clean(&text[start..]))
}

/// `None` when the file can be shown as it is; otherwise the excerpt text and the span in it.
pub(crate) fn needed(text: &str, span: SourceSpan) -> Option<(String, SourceSpan)> {
    let start = span.offset().min(text.len());
    let end = (start + span.len()).min(text.len());
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return None;
    }
    let first = line_start(text, start);
    // miette shows one line of context on each side.
    let from = if first == 0 { 0 } else { line_start(text, first - 1) };
    let last_end = line_end(text, end);
    let to = if last_end >= text.len() { text.len() } else { line_end(text, last_end + 1) };
    let shown = &text[from..to];
    if shown.split('\n').all(|l| l.len() <= MAX_LINE) && !shown.chars().any(unsafe_to_print) {
        return None;
    }
    let line_no = text[..first].matches('\n').count();
    let value_end = line_end(text, start).min(end);
    let before = tail(&text[first..start], KEEP_BEFORE);
    let value = head(&text[start..value_end], KEEP_SPAN);
    let after = head(&text[value_end..line_end(text, value_end)], KEEP_AFTER);
    let mut out = "\n".repeat(line_no);
    out.push_str(&before);
    let span_start = out.len();
    out.push_str(&value);
    let span_len = out.len() - span_start;
    out.push_str(&after);
    out.push('\n');
    Some((out, (span_start, span_len).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_lines_are_shown_as_they_are() {
        let text = "{\n  \"a\": \"x\"\n}";
        assert!(needed(text, (9, 3).into()).is_none());
    }

    #[test]
    fn a_huge_value_becomes_a_short_excerpt_on_the_same_line() {
        let big = "y".repeat(1_000_000);
        let text = format!("{{\n  \"a\": 1,\n  \"b\": \"{big}\"\n}}");
        let start = text.find("\"y").unwrap();
        let (out, span) = needed(&text, (start, big.len() + 2).into()).unwrap();
        assert!(out.len() < 300, "{}", out.len());
        assert_eq!(out.matches('\n').count(), 3, "line 3 stays line 3");
        let shown = &out[span.offset()..span.offset() + span.len()];
        assert!(shown.starts_with("\"yyy") && shown.ends_with("..."), "{shown}");
    }

    #[test]
    fn raw_terminal_characters_are_escaped() {
        let text = "{\"a\": \"x\u{9b}31m\u{7f}\"}";
        let (out, _) = needed(text, (6, text.len() - 7).into()).unwrap();
        assert!(out.contains("\\x9b31m\\x7f"), "{out}");
        assert!(!out.chars().any(unsafe_to_print));
    }
}
