//! Whether a VM is ready for work inside it: its guest agent answers, cloud-init has finished.

use super::KIND;
use crate::command::Command;
use crate::facts::Facts;
use crate::ops::OpError;

/// Whether the guest agent answers (`qm agent <id> ping` exits 0). A probe through the facts
/// layer (recorded by a rehearsal, never cached: a wait polls it to see the agent come up).
pub fn agent_ping(facts: &Facts, id: u32) -> Result<bool, OpError> {
    let cmd = Command::new(["qm", "agent"]).arg(id.to_string()).arg("ping");
    Ok(facts.probe(&cmd)?.success())
}

/// cloud-init's state inside the VM, from `cloud-init status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudInit {
    /// Still running (or not started yet).
    Running,
    /// Finished (`done`), or not in use (`disabled`, or no cloud-init at all).
    Finished(String),
    /// Finished with an error: the VM will not converge by waiting.
    Failed(String),
}

/// Read `status: <word>` from `cloud-init status` output (exit 1 = error, 2 = recoverable
/// errors — both still print the status line).
pub fn parse_cloud_init_status(code: i32, stdout: &str) -> CloudInit {
    if code == 127 {
        return CloudInit::Finished("absent".into());
    }
    let word =
        stdout.lines().find_map(|l| l.trim().strip_prefix("status:")).map(|s| s.trim().to_string()).unwrap_or_default();
    match word.as_str() {
        "done" | "disabled" => CloudInit::Finished(word),
        "error" => CloudInit::Failed(stdout.trim().to_string()),
        _ => CloudInit::Running,
    }
}

pub fn cloud_init_status(facts: &Facts, id: u32) -> Result<CloudInit, OpError> {
    let argv = vec!["cloud-init".to_string(), "status".to_string()];
    let (code, out) = facts.run_in_guest(KIND, id, &argv)?;
    Ok(parse_cloud_init_status(code, &String::from_utf8_lossy(&out)))
}
