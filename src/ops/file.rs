//! Host files: whole files with content, mode and owner, and managed blocks inside a file that
//! phoenix shares with other writers (`/etc/exports`, `/etc/hosts`).

use super::{Action, Change, Effect, OpError, Plan, Step};
use crate::connector::{FileData, FileWrite};
use crate::facts::Facts;
use std::collections::HashMap;

/// A file as phoenix wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFile {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    /// `None`: leave as is (a new file gets the connecting user's).
    pub owner: Option<String>,
    pub group: Option<String>,
}

fn subject(path: &str) -> String {
    format!("file {path}")
}

/// Lines added and removed between two texts (as multisets: enough for a reason line).
fn line_delta(old: &[u8], new: &[u8]) -> (usize, usize) {
    let mut count: HashMap<&[u8], i64> = HashMap::new();
    for l in old.split(|b| *b == b'\n') {
        *count.entry(l).or_default() -= 1;
    }
    for l in new.split(|b| *b == b'\n') {
        *count.entry(l).or_default() += 1;
    }
    let added = count.values().filter(|v| **v > 0).map(|v| *v as usize).sum();
    let removed = count.values().filter(|v| **v < 0).map(|v| (-*v) as usize).sum();
    (added, removed)
}

/// Make `want.path` read exactly like `want`.
pub fn ensure_file(facts: &Facts, want: &DesiredFile) -> Result<Plan, OpError> {
    let current = facts.file(&want.path)?;
    let write = FileWrite {
        content: want.content.clone(),
        mode: want.mode,
        owner: want.owner.clone(),
        group: want.group.clone(),
    };
    let (change, reasons, result) = match current.as_ref() {
        None => (
            Change::Create,
            vec!["absent".to_string()],
            FileData {
                content: want.content.clone(),
                mode: want.mode,
                owner: want.owner.clone().unwrap_or_else(|| "root".into()),
                group: want.group.clone().unwrap_or_else(|| "root".into()),
            },
        ),
        Some(have) => {
            let mut reasons = Vec::new();
            if have.content != want.content {
                let (a, r) = line_delta(&have.content, &want.content);
                reasons.push(format!("content differs (+{a}/-{r} lines)"));
            }
            if have.mode != want.mode {
                reasons.push(format!("mode {:04o} → {:04o}", have.mode, want.mode));
            }
            if let Some(o) = want.owner.as_ref().filter(|o| **o != have.owner) {
                reasons.push(format!("owner {} → {o}", have.owner));
            }
            if let Some(g) = want.group.as_ref().filter(|g| **g != have.group) {
                reasons.push(format!("group {} → {g}", have.group));
            }
            let result = FileData {
                content: want.content.clone(),
                mode: want.mode,
                owner: want.owner.clone().unwrap_or_else(|| have.owner.clone()),
                group: want.group.clone().unwrap_or_else(|| have.group.clone()),
            };
            (Change::Update, reasons, result)
        }
    };
    if reasons.is_empty() {
        return Ok(Plan::noop(subject(&want.path), "content, mode and owner match"));
    }
    let old = Option::as_ref(&*current).map(|f| f.content.as_slice());
    let action = Action::new(change, subject(&want.path), reasons.join(", "))
        .content_change(&want.path, old, &want.content, want.mode)
        .step(Step::WriteFile { path: want.path.clone(), file: write })
        .effect(Effect::File { path: want.path.clone(), data: Some(result) });
    Ok(Plan::with(subject(&want.path), vec![action]))
}

/// Remove `path` if it exists.
pub fn ensure_absent(facts: &Facts, path: &str) -> Result<Plan, OpError> {
    if facts.file(path)?.is_none() {
        return Ok(Plan::noop(subject(path), "absent"));
    }
    let action = Action::new(Change::Delete, subject(path), "present")
        .step(Step::RemoveFile { path: path.to_string() })
        .effect(Effect::File { path: path.to_string(), data: None });
    Ok(Plan::with(subject(path), vec![action]))
}

