//! The simulator as a connector: `--host sim` (in memory) or `--host sim:<state.json>`
//! (loaded at start, saved by `finish`, every command appended to `<state.json>.commands.jsonl`).
//!
//! The simulated node is the `phoenix-sim` crate, which does not know phoenix: this adapter is
//! the only place where phoenix's command and file types meet the simulator's.

use super::{Connector, ConnectorError, FileData, FileWrite};
use crate::command::{Command, Output};
use phoenix_sim::{SimError, SimHost, SimState};
use std::path::Path;
use std::sync::Arc;

pub struct SimConnector {
    host: Arc<SimHost>,
}

impl SimConnector {
    /// A fresh in-memory node, or the state stored at `spec`.
    pub fn open(spec: Option<&Path>) -> Result<SimConnector, ConnectorError> {
        let host = match spec {
            Some(p) => SimHost::open(p).map_err(|e| ConnectorError::Connection {
                host: format!("sim:{}", p.display()),
                message: e.to_string(),
            })?,
            None => SimHost::new(SimState::default()),
        };
        Ok(SimConnector { host: Arc::new(host) })
    }

    /// Share an existing host (tests seed it, then inspect it after the run).
    pub fn from_host(host: Arc<SimHost>) -> SimConnector {
        SimConnector { host }
    }

    pub fn host(&self) -> &Arc<SimHost> {
        &self.host
    }

    fn file_error(&self, op: &'static str, path: &str, e: SimError) -> ConnectorError {
        ConnectorError::File { host: self.describe(), op, path: path.to_string(), message: e.to_string() }
    }
}

/// phoenix's file to write, as the simulator's type.
pub fn to_sim(file: &FileWrite) -> phoenix_sim::FileWrite {
    phoenix_sim::FileWrite {
        content: file.content.clone(),
        mode: file.mode,
        owner: file.owner.clone(),
        group: file.group.clone(),
    }
}

impl Connector for SimConnector {
    fn describe(&self) -> String {
        match self.host.path() {
            Some(p) => format!("sim:{}", p.display()),
            None => "sim".to_string(),
        }
    }

    fn run(&self, cmd: &Command) -> Result<Output, ConnectorError> {
        let out = self.host.exec(&cmd.exposed_argv(), cmd.stdin.as_deref());
        Ok(Output { code: out.code, stdout: out.stdout, stderr: out.stderr })
    }

    fn read_file(&self, path: &str) -> Result<Option<FileData>, ConnectorError> {
        Ok(self.host.read_file(path).map(|f| FileData {
            content: f.content,
            mode: f.mode,
            owner: f.owner,
            group: f.group,
        }))
    }

    fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), ConnectorError> {
        self.host.write_file(path, &to_sim(file)).map_err(|e| self.file_error("write", path, e))
    }

    fn remove_file(&self, path: &str) -> Result<bool, ConnectorError> {
        Ok(self.host.remove_file(path))
    }

    fn finish(&self) -> Result<(), ConnectorError> {
        self.host.save().map_err(|e| ConnectorError::Connection { host: self.describe(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_run_and_finish_saves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let c = SimConnector::open(Some(&path)).unwrap();
        assert_eq!(c.describe(), format!("sim:{}", path.display()));
        let out = c.run(&Command::new(["zfs", "create", "rpool/data/t"])).unwrap();
        assert!(out.success());
        let err =
            c.write_file("/etc/pve/storage.cfg", &FileWrite { content: vec![], mode: 0o640, owner: None, group: None });
        assert!(matches!(err, Err(ConnectorError::File { .. })));
        c.finish().unwrap();
        let again = SimConnector::open(Some(&path)).unwrap();
        assert!(again.host().with_state(|s| s.datasets.contains_key("rpool/data/t")));
        assert_eq!(SimConnector::open(None).unwrap().describe(), "sim");
    }

    #[test]
    fn secrets_reach_the_sim_but_not_the_log() {
        let c = SimConnector::open(None).unwrap();
        let cmd = Command::new(["pct", "set", "100", "--password"]).arg(crate::secret::Secret::new("hunter2"));
        c.run(&cmd).unwrap();
        let log = c.host().log();
        assert_eq!(log[0].argv.last().map(String::as_str), Some("***"));
    }
}
