//! `SimHost`: the simulated node behind a mutex, with a command log, latency, faults and
//! persistence. Commands run on the in-memory state (microseconds); simulated latency is slept
//! outside the mutex so parallel commands overlap.

use super::error::SimError;
use super::reply::Step;
use super::state::SimState;
use super::{classify, dispatch, faults, files, interleave, latency};
use crate::file::{FileData, FileWrite};
use crate::output::Output;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One logged command or file operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedCommand {
    pub argv: Vec<String>,
    pub mutating: bool,
    pub code: i32,
    /// Milliseconds since the host was opened, when the command finished.
    pub at_ms: u64,
}

struct Log {
    entries: Vec<LoggedCommand>,
    /// `<state-path>.commands.jsonl`, opened on first use, appended to.
    sink: Option<BufWriter<File>>,
    sink_error: Option<SimError>,
}

pub struct SimHost {
    state: Mutex<SimState>,
    path: Option<PathBuf>,
    log: Mutex<Log>,
    started: Instant,
}

/// What a secret is logged as.
const MASK: &str = "***";

/// Options whose following argv element is a secret and never logged in clear.
const SECRET_OPTIONS: &[&str] = &["--password", "-password", "--cipassword", "-cipassword"];

fn mask_secrets(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for a in argv {
        if hide_next {
            out.push(MASK.to_string());
            hide_next = false;
            continue;
        }
        if let Some((k, _)) = a.split_once('=') {
            if SECRET_OPTIONS.contains(&k) {
                out.push(format!("{k}={}", MASK));
                continue;
            }
        }
        hide_next = SECRET_OPTIONS.contains(&a.as_str());
        out.push(a.clone());
    }
    out
}

impl SimHost {
    /// An in-memory host.
    pub fn new(state: SimState) -> SimHost {
        SimHost {
            state: Mutex::new(state),
            path: None,
            log: Mutex::new(Log { entries: Vec::new(), sink: None, sink_error: None }),
            started: Instant::now(),
        }
    }

