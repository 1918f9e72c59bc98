//! The simulator as a connector: `--host sim` (in memory) or `--host sim:<state.json>`
//! (loaded at start, every command appended to `<state.json>.commands.jsonl`).
//!
//! A stored state is saved after EVERY mutating command, before the command's result reaches
//! the executor (and so before the journal records the action): whatever kills phoenix — a
//! signal, a crash, SIGKILL — the state file holds at least every journalled action, and a
//! re-run converges from what really happened. The save is atomic (temp file + rename in the
//! same folder), so a reader never sees half a state. No fsync: the guarantee is against a dying
//! process, not a dying machine.

use super::{Connector, ConnectorError, FileData, FileWrite};
use crate::command::{Command, Output};
use crate::sim::{SimError, SimHost, SimState};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub struct SimConnector {
    host: Arc<SimHost>,
    /// Serialises saves: a save snapshots the state and renames the file, and two saves racing
    /// could rename an older snapshot over a newer one.
    saving: Mutex<SaveState>,
}

#[derive(Default)]
struct SaveState {
    /// The first save that failed: reported by `finish`, so the run ends with an error.
    error: Option<String>,
    /// How many saves, for the cost measurement in the tests.
    count: u64,
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
        Ok(SimConnector { host: Arc::new(host), saving: Mutex::new(SaveState::default()) })
    }

    /// Share an existing host (tests seed it, then inspect it after the run).
    pub fn from_host(host: Arc<SimHost>) -> SimConnector {
        SimConnector { host, saving: Mutex::new(SaveState::default()) }
    }

    /// How many times the state was saved so far.
    pub fn saves(&self) -> u64 {
        self.saving.lock().map(|s| s.count).unwrap_or_else(|p| p.into_inner().count)
    }

    /// Persist the state after a mutating command (a no-op in memory). A failure is kept for
    /// `finish` rather than turned into a failed command: the command itself did happen.
    fn save_after_mutation(&self) {
        if self.host.path().is_none() {
            return;
        }
        let mut saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        saving.count += 1;
        if let Err(e) = self.host.save() {
            tracing::warn!("{}: cannot save the simulator state: {e}", self.describe());
            saving.error.get_or_insert_with(|| e.to_string());
        }
    }

    pub fn host(&self) -> &Arc<SimHost> {
        &self.host
    }

    fn file_error(&self, op: &'static str, path: &str, e: SimError) -> ConnectorError {
        ConnectorError::File { host: self.describe(), op, path: path.to_string(), message: e.to_string() }
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
        let argv = cmd.exposed_argv();
        let out = self.host.exec(&argv, cmd.stdin.as_deref());
        if crate::sim::is_mutating(&argv) {
            self.save_after_mutation();
        }
        Ok(out)
    }

    fn read_file(&self, path: &str) -> Result<Option<FileData>, ConnectorError> {
        Ok(self.host.read_file(path))
    }

    fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), ConnectorError> {
        let written = self.host.write_file(path, file).map_err(|e| self.file_error("write", path, e));
        if written.is_ok() {
            self.save_after_mutation();
        }
        written
    }

    fn remove_file(&self, path: &str) -> Result<bool, ConnectorError> {
        let existed = self.host.remove_file(path);
        if existed {
            self.save_after_mutation();
        }
        Ok(existed)
    }

    fn lock(&self, holder: &str) -> Result<Option<crate::lock::HostLock>, crate::lock::LockError> {
        let Some(state) = self.host.path() else { return Ok(None) };
        let host = self.describe();
        let path = crate::lock::sim_lock_path(state).map_err(|source| crate::lock::LockError::Io {
            host: host.clone(),
            path: state.to_path_buf(),
            source,
        })?;
        crate::lock::HostLock::on_file(&host, &path, holder).map(Some)
    }

    fn finish(&self) -> Result<(), ConnectorError> {
        let fail = |message: String| ConnectorError::Connection { host: self.describe(), message };
        let mut saving = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = saving.error.take() {
            return Err(fail(e));
        }
        saving.count += 1;
        self.host.save().map_err(|e| fail(e.to_string()))
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
