//! Reading one JSON config file: missing, unreadable, non-UTF-8 and malformed files all become
//! problems that name the path (and, for syntax errors, the line and column).

use super::diagnostic::ConfigProblem;
use super::source::SourceFile;
use serde_json::Value;
use std::path::Path;

/// Why a file could not be read at all (distinguished so optional files can be skipped).
pub(crate) enum ReadFailure {
    Missing(Box<ConfigProblem>),
    Broken(Box<ConfigProblem>),
}

impl ReadFailure {
    pub fn into_problem(self) -> ConfigProblem {
        match self {
            ReadFailure::Missing(p) | ReadFailure::Broken(p) => *p,
        }
    }
}

fn missing(p: ConfigProblem) -> ReadFailure {
    ReadFailure::Missing(Box::new(p))
}

fn broken(p: ConfigProblem) -> ReadFailure {
    ReadFailure::Broken(Box::new(p))
}

pub(crate) fn read_json(path: &Path) -> Result<(SourceFile, Value), ReadFailure> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(missing(
                ConfigProblem::about_path(format!("config file {name} does not exist"))
                    .help("create it, or pass the right folder with --config-dir"),
            ))
        }
        Err(e) => return Err(broken(ConfigProblem::about_path(format!("could not read config file {name}: {e}")))),
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // The lossy text is byte-identical up to the first invalid sequence, so the offset holds.
            let offset = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let file = SourceFile::empty(name).with_text(lossy);
            let len = file.text[offset..].chars().next().map_or(0, char::len_utf8);
            return Err(broken(
                ConfigProblem::at(&file, (offset, len).into(), "config file is not valid UTF-8")
                    .label("invalid byte sequence")
                    .help("save the file as UTF-8"),
            ));
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(value) => Ok((SourceFile::new(name, text), value)),
        Err(e) => {
            let file = SourceFile::empty(name).with_text(text);
            let offset = offset_of(&file.text, e.line(), e.column());
            let len = file.text[offset..].chars().next().map_or(0, char::len_utf8);
            let message = e.to_string();
            // serde_json appends " at line L column C"; the rendered span already says where.
            let what = message.split(" at line ").next().unwrap_or(&message).to_string();
            Err(broken(
                ConfigProblem::at(&file, (offset, len).into(), format!("invalid JSON: {what}"))
                    .label("here")
                    .help(json_hint(&what)),
            ))
        }
    }
}

fn json_hint(what: &str) -> String {
    if what.contains("trailing comma") {
        "remove the comma before the closing bracket".into()
    } else if what.contains("EOF") {
        "the file ends too early: check for a missing closing } or ]".into()
    } else if what.contains("key must be a string") {
        "object keys must be in double quotes".into()
    } else if what.contains("recursion limit") {
        "the file nests objects or arrays too deeply".into()
    } else {
        "fix the JSON syntax here (a validator such as `jq . FILE` shows the same position)".into()
    }
}

/// Byte offset of serde_json's 1-based line and column (column 0 means "before the first
/// byte"). Clamped to the text so any reported position is usable as a span.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0usize;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    let mut offset = (start + column.saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_from_line_and_column() {
        let text = "{\n  \"a\": 1,\n}";
        assert_eq!(offset_of(text, 3, 1), text.len() - 1);
        assert_eq!(offset_of(text, 1, 0), 0);
        assert_eq!(offset_of(text, 99, 99), text.len());
        assert_eq!(offset_of("é", 1, 2), 0, "never inside a character");
    }

    #[test]
    fn problems_for_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        assert!(matches!(read_json(&missing), Err(ReadFailure::Missing(_))));
        for (name, bytes) in [
            ("empty.json", &b""[..]),
            ("trailing.json", &b"{\"a\": 1,}"[..]),
            ("latin1.json", &b"{\"a\": \"\xe9\"}"[..]),
            ("deep.json", "[".repeat(5000).as_bytes()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            match read_json(&path) {
                Err(ReadFailure::Broken(p)) => assert!(p.span.is_some(), "{name}: {}", p.message),
                _ => panic!("{name} should be broken"),
            }
        }
    }
}
