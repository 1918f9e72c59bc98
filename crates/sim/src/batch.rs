//! A batch of reads in one `sh -c` (on the host, or inside a guest through `pct exec` /
//! `qm guest exec`), as a real POSIX shell runs phoenix's batch script.
//!
//! The contract (the script is recognised by its first line, [`MARKER`]; its text is not
//! interpreted, its documented behaviour is reproduced):
//!
//! - `sh -c SCRIPT NAME ITEM…`; an item is `f PATH` or `c N ARG1 … ARGN` (N ≥ 1 decimal digits).
//! - A malformed list (unknown tag, missing operand, N not a number or larger than what is
//!   left) ends the script with exit 2 at that item: the items before it have answered, none
//!   after it runs.
//! - `c`: the N arguments run as one command, stdin from /dev/null, stderr discarded.
//! - `f`: absent → exit 100 (a dangling symlink: 1); not a regular file → 1; else a line
//!   `%a %u %g %U %G` (GNU `stat -L -c`) and the file's bytes.
//! - Per item: its stdout as `od -An -v -tx1` prints it (16 bytes a line, each ` xx`), then
//!   the line `= <exit code>`. The script exits 0.
//!
//! The model has no uid/gid numbers: root is 0, a numeric owner is that number with the name
//! `UNKNOWN` (as `stat` prints an id without a name), any other name is given id 1000.

use crate::file::FileData;
use crate::output::Output;

/// The first line of the batch script.
pub(crate) const MARKER: &str = "# phoenix read batch 1";

/// `sh`'s arguments are a read batch.
pub(crate) fn is_batch<S: AsRef<str>>(args: &[S]) -> bool {
    matches!(args, [c, script, ..] if c.as_ref() == "-c" && script.as_ref().lines().next() == Some(MARKER))
}

