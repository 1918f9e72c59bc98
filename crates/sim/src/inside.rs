//! Inside a simulated guest: the commands features run through `pct exec` and `qm guest exec`,
//! acting on the guest's files, packages, units and users, with the real tools' output and exit
//! codes. Anything not modelled exits 127 with a loud message instead of pretending to work.

use super::catalogue::{self, DEB_MARK, INSTALLER_MARK};
use super::state::{Account, DirMeta, Guest, GuestImage, GuestKind, GuestOs, PowerState, Unit};
use super::{archive, mounts, openssl, scripts, smallstep};
use crate::file::FileData;
use crate::output::Output;
use sha2::{Digest, Sha256};

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

/// The image a Debian/Ubuntu LXC template or cloud image unpacks to. `os` names the distribution
/// (`ubuntu`, `debian`); anything else gets an empty image (nothing modelled inside).
pub(crate) fn base_image(os: &str, cloud: bool) -> GuestImage {
    let mut img = GuestImage::default();
    let (pretty, id, version) = match os {
        "ubuntu" => ("Ubuntu 24.04.1 LTS", "ubuntu", "24.04"),
        "debian" => ("Debian GNU/Linux 12 (bookworm)", "debian", "12"),
        _ => return img,
    };
    for p in catalogue::BASE_PACKAGES {
        install_files(&mut img.files, &mut img.os, p);
    }
    if os == "ubuntu" {
        install_files(&mut img.files, &mut img.os, "python3");
    }
    if cloud {
        install_files(&mut img.files, &mut img.os, "cloud-init");
    }
    img.files.insert(
        "/etc/os-release".into(),
        file(format!("PRETTY_NAME=\"{pretty}\"\nID={id}\nVERSION_ID=\"{version}\"\n"), 0o644),
    );
    for (u, uid) in [("root", 0), ("daemon", 1), ("nobody", 65534), ("_apt", 42)] {
        img.os.users.insert(u.into(), uid);
        img.os.groups.insert(u.into());
    }
    for d in ["/root", "/tmp", "/etc", "/usr/local/bin", "/etc/systemd/system"] {
        img.os.dirs.insert(d.into());
    }
    img
}

/// Put a package's files and units in place (no dependency or repository checks).
fn install_files(files: &mut indexmap::IndexMap<String, FileData>, os: &mut GuestOs, name: &str) {
    let Some(p) = catalogue::package(name) else {
        return;
    };
    for f in &p.files {
        files.entry(f.clone()).or_insert_with(|| file(format!("#!sim {name}\n"), catalogue::file_mode(f)));
    }
    for u in p.units {
        os.units.entry(u.to_string()).or_insert(Unit { enabled: true, active: false });
    }
    if name.starts_with("docker") {
        os.groups.insert("docker".into());
    }
    os.packages.insert(name.to_string());
}

/// A stable made-up DHCP lease per guest.
pub(crate) fn dhcp_lease(id: u32) -> String {
    format!("10.0.{}.{}", (id / 250) % 250, id % 250 + 2)
}

/// The guest's eth0 address as `addr/prefix`, or `None` (no address configured).
pub(crate) fn eth0_address(g: &Guest, id: u32) -> Option<(String, bool)> {
    let ip = match g.kind {
        GuestKind::Lxc => {
            g.config.get("net0").and_then(|n| n.split(',').find_map(|p| p.strip_prefix("ip="))).map(String::from)?
        }
        GuestKind::Qemu => g
            .config
            .get("ipconfig0")
            .and_then(|c| c.split(',').find_map(|p| p.strip_prefix("ip=")))
            .map(String::from)
            .unwrap_or_else(|| "dhcp".into()),
    };
    if ip.contains('/') {
        Some((ip, false))
    } else if ip == "dhcp" && g.status == PowerState::Running {
        Some((format!("{}/24", dhcp_lease(id)), true))
    } else {
        None
    }
}

/// Boot: enabled units start; a VM from a cloud image runs cloud-init's first boot once with
/// the documents of its config drive (`seed`), keeping them where cloud-init does.
pub(crate) fn on_boot(g: &mut Guest, seed: Option<&super::cloudinit::Seed>) {
    if let Some(seed) =
        seed.filter(|_| g.kind == GuestKind::Qemu && !g.os.cloud_init_done && g.os.packages.contains("cloud-init"))
    {
        g.os.cloud_init_done = true;
        g.files.insert(super::cloudinit::USER_DATA_PATH.into(), file(seed.user_data.clone(), 0o600));
        run_cloud_config(g, &seed.user_data);
        if let Some(vendor) = &seed.vendor_data {
            g.files.insert(super::cloudinit::VENDOR_DATA_PATH.into(), file(vendor.clone(), 0o600));
            run_cloud_config(g, vendor);
        }
    }
    mounts::mount_at_boot(g);
    for u in g.os.units.values_mut() {
        u.active = u.enabled;
    }
}

pub(crate) fn on_shutdown(g: &mut Guest) {
    for u in g.os.units.values_mut() {
        u.active = false;
    }
    g.os.mounts.clear();
}

fn add_user(os: &mut GuestOs, name: &str) {
    if !os.users.contains_key(name) {
        let uid = (1000..).find(|n| !os.users.values().any(|u| u == n)).unwrap_or(1000);
        os.users.insert(name.to_string(), uid);
        os.groups.insert(name.to_string());
    }
}

/// The parts of a `#cloud-config` user-data document the simulator follows: `packages:` (list
/// items), `users:` (`- name: x`) and `runcmd:` items of the form `systemctl enable --now <u>`.
fn run_cloud_config(g: &mut Guest, text: &str) {
    let mut section = "";
    // `user:` renames the default user; `ssh_authorized_keys:` go to that user.
    let mut user: Option<String> = None;
    let mut keys: Vec<String> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && !line.starts_with('-') {
            section = line.split(':').next().unwrap_or("").trim();
            if let Some(name) = line.strip_prefix("user:").map(str::trim).filter(|n| !n.is_empty()) {
                add_user(&mut g.os, name);
                user = Some(name.to_string());
            }
            continue;
        }
        let item = line.trim().trim_start_matches('-').trim();
        match section {
            "ssh_authorized_keys" => keys.push(item.to_string()),
            "packages" => {
                let p = item.trim_matches(|c| c == '"' || c == '\'');
                if catalogue::package(p).is_some() {
                    install_with_deps(&mut g.files, &mut g.os, p);
                }
            }
            "users" => {
                if let Some(n) = item.strip_prefix("name:") {
                    add_user(&mut g.os, n.trim());
                }
            }
            "runcmd" => {
                let words: Vec<String> = item
                    .trim_matches(|c| c == '[' || c == ']')
                    .split([' ', ','])
                    .map(|w| w.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
                if words.first().map(String::as_str) == Some("systemctl") {
                    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
                    systemctl(g, &args);
                }
            }
            _ => {}
        }
    }
    if !keys.is_empty() {
        let owner = user.unwrap_or_else(|| "ubuntu".into());
        let home = if owner == "root" { "/root".to_string() } else { format!("/home/{owner}") };
        let mut f = file(keys.join("\n") + "\n", 0o600);
        f.owner = owner.clone();
        f.group = owner;
        g.files.insert(format!("{home}/.ssh/authorized_keys"), f);
    }
}

