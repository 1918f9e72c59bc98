//! Batched reads: every read a guest's plan needs, in ONE round trip to the host.
//!
//! On a converged host a run only reads, and each read used to be its own command (a guest's
//! config file, its `.fw`, a `stat` of its bind-mount sources, and every check a feature makes
//! inside it: `test -f`, `dpkg -s`, `cat`, …). Which reads a guest's plan makes cannot be known
//! before the plan runs (features are Rhai), but it hardly changes between runs. So:
//!
//! 1. While a dry-run (or a rehearsal) works on guest X (`graph::walk` names it, see
//!    [`for_guest`]), every cached host read is noted for X: host files, host commands and
//!    commands inside any guest.
//! 2. The run's notes are kept in the state dir ([`ReadPlan`], one file per plan and host).
//! 3. The next dry-run, at X's first read, sends ALL of X's noted reads as one host command
//!    ([`command`]): a fixed POSIX `sh` script ([`SCRIPT`]) whose arguments are the reads; reads
//!    inside a guest are one nested item (`pct exec <id> -- sh -c SCRIPT …`). The answers are
//!    served to the fact readers; a read that was not noted, or whose answer did not come back
//!    whole, goes to the host on its own as before. A stale note costs a read, never a wrong
//!    answer: every answer is what the host said in this run.
//!
//! Only a dry-run uses the answers: nothing changes the host during it, so an answer stays good
//! for the whole run. The apply that follows a rehearsal is served the rehearsal's answers
//! (`base.rs`) and reads again what its actions touched.
//!
//! Safety: the script is constant text; paths and argv elements are passed as positional
//! parameters, never spliced into the script (the loop `eval`s only `"${1}" "${2}"…`, built from
//! its own counter). The output is ASCII and unambiguous: each item's stdout in hex (`od`), then
//! a line `= <exit code>`; the parser checks every line and the item count.

use crate::command::{Arg, Command, Output};
use crate::connector::FileData;
use crate::types::GuestKind;
use std::cell::Cell;
use std::collections::BTreeMap;

/// The first line of [`SCRIPT`]; the simulator recognises the batch by it.
pub const MARKER: &str = "# phoenix read batch 1";

/// The batch script. Items: `f PATH` (a file: a line `MODE UID GID USER GROUP`, then its
/// bytes; exit 100 when absent) or `c N ARG1 … ARGN` (a command). Per item: its stdout through
/// `od -An -v -tx1`, then `= <exit code>`. stderr and stdin are not passed on. Exit 2 on a
/// malformed item list (nothing after it runs).
pub const SCRIPT: &str = r#"# phoenix read batch 1
exec 4>&1
file() {
  [ -e "$1" ] || { [ -L "$1" ] && return 1; return 100; }
  [ -f "$1" ] || return 1
  m=$(stat -L -c '%a %u %g %U %G' -- "$1") || return 1
  printf '%s\n' "$m" && cat -- "$1"
}
while [ $# -gt 0 ]; do
  k=0
  case $1 in
    f) [ $# -ge 2 ] || exit 2; p=$2; shift 2; run='file "$p"' ;;
    c) [ $# -ge 2 ] || exit 2; k=$2
       case $k in ''|*[!0-9]*) exit 2 ;; esac
       shift 2
       [ "$k" -ge 1 ] && [ $# -ge "$k" ] || exit 2
       run=''; i=0
       while [ "$i" -lt "$k" ]; do i=$((i+1)); run="$run \"\${$i}\""; done ;;
    *) exit 2 ;;
  esac
  r=$( { { eval "$run" </dev/null 2>/dev/null 4>&- 5>&-; echo "$?" >&5; } | od -An -v -tx1 >&4; } 5>&1 )
  printf '= %s\n' "$r"
  shift "$k"
done
"#;

/// One read a fact reader makes, as noted for a guest and batched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Read {
    /// A host file (content and metadata).
    File(String),
    /// A read-only host command.
    Host(Vec<String>),
    /// A read-only command inside a guest.
    Inside { kind: GuestKind, id: u32, argv: Vec<String> },
}

impl Read {
    /// A host command as a read, unless it carries a secret (notes are kept on disk).
    pub fn host(cmd: &Command) -> Option<Read> {
        plain(cmd).map(Read::Host)
    }

