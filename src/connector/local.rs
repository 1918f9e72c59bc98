//! The local connector: phoenix runs on the Proxmox host itself. Commands are spawned straight
//! from their argv (never through a shell), files are handled with std::fs.

use crate::command::{Command, Output};
use crate::connector::{Connector, ConnectorError, FileData, FileWrite};
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};

const HOST: &str = "local";

/// Drives the machine phoenix runs on.
#[derive(Clone, Debug, Default)]
pub struct LocalConnector;

impl LocalConnector {
    pub fn new() -> Self {
        LocalConnector
    }
}

impl Connector for LocalConnector {
    fn describe(&self) -> String {
        HOST.to_string()
    }

    fn run(&self, cmd: &Command) -> Result<Output, ConnectorError> {
        let argv = cmd.exposed_argv();
        let Some((program, args)) = argv.split_first() else {
            return Err(spawn_error(cmd, std::io::Error::new(ErrorKind::InvalidInput, "empty command")));
        };
        let mut process = std::process::Command::new(program);
        process
            .args(args)
            // Tools must print in the C locale so the fact parsers see the format they were written for.
            .env("LC_ALL", "C")
            // Own process group: a Ctrl-C at the terminal reaches phoenix only, which lets the
            // command in flight finish before stopping, instead of killing it half-way.
            .process_group(0)
            .stdin(if cmd.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = process.spawn().map_err(|e| spawn_error(cmd, e))?;
        let (status, stdout, stderr) = collect(child, cmd.stdin.as_deref()).map_err(|e| spawn_error(cmd, e))?;
        Ok(Output { code: exit_code(status), stdout, stderr })
    }

    fn read_file(&self, path: &str) -> Result<Option<FileData>, ConnectorError> {
        let content = match fs::read(path) {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error("read", path, e.to_string())),
        };
        let meta = fs::metadata(path).map_err(|e| file_error("read", path, e.to_string()))?;
        let users = read_id_db("/etc/passwd");
        let groups = read_id_db("/etc/group");
        Ok(Some(FileData {
            content,
            mode: meta.mode() & 0o7777,
            owner: name_of(&users, meta.uid()),
            group: name_of(&groups, meta.gid()),
        }))
    }

    fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), ConnectorError> {
        let err = |message: String| file_error("write", path, message);
        let target = Path::new(path);
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if target.file_name().is_none() {
            return Err(err("not a file path".to_string()));
        }
        // Resolve names before touching the disk so an unknown user leaves nothing behind.
        let uid = match &file.owner {
            Some(name) => Some(id_of("/etc/passwd", name).map_err(|m| err(format!("owner {m}")))?),
            None => None,
        };
        let gid = match &file.group {
            Some(name) => Some(id_of("/etc/group", name).map_err(|m| err(format!("group {m}")))?),
            None => None,
        };
        fs::create_dir_all(dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
        // Same directory as the target, so the final rename never crosses a filesystem and a
        // reader sees either the old or the new file, never a partial one.
        let mut tmp = tempfile::Builder::new()
            .prefix(".phoenix.")
            .tempfile_in(dir)
            .map_err(|e| err(format!("creating temp file in {}: {e}", dir.display())))?;
        tmp.write_all(&file.content).map_err(|e| err(e.to_string()))?;
        tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
        if uid.is_some() || gid.is_some() {
            // Before chmod: chown clears setuid/setgid bits.
            std::os::unix::fs::fchown(tmp.as_file(), uid, gid).map_err(|e| err(format!("chown: {e}")))?;
        }
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(file.mode & 0o7777))
            .map_err(|e| err(format!("chmod: {e}")))?;
        tmp.persist(target).map_err(|e| err(e.error.to_string()))?;
        // Make the rename itself durable; a failure here does not undo a completed write.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn lock(&self, holder: &str) -> Result<Option<crate::lock::HostLock>, crate::lock::LockError> {
        crate::lock::HostLock::on_file(HOST, &crate::lock::local_lock_path(), holder).map(Some)
    }

    fn remove_file(&self, path: &str) -> Result<bool, ConnectorError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(file_error("remove", path, e.to_string())),
        }
    }
}