fn install_with_deps(files: &mut indexmap::IndexMap<String, FileData>, os: &mut GuestOs, name: &str) {
    if os.packages.contains(name) {
        return;
    }
    if let Some(p) = catalogue::package(name) {
        for d in p.deps {
            install_with_deps(files, os, d);
        }
    }
    install_files(files, os, name);
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

/// Owner, group and mode of a path: a file's own, a directory's recorded or root:root 0755
/// (`/tmp` 1777).
fn meta(g: &Guest, path: &str) -> Option<(String, String, u32)> {
    let p = path.trim_end_matches('/');
    if let Some(f) = g.files.get(p) {
        return Some((f.owner.clone(), f.group.clone(), f.mode));
    }
    if let Some(m) = g.os.dir_meta.get(p) {
        return Some((m.owner.clone(), m.group.clone(), m.mode));
    }
    if p == "/tmp" || p == "/var/tmp" {
        return Some(("root".into(), "root".into(), 0o1777));
    }
    is_dir(g, p).then(|| ("root".into(), "root".into(), 0o755))
}

/// Does `user` have permission `bit` (4 read, 2 write, 1 execute) on `path`? Root always
/// does; users' only group is their own (useradd --user-group).
fn permitted(g: &Guest, path: &str, user: &str, bit: u32) -> bool {
    let Some((owner, group, mode)) = meta(g, path) else {
        return false;
    };
    if user == "root" {
        return true;
    }
    let shift = if owner == user {
        6
    } else if group == user {
        3
    } else {
        0
    };
    mode >> shift & bit != 0
}

pub(crate) fn may_read(g: &Guest, path: &str, user: &str) -> bool {
    permitted(g, path, user, 4)
}

/// Writing an existing path needs its write bit; creating one needs the directory's.
pub(crate) fn may_write(g: &Guest, path: &str, user: &str) -> bool {
    if meta(g, path).is_some() {
        return permitted(g, path, user, 2);
    }
    let parent = match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((d, _)) => d,
    };
    permitted(g, parent, user, 2)
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

/// Run one in-guest command as root. `id` is the guest's vmid (for addresses); `stdin` feeds
/// `tee`; `now` is the simulated clock.
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

/// `runuser -u <user> -- argv…`: argv runs as that user (who must exist).
fn runuser(g: &mut Guest, id: u32, args: &[&str], stdin: Option<&[u8]>, p: &Proc) -> Output {
    let (user, rest) = match args {
        ["-u", user, "--", rest @ ..] | ["-u", user, rest @ ..] => (*user, rest),
        _ => {
            return out(
                127,
                "",
                format!("sim: runuser {} not simulated in guest (only -u <user> -- argv)", args.join(" ")),
            )
        }
    };
    if !g.os.users.contains_key(user) {
        return out(
            1,
            "",
            format!("runuser: user {user} does not exist or the user entry does not contain all the required fields"),
        );
    }
    if rest.is_empty() {
        return out(127, "", "sim: interactive shell not simulated in guest");
    }
    let cmd: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
    let mut inner = p.clone();
    inner.user = Some(user.to_string());
    run_as(g, id, &cmd, stdin, &inner)
}

/// `useradd [--system|-r] [--user-group|-U] [--home-dir|-d h] [--shell|-s sh] [--create-home|-m] LOGIN`.
/// System users get uids counting down from 999, as Debian's useradd allocates them.
fn useradd(g: &mut Guest, args: &[&str]) -> Output {
    let (mut system, mut home, mut shell, mut login) = (false, None, None, None);
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--system" | "-r" => system = true,
            "--home-dir" | "-d" => {
                i += 1;
                home = args.get(i).map(|s| s.to_string());
            }
            "--shell" | "-s" => {
                i += 1;
                shell = args.get(i).map(|s| s.to_string());
            }
            "--user-group" | "-U" | "--create-home" | "-m" | "--no-create-home" | "-M" => {}
            x if x.starts_with('-') => {
                return out(
                    2,
                    "",
                    format!("useradd: unrecognized option '{x}'\nsim: useradd option not simulated in guest"),
                )
            }
            x => login = Some(x.to_string()),
        }
        i += 1;
    }
    let Some(user) = login else {
        return out(2, "", "Usage: useradd [options] LOGIN");
    };
    if g.os.users.contains_key(&user) {
        return out(9, "", format!("useradd: user '{user}' already exists"));
    }
    if system {
        let uid = (100..1000u32).rev().find(|n| !g.os.users.values().any(|u| u == n)).unwrap_or(999);
        g.os.users.insert(user.clone(), uid);
        g.os.groups.insert(user.clone());
    } else {
        add_user(&mut g.os, &user);
    }
    if home.is_some() || shell.is_some() {
        g.os.accounts.insert(
            user.clone(),
            Account {
                home: home.unwrap_or_else(|| format!("/home/{user}")),
                shell: shell.unwrap_or_else(|| "/bin/sh".into()),
            },
        );
    }
    done("")
}

fn test(g: &Guest, args: &[&str], user: &str) -> Output {
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "]").collect();
    let (op, path) = match args.as_slice() {
        [op, path] => (*op, *path),
        _ => return out(127, "", format!("sim: test {} not simulated in guest", args.join(" "))),
    };
    let f = g.files.get(path);
    let yes = match op {
        "-e" => f.is_some() || is_dir(g, path),
        "-f" => f.is_some(),
        "-r" if user == "root" => f.is_some() || is_dir(g, path),
        "-d" => f.is_none() && is_dir(g, path),
        "-x" => f.is_some_and(|f| f.mode & 0o111 != 0) || (f.is_none() && is_dir(g, path)),
        "-s" => f.is_some_and(|f| !f.content.is_empty()),
        "-w" => may_write(g, path, user) && meta(g, path).is_some(),
        "-r" => may_read(g, path, user),
        other => return out(127, "", format!("sim: test {other} not simulated in guest")),
    };
    out(if yes { 0 } else { 1 }, "", "")
}

