//! Host packages and services beyond Proxmox itself: `dpkg-query`, `apt-get install`,
//! `systemctl` on the node, and `dnsmasq --test`. Modelled on Debian's dnsmasq package
//! (installing it enables and starts `dnsmasq.service`, which reads `/etc/dnsmasq.d/*`) and
//! on dnsmasq 2.90's option parser (its messages: "bad option", "missing parameter",
//! "extraneous parameter", "error at line N of FILE", and "syntax check OK." on stderr).

use super::reply::{die, ok};
use super::state::{SimState, Unit};
use crate::output::Output;
use std::net::IpAddr;

/// Packages the simulated host can install, with the unit each brings (enabled and started
/// by the package's maintainer scripts, as Debian does).
const PACKAGES: &[(&str, Option<&str>)] = &[("dnsmasq", Some("dnsmasq.service")), ("dnsutils", None)];

fn out(code: i32, stdout: impl Into<String>, stderr: impl Into<String>) -> Output {
    Output { code, stdout: stdout.into().into_bytes(), stderr: stderr.into().into_bytes() }
}

/// `dpkg-query -W -f=<fmt> <pkg>…`: `${Status}` and `${Package}` only.
pub(crate) fn dpkg_query(st: &SimState, args: &[String]) -> Output {
    let mut format = "${Package}\t${Version}\n".to_string();
    let mut names = Vec::new();
    let mut show = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-W" || a == "--show" {
            show = true;
        } else if a == "-f" || a == "--showformat" {
            i += 1;
            format = args.get(i).cloned().unwrap_or_default();
        } else if let Some(f) = a.strip_prefix("-f=").or_else(|| a.strip_prefix("--showformat=")) {
            format = f.to_string();
        } else {
            names.push(a);
        }
        i += 1;
    }
    if !show {
        return die(format!("sim: dpkg-query {} not simulated on the host", args.join(" ")), 127);
    }
    let mut text = String::new();
    for n in names {
        if !st.host_packages.contains(n) {
            return out(1, text, format!("dpkg-query: no packages found matching {n}\n"));
        }
        text.push_str(
            &format.replace("${Status}", "install ok installed").replace("${Package}", n).replace("${Version}", "sim"),
        );
    }
    ok(text)
}

/// `apt-get [-y] [-q…] install <pkg>…` and `apt-get update`.
pub(crate) fn apt_get(st: &mut SimState, args: &[String]) -> Output {
    let words: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    match words.first().copied() {
        Some("update") => ok("Reading package lists...\n"),
        Some("install") => {
            let mut added = Vec::new();
            for name in &words[1..] {
                let Some((_, unit)) = PACKAGES.iter().find(|(p, _)| p == name) else {
                    return out(100, "", format!("E: Unable to locate package {name}\n"));
                };
                if st.host_packages.insert(name.to_string()) {
                    added.push(*name);
                    if let Some(u) = unit {
                        st.host_units.insert(u.to_string(), Unit { enabled: true, active: true });
                    }
                }
            }
            ok(format!("{} newly installed.\n", added.len()))
        }
        _ => die(format!("sim: apt-get {} not simulated on the host", args.join(" ")), 127),
    }
}

fn unit_name(u: &str) -> String {
    if u.contains('.') {
        u.to_string()
    } else {
        format!("{u}.service")
    }
}

/// `systemctl is-enabled|is-active|enable|start|restart|reload [--now] <unit>` on the host. A
/// (re)start of dnsmasq fails as the real unit does when its configuration does not parse.
pub(crate) fn systemctl(st: &mut SimState, args: &[String]) -> Output {
    let now = args.iter().any(|a| a == "--now");
    let words: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    let verb = words.first().copied().unwrap_or("");
    if verb == "daemon-reload" {
        return ok("");
    }
    let Some(unit) = words.get(1).map(|u| unit_name(u)) else {
        return out(1, "", "Too few arguments.\n");
    };
    let Some(state) = st.host_units.get(&unit).cloned() else {
        return match verb {
            "is-active" => out(4, "inactive\n", ""),
            "is-enabled" => {
                out(1, "", format!("Failed to get unit file state for {unit}: No such file or directory\n"))
            }
            _ => out(5, "", format!("Failed to {verb} {unit}: Unit {unit} not found.\n")),
        };
    };
    let start = |st: &mut SimState| -> Output {
        if unit == "dnsmasq.service" {
            if let Some(problem) = dnsmasq_service_config_problem(st) {
                if let Some(u) = st.host_units.get_mut(&unit) {
                    u.active = false;
                }
                return out(
                    1,
                    "",
                    format!(
                        "Job for {unit} failed because the control process exited with error code.\n\
                         See \"systemctl status {unit}\" and \"journalctl -xeu {unit}\" for details.\n{problem}"
                    ),
                );
            }
        }
        if let Some(u) = st.host_units.get_mut(&unit) {
            u.active = true;
        }
        ok("")
    };
    match verb {
        "is-active" => {
            if state.active {
                ok("active\n")
            } else {
                out(3, "inactive\n", "")
            }
        }
        "is-enabled" => {
            if state.enabled {
                ok("enabled\n")
            } else {
                out(1, "disabled\n", "")
            }
        }
        "enable" => {
            if let Some(u) = st.host_units.get_mut(&unit) {
                u.enabled = true;
            }
            if now {
                start(st)
            } else {
                ok("")
            }
        }
        "start" | "restart" => start(st),
        "reload" if state.active => ok(""),
        "reload" => out(1, "", format!("{unit} is not active, cannot reload.\n")),
        _ => die(format!("sim: systemctl {verb} not simulated on the host"), 127),
    }
}

