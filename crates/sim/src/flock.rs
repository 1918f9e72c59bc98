//! `flock` (util-linux) on the host, and the per-guest config lock pve-container takes.
//!
//! pve-container flocks `/run/lock/lxc/pve-config-<id>.lock` around every change of a
//! container's config (`PVE::LXC::Config::config_file_lock`, `lock_config_full` with a 10 s
//! timeout), dying `can't lock file '<path>' - got timeout` when another process keeps it.
//! `held_locks` in the state are locks another process holds (the GUI, vzdump, an operator's
//! `pct set`); the simulator does not let time pass for them, so a held lock is a timeout.
//!
//! Under `flock`, the one command the simulator follows is a shell script adding lines to the
//! main section of a guest config (`sh -c <script> sh /etc/pve/lxc/<id>.conf <line>…`): it
//! cannot interpret shell, so it does what such a script does — re-read the file, add each line
//! not there yet before the first `[section]`, write it back — and refuses anything else loudly.

use super::files;
use super::reply::{die, ok};
use super::state::SimState;
use crate::file::FileWrite;
use crate::output::Output;

/// pve-container's lock file for container `id`.
pub(crate) fn lxc_config_lock(id: u32) -> String {
    format!("/run/lock/lxc/pve-config-{id}.lock")
}

/// What `lock_config_full` dies with when the lock stays taken.
pub(crate) fn lock_timeout(id: u32) -> String {
    format!("can't lock file '{}' - got timeout", lxc_config_lock(id))
}

/// `flock [--verbose] [-n] [-w secs] [-E code] <lockfile> <command> [args…]`.
pub(crate) fn run(st: &mut SimState, args: &[String]) -> Output {
    let mut verbose = false;
    let mut conflict = 1;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "--verbose" => verbose = true,
            "-n" | "--nonblock" => {}
            "-w" | "--timeout" => i += 1,
            "-E" | "--conflict-exit-code" => {
                i += 1;
                match args.get(i).and_then(|c| c.parse::<i32>().ok()) {
                    Some(c) => conflict = c,
                    None => return die("flock: invalid exit code", 64),
                }
            }
            x if x.starts_with('-') => return die(format!("flock: unrecognized option '{x}'"), 64),
            _ => break,
        }
        i += 1;
    }
    let (Some(lock), Some(cmd)) = (args.get(i), args.get(i + 1..).filter(|c| !c.is_empty())) else {
        return die("flock: not enough arguments", 64);
    };
    if st.held_locks.contains(lock) {
        let stderr = if verbose { b"flock: timeout while waiting to get lock\n".to_vec() } else { Vec::new() };
        return Output { code: conflict, stdout: Vec::new(), stderr };
    }
    match cmd {
        [sh, c, _script, _argv0, conf, lines @ ..] if sh == "sh" && c == "-c" => add_to_main_section(st, conf, lines),
        _ => die(format!("sim: flock {} not simulated", cmd.join(" ")), 127),
    }
}

fn add_to_main_section(st: &mut SimState, conf: &str, lines: &[String]) -> Output {
    let Some(file) = files::read(st, conf) else {
        return die(format!("sh: 1: cannot open {conf}: No such file"), 2);
    };
    let text = String::from_utf8_lossy(&file.content).into_owned();
    let split = text.lines().position(|l| l.starts_with('[')).unwrap_or(usize::MAX);
    let all: Vec<&str> = text.lines().collect();
    let (main, rest) = all.split_at(split.min(all.len()));
    let mut out: Vec<String> = main.iter().map(|l| l.to_string()).collect();
    for l in lines {
        if !main.contains(&l.as_str()) && !out.contains(l) {
            out.push(l.clone());
        }
    }
    out.extend(rest.iter().map(|l| l.to_string()));
    let content = out.join("\n") + "\n";
    let w = FileWrite { content: content.into_bytes(), mode: file.mode, owner: None, group: None };
    match files::write(st, conf, &w) {
        Ok(()) => ok(""),
        Err(e) => die(format!("sh: {e}"), 1),
    }
}

#[cfg(test)]
mod tests {
    use crate::{SimHost, SimState};

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_held_config_lock_stops_pct_set_and_flock() {
        let h = SimHost::new(SimState::default());
        let create =
            "pct create 120 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --hostname a --rootfs local-zfs:4";
        assert_eq!(h.exec(&create.split(' ').map(String::from).collect::<Vec<_>>(), None).code, 0);
        let add = |h: &SimHost| {
            h.exec(
                &argv(&[
                    "flock",
                    "--verbose",
                    "-w",
                    "10",
                    "-E",
                    "75",
                    "/run/lock/lxc/pve-config-120.lock",
                    "sh",
                    "-c",
                    "script",
                    "sh",
                    "/etc/pve/lxc/120.conf",
                    "lxc.mount.entry: /dev/x dev/x none bind,create=dir",
                ]),
                None,
            )
        };
        h.with_state(|s| s.held_locks.insert("/run/lock/lxc/pve-config-120.lock".into()));
        let set = h.exec(&argv(&["pct", "set", "120", "--cores", "2"]), None);
        assert_eq!(
            (set.code, set.stderr_str().as_str()),
            (255, "can't lock file '/run/lock/lxc/pve-config-120.lock' - got timeout\n")
        );
        let locked = add(&h);
        assert_eq!((locked.code, locked.stderr_str().as_str()), (75, "flock: timeout while waiting to get lock\n"));
        assert!(h.with_state(|s| s.guests[&120].lxc.is_empty()));

        h.with_state(|s| s.held_locks.clear());
        assert_eq!(add(&h).code, 0);
        assert_eq!(add(&h).code, 0, "adding twice changes nothing");
        assert_eq!(
            h.with_state(|s| s.guests[&120].lxc.clone()),
            vec![("lxc.mount.entry".to_string(), "/dev/x dev/x none bind,create=dir".to_string())]
        );
        assert_eq!(h.exec(&argv(&["flock", "/x.lock", "rm", "-rf", "/"]), None).code, 127);
    }
}