fn chown(g: &mut Guest, spec: &str, path: &str) -> Output {
    let (user, group) = match spec.split_once(':') {
        Some((u, gr)) => (u, if gr.is_empty() { u } else { gr }),
        None => (spec, ""),
    };
    if !g.os.users.contains_key(user) && !g.os.packages.is_empty() {
        return out(1, "", format!("chown: invalid user: '{spec}'"));
    }
    if !group.is_empty() && !g.os.groups.contains(group) && !g.os.packages.is_empty() {
        return out(1, "", format!("chown: invalid group: '{spec}'"));
    }
    if !g.files.contains_key(path) && is_dir(g, path) {
        let key = path.trim_end_matches('/').to_string();
        let m = g.os.dir_meta.entry(key).or_insert_with(|| DirMeta {
            owner: "root".into(),
            group: "root".into(),
            mode: 0o755,
        });
        m.owner = user.to_string();
        if !group.is_empty() {
            m.group = group.to_string();
        }
        return done("");
    }
    match g.files.get_mut(path) {
        Some(f) => {
            f.owner = user.to_string();
            if !group.is_empty() {
                f.group = group.to_string();
            }
            done("")
        }
        None => out(1, "", format!("chown: cannot access '{path}': No such file or directory")),
    }
}

/// `install [-d] [-m mode] [-o user] [-g group] src… dst`. `/dev/null` as the source makes an
/// empty file (how secrets files are created with their mode before anything is written).
fn install(g: &mut Guest, args: &[&str]) -> Output {
    let mut mode = None;
    let (mut owner, mut group) = (None, None);
    let mut dirs = false;
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "-m" | "--mode" => {
                i += 1;
                let v = args.get(i).copied().unwrap_or("");
                match u32::from_str_radix(v, 8) {
                    Ok(m) => mode = Some(m),
                    Err(_) => return out(1, "", format!("install: invalid mode '{v}'")),
                }
            }
            "-o" | "--owner" => {
                i += 1;
                owner = args.get(i).copied();
            }
            "-g" | "--group" => {
                i += 1;
                group = args.get(i).copied();
            }
            "-d" | "--directory" => dirs = true,
            x if x.starts_with('-') => {}
            x => pos.push(x),
        }
        i += 1;
    }
    if let Some(u) = owner.filter(|u| !g.os.users.contains_key(*u)) {
        return out(1, "", format!("install: invalid user '{u}'"));
    }
    if let Some(gr) = group.filter(|gr| !g.os.groups.contains(*gr)) {
        return out(1, "", format!("install: invalid group '{gr}'"));
    }
    let owner = owner.unwrap_or("root").to_string();
    let group = group.unwrap_or("root").to_string();
    if dirs {
        for p in pos {
            let p = p.trim_end_matches('/');
            let mut cur = String::new();
            for part in p.split('/').filter(|s| !s.is_empty()) {
                cur.push('/');
                cur.push_str(part);
                g.os.dirs.insert(cur.clone());
            }
            g.os.dir_meta.insert(
                p.to_string(),
                DirMeta { owner: owner.clone(), group: group.clone(), mode: mode.unwrap_or(0o755) },
            );
        }
        return done("");
    }
    let (Some(src), Some(dst)) = (pos.first(), pos.get(1)) else {
        return out(1, "", "install: missing destination file operand");
    };
    let content = if *src == "/dev/null" {
        Vec::new()
    } else {
        match g.files.get(*src) {
            Some(f) => f.content.clone(),
            None => return out(1, "", format!("install: cannot stat '{src}': No such file or directory")),
        }
    };
    let mut data = file(content, mode.unwrap_or(0o755));
    data.owner = owner;
    data.group = group;
    let dst = if is_dir(g, dst) && !g.files.contains_key(*dst) {
        format!("{}/{}", dst.trim_end_matches('/'), src.rsplit('/').next().unwrap_or(src))
    } else {
        dst.to_string()
    };
    g.files.insert(dst, data);
    done("")
}

fn stat(g: &Guest, args: &[&str]) -> Output {
    let (fmt, path) = match args {
        ["-c", fmt, path] => (*fmt, *path),
        [f, path] if f.starts_with("--format=") || f.starts_with("-c") => {
            (f.trim_start_matches("--format=").trim_start_matches("-c"), *path)
        }
        _ => return out(127, "", format!("sim: stat {} not simulated in guest", args.join(" "))),
    };
    let Some(f) = g.files.get(path) else {
        return out(1, "", format!("stat: cannot statx '{path}': No such file or directory"));
    };
    let text = fmt
        .replace("%a", &format!("{:o}", f.mode))
        .replace("%U", &f.owner)
        .replace("%G", &f.group)
        .replace("%s", &f.content.len().to_string())
        .replace("%n", path);
    done(format!("{text}\n"))
}

/// Can apt locate this package (known, and its repository configured)?
fn locatable(g: &Guest, name: &str) -> bool {
    match catalogue::package(name) {
        Some(p) => match p.repo {
            None => true,
            Some(word) => g.files.iter().any(|(path, f)| {
                path.starts_with("/etc/apt/sources.list.d/") && String::from_utf8_lossy(&f.content).contains(word)
            }),
        },
        None => false,
    }
}

const APT_HEADER: &str = "Reading package lists...\nBuilding dependency tree...\nReading state information...\n";

