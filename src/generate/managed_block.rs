//! Line-based config files phoenix owns a part of (nginx, Traefik, dnsmasq, /etc/exports): a
//! block of lines, each built from values that may not hold a newline or another control
//! character, so a value can never add a line. The file op wraps the block in its markers.

use super::error::{no_control, GenerateError};

/// Lines under construction; `text()` joins them with a final newline.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    lines: Vec<String>,
}

impl Lines {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a line composed by a format builder (already checked), or a fixed line.
    pub fn push_checked(&mut self, field: &str, line: String) -> Result<(), GenerateError> {
        no_control(field, &line)?;
        self.lines.push(line);
        Ok(())
    }

    /// `key<sep>value` (`server=10.0.0.1`, `listen 443`), value checked.
    pub fn key_value(&mut self, key: &str, sep: &str, value: &str) -> Result<(), GenerateError> {
        no_control(key, key)?;
        no_control(key, value)?;
        self.lines.push(format!("{key}{sep}{value}"));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// Check a managed block before it is placed between its markers (`# BEGIN phoenix <marker>`
/// … `# END phoenix <marker>`): the marker is one word, the comment leader one line, and the
/// body holds no control character but newlines and tabs and no line that is one of the
/// markers (which would end the block early or open another, and the next run would cut the
/// file in the wrong place).
pub fn check_block(comment: &str, marker: &str, begin: &str, end: &str, body: &str) -> Result<(), GenerateError> {
    super::error::token("managed block comment", comment, &[])?;
    super::error::token("managed block marker", marker, &[])?;
    for line in body.split('\n') {
        let bad = line.chars().find(|c| c.is_control() && *c != '\t');
        if bad.is_some() {
            return Err(GenerateError::new(format!("block {marker} line"), line, super::Refusal::ControlChar));
        }
        let l = line.trim();
        if l == begin || l == end {
            return Err(GenerateError::new(format!("block {marker} line"), line, super::Refusal::NotAllowedWord));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::error::Refusal;

    #[test]
    fn block_bodies_cannot_move_their_markers() {
        let (b, e) = ("# BEGIN phoenix x", "# END phoenix x");
        assert!(check_block("#", "x", b, e, "a\n\tb\n").is_ok());
        assert_eq!(check_block("#", "x", b, e, "a\n# END phoenix x\nz").unwrap_err().reason, Refusal::NotAllowedWord);
        assert_eq!(check_block("#", "x", b, e, "a\rb").unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(check_block("#", "x y", b, e, "").unwrap_err().reason, Refusal::Whitespace);
        assert_eq!(check_block("", "x", b, e, "").unwrap_err().reason, Refusal::Empty);
    }

    #[test]
    fn values_cannot_add_lines() {
        let mut l = Lines::new();
        l.key_value("server", "=", "10.0.0.1").unwrap();
        l.push_checked("export", "/a b(rw)".into()).unwrap();
        assert_eq!(l.text(), "server=10.0.0.1\n/a b(rw)\n");
        assert_eq!(l.key_value("server", "=", "1\naddress=/#/6.6.6.6").unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(l.push_checked("x", "a\rb".into()).unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(l.len(), 2);
    }
}
