//! The systemd timer and service that renew the lab's certificates on the host where phoenix is
//! installed: every hour `phoenix --config-dir <dir> sync certs`, which re-issues only the
//! certificates inside their renewal window (a converged run only reads). This replaces the
//! original's hourly cron line that re-issued everything and reloaded nginx every time.
//! `Persistent=` catches up a run missed while the host was off; phoenix's own run lock keeps a
//! timer run and a manual run from interleaving their writes.

use super::error::GenerateError;
use super::systemd_unit::exec_line;

pub const SERVICE_PATH: &str = "/etc/systemd/system/phoenix-certs-renewal.service";
pub const TIMER_PATH: &str = "/etc/systemd/system/phoenix-certs-renewal.timer";
pub const TIMER_UNIT: &str = "phoenix-certs-renewal.timer";

/// The service unit running `phoenix_bin --config-dir config_dir sync certs`.
pub fn service(phoenix_bin: &str, config_dir: &str) -> Result<String, GenerateError> {
    let argv: Vec<String> = [phoenix_bin, "--host", "local", "--config-dir", config_dir, "sync", "certs"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Ok(format!(
        "# Managed by phoenix (sync certs): local changes are overwritten.\n\
         [Unit]\n\
         Description=Renew the lab's certificates inside their renewal window (phoenix sync certs)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={}\n",
        exec_line(&argv)?
    ))
}

/// The timer: hourly, spread over 10 minutes, catching up after downtime.
pub fn timer() -> String {
    "# Managed by phoenix (sync certs): local changes are overwritten.\n\
     [Unit]\n\
     Description=Hourly certificate renewal check (phoenix sync certs)\n\
     \n\
     [Timer]\n\
     OnCalendar=hourly\n\
     RandomizedDelaySec=10m\n\
     Persistent=true\n\
     \n\
     [Install]\n\
     WantedBy=timers.target\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_runs_sync_certs_with_an_escaped_command_line() {
        let s = service("/usr/local/bin/phoenix", "/etc/phoenix lab").unwrap();
        assert!(s.contains(
            "\nExecStart=/usr/local/bin/phoenix --host local --config-dir \"/etc/phoenix lab\" sync certs\n"
        ));
        assert!(s.contains("\nType=oneshot\n"));
        assert!(service("/usr/local/bin/phoenix", "/etc/x\nExecStartPre=/bin/evil").is_err());
        assert!(timer().contains("\nOnCalendar=hourly\nRandomizedDelaySec=10m\nPersistent=true\n"));
        assert!(timer().ends_with("[Install]\nWantedBy=timers.target\n"));
    }
}
