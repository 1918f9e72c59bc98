//! `tar` as the simulator understands it: the argument forms (`-xzf a -C d m…`, `-tf a`,
//! `-xOf a m`, old-style `xzf`) shared by the host and the guests, and in-guest extraction of
//! the release archives the catalogue knows (its download marker names the archive). An archive
//! the catalogue does not know is refused loudly rather than "extracted" to nothing.

use super::catalogue::{self, ARCHIVE_MARK};
use super::inside::{done, file, is_dir, out};
use super::state::Guest;
use crate::output::Output;

/// What a tar command line asks for.
#[derive(Debug, PartialEq)]
pub(crate) struct TarArgs {
    /// `t` list, `x` extract, `c` create (the simulator refuses `c`).
    pub mode: char,
    pub archive: Option<String>,
    /// `-C <dir>`.
    pub dir: Option<String>,
    /// `-O`: extract to stdout.
    pub to_stdout: bool,
    pub members: Vec<String>,
}

fn usage(msg: &str) -> Output {
    out(2, "", format!("tar: {msg}\nTry 'tar --help' or 'tar --usage' for more information."))
}

/// Parse GNU tar's argument forms. Letters that take a value (`f`, `C`) take the rest of their
/// cluster, or the next argument when they end it; a first argument without a dash is a cluster.
pub(crate) fn parse(args: &[&str]) -> Result<TarArgs, Output> {
    let mut t = TarArgs { mode: ' ', archive: None, dir: None, to_stdout: false, members: Vec::new() };
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        if let Some(long) = x.strip_prefix("--") {
            let (k, v) = match long.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = || {
                v.clone().or_else(|| {
                    i += 1;
                    args.get(i).map(|s| s.to_string())
                })
            };
            match k {
                "list" => t.mode = 't',
                "extract" | "get" => t.mode = 'x',
                "create" => t.mode = 'c',
                "to-stdout" => t.to_stdout = true,
                "file" => t.archive = value(),
                "directory" => t.dir = value(),
                "gzip"
                | "gunzip"
                | "zstd"
                | "xz"
                | "bzip2"
                | "auto-compress"
                | "verbose"
                | "no-same-owner"
                | "same-permissions"
                | "preserve-permissions" => {}
                other => return Err(usage(&format!("unrecognized option '--{other}'"))),
            }
        } else if let Some(cluster) = x.strip_prefix('-').or((i == 0).then_some(x)) {
            let chars: Vec<char> = cluster.chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                match c {
                    't' | 'x' | 'c' => t.mode = c,
                    'O' => t.to_stdout = true,
                    'z' | 'J' | 'j' | 'v' | 'p' | 'a' => {}
                    'f' | 'C' => {
                        let rest: String = chars[j + 1..].iter().collect();
                        let v = if rest.is_empty() {
                            i += 1;
                            args.get(i).map(|s| s.to_string())
                        } else {
                            Some(rest)
                        };
                        let Some(v) = v else {
                            return Err(usage(&format!("option requires an argument -- '{c}'")));
                        };
                        if c == 'f' {
                            t.archive = Some(v);
                        } else {
                            t.dir = Some(v);
                        }
                        break;
                    }
                    other => return Err(usage(&format!("invalid option -- '{other}'"))),
                }
                j += 1;
            }
        } else {
            t.members.push(x.to_string());
        }
        i += 1;
    }
    if t.mode == ' ' {
        return Err(usage("You must specify one of the '-Acdtrux', '--delete' or '--test-label' options"));
    }
    Ok(t)
}

/// The archive could not be read: missing, or not one the simulator knows.
pub(crate) fn cannot_open(archive: &str, why: &str) -> Output {
    out(2, "", format!("tar: {archive}: Cannot open: {why}\ntar: Error is not recoverable: exiting now"))
}

