//! A command inside a guest, the same way for both kinds — `pct exec <id> -- argv` for
//! containers, `qm guest exec <id> -- argv` (guest agent, JSON answer) for VMs — and its answer
//! read back. The fact readers use it for read-only checks; ops and the executor for changes.

use super::FactError;
use crate::command::{Command, Output};
use crate::types::GuestKind;

/// Seconds `qm guest exec` waits for a command before returning its pid.
pub const VM_EXEC_TIMEOUT_S: u32 = 600;

/// The host command that runs `argv` inside guest `id`.
pub fn in_guest_command(kind: GuestKind, id: u32, argv: &[String], stdin: Option<&[u8]>) -> Command {
    let ids = id.to_string();
    let mut cmd = match kind {
        GuestKind::Lxc => Command::new(["pct", "exec", ids.as_str(), "--"]),
        GuestKind::Vm => {
            let mut c = Command::new(["qm", "guest", "exec", ids.as_str()]);
            c = c.arg("--timeout").arg(VM_EXEC_TIMEOUT_S.to_string());
            if stdin.is_some() {
                c = c.arg("--pass-stdin").arg("1");
            }
            c.arg("--")
        }
    };
    cmd = cmd.args(argv.iter().cloned());
    if let Some(input) = stdin {
        cmd = cmd.with_stdin(input.to_vec());
    }
    cmd
}

/// The guest command's exit code and stdout. `pct exec` passes the exit status through;
/// `qm guest exec` always exits 0 and reports it in JSON.
pub fn guest_result(kind: GuestKind, cmd: &Command, out: &Output) -> Result<(i32, Vec<u8>), FactError> {
    match kind {
        GuestKind::Lxc => {
            // pct itself failing (CT not running, missing) is not the command's answer.
            let err = out.stderr_str();
            if out.code == 255 && (err.contains("not running") || err.contains("does not exist")) {
                return Err(FactError::Command {
                    command: cmd.to_string(),
                    code: out.code,
                    stderr: err.trim_end().to_string(),
                });
            }
            Ok((out.code, out.stdout.clone()))
        }
        GuestKind::Vm => {
            if !out.success() {
                return Err(FactError::Command {
                    command: cmd.to_string(),
                    code: out.code,
                    stderr: out.stderr_str().trim_end().to_string(),
                });
            }
            let r = super::qm::parse_guest_exec_json(&out.stdout_str())
                .map_err(|e| FactError::Parse { command: cmd.to_string(), message: e.to_string() })?;
            if !r.exited {
                return Err(FactError::Command {
                    command: cmd.to_string(),
                    code: -1,
                    stderr: format!("still running after {VM_EXEC_TIMEOUT_S}s (pid {})", r.pid.unwrap_or(0)),
                });
            }
            let code = r.exitcode.unwrap_or(-1) as i32;
            Ok((code, r.out_data.unwrap_or_default().into_bytes()))
        }
    }
}

/// A guest command's exit code, stdout and stderr (for VMs: `err-data` of the agent's answer).
pub fn guest_output(kind: GuestKind, cmd: &Command, out: &Output) -> Result<crate::command::CommandOutput, FactError> {
    let (code, stdout) = guest_result(kind, cmd, out)?;
    let stderr = match kind {
        GuestKind::Lxc => out.stderr_str(),
        GuestKind::Vm => {
            super::qm::parse_guest_exec_json(&out.stdout_str()).ok().and_then(|r| r.err_data).unwrap_or_default()
        }
    };
    Ok(crate::command::CommandOutput { code, stdout: String::from_utf8_lossy(&stdout).into_owned(), stderr })
}