/// What the Debian unit reads: `/etc/dnsmasq.conf` and every file in `/etc/dnsmasq.d/`
/// (except the package manager's leftovers).
fn dnsmasq_service_config_problem(st: &SimState) -> Option<String> {
    let files = st.files.iter().filter(|(path, _)| {
        path.as_str() == "/etc/dnsmasq.conf"
            || (path.starts_with("/etc/dnsmasq.d/")
                && ![".dpkg-dist", ".dpkg-old", ".dpkg-new"].iter().any(|s| path.ends_with(s)))
    });
    for (path, data) in files {
        if let Err(e) = check_config(&String::from_utf8_lossy(&data.content), path) {
            return Some(e);
        }
    }
    None
}

/// Options that take no value.
const FLAGS: &[&str] = &[
    "domain-needed",
    "bogus-priv",
    "no-resolv",
    "no-poll",
    "no-hosts",
    "strict-order",
    "all-servers",
    "stop-dns-rebind",
    "rebind-localhost-ok",
    "bind-interfaces",
    "bind-dynamic",
    "expand-hosts",
    "no-negcache",
    "localise-queries",
    "log-queries",
    "filterwin2k",
    "keep-in-foreground",
    "no-daemon",
    "dnssec",
];

/// Options that need a value (the ones a lab's DNS configuration uses).
const VALUED: &[&str] = &[
    "port",
    "listen-address",
    "interface",
    "except-interface",
    "server",
    "local",
    "address",
    "host-record",
    "addn-hosts",
    "conf-dir",
    "conf-file",
    "domain",
    "cache-size",
    "resolv-file",
    "user",
    "group",
    "pid-file",
    "cname",
    "txt-record",
    "ptr-record",
    "srv-host",
    "rebind-domain-ok",
    "log-facility",
];

fn ip_ok(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// A name as dnsmasq's `canonicalise` accepts it: letters, digits, `-`, `_`, `.`.
fn name_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn value_ok(option: &str, value: &str) -> bool {
    match option {
        "listen-address" => value.split(',').all(ip_ok),
        "port" | "cache-size" => value.parse::<u32>().is_ok(),
        // `server=<ip>[#port]`, `server=/domain/[ip]`, `local=/domain/`.
        "server" | "local" | "address" => {
            let target = match value.strip_prefix('/') {
                Some(rest) => match rest.rsplit_once('/') {
                    Some((domains, target)) => {
                        if !domains.split('/').all(|d| d.is_empty() || name_ok(d)) {
                            return false;
                        }
                        target
                    }
                    None => return false,
                },
                None => value,
            };
            let addr = target.split('#').next().unwrap_or("");
            target.is_empty() || ip_ok(addr) || (option == "address" && addr == "#")
        }
        "host-record" => {
            let parts: Vec<&str> = value.split(',').collect();
            parts.iter().any(|p| ip_ok(p)) && parts.iter().all(|p| ip_ok(p) || name_ok(p) || p.parse::<u32>().is_ok())
        }
        _ => true,
    }
}

/// The parser's verdict on one file: `Err(message)` as dnsmasq prints it.
pub(crate) fn check_config(text: &str, file: &str) -> Result<(), String> {
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (option, value) = match line.split_once('=') {
            Some((o, v)) => (o.trim(), Some(v.trim())),
            None => (line, None),
        };
        let at = format!("at line {} of {file}", n + 1);
        if FLAGS.contains(&option) {
            if value.is_some() {
                return Err(format!("dnsmasq: extraneous parameter {at}"));
            }
        } else if VALUED.contains(&option) {
            match value {
                None | Some("") => return Err(format!("dnsmasq: missing parameter {at}")),
                Some(v) if !value_ok(option, v) => return Err(format!("dnsmasq: error {at}")),
                Some(_) => {}
            }
        } else {
            return Err(format!("dnsmasq: bad option {at}"));
        }
    }
    Ok(())
}

