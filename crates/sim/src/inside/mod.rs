//! Inside a simulated guest: the commands features run through `pct exec` and `qm guest exec`,
//! acting on the guest's files, packages, units and users, with the real tools' output and exit
//! codes. Anything not modelled exits 127 with a loud message instead of pretending to work.

use super::catalogue::{self, DEB_MARK, INSTALLER_MARK};
use super::state::{Account, DirMeta, Guest, GuestImage, GuestKind, GuestOs, PowerState, Unit};
use super::{archive, mounts, openssl, scripts, smallstep};
use crate::file::FileData;
use crate::output::Output;
use sha2::{Digest, Sha256};

mod boot;
mod coreutils;
pub(crate) mod docker;
pub(crate) mod docker_start;
mod image;
mod packages;
mod perms;
mod systemd;
#[cfg(test)]
mod tests;
mod tools;
mod users;

pub(crate) use boot::*;
use coreutils::*;
pub(crate) use image::*;
use packages::*;
pub(crate) use perms::*;
use systemd::*;
use tools::*;
use users::*;

pub(crate) fn out(code: i32, stdout: impl Into<Vec<u8>>, stderr: impl AsRef<str>) -> Output {
    let mut e = stderr.as_ref().to_string();
    if !e.is_empty() && !e.ends_with('\n') {
        e.push('\n');
    }
    Output { code, stdout: stdout.into(), stderr: e.into_bytes() }
}

pub(crate) fn done(stdout: impl Into<Vec<u8>>) -> Output {
    out(0, stdout, "")
}

pub(crate) fn file(content: impl Into<Vec<u8>>, mode: u32) -> FileData {
    FileData { content: content.into(), mode, owner: "root".into(), group: "root".into() }
}

/// Who runs an in-guest command and with which extra environment: root unless `runuser -u`,
/// variables from `env VAR=x`. Only the commands where it matters look at it (permission
/// checks, owners of created files, `STEPPATH`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Proc {
    user: Option<String>,
    env: Vec<(String, String)>,
    /// The simulated wall clock (epoch seconds, `SimState::clock`): what certificates are
    /// issued and checked against, so tests can move through a renewal window.
    now: u64,
}

