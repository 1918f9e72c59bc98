//! A config file's text plus an index from JSON pointers to byte spans, so every problem can
//! point at the exact key or value it is about. serde_json gives values but no positions, hence
//! the small scanner here; it runs only on text serde_json has already accepted.

use miette::{NamedSource, SourceSpan};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

/// Where one JSON value sits in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// Span of the member's key (with its quotes); `None` for array items and the root.
    pub key: Option<Range<usize>>,
    /// Span of the value itself.
    pub value: Range<usize>,
}

/// One loaded config file: its display name (the path as given), text and span index.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub name: String,
    pub text: String,
    /// Built on first use: only a config with problems needs positions, and indexing every
    /// value of a large inventory costs more than loading it.
    spans: OnceLock<HashMap<String, Location>>,
    /// False for text serde_json rejected: it is only shown around the error, never indexed.
    indexable: bool,
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
pub(crate) fn child_pointer(parent: &str, token: &str) -> String {
    let mut out = String::with_capacity(parent.len() + 1 + token.len());
    out.push_str(parent);
    out.push('/');
    if token.contains(['~', '/']) {
        out.push_str(&token.replace('~', "~0").replace('/', "~1"));
    } else {
        out.push_str(token);
    }
    out
}

/// A key written twice in one object (serde_json keeps the last silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// Pointer of the member (both declarations have it).
    pub pointer: String,
    pub first: Range<usize>,
    pub second: Range<usize>,
}

fn index(text: &str) -> HashMap<String, Location> {
    let mut spans = HashMap::new();
    let mut dups = Vec::new();
    let mut scanner = Scanner { bytes: text.as_bytes(), pos: 0, spans: &mut spans, record: true, dups: &mut dups };
    scanner.skip_ws();
    let _ = scanner.value(String::new(), None, 0);
    spans
}

/// Every key declared twice in the same object, in file order.
fn duplicates(text: &str) -> Vec<Duplicate> {
    let mut spans = HashMap::new();
    let mut dups = Vec::new();
    let mut scanner = Scanner { bytes: text.as_bytes(), pos: 0, spans: &mut spans, record: false, dups: &mut dups };
    scanner.skip_ws();
    let _ = scanner.value(String::new(), None, 0);
    dups
}

impl SourceFile {
    /// A file whose positions are indexed on first use. Text that is not valid JSON yields a
    /// partial (possibly empty) index rather than an error: spans are a convenience, serde_json
    /// is the judge of validity.
    pub fn new(name: impl Into<String>, text: String) -> Self {
        SourceFile { name: name.into(), text, spans: OnceLock::new(), indexable: true }
    }

    /// A file without content (missing or unreadable), for problems that name only the path.
    pub fn empty(name: impl Into<String>) -> Self {
        SourceFile { name: name.into(), text: String::new(), spans: OnceLock::new(), indexable: false }
    }

    /// Replaces the text without indexing it (for files serde_json rejected: the text is only
    /// shown around the error).
    pub fn with_text(mut self, text: String) -> Self {
        self.text = text;
        self.spans = OnceLock::new();
        self.indexable = false;
        self
    }

    fn spans(&self) -> &HashMap<String, Location> {
        self.spans.get_or_init(|| if self.indexable { index(&self.text) } else { HashMap::new() })
    }

    /// Keys declared twice in one object. A separate pass from the span index (which is only
    /// built when a problem needs it): every file is checked for duplicates on load.
    pub fn duplicate_keys(&self) -> Vec<Duplicate> {
        if self.indexable {
            duplicates(&self.text)
        } else {
            Vec::new()
        }
    }

    pub fn location(&self, pointer: &str) -> Option<&Location> {
        self.spans().get(pointer)
    }

    /// Span of the value at `pointer`, falling back to the nearest ancestor that has one.
    pub fn value_span(&self, pointer: &str) -> SourceSpan {
        self.nearest(pointer).map(|l| to_span(&l.value)).unwrap_or_else(|| (0, 0).into())
    }

    /// Span of the key at `pointer` (the value's span for array items and the root).
    pub fn key_span(&self, pointer: &str) -> SourceSpan {
        match self.nearest(pointer) {
            Some(Location { key: Some(k), .. }) => to_span(k),
            Some(l) => to_span(&l.value),
            None => (0, 0).into(),
        }
    }

    /// Span that stands for an object itself when something inside it is missing: its key
    /// when it has one, otherwise its opening brace.
    pub fn object_span(&self, pointer: &str) -> SourceSpan {
        match self.nearest(pointer) {
            Some(Location { key: Some(k), .. }) => to_span(k),
            Some(l) => (l.value.start, 1.min(l.value.len())).into(),
            None => (0, 0).into(),
        }
    }

