//! What a simulated command answers: the exit code and the two byte streams, as the process
//! would have produced them.

/// The result of one command on the simulated host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimOutput {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl SimOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The name the command modules use.
pub(crate) type Output = SimOutput;
