//! The journal: one JSON line per executed action, appended to `<state-dir>/journal.jsonl`.
//! It is the record of what phoenix did to a host (dry-runs write nothing). Secrets are masked
//! because actions only ever hold them as [`crate::secret::Secret`].

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Serialize)]
pub struct JournalEntry<'a> {
    /// RFC 3339 UTC, milliseconds.
    pub started: String,
    pub finished: String,
    pub run_id: &'a str,
    pub host: &'a str,
    pub plan: &'a str,
    pub change: crate::types::Change,
    pub subject: &'a str,
    pub reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest: Option<u32>,
    pub steps: Vec<String>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the journal {path}: {source}")]
pub struct JournalError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl Journal {
    /// A journal at `path`; the file is created on the first entry, so dry-runs leave no trace.
    pub fn new(path: &Path) -> Self {
        Journal { path: path.to_path_buf(), file: Mutex::new(None) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record(&self, entry: &JournalEntry<'_>) -> Result<(), JournalError> {
        let err = |source| JournalError { path: self.path.clone(), source };
        let mut guard = match self.file.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            *guard = Some(OpenOptions::new().create(true).append(true).open(&self.path).map_err(err)?);
        }
        let mut line = serde_json::to_string(entry).map_err(|e| err(std::io::Error::other(e)))?;
        line.push('\n');
        match guard.as_mut() {
            Some(f) => f.write_all(line.as_bytes()).map_err(err),
            None => Ok(()),
        }
    }
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