/// Feed stdin from a second thread while reading the outputs, so a command that writes a lot
/// before reading its input cannot deadlock against us.
fn collect(mut child: Child, input: Option<&[u8]>) -> std::io::Result<(ExitStatus, Vec<u8>, Vec<u8>)> {
    let stdin = child.stdin.take();
    std::thread::scope(|s| {
        if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
            s.spawn(move || {
                // A command may legitimately exit without reading all its input (broken pipe).
                let _ = pipe.write_all(bytes);
            });
        }
        let out = child.wait_with_output()?;
        Ok((out.status, out.stdout, out.stderr))
    })
}

/// Exit code as a shell reports it: a death by signal N is 128 + N.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn spawn_error(cmd: &Command, source: std::io::Error) -> ConnectorError {
    // The program name is plain in practice, but go through Display of the first Arg so a
    // secret in that position would still be masked.
    let program = cmd.argv.first().map(|a| a.to_string()).unwrap_or_default();
    ConnectorError::Spawn { host: HOST.to_string(), program, source }
}

fn file_error(op: &'static str, path: &str, message: String) -> ConnectorError {
    ConnectorError::File { host: HOST.to_string(), op, path: path.to_string(), message }
}

/// `name:x:id:…` lines of /etc/passwd or /etc/group as (name, id) pairs. An unreadable file is
/// an empty database: names then fall back to numeric text.
fn read_id_db(path: &str) -> Vec<(String, u32)> {
    fs::read_to_string(path).map(|t| parse_id_db(&t)).unwrap_or_default()
}

pub(crate) fn parse_id_db(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            (!name.is_empty()).then(|| (name.to_string(), id))
        })
        .collect()
}

fn name_of(db: &[(String, u32)], id: u32) -> String {
    db.iter().find(|(_, i)| *i == id).map(|(n, _)| n.clone()).unwrap_or_else(|| id.to_string())
}

/// A name to its numeric id. A purely numeric name is taken as the id itself, matching
/// `chown`'s behaviour and what `read_file` returns for unknown ids.
fn id_of(db_path: &str, name: &str) -> Result<u32, String> {
    let text = fs::read_to_string(db_path).map_err(|e| format!("`{name}`: reading {db_path}: {e}"))?;
    lookup_id(&parse_id_db(&text), name).ok_or_else(|| format!("`{name}` not found in {db_path}"))
}

fn lookup_id(db: &[(String, u32)], name: &str) -> Option<u32> {
    db.iter().find(|(n, _)| n == name).map(|(_, i)| *i).or_else(|| name.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n";

    #[test]
    fn id_database_parses_and_resolves_both_ways() {
        let db = parse_id_db(PASSWD);
        assert_eq!(db, vec![("root".to_string(), 0), ("www-data".to_string(), 33)]);
        assert_eq!(name_of(&db, 33), "www-data");
        assert_eq!(name_of(&db, 4242), "4242");
        assert_eq!(lookup_id(&db, "www-data"), Some(33));
        assert_eq!(lookup_id(&db, "1001"), Some(1001));
        assert_eq!(lookup_id(&db, "nosuchuser"), None);
    }

    #[test]
    fn unknown_owner_is_a_clear_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let path = path.to_str().unwrap();
        let w = FileWrite { content: b"x".to_vec(), mode: 0o644, owner: Some("no-such-user-phx".into()), group: None };
        let err = LocalConnector.write_file(path, &w).unwrap_err().to_string();
        assert!(err.contains("no-such-user-phx") && err.contains(path), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn signal_death_maps_to_128_plus_signal() {
        let out = LocalConnector.run(&Command::new(["sh", "-c", "kill -TERM $$"])).unwrap();
        assert_eq!(out.code, 128 + 15);
    }
}
