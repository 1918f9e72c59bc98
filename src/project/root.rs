//! Where the project folder is: the plans and stdlib phoenix runs sit next to the configuration.

use std::path::{Path, PathBuf};

/// The folder holding `plans/` and `stdlib/`: PHOENIX_HOME, else the config folder's parent
/// (kept relative, so messages name files the way the operator typed them).
pub fn project_root(config_dir: &Path) -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("PHOENIX_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    config_dir.parent().map(|p| p.to_path_buf())
}