    fn nearest(&self, pointer: &str) -> Option<&Location> {
        let mut p = pointer;
        loop {
            if let Some(l) = self.spans().get(p) {
                return Some(l);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    pub fn named_source(&self) -> NamedSource<String> {
        NamedSource::new(self.name.clone(), self.text.clone()).with_language("json")
    }
}

fn to_span(r: &Range<usize>) -> SourceSpan {
    (r.start, r.end - r.start).into()
}

/// Nesting deeper than this is not indexed (serde_json already refuses beyond 128).
const MAX_DEPTH: usize = 256;

struct Scanner<'a, 'm> {
    bytes: &'a [u8],
    pos: usize,
    spans: &'m mut HashMap<String, Location>,
    /// False for the duplicate pass, which needs no spans.
    record: bool,
    dups: &'m mut Vec<Duplicate>,
}

impl Scanner<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Scans one value starting at `self.pos` and records it under `pointer`.
    fn value(&mut self, pointer: String, key: Option<Range<usize>>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.pos;
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                self.skip_ws();
                if self.peek()? == b'}' {
                    self.pos += 1;
                } else {
                    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
                    loop {
                        self.skip_ws();
                        let key_start = self.pos;
                        let name = self.string()?;
                        let key_span = key_start..self.pos;
                        match seen.get(&name) {
                            Some(first) => self.dups.push(Duplicate {
                                pointer: child_pointer(&pointer, &name),
                                first: first.clone(),
                                second: key_span.clone(),
                            }),
                            None => {
                                seen.insert(name.clone(), key_span.clone());
                            }
                        }
                        self.skip_ws();
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.pos += 1;
                        self.skip_ws();
                        self.value(child_pointer(&pointer, &name), Some(key_span), depth + 1)?;
                        self.skip_ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                self.skip_ws();
                if self.peek()? == b']' {
                    self.pos += 1;
                } else {
                    let mut index = 0usize;
                    loop {
                        self.skip_ws();
                        self.value(child_pointer(&pointer, &index.to_string()), None, depth + 1)?;
                        index += 1;
                        self.skip_ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            _ => {
                // Numbers and literals: everything up to the next structural byte.
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
            }
        }
        if self.record {
            self.spans.insert(pointer, Location { key, value: start..self.pos });
        }
        Some(())
    }

    /// Scans a string literal and returns its decoded text (needed to build pointers for keys
    /// that contain escapes).
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                // A surrogate pair: the low half must follow as `\uXXXX`.
                                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return None;
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                let code = 0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?);
                                char::from_u32(code)?
                            } else {
                                char::from_u32(hi).unwrap_or('\u{FFFD}')
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return None,
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).ok()
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice<'a>(f: &'a SourceFile, r: &Range<usize>) -> &'a str {
        &f.text[r.clone()]
    }

    #[test]
    fn nested_objects_and_arrays() {
        let text = r#"{"a": {"b": [1, {"c": true}, "x"]}, "d": null}"#.to_string();
        let f = SourceFile::new("t.json", text);
        let c = f.location("/a/b/1/c").unwrap();
        assert_eq!(slice(&f, &c.value), "true");
        assert_eq!(slice(&f, c.key.as_ref().unwrap()), "\"c\"");
        assert_eq!(slice(&f, &f.location("/a/b/2").unwrap().value), "\"x\"");
        assert!(f.location("/a/b/2").unwrap().key.is_none());
        assert_eq!(slice(&f, &f.location("/a/b").unwrap().value), r#"[1, {"c": true}, "x"]"#);
        assert_eq!(slice(&f, &f.location("/d").unwrap().value), "null");
        assert_eq!(slice(&f, &f.location("").unwrap().value), f.text.as_str());
    }

    #[test]
    fn escapes_in_keys_and_values() {
        let text = r#"{"a\"b": "q\"uote", "sl/ash": 1, "t~i": 2, "\u00e9\ud83d\ude00": 3}"#;
        let f = SourceFile::new("t.json", text.to_string());
        assert_eq!(slice(&f, &f.location("/a\"b").unwrap().value), r#""q\"uote""#);
        assert_eq!(slice(&f, &f.location("/sl~1ash").unwrap().value), "1");
        assert_eq!(slice(&f, &f.location("/t~0i").unwrap().value), "2");
        assert_eq!(slice(&f, &f.location("/é😀").unwrap().value), "3");
    }

    #[test]
    fn non_ascii_and_crlf_offsets_are_bytes() {
        let text = "{\r\n  \"näme\": \"Grüße\",\r\n  \"n\": 42\r\n}";
        let f = SourceFile::new("t.json", text.to_string());
        let name = f.location("/näme").unwrap();
        assert_eq!(slice(&f, &name.value), "\"Grüße\"");
        let n = f.location("/n").unwrap();
        assert_eq!(slice(&f, &n.value), "42");
        assert_eq!(slice(&f, n.key.as_ref().unwrap()), "\"n\"");
    }

    #[test]
    fn spans_fall_back_to_nearest_ancestor() {
        let f = SourceFile::new("t.json", r#"{"a": {"b": 1}}"#.to_string());
        let s = f.value_span("/a/missing");
        assert_eq!(&f.text[s.offset()..s.offset() + s.len()], r#"{"b": 1}"#);
        let k = f.object_span("/a");
        assert_eq!(&f.text[k.offset()..k.offset() + k.len()], "\"a\"");
        let root = f.object_span("");
        assert_eq!(&f.text[root.offset()..root.offset() + root.len()], "{");
    }

    #[test]
    fn duplicate_keys_are_found_with_both_places() {
        let text = r#"{"a": 1, "b": {"x": 1, "x": 2}, "a": {"a": 3}}"#;
        let f = SourceFile::new("t.json", text.to_string());
        let dups = f.duplicate_keys();
        assert_eq!(dups.len(), 2, "{dups:?}");
        assert_eq!(dups[0].pointer, "/b/x");
        assert_eq!(&text[dups[0].first.clone()], "\"x\"");
        assert!(dups[0].second.start > dups[0].first.start);
        assert_eq!(dups[1].pointer, "/a");
        assert_eq!(dups[1].first.start, 1);
        let same_name_elsewhere = SourceFile::new("t.json", r#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}"#.into());
        assert!(same_name_elsewhere.duplicate_keys().is_empty());
    }

    #[test]
    fn garbage_does_not_panic() {
        for text in ["", "{", "[1,", "{\"a\" 1}", "\"\\u12", "{\"a\":\"\\ud800\"}", "]]]"] {
            let _ = SourceFile::new("t.json", text.to_string());
        }
        let deep = "[".repeat(10_000);
        let _ = SourceFile::new("t.json", deep);
    }
}
