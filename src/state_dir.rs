//! The state dir (journal, ssh control sockets) must be usable before a run starts: a journal
//! that cannot be written would lose the record of what the run did, so an unusable folder is
//! invalid input (exit 2), found before anything touches the host.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("the state dir {path} cannot be created: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("the state dir {path} is not a folder")]
    NotAFolder { path: PathBuf },
    #[error("the state dir {path} is not writable: {source}")]
    NotWritable { path: PathBuf, source: std::io::Error },
}

impl StateDirError {
    pub fn hint(&self) -> &'static str {
        "pass --state-dir (or set PHOENIX_STATE_DIR) to a folder you can write; phoenix creates it if missing"
    }
}

/// Create the folder if needed and prove it writable by creating (and removing) a file in it.
pub fn prepare(dir: &Path) -> Result<(), StateDirError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StateDirError::NotAFolder { path: dir.to_path_buf() });
    }
    std::fs::create_dir_all(dir).map_err(|source| StateDirError::Create { path: dir.to_path_buf(), source })?;
    if !dir.is_dir() {
        return Err(StateDirError::NotAFolder { path: dir.to_path_buf() });
    }
    // Permission bits do not tell (root, ACLs, read-only mounts): try it.
    tempfile::Builder::new()
        .prefix(".phoenix-probe.")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|source| StateDirError::NotWritable { path: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_folder_is_created_and_usable() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a/b");
        prepare(&dir).unwrap();
        assert!(dir.is_dir());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the probe file is removed");
    }

    #[test]
    fn a_file_or_a_folder_under_a_file_is_refused_with_the_os_error() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(prepare(&file), Err(StateDirError::NotAFolder { .. })));
        let under = file.join("sub");
        let err = prepare(&under).unwrap_err();
        assert!(matches!(err, StateDirError::Create { .. }), "{err}");
        assert!(err.to_string().contains("Not a directory"), "{err}");
    }
}