/// Where a managed block sits in a file.
fn markers(comment: &str, marker: &str) -> (String, String) {
    (format!("{comment} BEGIN phoenix {marker}"), format!("{comment} END phoenix {marker}"))
}

/// `text` with the block `marker` set to `body` (appended when absent). Errors when the file
/// has a BEGIN line without its END (a hand edit phoenix must not guess about).
pub fn with_block(text: &str, comment: &str, marker: &str, body: &str) -> Result<String, String> {
    let (begin, end) = markers(comment, marker);
    crate::generate::managed_block::check_block(comment, marker, &begin, &end, body).map_err(|e| e.to_string())?;
    let mut block = String::new();
    block.push_str(&begin);
    block.push('\n');
    block.push_str(body);
    if !body.is_empty() && !body.ends_with('\n') {
        block.push('\n');
    }
    block.push_str(&end);
    block.push('\n');

    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines.iter().position(|l| l.trim_end() == begin);
    match start {
        None => {
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&block);
            Ok(out)
        }
        Some(s) => {
            let Some(len) = lines[s..].iter().position(|l| l.trim_end() == end) else {
                return Err(format!("`{begin}` has no matching `{end}`; fix the file by hand"));
            };
            let mut out: String = lines[..s].concat();
            out.push_str(&block);
            out.push_str(&lines[s + len + 1..].concat());
            Ok(out)
        }
    }
}

/// Make the managed block `marker` of `path` contain `body`, keeping every other line. A new
/// file gets `mode_if_new`; an existing one keeps its mode and owner.
pub fn ensure_block(
    facts: &Facts,
    path: &str,
    marker: &str,
    body: &str,
    comment: &str,
    mode_if_new: u32,
) -> Result<Plan, OpError> {
    let current = facts.file(path)?;
    let (old, mode, owner, group) = match current.as_ref() {
        Some(f) => (
            String::from_utf8(f.content.clone()).map_err(|_| OpError::Invalid {
                subject: subject(path),
                message: "is not UTF-8 text; cannot manage a block in it".into(),
            })?,
            f.mode,
            Some(f.owner.clone()),
            Some(f.group.clone()),
        ),
        None => (String::new(), mode_if_new, None, None),
    };
    let new = with_block(&old, comment, marker, body)
        .map_err(|message| OpError::Invalid { subject: subject(path), message })?;
    if current.is_some() && new == old {
        return Ok(Plan::noop(format!("{} block {marker}", subject(path)), "block matches"));
    }
    let plan =
        ensure_file(facts, &DesiredFile { path: path.to_string(), content: new.into_bytes(), mode, owner, group })?;
    // Name the block in the reason so the operator sees which part of a shared file changes.
    Ok(Plan {
        subject: format!("{} block {marker}", subject(path)),
        actions: plan
            .actions
            .into_iter()
            .map(|mut a| {
                a.reason = format!("block {marker}: {}", a.reason);
                a
            })
            .collect(),
        noop_reason: plan.noop_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_is_appended_then_replaced_in_place() {
        let t = with_block("a\nb\n", "#", "nfs", "x\n").unwrap();
        assert_eq!(t, "a\nb\n# BEGIN phoenix nfs\nx\n# END phoenix nfs\n");
        let t2 = with_block(&(t.clone() + "c\n"), "#", "nfs", "y").unwrap();
        assert_eq!(t2, "a\nb\n# BEGIN phoenix nfs\ny\n# END phoenix nfs\nc\n");
        assert_eq!(with_block(&t2, "#", "nfs", "y").unwrap(), t2);
    }

    #[test]
    fn unterminated_block_is_an_error() {
        assert!(with_block("# BEGIN phoenix a\nx\n", "#", "a", "y").is_err());
    }

    #[test]
    fn line_delta_counts() {
        assert_eq!(line_delta(b"a\nb\n", b"a\nc\nd\n"), (2, 1));
    }
}