/// `dnsmasq --test [--conf-file=<f> | -C <f>]`: the file's syntax, with `/dev/stdin` read
/// from the command's standard input. Anything but `--test` is not simulated (the host's
/// dnsmasq runs as a service).
pub(crate) fn dnsmasq(st: &SimState, args: &[String], stdin: Option<&[u8]>) -> Output {
    if !st.host_packages.contains("dnsmasq") {
        return die("bash: line 1: dnsmasq: command not found", 127);
    }
    if !args.iter().any(|a| a == "--test") {
        return die(format!("sim: dnsmasq {} not simulated on the host", args.join(" ")), 127);
    }
    let mut file = "/etc/dnsmasq.conf".to_string();
    let mut i = 0;
    while i < args.len() {
        if let Some(f) = args[i].strip_prefix("--conf-file=") {
            file = f.to_string();
        } else if args[i] == "-C" {
            i += 1;
            file = args.get(i).cloned().unwrap_or_default();
        }
        i += 1;
    }
    let text = if file == "/dev/stdin" {
        String::from_utf8_lossy(stdin.unwrap_or_default()).into_owned()
    } else {
        match st.files.get(&file) {
            Some(d) => String::from_utf8_lossy(&d.content).into_owned(),
            None => return out(3, "", format!("\ndnsmasq: cannot read {file}: No such file or directory\n")),
        }
    };
    match check_config(&text, &file) {
        Ok(()) => out(0, "", "dnsmasq: syntax check OK.\n"),
        Err(e) => out(1, "", format!("\n{e}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_match_dnsmasq_2_90() {
        let good = "# c\ndomain-needed\nbogus-priv\nno-resolv\nlocal=/lab.example/\nlisten-address=10.0.0.2\n\
                    server=9.9.9.9\nhost-record=a.lab.example,10.0.0.3\n";
        assert_eq!(check_config(good, "f"), Ok(()));
        assert_eq!(
            check_config("bogus-option\n", "/dev/stdin"),
            Err("dnsmasq: bad option at line 1 of /dev/stdin".into())
        );
        assert_eq!(check_config("x\n", "f").unwrap_err(), "dnsmasq: bad option at line 1 of f");
        assert_eq!(check_config("\nlisten-address=10.0.0.300\n", "f").unwrap_err(), "dnsmasq: error at line 2 of f");
        assert_eq!(check_config("server\n", "f").unwrap_err(), "dnsmasq: missing parameter at line 1 of f");
        assert_eq!(check_config("no-resolv=1\n", "f").unwrap_err(), "dnsmasq: extraneous parameter at line 1 of f");
    }

    #[test]
    fn a_package_brings_its_running_unit_and_a_bad_config_fails_the_restart() {
        let mut st = SimState::default();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(dpkg_query(&st, &s(&["-W", "-f=${Status}", "dnsmasq"])).code, 1);
        assert_eq!(dnsmasq(&st, &s(&["--test"]), None).code, 127);
        assert_eq!(apt_get(&mut st, &s(&["install", "-y", "dnsmasq"])).code, 0);
        assert_eq!(dpkg_query(&st, &s(&["-W", "-f=${Status}", "dnsmasq"])).stdout, b"install ok installed");
        assert_eq!(systemctl(&mut st, &s(&["is-active", "dnsmasq"])).code, 0);
        st.files.insert("/etc/dnsmasq.d/x.conf".into(), crate::state::text_file("nonsense\n"));
        let r = systemctl(&mut st, &s(&["restart", "dnsmasq"]));
        assert_eq!(r.code, 1);
        assert!(String::from_utf8_lossy(&r.stderr).contains("bad option at line 1 of /etc/dnsmasq.d/x.conf"));
        assert_eq!(systemctl(&mut st, &s(&["is-active", "dnsmasq"])).code, 3);
        let t = dnsmasq(&st, &s(&["--test", "--conf-file=/dev/stdin"]), Some(b"domain-needed\n"));
        assert_eq!((t.code, t.stderr), (0, b"dnsmasq: syntax check OK.\n".to_vec()));
    }
}