    /// Whether this is a read of a shape the fact readers make and that only looks. Notes come
    /// from a file, and a dry-run must send nothing but reads whatever that file says: a note of
    /// any other shape is never batched (if phoenix really makes that read, it is asked alone).
    pub fn only_looks(&self) -> bool {
        fn words(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        match self {
            Read::File(path) => path.starts_with('/') && !path.contains('\n'),
            Read::Host(argv) => matches!(
                words(argv).as_slice(),
                ["pct" | "qm", "list"]
                    | ["stat", "-c", _, "--", ..]
                    | ["zfs", "list" | "get", ..]
                    | ["zpool", "list" | "get" | "status", ..]
                    | ["pvesm", "status", ..]
                    | ["tar", "-tf", _]
                    | ["tar", "-xOf", _, _]
            ),
            Read::Inside { argv, .. } => inside_looks(&words(argv)),
        }
    }
}

/// The in-guest checks features make that only look (see `Read::only_looks`).
fn inside_looks(argv: &[&str]) -> bool {
    match argv {
        ["test" | "[", ..] | ["cat" | "sha256sum", _] | ["stat", ..] | ["getent", _, _] => true,
        ["dpkg", "-s", ..] | ["dpkg-query", "-W", ..] | ["mountpoint", "-q", _] => true,
        ["systemctl", "is-enabled" | "is-active" | "is-failed", _] => true,
        ["nvidia-smi"] | ["hostname"] | ["true"] => true,
        ["runuser", "-u", _, "--", rest @ ..] => inside_looks(rest),
        _ => false,
    }
}

fn plain(cmd: &Command) -> Option<Vec<String>> {
    if cmd.stdin.is_some() {
        return None;
    }
    cmd.argv
        .iter()
        .map(|a| match a {
            Arg::Plain(s) => Some(s.clone()),
            Arg::Secret(_) => None,
        })
        .collect()
}

/// A batched read's answer.
#[derive(Debug, Clone)]
pub enum Answer {
    File(Option<FileData>),
    Host(Output),
    /// Exit code and stdout of an in-guest command (after `pct exec`/`qm guest exec`).
    Inside(i32, Vec<u8>),
}

thread_local! {
    /// The guest whose plan this thread works on (its reads are noted and batched for it).
    static READER: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Run `f` with its reads noted for (and batched as) guest `id`'s.
pub fn for_guest<R>(id: u32, f: impl FnOnce() -> R) -> R {
    let prev = READER.with(|g| g.replace(Some(id)));
    let r = f();
    READER.with(|g| g.set(prev));
    r
}

/// The guest the current thread reads for.
pub fn reader() -> Option<u32> {
    READER.with(|g| g.get())
}

/// What each guest's plan read in a run, by guest: the notes for the next run of the same plan
/// on the same host. Kept as JSON in the state dir.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadPlan {
    /// `Connector::describe()` of the host the notes are about.
    pub host: String,
    pub guests: BTreeMap<u32, Vec<Read>>,
}

impl ReadPlan {
    /// Where a plan's notes live in the state dir: `reads/<plan>.json` (the plan's name made
    /// a safe file name).
    pub fn path(state_dir: &std::path::Path, plan: &str) -> std::path::PathBuf {
        let name: String =
            plan.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        state_dir.join("reads").join(format!("{name}.json"))
    }

    /// The notes for `host`, or none (missing, unreadable or another host's: they are only
    /// a hint, so a problem costs speed, never correctness).
    pub fn load(path: &std::path::Path, host: &str) -> ReadPlan {
        let plan = std::fs::read(path).ok().and_then(|b| serde_json::from_slice::<ReadPlan>(&b).ok());
        match plan {
            Some(p) if p.host == host => p,
            _ => ReadPlan { host: host.to_string(), guests: BTreeMap::new() },
        }
    }

    /// The plan's own notes; for a plan that has none yet (its first run in this state dir),
    /// the union of the other plans' notes for the same host: `converge` after `create` reads
    /// what `create` read, so its first run is batched too. A borrowed read the plan does not
    /// make costs a few bytes in the batch, never an answer it did not ask for.
    pub fn load_or_borrow(path: &std::path::Path, host: &str) -> ReadPlan {
        let own = Self::load(path, host);
        if !own.guests.is_empty() || path.exists() {
            return own;
        }
        let mut borrowed = own;
        let Some(dir) = path.parent() else { return borrowed };
        let Ok(entries) = std::fs::read_dir(dir) else { return borrowed };
        let mut others: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        others.sort();
        for other in others {
            for (id, reads) in Self::load(&other, host).guests {
                let have = borrowed.guests.entry(id).or_default();
                for r in reads {
                    if !have.contains(&r) {
                        have.push(r);
                    }
                }
            }
        }
        borrowed
    }

