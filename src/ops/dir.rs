//! Host directories: made when missing (with their parents), owned by numeric ids. Bind-mount
//! sources and NFS export paths need them: Proxmox refuses to start a container whose bind-mount
//! source is not a directory, and `exportfs` skips a path it cannot stat.

use super::{Action, Change, OpError, Plan};
use crate::command::Command;
use crate::facts::Facts;

/// A directory as phoenix wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredDir {
    pub path: String,
    /// Permission bits of a directory phoenix creates; an existing directory keeps its own (an
    /// operator may have tightened them).
    pub mode: u32,
    /// Numeric host owner. `None`: not managed (a new directory is root's).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `false`: `uid`/`gid` apply only to a directory this op creates; an existing one keeps
    /// whatever owner it has (its data may belong to someone on purpose).
    pub enforce_owner: bool,
}

/// What `stat` says is at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Absent,
    Dir { uid: u32, gid: u32 },
    Other(String),
}

fn subject(path: &str) -> String {
    format!("directory {path}")
}

/// `%n` last: the name is everything after the third `|`.
const FORMAT: &str = "%F|%u|%g|%n";

fn refuse_path(path: &str) -> Result<(), OpError> {
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") || path.contains('\n') {
        return Err(OpError::Invalid {
            subject: subject(path),
            message: "must be an absolute path without `..` or a newline".into(),
        });
    }
    Ok(())
}

/// Read the type and owner of every path in one `stat` (one round trip for all of a guest's
/// bind mounts). `stat` prints a line for each path it finds and exits 1 when one is missing,
/// naming it on stderr.
fn look_all(facts: &Facts, paths: &[&str]) -> Result<Vec<Found>, OpError> {
    let cmd = Command::new(["stat", "-c", FORMAT, "--"]).args(paths.iter().copied());
    // Through the fact reader, so an apply reuses what its rehearsal read.
    let out = facts.host_run(&cmd)?;
    let (stdout, stderr) = (out.stdout_str(), out.stderr_str());
    let mut seen: std::collections::HashMap<&str, Found> = std::collections::HashMap::new();
    for line in stdout.lines() {
        let mut f = line.splitn(4, '|');
        let (Some(kind), Some(uid), Some(gid), Some(name)) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        let found = match (kind, uid.parse(), gid.parse()) {
            ("directory", Ok(uid), Ok(gid)) => Found::Dir { uid, gid },
            _ => Found::Other(kind.to_string()),
        };
        seen.insert(name, found);
    }
    paths
        .iter()
        .map(|p| match seen.get(p) {
            Some(f) => Ok(f.clone()),
            None if stderr.contains(&format!("'{p}': No such file or directory")) => Ok(Found::Absent),
            None => Err(OpError::Invalid {
                subject: subject(p),
                message: format!("`{cmd}` did not report it (exit {}): {}", out.code, stderr.trim_end()),
            }),
        })
        .collect()
}

fn owner_arg(uid: Option<u32>, gid: Option<u32>) -> Option<String> {
    match (uid, gid) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    }
}

/// The action one directory needs, if any.
fn action_for(want: &DesiredDir, found: Found) -> Result<Option<Action>, OpError> {
    let path = want.path.as_str();
    let subj = subject(path);
    let chown = |uid: Option<u32>, gid: Option<u32>| {
        owner_arg(uid, gid).map(|o| Command::new(["chown", o.as_str(), "--", path]))
    };
    match found {
        Found::Absent => {
            let mode = format!("{:04o}", want.mode);
            let mut action = Action::new(Change::Create, subj, "absent").exec(Command::new([
                "mkdir",
                "-p",
                "-m",
                mode.as_str(),
                "--",
                path,
            ]));
            if let Some(c) = chown(want.uid, want.gid) {
                action = action.exec(c);
            }
            Ok(Some(action))
        }
        Found::Other(kind) => Err(OpError::Invalid {
            subject: subj,
            message: format!("exists but is a {kind}, not a directory; move it away first"),
        }),
        Found::Dir { uid, gid } => {
            let wrong_uid = want.uid.filter(|u| want.enforce_owner && *u != uid);
            let wrong_gid = want.gid.filter(|g| want.enforce_owner && *g != gid);
            let Some(c) = chown(wrong_uid, wrong_gid) else {
                return Ok(None);
            };
            let reason = format!("owner {uid}:{gid} → {}:{}", wrong_uid.unwrap_or(uid), wrong_gid.unwrap_or(gid));
            Ok(Some(Action::new(Change::Update, subj, reason).exec(c)))
        }
    }
}

/// Make every `wants` path a directory with the wanted owner, reading them all at once.
/// Idempotent: a directory that exists with the right owner (or whose owner is not managed)
/// is left alone. A path that is not a plain absolute path is refused before anything is sent.
pub fn ensure_dirs(facts: &Facts, wants: &[DesiredDir]) -> Result<Plan, OpError> {
    let subj = match wants {
        [one] => subject(&one.path),
        _ => format!("{} directories", wants.len()),
    };
    if wants.is_empty() {
        return Ok(Plan::noop(subj, "none declared"));
    }
    for w in wants {
        refuse_path(&w.path)?;
    }
    let paths: Vec<&str> = wants.iter().map(|w| w.path.as_str()).collect();
    let found = look_all(facts, &paths)?;
    let mut actions = Vec::new();
    for (want, f) in wants.iter().zip(found) {
        actions.extend(action_for(want, f)?);
    }
    if actions.is_empty() {
        return Ok(Plan::noop(subj, "exist with the wanted owner"));
    }
    Ok(Plan::with(subj, actions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_argument_names_only_what_is_managed() {
        assert_eq!(owner_arg(Some(100033), Some(100033)).as_deref(), Some("100033:100033"));
        assert_eq!(owner_arg(Some(5), None).as_deref(), Some("5"));
        assert_eq!(owner_arg(None, Some(7)).as_deref(), Some(":7"));
        assert_eq!(owner_arg(None, None), None);
    }
}
