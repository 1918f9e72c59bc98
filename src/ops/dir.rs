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

const FORMAT: &str = "%F|%u|%g";

fn stat_command(path: &str) -> Command {
    Command::new(["stat", "-c", FORMAT, "--", path])
}

/// Read the path's type and owner; `stat` exiting 1 with ENOENT means absent.
fn look(facts: &Facts, path: &str) -> Result<Found, OpError> {
    let cmd = stat_command(path);
    let out = facts.connector().run(&cmd).map_err(crate::facts::FactError::from)?;
    let invalid = |message: String| OpError::Invalid { subject: subject(path), message };
    if !out.success() {
        let err = out.stderr_str();
        if err.contains("No such file or directory") {
            return Ok(Found::Absent);
        }
        return Err(invalid(format!("`{cmd}` failed (exit {}): {}", out.code, err.trim_end())));
    }
    let text = out.stdout_str();
    let fields: Vec<&str> = text.trim_end().split('|').collect();
    match fields.as_slice() {
        ["directory", uid, gid] => match (uid.parse(), gid.parse()) {
            (Ok(uid), Ok(gid)) => Ok(Found::Dir { uid, gid }),
            _ => Err(invalid(format!("cannot read the owner from `{cmd}`: {}", text.trim_end()))),
        },
        [kind, ..] => Ok(Found::Other(kind.to_string())),
        [] => Err(invalid(format!("`{cmd}` printed nothing"))),
    }
}

fn owner_arg(uid: Option<u32>, gid: Option<u32>) -> Option<String> {
    match (uid, gid) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    }
}

/// Make `want.path` a directory with the wanted owner. Idempotent: a directory that exists with
/// the right owner (or whose owner is not managed) is left alone.
pub fn ensure_dir(facts: &Facts, want: &DesiredDir) -> Result<Plan, OpError> {
    let path = want.path.as_str();
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") || path.contains('\n') {
        return Err(OpError::Invalid {
            subject: subject(path),
            message: "must be an absolute path without `..` or a newline".into(),
        });
    }
    let subj = subject(path);
    let chown = |uid: Option<u32>, gid: Option<u32>| {
        owner_arg(uid, gid).map(|o| Command::new(["chown", o.as_str(), "--", path]))
    };
    match look(facts, path)? {
        Found::Absent => {
            let mode = format!("{:04o}", want.mode);
            let mut action = Action::new(Change::Create, subj.clone(), "absent").exec(Command::new([
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
            Ok(Plan::with(subj, vec![action]))
        }
        Found::Other(kind) => Err(OpError::Invalid {
            subject: subj,
            message: format!("exists but is a {kind}, not a directory; move it away first"),
        }),
        Found::Dir { uid, gid } => {
            let wrong_uid = want.uid.filter(|u| want.enforce_owner && *u != uid);
            let wrong_gid = want.gid.filter(|g| want.enforce_owner && *g != gid);
            let Some(c) = chown(wrong_uid, wrong_gid) else {
                return Ok(Plan::noop(subj, "exists with the wanted owner"));
            };
            let reason = format!("owner {uid}:{gid} → {}:{}", wrong_uid.unwrap_or(uid), wrong_gid.unwrap_or(gid));
            Ok(Plan::with(subj.clone(), vec![Action::new(Change::Update, subj, reason).exec(c)]))
        }
    }
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
