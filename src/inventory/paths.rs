//! Files the configuration names (application scripts, health-check scripts, stack files)
//! must stay inside the configuration: the config folder itself, or the original layout's
//! `bin/` and `stacks/` beside it. Names are checked as written (relative, no `..`), then the
//! file found is resolved with its symlinks, so a link pointing out is refused too.

use super::rules::relative_path;
use std::path::{Path, PathBuf};

/// Why a named file cannot be used.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The name is absolute, has `..` or `.` components, or is not normalised.
    NotRelative(String),
    /// No candidate exists.
    NotFound,
    /// The file exists, but resolves (through a symlink) outside every allowed folder.
    Outside { found: PathBuf, resolved: PathBuf },
}

/// The folders files may resolve into, canonicalised (those that do not exist are skipped).
pub(crate) fn roots(config_dir: &Path, siblings: &[&str]) -> Vec<PathBuf> {
    let mut dirs = vec![config_dir.to_path_buf()];
    dirs.extend(siblings.iter().map(|s| config_dir.join("..").join(s)));
    dirs.iter().filter_map(|d| d.canonicalize().ok()).collect()
}

/// The first candidate (`base/name` for each base) that exists, checked against `roots`.
pub(crate) fn resolve(name: &str, bases: &[PathBuf], roots: &[PathBuf]) -> Result<PathBuf, Refusal> {
    relative_path(name).map_err(Refusal::NotRelative)?;
    let candidates: Vec<PathBuf> = bases.iter().map(|b| b.join(name)).collect();
    let Some(found) = candidates.iter().find(|p| p.is_file()) else {
        return Err(Refusal::NotFound);
    };
    let resolved = found.canonicalize().map_err(|_| Refusal::NotFound)?;
    if roots.iter().any(|r| resolved.starts_with(r)) {
        Ok(found.clone())
    } else {
        Err(Refusal::Outside { found: found.clone(), resolved })
    }
}

/// Whether an existing path resolves inside one of `roots`.
pub(crate) fn inside(path: &Path, roots: &[PathBuf]) -> Result<(), PathBuf> {
    match path.canonicalize() {
        Ok(r) if roots.iter().any(|root| r.starts_with(root)) => Ok(()),
        Ok(r) => Err(r),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_inside_and_links_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(etc.join("scripts")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/app.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("outside.sh"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.sh"), etc.join("scripts/link.sh")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("bin/app.sh"), etc.join("scripts/inner.sh")).unwrap();
        let roots = roots(&etc, &["bin"]);
        let bases = [etc.join("scripts"), etc.join("..").join("bin")];
        assert!(resolve("app.sh", &bases, &roots).is_ok());
        assert!(resolve("inner.sh", &bases, &roots).is_ok(), "a link to a file inside is fine");
        assert!(matches!(resolve("link.sh", &bases, &roots), Err(Refusal::Outside { .. })));
        assert!(matches!(resolve("/etc/passwd", &bases, &roots), Err(Refusal::NotRelative(_))));
        assert!(matches!(resolve("../../outside.sh", &bases, &roots), Err(Refusal::NotRelative(_))));
        assert!(matches!(resolve("nope.sh", &bases, &roots), Err(Refusal::NotFound)));
    }
}
