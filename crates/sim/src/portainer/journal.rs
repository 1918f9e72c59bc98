//! The simulator's request log, like the Proxmox simulator's `commands.jsonl`: one JSON line per
//! request with method, path, query, status and duration — never a body or a header, and the
//! values of credential-carrying query parameters (`x-api-key` in any case, `token`) masked, so
//! no password, JWT or API key can reach it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::error::SimError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    pub method: String,
    pub path: String,
    /// `key=value&…` with credential values replaced by `***`.
    pub query: String,
    pub status: u16,
    pub millis: u64,
    /// Set when an injected fault answered or delayed the request.
    pub fault: bool,
}

#[derive(Debug, Default)]
pub struct Journal {
    pub entries: Vec<JournalEntry>,
    file: Option<PathBuf>,
}

/// Mask credentials in a parsed query and re-join it for the log.
pub fn masked_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| {
            let secret = k.eq_ignore_ascii_case("x-api-key") || k == "token";
            format!("{k}={}", if secret { "***" } else { v.as_str() })
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Journal {
    pub fn new(file: Option<PathBuf>) -> Self {
        Journal { entries: Vec::new(), file }
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn record(&mut self, entry: JournalEntry) -> Result<(), SimError> {
        if let Some(path) = &self.file {
            let io = |source| SimError::Io { path: path.clone(), source };
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
            let line = json!({
                "method": entry.method,
                "path": entry.path,
                "query": entry.query,
                "status": entry.status,
                "ms": entry.millis,
                "fault": entry.fault,
            });
            writeln!(f, "{line}").map_err(io)?;
        }
        self.entries.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_query_are_masked() {
        let q = vec![
            ("endpointId".to_string(), "2".to_string()),
            ("X-API-KEY".to_string(), "ptr_secret".to_string()),
            ("token".to_string(), "eyJ".to_string()),
        ];
        assert_eq!(masked_query(&q), "endpointId=2&X-API-KEY=***&token=***");
    }
}
