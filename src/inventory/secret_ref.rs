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

#[cfg(test)]
mod tests {
    use super::*;

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
