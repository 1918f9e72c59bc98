//! Why a builder refused a value: the field it was meant for, the value as it can be shown
//! safely (control characters escaped, long values cut), and what in it would have changed the
//! structure of the generated text.

use std::fmt;

/// The longest part of a refused value an error shows; a 50 MB value is not echoed whole.
const SHOWN_CHARS: usize = 80;

/// A value a builder will not put into generated text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason} in {value}")]
pub struct GenerateError {
    /// What the value was for, e.g. `net0.bridge`, `firewall rule 2 comment`, `export /tank path`.
    pub field: String,
    /// The refused value, quoted and escaped for display ([`shown`]).
    pub value: String,
    /// What is wrong with it (`a newline`, `a comma`, …).
    pub reason: Refusal,
}

/// What in a value would break the format it was going into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    ControlChar,
    Whitespace,
    LeadingOrTrailingSpace,
    Comma,
    Equals,
    Parenthesis,
    Hash,
    /// A key outside its format's character set.
    KeyCharset,
    /// A host name that is not a DNS name (labels of letters, digits and `-`).
    NotDnsName,
    /// Not one of the words the format accepts at that place.
    NotAllowedWord,
    /// A `$`, which docker compose would interpolate.
    Interpolation,
    /// Not an absolute path without `..`.
    NotAbsolutePath,
    /// A `:`, a bind mount's separator.
    Colon,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Empty => "an empty value",
            Refusal::ControlChar => "a control character (newline, tab, escape, …)",
            Refusal::Whitespace => "whitespace",
            Refusal::LeadingOrTrailingSpace => "leading or trailing whitespace",
            Refusal::Comma => "a comma",
            Refusal::Equals => "an `=`",
            Refusal::Parenthesis => "a parenthesis",
            Refusal::Hash => "a `#`",
            Refusal::KeyCharset => "a character a key may not have",
            Refusal::NotDnsName => "not a DNS name (letters, digits, `-` and dots; labels of 1–63 characters)",
            Refusal::NotAllowedWord => "a word this field does not accept",
            Refusal::Interpolation => "a `$` (docker compose would replace it with a variable)",
            Refusal::NotAbsolutePath => "not an absolute path without `..`",
            Refusal::Colon => "a `:` (the separator of a bind mount)",
        })
    }
}

impl GenerateError {
    pub fn new(field: impl Into<String>, value: &str, reason: Refusal) -> Self {
        GenerateError { field: field.into(), value: shown(value), reason }
    }
}

/// `value` quoted for an error message: control characters as `\n`, `\x1b`, …, cut after
/// [`SHOWN_CHARS`] characters with the total length noted.
pub fn shown(value: &str) -> String {
    let total = value.chars().count();
    let mut out = String::from("\"");
    for c in value.chars().take(SHOWN_CHARS) {
        out.extend(c.escape_debug());
    }
    out.push('"');
    if total > SHOWN_CHARS {
        out.push_str(&format!(" (cut; {total} characters in all)"));
    }
    out
}

/// The first control character of `value` (Unicode category Cc: newline, CR, tab, ESC, DEL, …).
pub fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Refuse control characters; `field` names where the value was going.
pub fn no_control(field: &str, value: &str) -> Result<(), GenerateError> {
    if has_control(value) {
        return Err(GenerateError::new(field, value, Refusal::ControlChar));
    }
    Ok(())
}

/// A single whitespace-free word with none of `forbidden` in it (`(`, `,`, `#` …, as the
/// format needs).
pub fn token(field: &str, value: &str, forbidden: &[(char, Refusal)]) -> Result<(), GenerateError> {
    if value.is_empty() {
        return Err(GenerateError::new(field, value, Refusal::Empty));
    }
    no_control(field, value)?;
    if value.chars().any(char::is_whitespace) {
        return Err(GenerateError::new(field, value, Refusal::Whitespace));
    }
    for (c, why) in forbidden {
        if value.contains(*c) {
            return Err(GenerateError::new(field, value, *why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_cuts() {
        assert_eq!(shown("a\nb\x1b[31m"), "\"a\\nb\\u{1b}[31m\"");
        let long = "x".repeat(50_000);
        let s = shown(&long);
        assert!(s.len() < 200, "{s}");
        assert!(s.ends_with("(cut; 50000 characters in all)"), "{s}");
    }

    #[test]
    fn token_refusals_name_field_and_reason() {
        let e = token("export path", "/a b", &[]).unwrap_err();
        assert_eq!(e.to_string(), "export path: whitespace in \"/a b\"");
        assert_eq!(token("f", "", &[]).unwrap_err().reason, Refusal::Empty);
        assert_eq!(token("f", "a\rb", &[]).unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(token("f", "a(b", &[('(', Refusal::Parenthesis)]).unwrap_err().reason, Refusal::Parenthesis);
        assert!(token("f", "10.0.0.0/24", &[('(', Refusal::Parenthesis)]).is_ok());
    }
}
