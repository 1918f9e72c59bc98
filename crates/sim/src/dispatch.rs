//! Route an argv to the simulated program.

use super::reply::{die, ok, Step};
use super::state::{text_file, SimState};
use super::{
    batch, cfs_lock, firewall, flock, host_dirs, host_services, nfs, pct, pvesh, pvesm, qm, scripts, template, zfs,
};

pub(crate) fn run(st: &mut SimState, argv: &[String], stdin: Option<&[u8]>) -> Step {
    let Some(program) = argv.first() else {
        return die("sim: empty command", 127).into();
    };
    let rest = &argv[1..];
    match program.as_str() {
        "pct" => pct::run(st, rest, stdin),
        "qm" => qm::run(st, rest, stdin),
        "zfs" => zfs::run_zfs(st, rest).into(),
        "zpool" => zfs::run_zpool(st, rest).into(),
        "pvesm" => pvesm::run(st, rest).into(),
        "pvesh" => pvesh::run(st, rest).into(),
        "pve-firewall" => firewall::run(st, rest).into(),
        "exportfs" => nfs::run(st, rest).into(),
        "curl" | "wget" => host_download(st, program, rest).into(),
        "tar" => template::run(st, rest).into(),
        "bash" | "sh" if batch::is_batch(rest) => run_batch(st, argv).into(),
        "sh" if cfs_lock::is_locked_write(rest) => cfs_lock::run(st, rest, stdin).into(),
        "bash" | "sh" => scripts::run_host(st, program, rest, stdin).into(),
        "flock" => flock::run(st, rest).into(),
        "mkdir" => host_dirs::mkdir(st, rest).into(),
        "chown" => host_dirs::chown(st, rest).into(),
        "stat" => host_dirs::stat(st, rest).into(),
        "dpkg-query" => host_services::dpkg_query(st, rest).into(),
        "apt-get" => host_services::apt_get(st, rest).into(),
        "systemctl" => host_services::systemctl(st, rest).into(),
        "dnsmasq" => host_services::dnsmasq(st, rest, stdin).into(),
        // Exit 127 like a shell that cannot find the program, so a plan relying on an
        // unsimulated command fails loudly instead of silently succeeding.
        other => die(format!("sim: command not simulated: {other}"), 127).into(),
    }
}

/// A read batch on the host (batch.rs): each item as the host would run it.
fn run_batch(st: &mut SimState, argv: &[String]) -> crate::output::Output {
    batch::run(argv, |item| match item {
        batch::Item::File(path) => batch::file_answer(super::files::read(st, path).as_ref()),
        batch::Item::Command(cmd) => {
            let out = match run(st, cmd, None) {
                Step::Done(out) => out,
                Step::Then(finish) => finish(st),
            };
            (out.code, out.stdout)
        }
    })
}

/// Host `curl -fsSL -o <dest> <url>` / `wget -qO <dest> <url>`: the file appears with the
/// catalogue's content for the URL (cloud images, snippets and installers are placeholders).
fn host_download(st: &mut SimState, tool: &str, args: &[String]) -> crate::output::Output {
    let mut dest: Option<&str> = None;
    let mut url: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let x = args[i].as_str();
        if let Some(flags) = x.strip_prefix('-').filter(|f| !f.starts_with('-')) {
            if flags.ends_with('o') || flags.ends_with('O') {
                i += 1;
                dest = args.get(i).map(String::as_str);
            }
        } else if x == "--output" || x == "--output-document" {
            i += 1;
            dest = args.get(i).map(String::as_str);
        } else if !x.starts_with('-') {
            url = Some(x);
        }
        i += 1;
    }
    let Some(url) = url else {
        return die(format!("{tool}: no URL specified"), 2);
    };
    let data = super::catalogue::download(url);
    match dest {
        Some(d) if d != "-" => {
            let mut f = text_file("");
            f.content = data;
            st.files.insert(d.to_string(), f);
            ok("")
        }
        _ => ok(data),
    }
}
