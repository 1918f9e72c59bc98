//! Services inside a guest: `systemctl`.

use super::*;

/// Unit names as systemctl normalises them (`docker` → `docker.service`).
pub(super) fn unit_name(u: &str) -> String {
    if u.contains('.') {
        u.to_string()
    } else {
        format!("{u}.service")
    }
}

pub(super) fn unit_exists(g: &Guest, unit: &str) -> bool {
    g.os.units.contains_key(unit)
        || ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]
            .iter()
            .any(|d| g.files.contains_key(&format!("{d}/{unit}")))
}

pub(super) fn systemctl(g: &mut Guest, args: &[&str]) -> Output {
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
