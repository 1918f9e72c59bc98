//! Finds plans and stdlib modules: the project folder on disk first (operators override a file
//! by editing it), then the copies embedded in the binary.

use super::embedded;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A script found by the resolver.
#[derive(Debug, Clone)]
pub struct Found {
    /// Name shown in diagnostics: the disk path, or `<embedded>/stdlib/x.rhai`.
    pub name: String,
    pub text: Arc<str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid UTF-8")]
    NotUtf8 { path: PathBuf },
}

/// Where plans and stdlib live: `<root>/plans`, `<root>/stdlib`.
#[derive(Debug, Clone)]
pub struct Resolver {
    root: Option<PathBuf>,
}

impl Resolver {
    pub fn new(root: Option<PathBuf>) -> Self {
        Resolver { root }
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// `rel` is relative to the root, e.g. `plans/setup.rhai`.
    pub fn find(&self, rel: &str) -> Result<Option<Found>, ResolveError> {
        if let Some(root) = &self.root {
            let path = root.join(rel);
            if path.is_file() {
                return read(&path).map(Some);
            }
        }
        Ok(embedded::get(rel).map(|text| Found { name: format!("<embedded>/{rel}"), text: Arc::from(text) }))
    }

    pub fn plan(&self, verb: &str) -> Result<Option<Found>, ResolveError> {
        self.find(&format!("plans/{verb}.rhai"))
    }

    /// An `import "stages/zfs"` resolves to `stdlib/stages/zfs.rhai`.
    pub fn module(&self, import_path: &str) -> Result<Option<Found>, ResolveError> {
        let rel = import_path.trim_end_matches(".rhai");
        // Imports name stdlib modules, never arbitrary files.
        if rel.split('/').any(|part| part == ".." || part.is_empty()) {
            return Ok(None);
        }
        self.find(&format!("stdlib/{rel}.rhai"))
    }

    /// Every plan name, from disk and embedded, sorted and deduplicated.
    pub fn plan_names(&self) -> Vec<String> {
        let mut names: Vec<String> = embedded::plan_names().map(str::to_string).collect();
        if let Some(root) = &self.root {
            if let Ok(entries) = std::fs::read_dir(root.join("plans")) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "rhai") {
                        if let Some(stem) = p.file_stem() {
                            names.push(stem.to_string_lossy().into_owned());
                        }
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

impl Resolver {
    /// The modules directly in `stdlib/<folder>/` (`features` → `docker`, `step_ca`, …), from
    /// disk and embedded, sorted and deduplicated. Import them as `<folder>/<name>`.
    pub fn module_names(&self, folder: &str) -> Vec<String> {
        let mut names: Vec<String> = embedded::module_names(folder).map(str::to_string).collect();
        if let Some(root) = &self.root {
            if let Ok(entries) = std::fs::read_dir(root.join("stdlib").join(folder)) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.is_file() && p.extension().is_some_and(|x| x == "rhai") {
                        if let Some(stem) = p.file_stem() {
                            names.push(stem.to_string_lossy().into_owned());
                        }
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

pub fn read(path: &Path) -> Result<Found, ResolveError> {
    let bytes = std::fs::read(path).map_err(|source| ResolveError::Read { path: path.to_path_buf(), source })?;
    let text = String::from_utf8(bytes).map_err(|_| ResolveError::NotUtf8 { path: path.to_path_buf() })?;
    Ok(Found { name: path.display().to_string(), text: Arc::from(text) })
}
