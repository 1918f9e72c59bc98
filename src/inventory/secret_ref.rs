//! Where a secret comes from. Configs may still hold literal secrets (the original tool kept
//! passwords in its JSON) but loading warns about them; `{"env": …}` and `{"file": …}` keep
//! secrets out of files that end up in git.

use crate::secret::Secret;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretRef {
    /// Written in the config itself (masked when serialized).
    Literal(Secret),
    /// Read from this environment variable when needed.
    Env(String),
    /// Read from this file when needed (trailing newlines dropped).
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{name}` is not set (it holds a secret the configuration refers to)")]
    EnvMissing { name: String },
    #[error("environment variable `{name}` is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error("could not read secret file {}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    #[error("secret file {} is empty", path.display())]
    FileEmpty { path: PathBuf },
}

impl SecretRef {
    /// Fetches the secret. Done lazily (at the step that needs it) so a dry-run or a plan that
    /// never touches Portainer does not require every secret to be present.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Literal(s) => Ok(s.clone()),
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) => Ok(Secret::new(v)),
                Err(std::env::VarError::NotPresent) => Err(SecretError::EnvMissing { name: name.clone() }),
                Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::EnvNotUnicode { name: name.clone() }),
            },
            SecretRef::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| SecretError::File { path: path.clone(), source })?;
                let value = text.trim_end_matches(['\n', '\r']);
                if value.is_empty() {
                    return Err(SecretError::FileEmpty { path: path.clone() });
                }
                Ok(Secret::new(value))
            }
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, SecretRef::Literal(_))
    }
}

/// The warning for a secret written in the configuration itself. It names the key path and the
/// place (file:line:col) but shows no source excerpt: the excerpt would print the secret.
pub(crate) fn literal_warning(
    file: &super::source::SourceFile,
    ptr: &str,
    key_path: &str,
) -> super::diagnostic::ConfigProblem {
    let at = file
        .location(ptr)
        .map(|l| {
            let before = &file.text[..l.value.start.min(file.text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("{}:{line}:{col}", file.name)
        })
        .unwrap_or_else(|| file.name.clone());
    super::diagnostic::ConfigProblem::about_path(format!("`{key_path}` holds a secret in plain text ({at})"))
        .help(
            "keep secrets out of config files: write {\"env\": \"NAME\"} to read it from an environment \
             variable or {\"file\": \"/path\"} to read it from a file",
        )
        .warning()
}

/// Replace the literal secrets of `file` (byte `spans` of their values) in the excerpt every
/// problem about that file would show: a problem on a neighbouring line prints the lines
/// around it. Each byte becomes `*`, so offsets and spans stay valid.
pub(crate) fn mask_in_excerpts(
    problems: &mut [super::diagnostic::ConfigProblem],
    file: &super::source::SourceFile,
    spans: &[std::ops::Range<usize>],
) {
    if spans.is_empty() {
        return;
    }
    let mut bytes = file.text.clone().into_bytes();
    for r in spans {
        // Keep the quotes: only the string's content is the secret.
        let (start, end) = (r.start + 1, r.end.saturating_sub(1).min(bytes.len()));
        for b in bytes.iter_mut().take(end).skip(start) {
            *b = b'*';
        }
    }
    let masked = String::from_utf8_lossy(&bytes).into_owned();
    for p in problems.iter_mut() {
        if p.source.as_ref().is_some_and(|s| s.name() == file.name) {
            p.source = Some(miette::NamedSource::new(file.name.clone(), masked.clone()).with_language("json"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_warning_names_the_key_and_place_never_the_value() {
        let text = "{\n  \"users\": {\n    \"password_hash\": \"hunter2-sekrit\"\n  }\n}\n".to_string();
        let file = super::super::source::SourceFile::new("cfg.json", text);
        let w = literal_warning(&file, "/users/password_hash", "users.password_hash");
        let shown = super::super::diagnostic::render(&w);
        assert!(shown.contains("`users.password_hash` holds a secret in plain text (cfg.json:3:22)"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!w.is_error());
    }

    #[test]
    fn literal_resolves_to_itself_and_serializes_masked() {
        let r = SecretRef::Literal(Secret::new("hunter2"));
        assert_eq!(r.resolve().unwrap().expose(), "hunter2");
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"literal":"***"}"#);
    }

    #[test]
    fn env_resolves_and_reports_missing() {
        // A name unique to this test, so parallel tests cannot interfere.
        let name = "PHOENIX_TEST_SECRET_REF_ENV_1";
        std::env::set_var(name, "s3cret");
        assert_eq!(SecretRef::Env(name.into()).resolve().unwrap().expose(), "s3cret");
        let missing = SecretRef::Env("PHOENIX_TEST_SECRET_REF_SURELY_UNSET".into()).resolve();
        let err = missing.unwrap_err().to_string();
        assert!(err.contains("PHOENIX_TEST_SECRET_REF_SURELY_UNSET"), "{err}");
        assert!(!err.contains("s3cret"));
    }

    #[test]
    fn file_resolves_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "p@ss\n").unwrap();
        assert_eq!(SecretRef::File(path.clone()).resolve().unwrap().expose(), "p@ss");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(SecretRef::File(path).resolve(), Err(SecretError::FileEmpty { .. })));
        let missing = SecretRef::File(dir.path().join("nope")).resolve().unwrap_err();
        assert!(missing.to_string().contains("nope"));
    }
}