    /// What may be sent for each guest: the notes that only look (`Read::only_looks`).
    pub fn sendable(self) -> BTreeMap<u32, Vec<Read>> {
        self.guests.into_iter().map(|(id, reads)| (id, reads.into_iter().filter(Read::only_looks).collect())).collect()
    }

    /// Write the notes (temp file + rename). Errors are returned for the caller to log.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &json)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The argv of the batch script run with these items (`$0` names the batch in `ps` and errors).
fn script_argv(label: &str, items: Vec<String>) -> Vec<String> {
    let mut argv = vec!["sh".to_string(), "-c".to_string(), SCRIPT.to_string(), label.to_string()];
    argv.extend(items);
    argv
}

fn command_item(argv: &[String], items: &mut Vec<String>) {
    items.push("c".into());
    items.push(argv.len().to_string());
    items.extend(argv.iter().cloned());
}

/// The in-guest command a batch of reads inside one guest becomes.
pub type InGuest<'a> = &'a dyn Fn(GuestKind, u32, &[String]) -> Command;

/// One host command for `reads`, and the order of the answers it will give: host items first
/// (in the order given), then one nested item per guest read inside (by guest id).
pub fn command(label: &str, reads: &[Read], in_guest: InGuest<'_>) -> Option<(Command, Layout)> {
    let mut items = Vec::new();
    let mut host = Vec::new();
    let mut inside: BTreeMap<(u32, GuestKind), Vec<Read>> = BTreeMap::new();
    for r in reads {
        match r {
            Read::File(p) => {
                items.push("f".into());
                items.push(p.clone());
                host.push(r.clone());
            }
            Read::Host(argv) if !argv.is_empty() => {
                command_item(argv, &mut items);
                host.push(r.clone());
            }
            Read::Host(_) => {}
            Read::Inside { kind, id, .. } => inside.entry((*id, *kind)).or_default().push(r.clone()),
        }
    }
    let mut guests = Vec::new();
    for ((id, kind), reads) in inside {
        let mut inner = Vec::new();
        for r in &reads {
            if let Read::Inside { argv, .. } = r {
                command_item(argv, &mut inner);
            }
        }
        let cmd = in_guest(kind, id, &script_argv(label, inner));
        command_item(&plain(&cmd)?, &mut items);
        guests.push((kind, cmd, reads));
    }
    if host.is_empty() && guests.is_empty() {
        return None;
    }
    Some((Command::new(script_argv(label, items)), Layout { host, guests }))
}

/// Which answer is which, for [`Layout::answers`].
pub struct Layout {
    host: Vec<Read>,
    /// Per guest read inside: its kind, the in-guest command (for its result), its reads.
    guests: Vec<(GuestKind, Command, Vec<Read>)>,
}

/// How a nested in-guest command's output becomes (exit code, stdout).
pub type GuestResult<'a> = &'a dyn Fn(GuestKind, &Command, &Output) -> Option<(i32, Vec<u8>)>;

impl Layout {
    /// The answers in `out` (the batch command's result). Whatever did not come back whole is
    /// left out (read again on its own). A failed file read is left out too, so its error is
    /// the single read's.
    pub fn answers(&self, out: &Output, guest_result: GuestResult<'_>) -> Vec<(Read, Answer)> {
        let mut found = Vec::new();
        if out.code != 0 {
            return found;
        }
        let Some(items) = parse(&out.stdout) else { return found };
        if items.len() != self.host.len() + self.guests.len() {
            return found;
        }
        let (host_items, guest_items) = items.split_at(self.host.len());
        for (read, (code, bytes)) in self.host.iter().zip(host_items) {
            let answer = match read {
                Read::File(_) => match code {
                    100 => Some(Answer::File(None)),
                    0 => parse_file(bytes).map(|f| Answer::File(Some(f))),
                    _ => None,
                },
                _ => Some(Answer::Host(Output { code: *code, stdout: bytes.clone(), stderr: Vec::new() })),
            };
            // A failed host command's stderr is part of its answer (error messages, `stat`'s
            // "No such file"), and the batch does not carry it: ask it alone.
            if let Some(a) = answer.filter(|a| !matches!(a, Answer::Host(o) if o.code != 0)) {
                found.push((read.clone(), a));
            }
        }
        for ((kind, cmd, reads), (code, bytes)) in self.guests.iter().zip(guest_items) {
            let nested = Output { code: *code, stdout: bytes.clone(), stderr: Vec::new() };
            let Some((0, inner)) = guest_result(*kind, cmd, &nested) else { continue };
            let Some(inner) = parse(&inner) else { continue };
            if inner.len() != reads.len() {
                continue;
            }
            for (read, (code, bytes)) in reads.iter().zip(inner) {
                found.push((read.clone(), Answer::Inside(code, bytes)));
            }
        }
        found
    }
}

/// The items of a batch's output: (exit code, stdout) each. `None` when anything is off.
pub fn parse(out: &[u8]) -> Option<Vec<(i32, Vec<u8>)>> {
    let text = std::str::from_utf8(out).ok()?;
    let mut items = Vec::new();
    let mut bytes = Vec::new();
    let mut open = false;
    for line in text.split_terminator('\n') {
        if let Some(code) = line.strip_prefix("= ") {
            items.push((code.parse().ok()?, std::mem::take(&mut bytes)));
            open = false;
            continue;
        }
        open = true;
        for hex in line.split_ascii_whitespace() {
            if hex.len() != 2 {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
        }
    }
    // Bytes after the last `= code` line: the output was cut short.
    if open || !text.is_empty() && !text.ends_with('\n') {
        return None;
    }
    Some(items)
}

/// `MODE UID GID USER GROUP\n` then the content. `stat` prints `UNKNOWN` for an id without a
/// name: the id is kept as text then.
fn parse_file(bytes: &[u8]) -> Option<FileData> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let meta = std::str::from_utf8(&bytes[..nl]).ok()?;
    let f: Vec<&str> = meta.split(' ').collect();
    let [mode, uid, gid, user, group] = f.as_slice() else { return None };
    let name = |n: &str, id: &str| if n == "UNKNOWN" { id.to_string() } else { n.to_string() };
    Some(FileData {
        content: bytes[nl + 1..].to_vec(),
        mode: u32::from_str_radix(mode, 8).ok()?,
        owner: name(user, uid),
        group: name(group, gid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_without_notes_borrows_the_other_plans_notes_for_the_same_host() {
        let dir = tempfile::tempdir().unwrap();
        let write = |plan: &str, host: &str, reads: Vec<(u32, &str)>| {
            let mut guests: BTreeMap<u32, Vec<Read>> = BTreeMap::new();
            for (id, path) in reads {
                guests.entry(id).or_default().push(Read::File(path.to_string()));
            }
            ReadPlan { host: host.into(), guests }.save(&ReadPlan::path(dir.path(), plan)).unwrap();
        };
        write("create", "sim:a", vec![(101, "/etc/a"), (102, "/etc/b")]);
        write("status", "sim:a", vec![(101, "/etc/a"), (101, "/etc/c")]);
        write("other-host", "sim:b", vec![(103, "/etc/z")]);

        let borrowed = ReadPlan::load_or_borrow(&ReadPlan::path(dir.path(), "converge"), "sim:a");
        assert_eq!(borrowed.guests[&101], [Read::File("/etc/a".into()), Read::File("/etc/c".into())]);
        assert_eq!(borrowed.guests[&102], [Read::File("/etc/b".into())]);
        assert!(!borrowed.guests.contains_key(&103), "another host's notes are not borrowed");

        // A plan with notes of its own (even none) keeps them.
        write("converge", "sim:a", vec![]);
        let own = ReadPlan::load_or_borrow(&ReadPlan::path(dir.path(), "converge"), "sim:a");
        assert!(own.guests.is_empty());
    }

    fn hex(b: &[u8]) -> String {
        b.chunks(16).map(|c| c.iter().map(|x| format!(" {x:02x}")).collect::<String>() + "\n").collect()
    }

    #[test]
    fn output_is_parsed_item_by_item_and_refused_when_cut() {
        let out = format!("{}= 0\n= 1\n{}= 100\n", hex(b"hello\n\0binary"), hex(&[0xff; 20]));
        let items = parse(out.as_bytes()).unwrap();
        assert_eq!(items, vec![(0, b"hello\n\0binary".to_vec()), (1, vec![]), (100, vec![0xff; 20])]);
        assert_eq!(parse(b""), Some(vec![]));
        assert_eq!(parse(hex(b"x").as_bytes()), None, "no code line");
        assert_eq!(parse(b"= 0"), None, "no newline at the end");
        assert_eq!(parse(b" 6\n= 0\n"), None, "half a byte");
        assert_eq!(parse(b"= x\n"), None);
        assert_eq!(parse(b"Error: not running\n= 0\n"), None);
    }

    #[test]
    fn file_items_carry_metadata_and_unknown_ids_stay_numbers() {
        let f = parse_file(b"640 0 33 root www-data\nabc").unwrap();
        assert_eq!(
            (f.mode, f.owner.as_str(), f.group.as_str(), f.content.as_slice()),
            (0o640, "root", "www-data", &b"abc"[..])
        );
        let f = parse_file(b"600 1234 5 UNKNOWN UNKNOWN\n").unwrap();
        assert_eq!((f.owner.as_str(), f.group.as_str()), ("1234", "5"));
        assert!(parse_file(b"no newline").is_none());
    }

    fn pct(kind: GuestKind, id: u32, argv: &[String]) -> Command {
        let mut c = match kind {
            GuestKind::Lxc => Command::new(["pct", "exec"]).arg(id.to_string()),
            GuestKind::Vm => Command::new(["qm", "guest", "exec"]).arg(id.to_string()),
        };
        c = c.arg("--");
        c.args(argv.iter().cloned())
    }

    #[test]
    fn reads_become_one_command_and_answers_come_back_in_order() {
        let reads = vec![
            Read::Inside { kind: GuestKind::Lxc, id: 103, argv: vec!["test".into(), "-f".into(), "/a b".into()] },
            Read::File("/etc/pve/lxc/103.conf".into()),
            Read::Host(vec!["stat".into(), "--".into(), "/x;rm -rf /".into()]),
        ];
        let (cmd, layout) = command("phoenix-reads-103", &reads, &pct).unwrap();
        let argv = cmd.exposed_argv();
        assert_eq!(&argv[..2], &["sh", "-c"]);
        assert!(argv[2].starts_with(MARKER));
        assert_eq!(argv[3], "phoenix-reads-103");
        // Paths stay whole positional parameters: nothing is spliced into the script.
        assert_eq!(&argv[4..6], &["f", "/etc/pve/lxc/103.conf"]);
        assert_eq!(&argv[6..10], &["c", "3", "stat", "--"]);
        assert_eq!(argv[10], "/x;rm -rf /");
        assert_eq!(&argv[11..16], &["c", "13", "pct", "exec", "103"]);
        assert_eq!(&argv[argv.len() - 5..], &["c", "3", "test", "-f", "/a b"]);

        let inner = "= 1\n";
        let out = format!(
            "{}= 0\n{}= 0\n{}= 0\n",
            hex(b"644 0 0 root root\nx: 1\n"),
            hex(b"directory|0|0|/x\n"),
            hex(inner.as_bytes())
        );
        let out = Output { code: 0, stdout: out.into_bytes(), stderr: vec![] };
        let ok = |_: GuestKind, _: &Command, o: &Output| Some((o.code, o.stdout.clone()));
        let answers = layout.answers(&out, &ok);
        assert_eq!(answers.len(), 3);
        assert!(matches!(&answers[0], (Read::File(_), Answer::File(Some(f))) if f.content == b"x: 1\n"));
        assert!(matches!(&answers[1], (Read::Host(_), Answer::Host(o)) if o.stdout == b"directory|0|0|/x\n"));
        assert!(matches!(&answers[2], (Read::Inside { id: 103, .. }, Answer::Inside(1, b)) if b.is_empty()));

        // A guest that did not answer (stopped) leaves only its reads out.
        let out = format!("{}= 0\n{}= 0\n= 255\n", hex(b"644 0 0 root root\n"), hex(b"d\n"));
        let out = Output { code: 0, stdout: out.into_bytes(), stderr: vec![] };
        let pct_result = |_: GuestKind, _: &Command, o: &Output| (o.code != 255).then(|| (o.code, o.stdout.clone()));
        assert_eq!(layout.answers(&out, &pct_result).len(), 2);
        // A short answer is no answer.
        let out = Output { code: 0, stdout: b"= 0\n".to_vec(), stderr: vec![] };
        assert!(layout.answers(&out, &ok).is_empty());
    }

    #[test]
    fn only_reads_that_look_are_ever_sent() {
        let inside =
            |s: &str| Read::Inside { kind: GuestKind::Lxc, id: 1, argv: s.split(' ').map(String::from).collect() };
        let host = |s: &str| Read::Host(s.split(' ').map(String::from).collect());
        for ok in [
            "test -f /x",
            "dpkg -s curl jq",
            "runuser -u step -- test -w /etc/step-ca",
            "systemctl is-enabled docker",
            "cat /etc/fstab",
        ] {
            assert!(inside(ok).only_looks(), "{ok}");
        }
        for bad in ["rm -rf /", "systemctl restart docker", "runuser -u x -- rm /y", "sh -c reboot", "cat /a /b"] {
            assert!(!inside(bad).only_looks(), "{bad}");
        }
        assert!(host("pct list").only_looks() && host("stat -c %F -- /tank/a").only_looks());
        assert!(!host("pct destroy 100").only_looks() && !host("zfs destroy tank").only_looks());
        assert!(!Read::File("relative".into()).only_looks());
        let plan = ReadPlan {
            host: "h".into(),
            guests: BTreeMap::from([(7, vec![host("pct list"), host("pct start 7"), inside("test -f /x")])]),
        };
        assert_eq!(plan.sendable()[&7], vec![host("pct list"), inside("test -f /x")]);
    }

    #[test]
    fn secrets_and_stdin_are_never_batched() {
        let secret = Command::new(["x"]).arg(crate::secret::Secret::new("hunter2"));
        assert_eq!(Read::host(&secret), None);
        assert_eq!(Read::host(&Command::new(["tee", "/x"]).with_stdin(b"y".to_vec())), None);
        assert_eq!(Read::host(&Command::new(["pct", "list"])), Some(Read::Host(vec!["pct".into(), "list".into()])));
    }

    /// The script itself, run by the real `sh` on real files: what the simulator must match.
    #[test]
    fn the_real_shell_answers_as_the_parser_expects() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a file; $(echo no)");
        std::fs::write(&file, b"line\n\0bin").unwrap();
        let path = file.to_str().unwrap().to_string();
        let missing = dir.path().join("missing").to_str().unwrap().to_string();
        let reads = vec![
            Read::File(path.clone()),
            Read::File(missing),
            Read::Host(vec!["printf".into(), "%s".into(), "it's \"quoted\"\n".into()]),
            Read::Host(vec!["sh".into(), "-c".into(), "exit 3".into()]),
            Read::Host(vec!["cat".into(), path.clone()]),
        ];
        let (cmd, layout) = command("phoenix-reads-1", &reads, &pct).unwrap();
        let argv = cmd.exposed_argv();
        let out = std::process::Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        let out = Output { code: out.status.code().unwrap_or(-1), stdout: out.stdout, stderr: out.stderr };
        assert_eq!(out.code, 0, "{}", out.stderr_str());
        let items = parse(&out.stdout).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(items[1], (100, vec![]));
        assert_eq!(items[2], (0, b"it's \"quoted\"\n".to_vec()));
        assert_eq!(items[3].0, 3);
        assert_eq!(items[4], (0, b"line\n\0bin".to_vec()));
        let ok = |_: GuestKind, _: &Command, o: &Output| Some((o.code, o.stdout.clone()));
        let answers = layout.answers(&out, &ok);
        match &answers[0] {
            (Read::File(p), Answer::File(Some(f))) => {
                assert_eq!(p, &path);
                assert_eq!(f.content, b"line\n\0bin");
                assert_eq!(f.mode & 0o600, 0o600);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&answers[1], (Read::File(_), Answer::File(None))));
        assert_eq!(answers.len(), 4, "the failed command is asked alone (its stderr matters)");
        // A malformed item list stops the script before anything runs.
        let bad = std::process::Command::new("sh").args(["-c", SCRIPT, "x", "c", "9", "true"]).output().unwrap();
        assert_eq!((bad.status.code(), bad.stdout.is_empty()), (Some(2), true));
    }
}
