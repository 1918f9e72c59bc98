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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::error::Refusal;

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