/// Members asked for but absent (tar still extracts the others, then exits 2).
pub(crate) fn not_found(missing: &[&String]) -> String {
    let mut e = String::new();
    for m in missing {
        e.push_str(&format!("tar: {m}: Not found in archive\n"));
    }
    e.push_str("tar: Exiting with failure status due to previous errors");
    e
}

/// `tar` inside a guest: list or extract a catalogue release archive.
pub(crate) fn guest_tar(g: &mut Guest, args: &[&str]) -> Output {
    let t = match parse(args) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let Some(archive) = t.archive.clone() else {
        return out(2, "", "tar: Refusing to read archive contents from terminal (missing -f option?)\ntar: Error is not recoverable: exiting now");
    };
    if t.mode == 'c' {
        return out(127, "", "sim: tar -c not simulated in guest");
    }
    let Some(f) = g.files.get(&archive) else {
        return cannot_open(&archive, "No such file or directory");
    };
    let text = String::from_utf8_lossy(&f.content).into_owned();
    let Some(members) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(ARCHIVE_MARK))
        .and_then(|name| catalogue::archive_members(name.trim()))
    else {
        return cannot_open(&archive, "sim: not a release archive the simulator's catalogue knows");
    };
    let missing: Vec<&String> =
        t.members.iter().filter(|m| !members.iter().any(|(n, _)| n == &m.trim_start_matches("./"))).collect();
    let chosen = members
        .iter()
        .filter(|(n, _)| t.members.is_empty() || t.members.iter().any(|m| m.trim_start_matches("./") == *n));
    if t.mode == 't' {
        let list: String = chosen.map(|(n, _)| format!("{n}\n")).collect();
        return if missing.is_empty() { done(list) } else { out(2, list, not_found(&missing)) };
    }
    let dir = t.dir.clone().unwrap_or_else(|| "/root".into());
    if !is_dir(g, &dir) {
        return out(
            2,
            "",
            format!("tar: {dir}: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now"),
        );
    }
    let mut stdout = Vec::new();
    for (name, mode) in chosen {
        let content = format!("#!sim {name} from {archive}\n");
        if t.to_stdout {
            stdout.extend_from_slice(content.as_bytes());
        } else {
            g.files.insert(format!("{}/{name}", dir.trim_end_matches('/')), file(content, *mode));
        }
    }
    if missing.is_empty() {
        done(stdout)
    } else {
        out(2, stdout, not_found(&missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inside::base_image;
    use crate::state::GuestKind;

    #[test]
    fn argument_forms() {
        let t = parse(&["-xzf", "/tmp/a.tgz", "-C", "/opt", "traefik"]).unwrap();
        assert_eq!(
            t,
            TarArgs {
                mode: 'x',
                archive: Some("/tmp/a.tgz".into()),
                dir: Some("/opt".into()),
                to_stdout: false,
                members: vec!["traefik".into()],
            }
        );
        let o = parse(&["-xOf", "/t.tar.zst", "./var/lib/dpkg/status"]).unwrap();
        assert!(o.to_stdout && o.mode == 'x');
        assert_eq!(o.members, vec!["./var/lib/dpkg/status"]);
        let old = parse(&["tf", "/t.tar"]).unwrap();
        assert_eq!((old.mode, old.archive.as_deref()), ('t', Some("/t.tar")));
        let long = parse(&["--extract", "--file=/a", "--directory", "/d"]).unwrap();
        assert_eq!((long.archive.as_deref(), long.dir.as_deref()), (Some("/a"), Some("/d")));
        assert_eq!(parse(&["-f"]).unwrap_err().code, 2);
        assert_eq!(parse(&["-Q"]).unwrap_err().code, 2);
        assert!(parse(&["-f", "/a"]).unwrap_err().stderr_str().contains("You must specify one of"));
    }

    #[test]
    fn extracts_catalogue_archives_only() {
        let mut g = Guest::new(GuestKind::Lxc);
        g.set_image(base_image("debian", false));
        let url = "https://github.com/traefik/traefik/releases/download/v3.3.4/traefik_v3.3.4_linux_amd64.tar.gz";
        g.files.insert("/tmp/t.tar.gz".into(), file(catalogue::download(url), 0o644));
        g.files.insert("/tmp/junk.tar.gz".into(), file(catalogue::download("https://x/y.tar.gz"), 0o644));
        let nodir = guest_tar(&mut g, &["-xzf", "/tmp/t.tar.gz", "-C", "/opt/traefik/v3.3.4", "traefik"]);
        assert_eq!(nodir.code, 2);
        g.os.dirs.insert("/opt/traefik/v3.3.4".into());
        let ok = guest_tar(&mut g, &["-xzf", "/tmp/t.tar.gz", "-C", "/opt/traefik/v3.3.4", "traefik"]);
        assert_eq!(ok.code, 0, "{}", ok.stderr_str());
        assert_eq!(g.files.get("/opt/traefik/v3.3.4/traefik").map(|f| f.mode), Some(0o755));
        // Only the member asked for.
        assert!(!g.files.contains_key("/opt/traefik/v3.3.4/LICENSE.md"));
        let listed = guest_tar(&mut g, &["-tzf", "/tmp/t.tar.gz"]);
        assert_eq!(listed.stdout_str(), "CHANGELOG.md\nLICENSE.md\ntraefik\n");
        let missing_member = guest_tar(&mut g, &["-xzf", "/tmp/t.tar.gz", "-C", "/opt/traefik/v3.3.4", "nope"]);
        assert_eq!(
            (missing_member.code, missing_member.stderr_str().as_str()),
            (2, "tar: nope: Not found in archive\ntar: Exiting with failure status due to previous errors\n")
        );
        let junk = guest_tar(&mut g, &["-xzf", "/tmp/junk.tar.gz", "-C", "/opt"]);
        assert_eq!(junk.code, 2);
        assert!(junk.stderr_str().starts_with("tar: /tmp/junk.tar.gz: Cannot open: "));
        let absent = guest_tar(&mut g, &["-xzf", "/tmp/none.tar.gz", "-C", "/opt"]);
        assert_eq!(
            absent.stderr_str(),
            "tar: /tmp/none.tar.gz: Cannot open: No such file or directory\ntar: Error is not recoverable: exiting now\n"
        );
    }
}

#[cfg(test)]
mod through_pct {
    use crate::host::SimHost;
    use crate::state::SimState;

    fn run(h: &SimHost, line: &str) -> crate::output::Output {
        h.exec(&line.split_whitespace().map(String::from).collect::<Vec<_>>(), None)
    }

    /// The traefik feature's ensure_binary commands.
    #[test]
    fn traefik_release_unpacks() {
        let h = SimHost::new(SimState::default());
        let dir = "/opt/traefik/v3.3.4";
        let archive = "/tmp/traefik_v3.3.4_linux_amd64.tar.gz";
        for c in [
            "pct create 170 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --rootfs local-zfs:4".to_string(),
            "pct start 170".into(),
            "pct exec 170 -- test -x /usr/bin/tar".into(),
            format!("pct exec 170 -- install -d -m 0755 {dir}"),
            format!("pct exec 170 -- curl -fsSL -o {archive} https://github.com/traefik/traefik/releases/download/v3.3.4/traefik_v3.3.4_linux_amd64.tar.gz"),
            format!("pct exec 170 -- tar -xzf {archive} -C {dir} traefik"),
            format!("pct exec 170 -- test -x {dir}/traefik"),
            format!("pct exec 170 -- rm -f {archive}"),
        ] {
            let o = run(&h, &c);
            assert_eq!(o.code, 0, "{c}: {}", o.stderr_str());
        }
        assert_eq!(run(&h, &format!("pct exec 170 -- stat -c %a {dir}/traefik")).stdout_str(), "755\n");
    }
}