fn apt(g: &mut Guest, args: &[&str]) -> Output {
    let sub = args.iter().find(|a| !a.starts_with('-')).copied().unwrap_or("");
    let mut names = Vec::new();
    let mut skip_next = false;
    let mut seen_sub = false;
    for x in args {
        if skip_next {
            skip_next = false;
            continue;
        }
        if *x == "-o" {
            skip_next = true;
            continue;
        }
        if x.starts_with('-') {
            continue;
        }
        if !seen_sub {
            seen_sub = true;
            continue;
        }
        names.push(*x);
    }
    match sub {
        "update" => done("Hit:1 http://archive.ubuntu.com/ubuntu noble InRelease\nReading package lists...\n"),
        "upgrade" | "dist-upgrade" | "full-upgrade" | "autoremove" | "clean" => {
            done(format!("{APT_HEADER}0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"))
        }
        "install" => {
            let mut pkgs: Vec<String> = Vec::new();
            for n in &names {
                if n.starts_with('/') || n.starts_with("./") {
                    match deb_package(g, n) {
                        Ok(p) => pkgs.push(p),
                        Err(e) => return e,
                    }
                } else if !locatable(g, n) {
                    return out(100, APT_HEADER, format!("E: Unable to locate package {n}"));
                } else {
                    pkgs.push(n.to_string());
                }
            }
            let mut text = APT_HEADER.to_string();
            let new: Vec<&String> = pkgs.iter().filter(|p| !g.os.packages.contains(*p)).collect();
            for p in pkgs.iter().filter(|p| g.os.packages.contains(*p)) {
                text.push_str(&format!("{p} is already the newest version ({}).\n", catalogue::version(p)));
            }
            if !new.is_empty() {
                text.push_str("The following NEW packages will be installed:\n ");
                for p in &new {
                    text.push(' ');
                    text.push_str(p);
                }
                text.push('\n');
            }
            text.push_str(&format!("0 upgraded, {} newly installed, 0 to remove and 0 not upgraded.\n", new.len()));
            for p in &pkgs {
                install_with_deps(&mut g.files, &mut g.os, p);
                activate_units(&mut g.os, p);
            }
            done(text)
        }
        "remove" | "purge" => {
            for n in &names {
                if let Some(p) = catalogue::package(n).filter(|_| g.os.packages.contains(*n)) {
                    for f in &p.files {
                        g.files.shift_remove(f);
                    }
                    for u in p.units {
                        g.os.units.remove(*u);
                    }
                    g.os.packages.remove(*n);
                }
            }
            done(APT_HEADER)
        }
        other => out(127, "", format!("sim: apt-get {other} not simulated in guest")),
    }
}

/// Debian's postinst starts the services it enables (the guest is running when apt runs).
fn activate_units(os: &mut GuestOs, name: &str) {
    if let Some(p) = catalogue::package(name) {
        for u in p.units {
            if let Some(unit) = os.units.get_mut(*u) {
                unit.active = unit.enabled;
            }
        }
    }
}

/// The package a downloaded `.deb` holds.
fn deb_package(g: &Guest, path: &str) -> Result<String, Output> {
    let f = g
        .files
        .get(path)
        .ok_or_else(|| out(1, "", format!("dpkg: error: cannot access archive '{path}': No such file or directory")))?;
    let text = String::from_utf8_lossy(&f.content);
    text.strip_prefix(DEB_MARK)
        .map(|n| n.trim().to_string())
        .filter(|n| catalogue::package(n).is_some())
        .ok_or_else(|| out(2, "", format!("dpkg-deb: error: '{path}' is not a Debian format archive")))
}

fn dpkg(g: &mut Guest, args: &[&str]) -> Output {
    match args {
        ["-i", debs @ ..] | ["--install", debs @ ..] => {
            for d in debs {
                match deb_package(g, d) {
                    Ok(p) => {
                        install_with_deps(&mut g.files, &mut g.os, &p);
                        activate_units(&mut g.os, &p);
                    }
                    Err(e) => return e,
                }
            }
            done("")
        }
        // `dpkg -s a b c`: a stanza per installed package; exit 1 if any is not installed.
        ["-s" | "--status", pkgs @ ..] if !pkgs.is_empty() => {
            let mut stdout = String::new();
            let mut stderr = String::new();
            for p in pkgs {
                if g.os.packages.contains(*p) {
                    if !stdout.is_empty() {
                        stdout.push('\n');
                    }
                    stdout.push_str(&format!(
                        "Package: {p}\nStatus: install ok installed\nVersion: {}\n",
                        catalogue::version(p)
                    ));
                } else {
                    stderr.push_str(&format!(
                        "dpkg-query: package '{p}' is not installed and no information is available\n"
                    ));
                }
            }
            if stderr.is_empty() {
                done(stdout)
            } else {
                out(1, stdout, stderr.trim_end())
            }
        }
        _ => out(127, "", format!("sim: dpkg {} not simulated in guest", args.join(" "))),
    }
}

fn dpkg_query(g: &Guest, args: &[&str]) -> Output {
    let mut format: Option<String> = None;
    let mut names = Vec::new();
    let mut i = 0;
    let mut show = false;
    while i < args.len() {
        let x = args[i];
        if x == "-W" || x == "--show" {
            show = true;
        } else if x == "-f" || x == "--showformat" {
            i += 1;
            format = args.get(i).map(|s| s.to_string());
        } else if let Some(f) = x.strip_prefix("-f=").or_else(|| x.strip_prefix("--showformat=")) {
            format = Some(f.to_string());
        } else if let Some(f) = x.strip_prefix("-f") {
            format = Some(f.to_string());
        } else {
            names.push(x);
        }
        i += 1;
    }
    if !show {
        return out(127, "", format!("sim: dpkg-query {} not simulated in guest", args.join(" ")));
    }
    let format = format
        .map(|f| f.trim_matches('\'').trim_matches('"').to_string())
        .unwrap_or_else(|| "${Package}\t${Version}\n".into());
    let mut text = String::new();
    for n in &names {
        if !g.os.packages.contains(*n) {
            return out(1, text, format!("dpkg-query: no packages found matching {n}"));
        }
        text.push_str(
            &format
                .replace("${Status}", "install ok installed")
                .replace("${db:Status-Abbrev}", "ii ")
                .replace("${Package}", n)
                .replace("${Version}", catalogue::version(n))
                .replace("\\n", "\n"),
        );
    }
    done(text)
}

/// Unit names as systemctl normalises them (`docker` → `docker.service`).
fn unit_name(u: &str) -> String {
    if u.contains('.') {
        u.to_string()
    } else {
        format!("{u}.service")
    }
}

fn unit_exists(g: &Guest, unit: &str) -> bool {
    g.os.units.contains_key(unit)
        || ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]
            .iter()
            .any(|d| g.files.contains_key(&format!("{d}/{unit}")))
}