    /// Load the state from `path` if it exists (else a fresh node); `save` writes it back.
    pub fn open(path: &Path) -> Result<SimHost, SimError> {
        let state = match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| SimError::Json { path: path.to_path_buf(), source })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SimState::default(),
            Err(source) => return Err(SimError::Io { path: path.to_path_buf(), source }),
        };
        let mut host = SimHost::new(state);
        host.path = Some(path.to_path_buf());
        Ok(host)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Atomically write the state JSON (temp file + rename) and flush the command log.
    /// A no-op for an in-memory host.
    pub fn save(&self) -> Result<(), SimError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let json = {
            let st = self.lock_state();
            serde_json::to_vec_pretty(&*st).map_err(|source| SimError::Json { path: path.clone(), source })?
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let io = |source| SimError::Io { path: path.clone(), source };
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
        tmp.write_all(&json).map_err(io)?;
        tmp.write_all(b"\n").map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        self.flush_log()
    }

    /// Flush the `.commands.jsonl` log (reports a write error seen while logging).
    pub fn flush_log(&self) -> Result<(), SimError> {
        let mut log = self.lock_log();
        if let Some(e) = log.sink_error.take() {
            return Err(e);
        }
        if let (Some(sink), Some(path)) = (log.sink.as_mut(), &self.path) {
            sink.flush().map_err(|source| SimError::Io { path: log_path(path), source })?;
        }
        Ok(())
    }

    /// Run one command against the simulated host.
    pub fn exec(&self, argv: &[String], stdin: Option<&[u8]>) -> Output {
        let line = argv.join(" ");
        let (step, delay) = {
            let mut st = self.lock_state();
            let delay = latency::lookup(&st.latency_ms, argv);
            interleave::fire(&mut st, &line);
            let step = match faults::check(&mut st.faults, &line) {
                Some(out) => Step::Done(out),
                None => dispatch::run(&mut st, argv, stdin),
            };
            (step, delay)
        };
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let out = match step {
            Step::Done(out) => out,
            Step::Then(finish) => {
                let mut st = self.lock_state();
                finish(&mut st)
            }
        };
        self.record(argv, classify::is_mutating(argv), out.code);
        out
    }

    pub fn read_file(&self, path: &str) -> Option<FileData> {
        let data = files::read(&self.lock_state(), path);
        self.record_file("file.read", path, if data.is_some() { 0 } else { 1 });
        data
    }

    pub fn write_file(&self, path: &str, file: &FileWrite) -> Result<(), SimError> {
        let r = files::write(&mut self.lock_state(), path, file);
        self.record_file("file.write", path, if r.is_ok() { 0 } else { 1 });
        r
    }

    pub fn remove_file(&self, path: &str) -> bool {
        let existed = files::remove(&mut self.lock_state(), path);
        self.record_file("file.remove", path, if existed { 0 } else { 1 });
        existed
    }

    /// Every exec/read/write/remove so far, in order.
    pub fn log(&self) -> Vec<LoggedCommand> {
        self.lock_log().entries.clone()
    }

    /// What serves `host:port` on the simulated lab's network (a running container publishing
    /// the port in a running guest with that address), if anything: see `services`.
    pub fn service_at(&self, host: &str, port: u16) -> Option<crate::ServiceInfo> {
        crate::services::service_at(&self.lock_state(), host, port)
    }

    /// `name` as an address on the simulated lab (a literal, or the host dnsmasq's
    /// `host-record`): see `services`.
    pub fn resolve(&self, name: &str) -> Option<String> {
        crate::services::resolve(&self.lock_state(), name)
    }

    /// A Portainer agent at environment `url` deploying stack `project` (see `stack_deploy`).
    pub fn deploy_stack(&self, url: &str, project: &str, compose: &[u8], env: &[String]) -> Result<(), String> {
        crate::stack_deploy::up(&mut self.lock_state(), url, project, compose, env)
    }

    /// A Portainer agent at environment `url` removing stack `project`.
    pub fn remove_stack(&self, url: &str, project: &str) -> Result<(), String> {
        crate::stack_deploy::down(&mut self.lock_state(), url, project)
    }

    /// Direct access to the state, for tests and seeding.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut self.lock_state())
    }

    fn record_file(&self, op: &str, path: &str, code: i32) {
        self.record(&[op.to_string(), path.to_string()], op != "file.read", code);
    }

    fn record(&self, argv: &[String], mutating: bool, code: i32) {
        let entry = LoggedCommand {
            argv: mask_secrets(argv),
            mutating,
            code,
            at_ms: self.started.elapsed().as_millis() as u64,
        };
        let mut log = self.lock_log();
        if let Some(path) = &self.path {
            if log.sink.is_none() && log.sink_error.is_none() {
                let lp = log_path(path);
                match std::fs::OpenOptions::new().create(true).append(true).open(&lp) {
                    Ok(f) => log.sink = Some(BufWriter::new(f)),
                    Err(source) => log.sink_error = Some(SimError::Io { path: lp, source }),
                }
            }
            let line = serde_json::to_string(&entry);
            if let (Some(sink), Ok(line)) = (log.sink.as_mut(), line) {
                if let Err(source) = writeln!(sink, "{line}") {
                    log.sink = None;
                    log.sink_error = Some(SimError::Io { path: log_path(path), source });
                }
            }
        }
        log.entries.push(entry);
    }

    // A panic while holding the lock (a bug) must not wedge every later command: the state is
    // still structurally valid, so keep using it.
    fn lock_state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `<state-path>.commands.jsonl`.