impl Proc {
    pub(crate) fn user(&self) -> &str {
        self.user.as_deref().unwrap_or("root")
    }
    pub(crate) fn now(&self) -> u64 {
        self.now
    }
    pub(crate) fn var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

const PATH: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// Resolve argv[0] the way execvp does (`/bin` and `/usr/bin` are the same directory: usrmerge).
fn which(g: &Guest, cmd: &str) -> Option<String> {
    if cmd.contains('/') {
        return g.files.contains_key(cmd).then(|| cmd.to_string());
    }
    PATH.iter().map(|d| format!("{d}/{cmd}")).find(|p| g.files.contains_key(p)).or_else(|| {
        // usrmerge: /bin/x is /usr/bin/x.
        ["/usr/bin", "/bin"]
            .iter()
            .any(|d| g.files.contains_key(&format!("{d}/{cmd}")))
            .then(|| format!("/usr/bin/{cmd}"))
    })
}

pub(crate) fn is_dir(g: &Guest, path: &str) -> bool {
    let p = path.trim_end_matches('/');
    if p.is_empty() || g.os.dirs.contains(p) {
        return true;
    }
    let prefix = format!("{p}/");
    g.files.keys().any(|k| k.starts_with(&prefix)) || g.os.dirs.iter().any(|d| d.starts_with(&prefix))
}

fn no_such(tool: &str, path: &str) -> Output {
    out(1, "", format!("{tool}: {path}: No such file or directory"))
}

/// Run one in-guest command as root. `id` is the guest's vmid (for addresses); `stdin` feeds `tee`.
pub(crate) fn run(g: &mut Guest, id: u32, cmd: &[String], stdin: Option<&[u8]>, now: u64) -> Output {
    run_as(g, id, cmd, stdin, &Proc { now, ..Proc::default() })
}

fn run_as(g: &mut Guest, id: u32, cmd: &[String], stdin: Option<&[u8]>, p: &Proc) -> Output {
    let Some(argv0) = cmd.first() else {
        return out(127, "", "sim: empty command in guest");
    };
    // `env VAR=x cmd…` (DEBIAN_FRONTEND=noninteractive apt-get …, STEPPATH=… step …).
    if argv0 == "env" {
        let vars: Vec<(String, String)> = cmd[1..]
            .iter()
            .take_while(|a| a.contains('=') && !a.starts_with('-'))
            .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let rest = &cmd[1 + vars.len()..];
        let mut inner = p.clone();
        inner.env.extend(vars);
        return run_as(g, id, rest, stdin, &inner);
    }
    let name = argv0.rsplit('/').next().unwrap_or(argv0).to_string();
    // Without a modelled OS (a bare VM disk) only the probes that need no program work.
    let modelled = !g.os.packages.is_empty();
    if modelled && !matches!(name.as_str(), "true" | "false" | "test" | "[") && which(g, argv0).is_none() {
        return out(127, "", format!("exec: \"{argv0}\": executable file not found in $PATH"));
    }
    let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
    let a = |i: usize| args.get(i).copied().unwrap_or("");
    match name.as_str() {
        "true" => done(""),
        "false" => out(1, "", ""),
        "test" | "[" => test(g, &args, p.user()),
        "cat" => match g.files.get(a(0)) {
            Some(f) => done(f.content.clone()),
            None => no_such("cat", a(0)),
        },
        "mkdir" => {
            for p in args.iter().filter(|p| !p.starts_with('-')) {
                let mut cur = String::new();
                for part in p.split('/').filter(|s| !s.is_empty()) {
                    cur.push('/');
                    cur.push_str(part);
                    g.os.dirs.insert(cur.clone());
                }
            }
            done("")
        }
        "chmod" => match u32::from_str_radix(a(0), 8) {
            Ok(mode) => match g.files.get_mut(a(1)) {
                Some(f) => {
                    f.mode = mode;
                    done("")
                }
                None => out(1, "", format!("chmod: cannot access '{}': No such file or directory", a(1))),
            },
            Err(_) => out(1, "", format!("chmod: invalid mode: '{}'", a(0))),
        },
        "chown" => chown(g, a(0), a(1)),
        "rm" => {
            let force = args.iter().any(|x| x.starts_with('-') && x.contains('f'));
            for p in args.iter().filter(|p| !p.starts_with('-')) {
                if g.files.shift_remove(*p).is_none() && !force {
                    return out(1, "", format!("rm: cannot remove '{p}': No such file or directory"));
                }
            }
            done("")
        }
        "ln" => {
            let pos: Vec<&str> = args.iter().copied().filter(|p| !p.starts_with('-')).collect();
            let (Some(target), Some(link)) = (pos.first(), pos.get(1)) else {
                return out(1, "", "ln: missing file operand");
            };
            // A symlink is modelled as a copy of its target (or a placeholder when dangling).
            let data = g.files.get(*target).cloned().unwrap_or_else(|| file(format!("symlink to {target}\n"), 0o777));
            g.files.insert(link.to_string(), data);
            done("")
        }
        "install" => install(g, &args),
        "tee" => {
            let append = args.contains(&"-a");
            let data = stdin.unwrap_or_default().to_vec();
            for p in args.iter().filter(|p| !p.starts_with('-')) {
                let entry = g.files.entry(p.to_string()).or_insert_with(|| file(Vec::new(), 0o644));
                if append {
                    entry.content.extend_from_slice(&data);
                } else {
                    entry.content = data.clone();
                }
            }
            done(data)
        }
        "sha256sum" => match g.files.get(a(0)) {
            Some(f) => {
                let digest = Sha256::digest(&f.content);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                done(format!("{hex}  {}\n", a(0)))
            }
            None => no_such("sha256sum", a(0)),
        },
        "stat" => stat(g, &args),
        "apt-get" | "apt" => apt(g, &args),
        "dpkg-query" => dpkg_query(g, &args),
        "dpkg" => dpkg(g, &args),
        "systemctl" => systemctl(g, &args),
        "nginx" => crate::nginx::run(g, &args),
        "docker" => docker::docker(g, &args),
        "mv" => crate::rename::mv(g, &args),
        "update-ca-certificates" => update_ca(g),
        "curl" | "wget" => download(g, &name, &args),
        "sh" | "bash" => shell(g, id, &args, stdin, p),
        "mount" => mounts::mount(g, &args),
        "mountpoint" => mounts::mountpoint(g, &args),
        "umount" => mounts::umount(g, &args),
        "tar" => archive::guest_tar(g, &args),
        "openssl" => openssl::run(g, &args, p),
        "runuser" => runuser(g, id, &args, stdin, p),
        "step" if a(0) == "ca" && a(1) == "init" => smallstep::init(g, &args[2..], p),
        "step" if a(0) == "ca" && a(1) == "certificate" => smallstep::certificate(g, &args[2..], p),
        "step" if a(0) == "ca" && a(1) == "provisioner" && a(2) == "update" => {
            smallstep::provisioner_update(g, &args[3..], p)
        }
        "pip" | "pip3" => pip(g, argv0, &args),
        "python3" if a(0) == "-m" && a(1) == "pip" => pip(g, "pip", &args[2..]),
        "python3" if a(0) == "-m" && a(1) == "venv" => {
            let dir = a(2).trim_end_matches('/');
            for f in ["python", "python3", "pip", "pip3"] {
                g.files.insert(format!("{dir}/bin/{f}"), file("#!sim venv\n", 0o755));
            }
            done("")
        }
        "nvidia-smi" => nvidia_smi(g),
        "ip" => ip(g, id, &args),
        // A container's live hostname is what the setup code wrote at its last start.
        "hostname" if g.kind == GuestKind::Lxc && g.files.contains_key("/etc/hostname") => {
            done(g.files.get("/etc/hostname").map(|f| f.content.clone()).unwrap_or_default())
        }
        "hostname" => {
            let key = if g.kind == GuestKind::Lxc { "hostname" } else { "name" };
            done(format!("{}\n", g.config.get(key).cloned().unwrap_or_else(|| "localhost".into())))
        }
        "cloud-init" if a(0) == "status" => {
            if g.os.cloud_init_done {
                done("status: done\n")
            } else {
                out(0, "status: disabled\n", "")
            }
        }
        "getent" => getent(g, a(0), a(1)),
        "useradd" => useradd(g, &args),
        // An executable file that is no catalogue program: a script (see scripts.rs).
        _ if argv0.contains('/') && is_script(g, argv0) => {
            if g.files.get(argv0.as_str()).is_some_and(|f| f.mode & 0o111 == 0) {
                return out(126, "", format!("exec: \"{argv0}\": permission denied"));
            }
            run_file(g, argv0, &args)
        }
        tool => match catalogue::tool_version(tool) {
            Some(v) if matches!(a(0), "--version" | "version" | "-v" | "-V") => done(v),
            _ => out(127, "", format!("sim: command not simulated in guest: {argv0}")),
        },
    }
}

/// A guest file that is not a program the catalogue installed (those carry `#!sim `).
fn is_script(g: &Guest, path: &str) -> bool {
    g.files.get(path).is_some_and(|f| !f.content.starts_with(b"#!sim "))
}