fn systemctl(g: &mut Guest, args: &[&str]) -> Output {
    let now = args.contains(&"--now");
    let rest: Vec<&str> = args.iter().copied().filter(|a| !a.starts_with('-')).collect();
    let verb = rest.first().copied().unwrap_or("");
    let units: Vec<String> = rest.iter().skip(1).map(|u| unit_name(u)).collect();
    if verb == "daemon-reload" {
        return done("");
    }
    let mut stderr = String::new();
    let mut stdout = String::new();
    let mut code = 0;
    for unit in &units {
        let exists = unit_exists(g, unit);
        match verb {
            "is-enabled" => {
                let e = exists && g.os.units.get(unit).is_some_and(|u| u.enabled);
                if !exists {
                    stderr.push_str(&format!("Failed to get unit file state for {unit}: No such file or directory\n"));
                    code = 1;
                } else {
                    stdout.push_str(if e { "enabled\n" } else { "disabled\n" });
                    if !e {
                        code = 1;
                    }
                }
            }
            "is-active" | "status" => {
                let a = g.os.units.get(unit).is_some_and(|u| u.active);
                if verb == "is-active" {
                    stdout.push_str(if a { "active\n" } else { "inactive\n" });
                    if !a {
                        code = 3;
                    }
                } else if !exists {
                    stderr.push_str(&format!("Unit {unit} could not be found.\n"));
                    code = 4;
                } else {
                    stdout.push_str(&format!(
                        "● {unit}\n     Active: {}\n",
                        if a { "active (running)" } else { "inactive (dead)" }
                    ));
                    if !a {
                        code = 3;
                    }
                }
            }
            "enable" | "disable" => {
                if !exists {
                    let what = if verb == "enable" { "enable" } else { "disable" };
                    return out(1, stdout, format!("Failed to {what} unit: Unit file {unit} does not exist."));
                }
                let entry = g.os.units.entry(unit.clone()).or_default();
                let want = verb == "enable";
                if entry.enabled != want {
                    entry.enabled = want;
                    if want {
                        stderr.push_str(&format!("Created symlink /etc/systemd/system/multi-user.target.wants/{unit} → /etc/systemd/system/{unit}.\n"));
                    } else {
                        stderr.push_str(&format!("Removed \"/etc/systemd/system/multi-user.target.wants/{unit}\".\n"));
                    }
                }
                if now {
                    entry.active = want;
                }
            }
            "start" | "stop" | "restart" | "reload" | "try-restart" | "reload-or-restart" | "try-reload-or-restart" => {
                if !exists {
                    return out(5, stdout, format!("Failed to {verb} {unit}: Unit {unit} not found."));
                }
                let entry = g.os.units.entry(unit.clone()).or_default();
                match verb {
                    "stop" => entry.active = false,
                    "reload" if !entry.active => {
                        return out(1, stdout, format!("Job for {unit} failed.\nSee \"systemctl status {unit}\" and \"journalctl -xeu {unit}\" for details."));
                    }
                    "try-restart" | "try-reload-or-restart" => {}
                    _ => entry.active = true,
                }
            }
            other => return out(127, "", format!("sim: systemctl {other} not simulated in guest")),
        }
    }
    if units.is_empty() {
        return out(1, "", format!("Too few arguments.\nsim: systemctl {verb} needs a unit"));
    }
    out(code, stdout, stderr.trim_end_matches('\n'))
}

fn update_ca(g: &mut Guest) -> Output {
    let certs: Vec<(String, FileData)> = g
        .files
        .iter()
        .filter(|(p, _)| p.starts_with("/usr/local/share/ca-certificates/") && p.ends_with(".crt"))
        .map(|(p, f)| (p.clone(), f.clone()))
        .collect();
    let mut added = 0;
    for (p, f) in certs {
        let base = p.rsplit('/').next().unwrap_or(&p).trim_end_matches(".crt").to_string();
        let pem = format!("/etc/ssl/certs/{base}.pem");
        if g.files.get(&pem).map(|x| &x.content) != Some(&f.content) {
            g.files.insert(pem, file(f.content.clone(), 0o644));
            added += 1;
        }
    }
    done(format!(
        "Updating certificates in /etc/ssl/certs...\n{added} added, 0 removed; done.\nRunning hooks in /etc/ca-certificates/update.d...\ndone.\n"
    ))
}

fn download(g: &mut Guest, tool: &str, args: &[&str]) -> Output {
    let mut dest: Option<&str> = None;
    let mut url: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        if let Some(flags) = x.strip_prefix('-').filter(|f| !f.starts_with('-')) {
            // Clusters like -fsSLo / -qO: the value follows when the cluster ends in o/O.
            if flags.ends_with('o') || flags.ends_with('O') {
                i += 1;
                dest = args.get(i).copied();
            }
        } else if let Some(v) = x.strip_prefix("--output=").or_else(|| x.strip_prefix("--output-document=")) {
            dest = Some(v);
        } else if x == "--output" || x == "--output-document" {
            i += 1;
            dest = args.get(i).copied();
        } else if !x.starts_with('-') {
            url = Some(x);
        }
        i += 1;
    }
    let Some(url) = url else {
        return out(2, "", format!("{tool}: no URL specified"));
    };
    let data = catalogue::download(url);
    match dest {
        Some("-") | None => done(data),
        Some(d) => {
            g.files.insert(d.to_string(), file(data, 0o644));
            done("")
        }
    }
}

fn shell(g: &mut Guest, id: u32, args: &[&str], stdin: Option<&[u8]>, p: &Proc) -> Output {
    match args {
        ["-c", script, ..] => {
            // Only a single simple command: anything with shell syntax is not interpreted.
            if script.contains(['|', ';', '&', '>', '<', '$', '`', '(', '\'', '"']) {
                return out(127, "", format!("sim: shell syntax not simulated in guest: {script}"));
            }
            let words: Vec<String> = script.split_whitespace().map(String::from).collect();
            run_as(g, id, &words, stdin, p)
        }
        [path, rest @ ..] if !path.starts_with('-') => {
            if !g.files.contains_key(*path) {
                return out(127, "", format!("sh: 0: cannot open {path}: No such file"));
            }
            run_file(g, path, rest)
        }
        _ => out(127, "", "sim: interactive shell not simulated in guest"),
    }
}

/// Run a script file: a catalogue installer does what the catalogue says; any other script is
/// recorded as run (scripts.rs says why it is not interpreted).
fn run_file(g: &mut Guest, path: &str, args: &[&str]) -> Output {
    let installer = g.files.get(path).and_then(|f| {
        String::from_utf8_lossy(&f.content)
            .lines()
            .find_map(|l| l.strip_prefix(INSTALLER_MARK).map(|n| n.trim().to_string()))
    });
    match installer {
        Some(name) => run_installer(g, &name),
        None => scripts::run_guest(g, path, args),
    }
}

fn run_installer(g: &mut Guest, name: &str) -> Output {
    let Some(inst) = catalogue::INSTALLERS.iter().find(|i| i.name == name) else {
        return out(127, "", format!("sim: unknown installer {name}"));
    };
    for p in inst.packages {
        install_with_deps(&mut g.files, &mut g.os, p);
        activate_units(&mut g.os, p);
    }
    for f in inst.files {
        g.files.insert(f.to_string(), file(format!("#!sim {name}\n"), catalogue::file_mode(f)));
    }
    if let Some(u) = inst.user {
        add_user(&mut g.os, u);
    }
    for u in inst.units {
        g.os.units.insert(u.to_string(), Unit { enabled: true, active: true });
    }
    done(inst.stdout)
}