pub(crate) fn log_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".commands.jsonl");
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn masks_password_values() {
        let m = mask_secrets(&argv("pct create 100 t --password hunter2 --cipassword=x --hostname a"));
        assert_eq!(m.join(" "), "pct create 100 t --password *** --cipassword=*** --hostname a");
    }

    #[test]
    fn logs_commands_and_file_ops() {
        let h = SimHost::new(SimState::default());
        h.exec(&argv("pct list"), None);
        h.read_file("/etc/hostname");
        h.exec(&argv("zfs create rpool/x"), None);
        let log = h.log();
        assert_eq!(log.len(), 3);
        assert_eq!(log[1].argv, vec!["file.read", "/etc/hostname"]);
        assert_eq!(log.iter().map(|l| l.mutating).collect::<Vec<_>>(), vec![false, false, true]);
    }

    #[test]
    fn persistence_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let h = SimHost::open(&path).unwrap();
        let out = h.exec(&argv("zfs create -o quota=10G rpool/data/x"), None);
        assert_eq!(out.code, 0, "{}", out.stderr_str());
        h.save().unwrap();
        let before = h.with_state(|s| s.clone());
        let h2 = SimHost::open(&path).unwrap();
        assert_eq!(h2.with_state(|s| s.clone()), before);
        assert!(h2.with_state(|s| s.datasets.contains_key("rpool/data/x")));
        let jsonl = std::fs::read_to_string(log_path(&path)).unwrap();
        assert_eq!(jsonl.lines().count(), 1);
        assert!(jsonl.contains("\"zfs\",\"create\""));
    }

    #[test]
    fn bad_state_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{ not json").unwrap();
        assert!(matches!(SimHost::open(&path), Err(SimError::Json { .. })));
    }

    #[test]
    fn fault_replaces_command_without_state_change() {
        let h = SimHost::new(SimState::default());
        h.with_state(|s| {
            s.faults.push(
                serde_json::from_str(r#"{"match":"zfs create *","nth":2,"stderr":"injected\n","code":1}"#).unwrap(),
            )
        });
        assert_eq!(h.exec(&argv("zfs create rpool/a"), None).code, 0);
        let out = h.exec(&argv("zfs create rpool/b"), None);
        assert_eq!((out.code, out.stderr_str().as_str()), (1, "injected\n"));
        assert!(!h.with_state(|s| s.datasets.contains_key("rpool/b")));
        assert_eq!(h.exec(&argv("zfs create rpool/c"), None).code, 0);
    }

    #[test]
    fn pct_config_is_fast_on_a_big_state() {
        let mut st = SimState::default();
        for id in 100..5100u32 {
            let mut g = crate::state::Guest::new(crate::state::GuestKind::Lxc);
            for (k, v) in [
                ("arch", "amd64"),
                ("cores", "2"),
                ("hostname", "ct"),
                ("memory", "2048"),
                ("rootfs", "local-zfs:subvol-1-disk-0,size=8G"),
            ] {
                g.config.insert(k.into(), v.into());
            }
            st.guests.insert(id, g);
        }
        let h = SimHost::new(st);
        let cmd = argv("pct config 4321");
        assert_eq!(h.exec(&cmd, None).code, 0);
        let t0 = Instant::now();
        for _ in 0..200 {
            assert_eq!(h.exec(&cmd, None).code, 0);
        }
        let per = t0.elapsed() / 200;
        // Microseconds, not milliseconds, even in a debug build.
        assert!(per < Duration::from_micros(500), "pct config took {per:?}");
    }

    #[test]
    fn parallel_mutations_do_not_deadlock() {
        let h = Arc::new(SimHost::new(SimState::default()));
        h.with_state(|s| {
            s.latency_ms.insert("*".into(), 1);
        });
        let handles: Vec<_> = (0..8u32)
            .map(|t| {
                let h = Arc::clone(&h);
                std::thread::spawn(move || {
                    for i in 0..10u32 {
                        let id = 200 + t * 10 + i;
                        let create = format!(
                            "pct create {id} local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --rootfs local-zfs:1"
                        );
                        assert_eq!(h.exec(&argv(&create), None).code, 0);
                        assert_eq!(h.exec(&argv(&format!("pct start {id}")), None).code, 0);
                        assert_eq!(h.exec(&argv("pct list"), None).code, 0);
                        h.read_file(&format!("/etc/pve/lxc/{id}.conf"));
                    }
                })
            })
            .collect();
        for t in handles {
            t.join().unwrap();
        }
        assert_eq!(h.with_state(|s| s.guests.len()), 80);
        assert_eq!(h.log().len(), 80 * 4);
    }

    #[test]
    fn latency_sleeps_outside_the_lock() {
        let h = Arc::new(SimHost::new(SimState::default()));
        h.with_state(|s| {
            s.latency_ms.insert("zfs list".into(), 150);
        });
        let t0 = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let h = Arc::clone(&h);
                std::thread::spawn(move || h.exec(&argv("zfs list"), None).code)
            })
            .collect();
        for t in handles {
            assert_eq!(t.join().unwrap(), 0);
        }
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(150));
        // Serialised they would take 600 ms; overlapping they take ~150 ms.
        assert!(took < Duration::from_millis(450), "took {took:?}");
    }
}
