//! `mv` inside a guest, as GNU coreutils answers it: a rename of a file (or a directory with
//! everything under it), into a directory when the target is one. The sync stages use it to
//! put a checked candidate file in place in one step.

use super::inside::{done, is_dir, out};
use super::state::Guest;
use crate::output::Output;

/// `mv [-f] [-T] [--] SRC DST` (one source; options only change prompting, which a
/// non-interactive call never does).
pub(crate) fn mv(g: &mut Guest, args: &[&str]) -> Output {
    let ops: Vec<&str> = args.iter().copied().filter(|a| !a.starts_with('-')).collect();
    let (src, dst) = match ops.as_slice() {
        [] => return out(1, "", "mv: missing file operand\nTry 'mv --help' for more information."),
        [one] => {
            return out(
                1,
                "",
                format!("mv: missing destination file operand after '{one}'\nTry 'mv --help' for more information."),
            )
        }
        [s, d] => (s.trim_end_matches('/').to_string(), d.trim_end_matches('/').to_string()),
        _ => return out(1, "", "sim: mv with more than one source is not simulated"),
    };
    let src_is_dir = !g.files.contains_key(&src) && is_dir(g, &src);
    if !g.files.contains_key(&src) && !src_is_dir {
        return out(1, "", format!("mv: cannot stat '{src}': No such file or directory"));
    }
    let into_dir = !args.contains(&"-T") && is_dir(g, &dst) && !g.files.contains_key(&dst);
    let target = if into_dir { format!("{dst}/{}", src.rsplit('/').next().unwrap_or(&src)) } else { dst.clone() };
    let parent = target.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    if !is_dir(g, if parent.is_empty() { "/" } else { parent }) {
        return out(1, "", format!("mv: cannot move '{src}' to '{dst}': No such file or directory"));
    }
    if src_is_dir {
        let prefix = format!("{src}/");
        let moved: Vec<String> = g.files.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        for k in moved {
            if let Some(f) = g.files.shift_remove(&k) {
                g.files.insert(format!("{target}/{}", &k[prefix.len()..]), f);
            }
        }
        let dirs: Vec<String> = g.os.dirs.iter().filter(|d| **d == src || d.starts_with(&prefix)).cloned().collect();
        for d in dirs {
            g.os.dirs.remove(&d);
            g.os.dirs.insert(format!("{target}{}", &d[src.len()..]));
        }
    } else if let Some(f) = g.files.shift_remove(&src) {
        g.files.insert(target, f);
    }
    done("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileData;

    fn guest(files: &[&str]) -> Guest {
        let mut g: Guest = serde_json::from_value(serde_json::json!({"kind": "lxc", "config": {}})).unwrap();
        for p in files {
            g.files.insert(
                p.to_string(),
                FileData { content: p.as_bytes().to_vec(), mode: 0o600, owner: "root".into(), group: "root".into() },
            );
        }
        g
    }

    #[test]
    fn renames_like_coreutils() {
        let mut g = guest(&["/etc/a/.x.new", "/etc/a/x"]);
        assert_eq!(mv(&mut g, &["-f", "/etc/a/.x.new", "/etc/a/x"]).code, 0);
        assert!(!g.files.contains_key("/etc/a/.x.new"));
        let moved = &g.files["/etc/a/x"];
        assert_eq!((moved.content.as_slice(), moved.mode), (b"/etc/a/.x.new".as_slice(), 0o600));
        let o = mv(&mut g, &["/etc/a/.x.new", "/etc/a/x"]);
        assert_eq!(
            (o.code, String::from_utf8_lossy(&o.stderr).into_owned()),
            (1, "mv: cannot stat '/etc/a/.x.new': No such file or directory\n".into())
        );
        // Into an existing directory; a missing parent fails.
        let mut g = guest(&["/etc/a/x", "/etc/b/y"]);
        assert_eq!(mv(&mut g, &["/etc/a/x", "/etc/b"]).code, 0);
        assert!(g.files.contains_key("/etc/b/x"));
        let o = mv(&mut g, &["/etc/b/x", "/nope/x"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "mv: cannot move '/etc/b/x' to '/nope/x': No such file or directory\n"
        );
    }
}
