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

/// Where phoenix keeps a credential it made (a Portainer API key): `<state dir>/credentials/<name>`.
pub fn credential_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("credentials").join(name)
}

/// Write a private file: its folder 0700, the file 0600 from its first byte (a temp file made
/// with that mode, then renamed), so no other user can ever read it.
pub fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let folder = path.parent().ok_or_else(|| std::io::Error::other("no parent folder"))?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(folder)?;
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".phoenix-cred.")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(folder)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Read a private file written by [`write_private`]; `None` when absent. A file others can
/// read or write is refused: a credential there may have been seen or planted.
pub fn read_private(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => Err(std::io::Error::other(format!(
            "{} is readable by others (mode {:04o}); remove it so phoenix makes a new one",
            path.display(),
            m.permissions().mode() & 0o7777
        ))),
        Ok(_) => std::fs::read(path).map(Some),
    }
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

    #[test]
    fn private_files_are_0600_in_a_0700_folder_and_loose_ones_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let path = credential_path(d.path(), "k.json");
        write_private(&path, b"secret").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o7777, 0o700);
        assert_eq!(read_private(&path).unwrap().as_deref(), Some(&b"secret"[..]));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&path).is_err());
        assert!(read_private(&d.path().join("none")).unwrap().is_none());
    }
}