fn pip(g: &mut Guest, argv0: &str, args: &[&str]) -> Output {
    // A venv's pip installs its scripts next to itself; the system pip into /usr/local/bin.
    let bin = match argv0.rsplit_once('/') {
        Some((dir, _)) if !dir.starts_with("/usr/") && !dir.is_empty() => dir.to_string(),
        _ => "/usr/local/bin".to_string(),
    };
    let env = bin.trim_end_matches("/bin").to_string();
    match args.first().copied() {
        Some("install") => {
            let dists: Vec<&str> = args[1..].iter().copied().filter(|a| !a.starts_with('-')).collect();
            let mut installed = Vec::new();
            for d in dists {
                let name = d.split(['=', '<', '>', '[']).next().unwrap_or(d).to_lowercase();
                for s in catalogue::pip_scripts(&name) {
                    g.files.insert(format!("{bin}/{s}"), file(format!("#!sim pip {name}\n"), 0o755));
                }
                g.os.pip.insert(format!("{env}:{name}"));
                installed.push(format!("{name}-1.0"));
            }
            done(format!("Successfully installed {}\n", installed.join(" ")))
        }
        Some("show") => {
            let name = args.get(1).copied().unwrap_or("").to_lowercase();
            if g.os.pip.contains(&format!("{env}:{name}")) {
                done(format!("Name: {name}\nVersion: 1.0\n"))
            } else {
                out(1, "", format!("WARNING: Package(s) not found: {name}"))
            }
        }
        _ => out(127, "", format!("sim: pip {} not simulated in guest", args.join(" "))),
    }
}

/// GPU passthrough: LXC device/cgroup lines for /dev/nvidia*, or a VM `hostpciN`.
fn has_gpu(g: &Guest) -> bool {
    match g.kind {
        GuestKind::Lxc => {
            g.lxc.iter().any(|(k, v)| {
                (k.starts_with("lxc.cgroup2.devices.allow") && v.contains("195:"))
                    || (k == "lxc.mount.entry" && v.contains("/dev/nvidia"))
            }) || g.config.iter().any(|(k, v)| k.starts_with("dev") && v.contains("/dev/nvidia"))
        }
        GuestKind::Qemu => g.config.keys().any(|k| k.starts_with("hostpci")),
    }
}