/// One item of a batch.
pub(crate) enum Item<'a> {
    File(&'a str),
    Command(&'a [String]),
}

/// The items of the argv `sh -c SCRIPT NAME ITEM…`, and whether the list ended malformed.
fn items(args: &[String]) -> (Vec<Item<'_>>, bool) {
    // `sh -c SCRIPT NAME` come first.
    let mut rest = args.get(4..).unwrap_or(&[]);
    let mut out = Vec::new();
    while let Some(tag) = rest.first() {
        match (tag.as_str(), rest.get(1)) {
            ("f", Some(path)) => {
                out.push(Item::File(path));
                rest = &rest[2..];
            }
            ("c", Some(n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                let n: usize = match n.parse() {
                    Ok(n) if n >= 1 && n <= rest.len() - 2 => n,
                    _ => return (out, true),
                };
                out.push(Item::Command(&rest[2..2 + n]));
                rest = &rest[2 + n..];
            }
            _ => return (out, true),
        }
    }
    (out, false)
}

/// Run a batch; `answer` runs one item and returns its exit code and stdout.
pub(crate) fn run(args: &[String], mut answer: impl FnMut(Item<'_>) -> (i32, Vec<u8>)) -> Output {
    let (items, malformed) = items(args);
    let mut stdout = Vec::new();
    for item in items {
        let (code, bytes) = answer(item);
        for line in bytes.chunks(16) {
            for b in line {
                stdout.extend_from_slice(format!(" {b:02x}").as_bytes());
            }
            stdout.push(b'\n');
        }
        stdout.extend_from_slice(format!("= {code}\n").as_bytes());
    }
    Output { code: if malformed { 2 } else { 0 }, stdout, stderr: Vec::new() }
}

/// An `f` item's answer from a file as read (`None`: absent).
pub(crate) fn file_answer(file: Option<&FileData>) -> (i32, Vec<u8>) {
    let Some(f) = file else { return (100, Vec::new()) };
    let id = |name: &str| match name {
        "root" => ("0".to_string(), name.to_string()),
        n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (n.to_string(), "UNKNOWN".to_string()),
        n => ("1000".to_string(), n.to_string()),
    };
    let (uid, user) = id(&f.owner);
    let (gid, group) = id(&f.group);
    let mut out = format!("{:o} {uid} {gid} {user} {group}\n", f.mode & 0o7777).into_bytes();
    out.extend_from_slice(&f.content);
    (0, out)
}

/// Whether every item only reads (`f` always does; `c` as `reads` says). A malformed list
/// runs its well-formed prefix only, so that prefix decides.
pub(crate) fn reads_only(args: &[String], reads: impl Fn(&[String]) -> bool) -> bool {
    items(args).0.iter().all(|i| match i {
        Item::File(_) => true,
        Item::Command(argv) => reads(argv),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SimState;
    use crate::SimHost;

    fn batch(items: &[&str]) -> Vec<String> {
        let mut a = vec!["sh".to_string(), "-c".into(), format!("{MARKER}\n(the script)\n"), "phoenix-reads-1".into()];
        a.extend(items.iter().map(|s| s.to_string()));
        a
    }

    #[test]
    fn answers_each_item_in_hex_with_its_exit_code() {
        let h = SimHost::new(SimState::default());
        let w = crate::FileWrite { content: b"0123456789abcdefXY".to_vec(), mode: 0o640, owner: None, group: None };
        h.write_file("/root/notes", &w).unwrap();
        let out = h.exec(
            &batch(&["f", "/root/notes", "f", "/nope", "c", "3", "zfs", "list", "rpool/nope", "c", "2", "pct", "list"]),
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr_str());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let meta_and_content = b"640 0 0 root root\n0123456789abcdefXY";
        let hex: Vec<String> =
            meta_and_content.chunks(16).map(|c| c.iter().map(|b| format!(" {b:02x}")).collect()).collect();
        for h in &hex {
            assert_eq!(lines.next(), Some(h.as_str()));
        }
        assert_eq!(lines.next(), Some("= 0"));
        assert_eq!(lines.next(), Some("= 100"));
        // A missing dataset fails (stderr discarded); `pct list` of an empty node
        // prints nothing.
        assert!(lines.next().is_some_and(|l| l.starts_with("= ") && l != "= 0"));
        assert_eq!(lines.next(), Some("= 0"));
        assert_eq!(lines.next(), None);
        let log = h.log();
        assert!(!log.last().unwrap().mutating, "a batch of reads is a read");
    }

    #[test]
    fn a_malformed_list_stops_with_exit_2_after_the_good_items() {
        let h = SimHost::new(SimState::default());
        let out = h.exec(&batch(&["c", "1", "true", "c", "9", "true"]), None);
        assert_eq!((out.code, out.stdout_str().as_str()), (2, "= 127\n"));
        assert_eq!(h.exec(&batch(&["x"]), None).code, 2);
        assert_eq!(h.exec(&batch(&["c", "0"]), None).code, 2);
    }

    #[test]
    fn a_batch_holding_a_change_is_mutating() {
        let h = SimHost::new(SimState::default());
        h.exec(&batch(&["c", "3", "zfs", "create", "rpool/x"]), None);
        assert!(h.log().last().unwrap().mutating);
        assert!(crate::is_mutating(&batch(&["c", "2", "pct", "list", "c", "4", "pct", "exec", "100", "reboot"])));
        assert!(!crate::is_mutating(&batch(&["f", "/etc/hosts", "c", "2", "pct", "list"])));
    }

    #[test]
    fn inside_a_guest_the_items_run_in_the_guest() {
        let h = SimHost::new(SimState::default());
        let run = |line: &[&str]| h.exec(&line.iter().map(|s| s.to_string()).collect::<Vec<_>>(), None);
        let create =
            ["pct", "create", "120", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "--rootfs", "local-zfs:4"];
        assert_eq!(run(&create).code, 0);
        assert_eq!(run(&["pct", "start", "120"]).code, 0);
        let mut argv: Vec<String> = ["pct", "exec", "120", "--"].iter().map(|s| s.to_string()).collect();
        argv.extend(batch(&[
            "c",
            "3",
            "test",
            "-f",
            "/etc/os-release",
            "c",
            "3",
            "test",
            "-f",
            "/nope",
            "c",
            "2",
            "cat",
            "/nope",
        ]));
        let out = h.exec(&argv, None);
        assert_eq!(out.code, 0, "{}", out.stderr_str());
        assert_eq!(out.stdout_str(), "= 0\n= 1\n= 1\n");
        assert!(!h.log().last().unwrap().mutating);
    }
}
