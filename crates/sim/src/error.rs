//! Errors of the simulator itself (not of the simulated commands, which answer with an
//! exit code and stderr like the real tools).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator state {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("simulator state {path} is not valid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("sim: cannot write {path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("sim: cannot parse {path} line {line}: {message}")]
    Parse { path: String, line: usize, message: String },
}