fn nvidia_smi(g: &Guest) -> Output {
    if !has_gpu(g) {
        return out(9, "", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.");
    }
    done("+-----------------------------------------------------------------------------------------+\n| NVIDIA-SMI 550.120                Driver Version: 550.120        CUDA Version: 12.4     |\n|   0  NVIDIA GeForce RTX 3090        Off |   00000000:01:00.0 Off |                  N/A |\n+-----------------------------------------------------------------------------------------+\n")
}

fn ip(g: &Guest, id: u32, args: &[&str]) -> Output {
    let shows = args.contains(&"addr") && args.contains(&"show");
    let dev = args.iter().position(|a| *a == "dev").and_then(|i| args.get(i + 1)).copied().unwrap_or("eth0");
    if !shows {
        return out(127, "", format!("sim: ip {} not simulated in guest", args.join(" ")));
    }
    if dev != "eth0" {
        return out(1, "", format!("Device \"{dev}\" does not exist."));
    }
    let Some((cidr, dynamic)) = eth0_address(g, id) else {
        return done("");
    };
    let (addr, prefix) = cidr.split_once('/').unwrap_or((&cidr, "24"));
    let brd = broadcast(addr, prefix.parse().unwrap_or(24));
    done(format!(
        "2: eth0    inet {addr}/{prefix} brd {brd} scope global {}eth0\\       valid_lft forever preferred_lft forever\n",
        if dynamic { "dynamic " } else { "" }
    ))
}

fn broadcast(addr: &str, prefix: u32) -> String {
    let Ok(ip) = addr.parse::<std::net::Ipv4Addr>() else {
        return addr.to_string();
    };
    let host_bits = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
    std::net::Ipv4Addr::from(u32::from(ip) | host_bits).to_string()
}

fn getent(g: &Guest, db: &str, key: &str) -> Output {
    match db {
        "passwd" => match g.os.users.get(key) {
            Some(uid) => {
                let (home, shell) = match g.os.accounts.get(key) {
                    Some(a) => (a.home.clone(), a.shell.clone()),
                    None if key == "root" => ("/root".to_string(), "/bin/bash".to_string()),
                    None => (format!("/home/{key}"), "/bin/bash".to_string()),
                };
                let gid = if g.os.groups.contains(key) { *uid } else { 100 };
                done(format!("{key}:x:{uid}:{gid}:{key}:{home}:{shell}\n"))
            }
            None => out(2, "", ""),
        },
        "group" => {
            if g.os.groups.contains(key) {
                done(format!("{key}:x:{}:\n", g.os.users.get(key).copied().unwrap_or(999)))
            } else {
                out(2, "", "")
            }
        }
        other => out(127, "", format!("sim: getent {other} not simulated in guest")),
    }
}

#[cfg(test)]
mod tests {
    use crate::host::SimHost;
    use crate::output::Output;
    use crate::state::{text_file, SimState};
    use std::time::Duration;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }
    fn run(h: &SimHost, line: &str) -> Output {
        h.exec(&argv(line), None)
    }
    fn ok_run(h: &SimHost, line: &str) -> Output {
        let o = run(h, line);
        assert_eq!(o.code, 0, "{line}: {}", o.stderr_str());
        o
    }
    fn ct(h: &SimHost, id: u32, net: &str) {
        ok_run(h, &format!("pct create {id} local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst --hostname ct{id} --rootfs local-zfs:4 --net0 {net}"));
        ok_run(h, &format!("pct start {id}"));
    }

    #[test]
    fn feature_sequence_converges() {
        let h = SimHost::new(SimState::default());
        ct(&h, 200, "name=eth0,bridge=vmbr0,ip=10.0.0.20/24,gw=10.0.0.1");
        assert_eq!(run(&h, "pct exec 200 -- test -x /usr/bin/docker").code, 1);
        let q = run(&h, "pct exec 200 -- dpkg-query -W -f=${Status} docker.io");
        assert_eq!((q.code, q.stderr_str().as_str()), (1, "dpkg-query: no packages found matching docker.io\n"));
        let e = run(&h, "pct exec 200 -- systemctl is-enabled docker");
        assert_eq!(e.code, 1);
        ok_run(&h, "pct exec 200 -- apt-get update");
        let i = ok_run(&h, "pct exec 200 -- apt-get install -y --no-install-recommends docker.io");
        assert!(i.stdout_str().contains("1 newly installed"), "{}", i.stdout_str());
        ok_run(&h, "pct exec 200 -- systemctl enable --now docker");
        assert_eq!(ok_run(&h, "pct exec 200 -- systemctl is-enabled docker").stdout, b"enabled\n");
        assert_eq!(ok_run(&h, "pct exec 200 -- systemctl is-active docker").stdout, b"active\n");
        ok_run(&h, "pct exec 200 -- test -x /usr/bin/docker");
        assert_eq!(ok_run(&h, "pct exec 200 -- dpkg-query -W -f=${Status} docker.io").stdout, b"install ok installed");
        // Re-running the install is a no-op that says so.
        let again = ok_run(&h, "pct exec 200 -- apt-get install -y docker.io");
        assert!(again.stdout_str().contains("docker.io is already the newest version"));
        assert!(again.stdout_str().contains("0 newly installed"));
        // Services stop with the CT and enabled ones come back on start.
        ok_run(&h, "pct stop 200");
        assert_eq!(run(&h, "pct exec 200 -- true").stderr_str(), "container '200' not running!\n");
        ok_run(&h, "pct start 200");
        assert_eq!(ok_run(&h, "pct exec 200 -- systemctl is-active docker").stdout, b"active\n");
        let unknown = run(&h, "pct exec 200 -- apt-get install -y nope-pkg");
        assert_eq!((unknown.code, unknown.stderr_str().as_str()), (100, "E: Unable to locate package nope-pkg\n"));
        // docker-ce needs Docker's repository first.
        assert_eq!(run(&h, "pct exec 200 -- apt-get install -y docker-ce").code, 100);
        let src = b"deb [arch=amd64] https://download.docker.com/linux/ubuntu noble stable\n";
        let t = h.exec(&argv("pct exec 200 -- tee /etc/apt/sources.list.d/docker.list"), Some(src));
        assert_eq!(t.code, 0);
        ok_run(&h, "pct exec 200 -- apt-get install -y docker-ce");
        let missing = run(&h, "pct exec 200 -- systemctl enable nope");
        assert_eq!(
            (missing.code, missing.stderr_str().as_str()),
            (1, "Failed to enable unit: Unit file nope.service does not exist.\n")
        );
        let loud = run(&h, "pct exec 200 -- frobnicate");
        assert_eq!(loud.code, 127);
    }

    #[test]
    fn file_commands_and_probes() {
        let h = SimHost::new(SimState::default());
        ct(&h, 201, "name=eth0,bridge=vmbr0,ip=dhcp");
        ok_run(&h, "pct exec 201 -- mkdir -p /opt/app/conf");
        ok_run(&h, "pct exec 201 -- test -d /opt/app");
        assert_eq!(h.exec(&argv("pct exec 201 -- tee /opt/app/conf/a"), Some(b"abc")).code, 0);
        ok_run(&h, "pct exec 201 -- chmod 600 /opt/app/conf/a");
        assert_eq!(ok_run(&h, "pct exec 201 -- stat -c %a /opt/app/conf/a").stdout, b"600\n");
        assert_eq!(
            ok_run(&h, "pct exec 201 -- sha256sum /opt/app/conf/a").stdout_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /opt/app/conf/a\n"
        );
        ok_run(&h, "pct exec 201 -- install -m 755 /opt/app/conf/a /usr/local/bin/a");
        ok_run(&h, "pct exec 201 -- test -x /usr/local/bin/a");
        assert_eq!(
            run(&h, "pct exec 201 -- chown nobody:nogroup /opt/app/conf/a").stderr_str(),
            "chown: invalid group: 'nobody:nogroup'\n"
        );
        ok_run(&h, "pct exec 201 -- chown nobody:nobody /opt/app/conf/a");
        ok_run(&h, "pct exec 201 -- ln -sf /opt/app/conf/a /etc/a");
        ok_run(&h, "pct exec 201 -- rm -f /etc/a /etc/never");
        assert_eq!(run(&h, "pct exec 201 -- test -e /etc/a").code, 1);
        assert_eq!(ok_run(&h, "pct exec 201 -- hostname").stdout, b"ct201\n");
        assert_eq!(
            ok_run(&h, "pct exec 201 -- ip -4 -o addr show dev eth0").stdout_str(),
            "2: eth0    inet 10.0.0.203/24 brd 10.0.0.255 scope global dynamic eth0\\       valid_lft forever preferred_lft forever\n"
        );
        assert!(ok_run(&h, "pct exec 201 -- getent passwd root").stdout_str().starts_with("root:x:0:0:"));
        assert_eq!(run(&h, "pct exec 201 -- getent passwd ollama").code, 2);
        // Installer downloaded then run; pip into the system.
        ok_run(&h, "pct exec 201 -- curl -fsSL -o /tmp/ollama.sh https://ollama.com/install.sh");
        ok_run(&h, "pct exec 201 -- sh /tmp/ollama.sh");
        ok_run(&h, "pct exec 201 -- test -x /usr/local/bin/ollama");
        assert_eq!(ok_run(&h, "pct exec 201 -- systemctl is-active ollama").stdout, b"active\n");
        ok_run(&h, "pct exec 201 -- getent passwd ollama");
        ok_run(&h, "pct exec 201 -- apt-get install -y python3-pip");
        ok_run(&h, "pct exec 201 -- python3 -m pip install vllm");
        ok_run(&h, "pct exec 201 -- test -x /usr/local/bin/vllm");
        ok_run(&h, "pct exec 201 -- wget -qO /tmp/step.deb https://dl.smallstep.com/cli/docs-cli-install/latest/step-cli_amd64.deb");
        ok_run(&h, "pct exec 201 -- dpkg -i /tmp/step.deb");
        assert!(ok_run(&h, "pct exec 201 -- step version").stdout_str().starts_with("Smallstep CLI/"));
        ok_run(
            &h,
            "pct exec 201 -- curl -fsSL -o /usr/local/share/ca-certificates/phoenix.crt https://ca.internal/roots.pem",
        );
        assert!(ok_run(&h, "pct exec 201 -- update-ca-certificates").stdout_str().contains("1 added"));
        assert!(ok_run(&h, "pct exec 201 -- update-ca-certificates").stdout_str().contains("0 added"));
        ok_run(&h, "pct exec 201 -- test -f /etc/ssl/certs/phoenix.pem");
        // GPU: no passthrough → nvidia-smi fails even with the userspace installed.
        ok_run(&h, "pct exec 201 -- apt-get install -y nvidia-utils-550");
        assert_eq!(run(&h, "pct exec 201 -- nvidia-smi").code, 9);
        h.with_state(|s| {
            let g = s.guests.get_mut(&201).unwrap();
            g.lxc.push(("lxc.cgroup2.devices.allow".into(), "c 195:* rwm".into()));
        });
        ok_run(&h, "pct exec 201 -- nvidia-smi");
        // pct push copies a host file into the running CT with the given ownership.
        h.with_state(|s| s.files.insert("/root/ca.crt".into(), text_file("CA\n")));
        ok_run(
            &h,
            "pct push 201 /root/ca.crt /usr/local/share/ca-certificates/x.crt --perms 0644 --user root --group root",
        );
        assert_eq!(ok_run(&h, "pct exec 201 -- cat /usr/local/share/ca-certificates/x.crt").stdout, b"CA\n");
    }

    #[test]
    fn clone_inherits_inside_at_snapshot() {
        let h = SimHost::new(SimState::default());
        ct(&h, 300, "name=eth0,bridge=vmbr0,ip=10.0.0.30/24");
        ok_run(&h, "pct exec 300 -- apt-get install -y jq");
        ok_run(&h, "pct stop 300");
        ok_run(&h, "pct snapshot 300 base");
        ok_run(&h, "pct start 300");
        ok_run(&h, "pct exec 300 -- apt-get install -y git");
        ok_run(&h, "pct stop 300");
        ok_run(&h, "pct clone 300 301 --snapname base --hostname c1");
        ok_run(&h, "pct clone 300 302 --hostname c2");
        ok_run(&h, "pct start 301");
        ok_run(&h, "pct start 302");
        ok_run(&h, "pct exec 301 -- test -x /usr/bin/jq");
        assert_eq!(run(&h, "pct exec 301 -- test -x /usr/bin/git").code, 1);
        ok_run(&h, "pct exec 302 -- test -x /usr/bin/git");
        // Rollback restores the inside too.
        ok_run(&h, "pct rollback 300 base");
        ok_run(&h, "pct start 300");
        assert_eq!(run(&h, "pct exec 300 -- test -x /usr/bin/git").code, 1);
    }

    #[test]
    fn cloud_image_template_and_agent_readiness() {
        let h = SimHost::new(SimState::default());
        h.with_state(|s| s.agent_ready_after_ms = 300);
        let img = "/var/lib/vz/template/iso/noble-server-cloudimg-amd64.img";
        ok_run(
            &h,
            &format!(
                "curl -fsSL -o {img} https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
            ),
        );
        assert!(h.read_file(img).is_some());
        ok_run(&h, "qm create 9000 --name tmpl --memory 2048 --cores 2 --net0 virtio,bridge=vmbr0 --scsihw virtio-scsi-pci --serial0 socket --vga serial0 --agent enabled=1 --ostype l26");
        ok_run(&h, &format!("qm set 9000 --scsi0 local-zfs:0,import-from={img}"));
        let imp = ok_run(&h, &format!("qm disk import 9000 {img} local-zfs"));
        assert!(
            imp.stdout_str().ends_with("unused0: successfully imported disk 'local-zfs:vm-9000-disk-1'\n"),
            "{}",
            imp.stdout_str()
        );
        ok_run(&h, "qm set 9000 --ide2 local-zfs:cloudinit --boot order=scsi0");
        let missing = run(&h, "qm set 9000 --cicustom user=local:snippets/base.yaml");
        assert_eq!(missing.stderr_str(), "volume 'local:snippets/base.yaml' does not exist\n");
        h.with_state(|s| {
            s.files.insert(
                "/var/lib/vz/snippets/base.yaml".into(),
                text_file("#cloud-config\npackages:\n  - qemu-guest-agent\nruncmd:\n  - systemctl enable --now qemu-guest-agent\n"),
            )
        });
        ok_run(
            &h,
            "qm set 9000 --cicustom vendor=local:snippets/base.yaml --ciuser ops --ipconfig0 ip=10.0.0.90/24,gw=10.0.0.1",
        );
        ok_run(&h, "qm disk resize 9000 scsi0 20G");
        assert_eq!(run(&h, "qm disk resize 9000 scsi0 10G").stderr_str(), "unable to shrink disk size\n");
        ok_run(&h, "qm template 9000");
        ok_run(&h, "qm clone 9000 9100 --name vm1");
        ok_run(&h, "qm start 9100");
        assert_eq!(run(&h, "qm agent 9100 ping").stderr_str(), "QEMU guest agent is not running\n");
        std::thread::sleep(Duration::from_millis(350));
        ok_run(&h, "qm agent 9100 ping");
        let exec = ok_run(&h, "qm guest exec 9100 -- dpkg-query -W -f=${Status} qemu-guest-agent");
        assert!(exec.stdout_str().contains("\"out-data\" : \"install ok installed\""), "{}", exec.stdout_str());
        let ci = ok_run(&h, "qm guest exec 9100 --timeout 60 -- cloud-init status --wait");
        assert!(ci.stdout_str().contains("status: done"));
        let user = ok_run(&h, "qm guest exec 9100 -- getent passwd ops");
        assert!(user.stdout_str().contains("ops:x:1000:1000"), "{}", user.stdout_str());
        let ifs = ok_run(&h, "qm guest cmd 9100 network-get-interfaces");
        assert!(ifs.stdout_str().contains("\"ip-address\" : \"10.0.0.90\""));
        let fails = ok_run(&h, "qm guest exec 9100 -- test -x /usr/bin/docker");
        assert!(fails.stdout_str().contains("\"exitcode\" : 1"));
        // Without the snippet the image has no agent: it never answers.
        h.with_state(|s| s.guests.get_mut(&9000).unwrap().config.shift_remove("cicustom"));
        ok_run(&h, "qm clone 9000 9101 --name vm2");
        ok_run(&h, "qm start 9101");
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(run(&h, "qm agent 9101 ping").stderr_str(), "QEMU guest agent is not running\n");
    }

    #[test]
    fn exec_latency_keys_match_by_prefix() {
        let h = SimHost::new(SimState::default());
        ct(&h, 400, "name=eth0,bridge=vmbr0,ip=dhcp");
        h.with_state(|s| {
            s.latency_ms.insert("pct exec".into(), 50);
            s.latency_ms.insert("qm guest exec".into(), 80);
        });
        let t0 = std::time::Instant::now();
        ok_run(&h, "pct exec 400 -- true");
        assert!(t0.elapsed() >= Duration::from_millis(50));
        let t1 = std::time::Instant::now();
        ok_run(&h, "pct list");
        assert!(t1.elapsed() < Duration::from_millis(50));
        let lat =
            h.with_state(|s| crate::latency::lookup(&s.latency_ms, &argv("qm guest exec 9000 --timeout 5 -- true")));
        assert_eq!(lat, 80);
    }
}
