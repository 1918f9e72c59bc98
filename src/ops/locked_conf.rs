//! Editing a container's config file under Proxmox's own per-guest lock.
//!
//! pve-container takes `flock` on `/run/lock/lxc/pve-config-<id>.lock` around every
//! read-modify-write of `/etc/pve/lxc/<id>.conf` (`PVE::LXC::Config::config_file_lock`, through
//! `PVE::AbstractConfig::lock_config_full`, 10 s timeout). `pct set` cannot express raw `lxc.*`
//! lines, so phoenix edits the file itself, and must take the same lock, or a concurrent change by
//! `pct`, the GUI or vzdump can be lost between its read and its write.
//!
//! The edit is one host command: `flock` holds the lock while a short script re-reads the file
//! and adds the lines still missing at the end of the main section (before the first
//! `[section]`), writing a temporary file in the same directory and renaming it (what
//! `PVE::Tools::file_set_contents` does on pmxcfs). Re-reading under the lock, rather than
//! writing text prepared earlier, keeps whatever changed since phoenix read the file.

use crate::command::Command;

/// The lock file pve-container flocks for container `id`.
pub fn lxc_lock_path(id: u32) -> String {
    format!("/run/lock/lxc/pve-config-{id}.lock")
}

/// How long to wait for the lock, as Proxmox does (`lock_config_full` with 10 s).
pub const LOCK_TIMEOUT_SECS: u32 = 10;

/// The exit code `flock` returns when the lock stays taken (EX_TEMPFAIL), so it cannot be
/// mistaken for the script's own failure.
pub const LOCK_CONFLICT_EXIT: i32 = 75;

/// Adds each argument after the file name as a line of the main section unless that exact line
/// is there already; the lines come as arguments (never through the shell's parser).
const ADD_LINES_SCRIPT: &str = r#"set -e
f=$1; shift
t="$f.tmp.$$"
trap 'rm -f -- "$t"' EXIT
awk 'function add() { for (i = 1; i <= n; i++) if (!(want[i] in have)) { print want[i]; have[want[i]] = 1 } }
BEGIN { n = ARGC - 1; for (i = 1; i < ARGC; i++) { want[i] = ARGV[i]; delete ARGV[i] } }
!done && /^\[/ { add(); done = 1 }
!done { have[$0] = 1 }
{ print }
END { if (!done) add() }' "$@" < "$f" > "$t"
mv -f -- "$t" "$f""#;

/// `flock -w 10 -E 75 /run/lock/lxc/pve-config-<id>.lock sh -c <add lines> sh <conf> <line>…`.
pub fn add_lxc_lines(id: u32, conf: &str, lines: &[String]) -> Command {
    Command::new(["flock", "--verbose", "-w"])
        .arg(LOCK_TIMEOUT_SECS.to_string())
        .arg("-E")
        .arg(LOCK_CONFLICT_EXIT.to_string())
        .arg(lxc_lock_path(id))
        .args(["sh", "-c", ADD_LINES_SCRIPT, "sh"])
        .arg(conf.to_string())
        .args(lines.iter().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script itself, run by a real `sh` and `awk` on a scratch file (no lock needed).
    #[test]
    fn the_script_adds_missing_lines_to_the_main_section_only() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("103.conf");
        std::fs::write(&conf, "arch: amd64\nlxc.apparmor.profile: unconfined\n\n[snap]\narch: amd64\n").unwrap();
        let run = |lines: &[&str]| {
            let st = std::process::Command::new("sh")
                .args(["-c", ADD_LINES_SCRIPT, "sh"])
                .arg(&conf)
                .args(lines)
                .status()
                .unwrap();
            assert!(st.success());
            std::fs::read_to_string(&conf).unwrap()
        };
        let text = run(&[
            "lxc.apparmor.profile: unconfined",
            "lxc.mount.entry: /dev/x dev/x none bind,create=dir",
            "lxc.mount.entry: /dev/x dev/x none bind,create=dir",
        ]);
        assert_eq!(
            text,
            "arch: amd64\nlxc.apparmor.profile: unconfined\n\nlxc.mount.entry: /dev/x dev/x none bind,create=dir\n\
             [snap]\narch: amd64\n"
        );
        // Idempotent, and a value with shell or awk syntax is data.
        assert_eq!(run(&["lxc.mount.entry: /dev/x dev/x none bind,create=dir"]), text);
        let odd = r#"lxc.environment: A=$(touch /tmp/x) \n "q""#;
        assert!(run(&[odd]).contains(&format!("{odd}\n[snap]")));
        assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "no temporary file left");
        // A file without sections gets the lines at its end.
        std::fs::write(&conf, "arch: amd64\n").unwrap();
        assert_eq!(run(&["lxc.a: 1"]), "arch: amd64\nlxc.a: 1\n");
    }

    #[test]
    fn the_command_holds_proxmoxs_lock() {
        let c = add_lxc_lines(103, "/etc/pve/lxc/103.conf", &["lxc.a: 1".into()]);
        let argv = c.exposed_argv();
        assert_eq!(&argv[..7], ["flock", "--verbose", "-w", "10", "-E", "75", "/run/lock/lxc/pve-config-103.lock"]);
        assert_eq!(&argv[7..9], ["sh", "-c"]);
        assert_eq!(&argv[10..], ["sh", "/etc/pve/lxc/103.conf", "lxc.a: 1"]);
    }
}
