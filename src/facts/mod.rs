//! Facts: typed readings of the host, each from one command (or file) and a parser written from
//! the contracts reference. Cached per run; in dry-run the cache is also the overlay that
//! modelled action effects update, so later steps see what earlier steps would have created.
//! Listings are read once per run (`pct list`, `zfs list`), never once per guest.

pub mod base;
pub mod batch;
pub mod cache;
pub mod effect;
pub mod firewall;
pub mod guest_config;
pub mod guests;
pub mod in_guest;
pub mod pct;
pub mod propstring;
pub mod pvesm;
pub mod qm;
pub mod x509;
pub mod zfs;

use crate::command::{Command, Output};
use crate::connector::{Connector, ConnectorError, FileData};
use base::{Answer, BaseFacts, ReadKey, ReadLog};
use cache::{Cell, Keyed};
use indexmap::IndexMap;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum FactError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("`{command}` failed (exit {code}): {stderr}")]
    Command { command: String, code: i32, stderr: String },
    #[error("cannot parse the output of `{command}`: {message}")]
    Parse { command: String, message: String },
}

/// A ZFS pool as `zpool list -Hp` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pool {
    pub name: String,
    pub size: u64,
    pub alloc: u64,
    pub free: u64,
    pub health: String,
}

/// A dataset as `zfs list -Hp` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Dataset {
    pub name: String,
    /// `filesystem` or `volume`.
    pub kind: String,
    pub used: u64,
    pub avail: u64,
    pub mountpoint: String,
}

/// Property values of one dataset read so far (`value`, `source`). `modelled` marks a dataset
/// this run created in dry-run: its unread properties cannot be asked of the host.
#[derive(Debug, Clone, Default)]
pub struct DatasetProps {
    pub values: HashMap<String, (String, zfs::PropSource)>,
    pub modelled: bool,
}

/// The facts of one run against one host.
pub struct Facts {
    conn: Arc<dyn Connector>,
    files: Keyed<String, Option<FileData>>,
    pools: Cell<Vec<Pool>>,
    datasets: Cell<BTreeMap<String, Dataset>>,
    dataset_props: Keyed<String, DatasetProps>,
    storages: Cell<IndexMap<String, pvesm::StorageDef>>,
    pub(crate) guests: guests::GuestFacts,
    /// Dry-run: effects are modelled; apply: guest facts an action touched are re-read.
    dry_run: bool,
    /// The host's answers: recorded by a rehearsal, served to the apply that follows it.
    reads: ReadLog,
    /// Dry-run: reads noted per guest, and answers fetched in one batch per guest (batch.rs).
    batches: Batches,
}

/// The batching state of a dry-run (see [`batch`]).
#[derive(Default)]
struct Batches {
    /// The reads each guest's plan made in the previous run (what to fetch at its first read).
    expected: std::sync::Mutex<BTreeMap<u32, Vec<batch::Read>>>,
    /// The reads each guest's plan made in this run, in order.
    noted: std::sync::Mutex<BTreeMap<u32, indexmap::IndexSet<batch::Read>>>,
    /// Guests whose batch was sent (once per run).
    sent: std::sync::Mutex<std::collections::HashSet<u32>>,
    /// The answers of the batches sent.
    answers: std::sync::Mutex<HashMap<batch::Read, batch::Answer>>,
}

fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub const STORAGE_CFG: &str = "/etc/pve/storage.cfg";

fn parse_err(cmd: &str, e: impl std::fmt::Display) -> FactError {
    FactError::Parse { command: cmd.to_string(), message: e.to_string() }
}

fn num(row: &zfs::Row, col: &str, cmd: &str) -> Result<u64, FactError> {
    let v = row.get(col).map(String::as_str).unwrap_or("");
    // `-` for properties that do not apply (e.g. avail of a snapshot).
    if v == "-" {
        return Ok(0);
    }
    v.parse().map_err(|_| parse_err(cmd, format!("column {col}: `{v}` is not a number")))
}

impl Facts {
    pub fn new(conn: Arc<dyn Connector>, dry_run: bool) -> Self {
        Facts {
            conn,
            files: Keyed::default(),
            pools: Cell::default(),
            datasets: Cell::default(),
            dataset_props: Keyed::default(),
            storages: Cell::default(),
            guests: guests::GuestFacts::default(),
            dry_run,
            reads: ReadLog::Off,
            batches: Batches::default(),
        }
    }

    /// The facts of a rehearsal: a dry-run that records the host's answers for the apply.
    pub fn rehearsal(conn: Arc<dyn Connector>) -> Self {
        Facts { reads: ReadLog::Record(Default::default()), ..Facts::new(conn, true) }
    }

    /// The facts of an apply that starts from a rehearsal's base facts instead of reading the
    /// host again (see [`base`] for when a recorded answer is still good).
    pub fn with_base(conn: Arc<dyn Connector>, base: BaseFacts) -> Self {
        Facts { reads: ReadLog::replay(base), ..Facts::new(conn, false) }
    }

    /// What this run has read from the host so far (the host's own answers, never the overlay).
    pub fn base_snapshot(&self) -> BaseFacts {
        self.reads.snapshot()
    }

    /// Forget recorded answers an action about to run may change (apply only).
    pub fn forget_base(&self, scope: &base::Scope) {
        self.reads.forget(scope);
    }

    /// A read command for a cached fact: a recorded answer when there is a good one, then a
    /// batched one, else the host.
    pub(crate) fn host_run(&self, cmd: &Command) -> Result<Output, FactError> {
        let key = ReadKey::Command(cmd.clone());
        let read = batch::Read::host(cmd);
        if let Some(r) = &read {
            self.note(r);
        }
        if let Some(Answer::Command(out)) = self.reads.take(&key) {
            return Ok(out);
        }
        let out = match read.as_ref().and_then(|r| self.batched(r)) {
            Some(batch::Answer::Host(out)) => out,
            _ => {
                let out = self.conn.run(cmd)?;
                if let Some(r) = read {
                    self.answered(r, batch::Answer::Host(out.clone()));
                }
                out
            }
        };
        self.reads.record(key, &Answer::Command(out.clone()));
        Ok(out)
    }

    /// A host file for a cached fact: a recorded answer when there is a good one, then a
    /// batched one, else the host.
    pub(crate) fn host_file(&self, path: &str) -> Result<Option<FileData>, FactError> {
        let key = ReadKey::File(path.to_string());
        let read = batch::Read::File(path.to_string());
        self.note(&read);
        if let Some(Answer::File(data)) = self.reads.take(&key) {
            return Ok(data);
        }
        let data = match self.batched(&read) {
            Some(batch::Answer::File(data)) => data,
            _ => {
                let data = self.conn.read_file(path)?;
                self.answered(read, batch::Answer::File(data.clone()));
                data
            }
        };
        self.reads.record(key, &Answer::File(data.clone()));
        Ok(data)
    }

    // ---- batched reads (batch.rs) ----

    /// Start from the reads each guest's plan made last time (a dry-run fetches them in one
    /// batch per guest).
    pub fn expect_reads(&self, plan: batch::ReadPlan) {
        *locked(&self.batches.expected) = plan.sendable();
    }

    /// The reads each guest's plan made in this run (however they were answered).
    pub fn reads_made(&self) -> BTreeMap<u32, Vec<batch::Read>> {
        locked(&self.batches.noted).iter().map(|(id, r)| (*id, r.iter().cloned().collect())).collect()
    }

    /// Note `read` for the guest this thread works on, in every mode: an apply's notes say
    /// what a guest reads once it is converged, better than its rehearsal's.
    fn note(&self, read: &batch::Read) {
        if let Some(id) = batch::reader() {
            locked(&self.batches.noted).entry(id).or_default().insert(read.clone());
        }
    }

    /// Answer `read` from the batch of the guest this thread works on (sent at its first
    /// read). `None`: ask the host alone. Dry-run only: nothing changes the host during one,
    /// so a batched answer is good for the whole run.
    fn batched(&self, read: &batch::Read) -> Option<batch::Answer> {
        if !self.dry_run {
            return None;
        }
        let id = batch::reader()?;
        if locked(&self.batches.sent).insert(id) {
            let expected = locked(&self.batches.expected).remove(&id).unwrap_or_default();
            self.send_batch(id, &expected);
        }
        locked(&self.batches.answers).get(read).cloned()
    }

    /// Dry-run: keep a read asked alone for every later reader (another guest's batch then
    /// leaves it out), so the host is asked each question once.
    fn answered(&self, read: batch::Read, answer: batch::Answer) {
        if self.dry_run {
            locked(&self.batches.answers).insert(read, answer);
        }
    }

    /// One host command for every read `id`'s plan made last time and not answered yet. A
    /// batch that fails, or an item that does not come back whole, leaves those reads to be
    /// asked alone.
    fn send_batch(&self, id: u32, reads: &[batch::Read]) {
        let reads: Vec<batch::Read> = {
            let answers = locked(&self.batches.answers);
            reads.iter().filter(|r| !answers.contains_key(*r)).cloned().collect()
        };
        if reads.len() < 2 {
            return;
        }
        let in_guest = |kind, gid, argv: &[String]| in_guest::in_guest_command(kind, gid, argv, None);
        let Some((cmd, layout)) = batch::command(&format!("phoenix-reads-{id}"), &reads, &in_guest) else {
            return;
        };
        let out = match self.conn.run(&cmd) {
            Ok(out) => out,
            Err(e) => {
                tracing::debug!("batched reads for guest {id}: {e}; reading one by one");
                return;
            }
        };
        let result = |kind, cmd: &Command, out: &Output| in_guest::guest_result(kind, cmd, out).ok();
        let answers = layout.answers(&out, &result);
        tracing::debug!("batched reads for guest {id}: {} asked, {} answered", reads.len(), answers.len());
        locked(&self.batches.answers).extend(answers);
    }

    /// A probe: a read-only command whose answer may change while the run goes on (a check a
    /// plan makes, a script, one try of a wait). A read like any other: the rehearsal records
    /// it; the apply is served the recorded answer once, until its first action (see [`base`]);
    /// after that, and for every further call, the host answers.
    pub fn probe(&self, cmd: &Command) -> Result<Output, FactError> {
        let key = ReadKey::Probe(cmd.clone());
        if let Some(Answer::Command(out)) = self.reads.take(&key) {
            return Ok(out);
        }
        let out = self.conn.run(cmd)?;
        self.reads.record(key, &Answer::Command(out.clone()));
        Ok(out)
    }

    /// An HTTP read (a GET), recorded and served like a probe: `key` names it (method and
    /// URL), `fetch` asks the server. A failed fetch records nothing.
    pub fn http_read<E>(
        &self,
        key: &str,
        fetch: impl FnOnce() -> Result<(u16, Vec<u8>), E>,
    ) -> Result<(u16, Vec<u8>), E> {
        let key = ReadKey::Http(key.to_string());
        if let Some(Answer::Http(status, body)) = self.reads.take(&key) {
            return Ok((status, body));
        }
        let (status, body) = fetch()?;
        self.reads.record(key, &Answer::Http(status, body.clone()));
        Ok((status, body))
    }

    pub fn connector(&self) -> &Arc<dyn Connector> {
        &self.conn
    }

    /// Run a read command; a non-zero exit is an error carrying stderr.
    pub(crate) fn read_command(&self, argv: &[&str]) -> Result<Output, FactError> {
        let cmd = Command::new(argv.iter().copied());
        let out = self.host_run(&cmd)?;
        if !out.success() {
            return Err(FactError::Command {
                command: cmd.to_string(),
                code: out.code,
                stderr: out.stderr_str().trim_end().to_string(),
            });
        }
        Ok(out)
    }

    // ---- host files ----

    /// A host file, or `None` when absent.
    pub fn file(&self, path: &str) -> Result<Arc<Option<FileData>>, FactError> {
        self.files.cell(&path.to_string()).get(|| self.host_file(path))
    }

    // ---- ZFS ----

    pub fn pools(&self) -> Result<Arc<Vec<Pool>>, FactError> {
        self.pools.get(|| self.pools_uncached())
    }

    fn pools_uncached(&self) -> Result<Vec<Pool>, FactError> {
        let argv = ["zpool", "list", "-H", "-p", "-o", "name,size,alloc,free,health"];
        let out = self.read_command(&argv)?;
        let cmd = argv.join(" ");
        let rows = zfs::parse_zpool_list_h(&out.stdout_str(), &["name", "size", "alloc", "free", "health"])
            .map_err(|e| parse_err(&cmd, e))?;
        rows.iter()
            .map(|r| {
                Ok(Pool {
                    name: r["name"].clone(),
                    size: num(r, "size", &cmd)?,
                    alloc: num(r, "alloc", &cmd)?,
                    free: num(r, "free", &cmd)?,
                    health: r["health"].clone(),
                })
            })
            .collect()
    }

    fn load_datasets(&self) -> Result<BTreeMap<String, Dataset>, FactError> {
        let argv = ["zfs", "list", "-H", "-p", "-o", "name,type,used,avail,mountpoint", "-t", "filesystem,volume"];
        let out = self.read_command(&argv)?;
        let cmd = argv.join(" ");
        let rows = zfs::parse_zfs_list_h(&out.stdout_str(), &["name", "type", "used", "avail", "mountpoint"])
            .map_err(|e| parse_err(&cmd, e))?;
        rows.iter()
            .map(|r| {
                let d = Dataset {
                    name: r["name"].clone(),
                    kind: r["type"].clone(),
                    used: num(r, "used", &cmd)?,
                    avail: num(r, "avail", &cmd)?,
                    mountpoint: r["mountpoint"].clone(),
                };
                Ok((d.name.clone(), d))
            })
            .collect()
    }

    /// Every filesystem and volume, by name.
    pub fn datasets(&self) -> Result<Arc<BTreeMap<String, Dataset>>, FactError> {
        self.datasets.get(|| self.load_datasets())
    }

    /// Values of `props` on dataset `name`, reading from the host only those not read yet.
    /// A property of a dataset modelled in this dry-run that was never set reads as `None`.
    pub fn dataset_props(&self, name: &str, props: &[&str]) -> Result<Arc<DatasetProps>, FactError> {
        let cell = self.dataset_props.cell(&name.to_string());
        let have = cell.get(|| Ok::<_, FactError>(DatasetProps::default()))?;
        let missing: Vec<&str> = props.iter().copied().filter(|p| !have.values.contains_key(*p)).collect();
        if missing.is_empty() || have.modelled {
            return Ok(have);
        }
        let list = missing.join(",");
        let argv = ["zfs", "get", "-H", "-p", "-o", "name,property,value,source", list.as_str(), name];
        let out = self.read_command(&argv)?;
        let read = zfs::parse_zfs_get_h(&out.stdout_str()).map_err(|e| parse_err(&argv.join(" "), e))?;
        cell.update(
            || Ok::<_, FactError>(DatasetProps::default()),
            |p| {
                for r in read {
                    p.values.insert(r.property, (r.value, r.source));
                }
            },
        )?;
        cell.get(|| Ok::<_, FactError>(DatasetProps::default()))
    }

    // ---- storage ----

    /// `/etc/pve/storage.cfg`, parsed. (Read as a file: it holds every option, which
    /// `pvesm status` does not.)
    pub fn storages(&self) -> Result<Arc<IndexMap<String, pvesm::StorageDef>>, FactError> {
        self.storages.get(|| self.load_storages())
    }

    fn load_storages(&self) -> Result<IndexMap<String, pvesm::StorageDef>, FactError> {
        let file = self.host_file(STORAGE_CFG)?;
        let text = file.map(|f| String::from_utf8_lossy(&f.content).into_owned()).unwrap_or_default();
        pvesm::parse_storage_cfg(&text).map_err(|e| parse_err(STORAGE_CFG, e))
    }

    // ---- modelled effects ----

    /// Apply an action's modelled effect, so later reads see the state the action creates.
    pub fn apply(&self, effect: &effect::Effect) -> Result<(), FactError> {
        use effect::Effect;
        match effect {
            Effect::File { path, data } => {
                let cell = self.files.cell(path);
                cell.update(|| Ok::<_, FactError>(None), |v| *v = data.clone())?;
                if path == STORAGE_CFG {
                    self.storages.invalidate();
                }
            }
            Effect::ZfsPool { name } => {
                self.pools.update(
                    || self.pools_uncached(),
                    |all| {
                        all.push(Pool { name: name.clone(), size: 0, alloc: 0, free: 0, health: "ONLINE".into() });
                    },
                )?;
                self.apply(&Effect::ZfsDataset { name: name.clone(), properties: Vec::new() })?;
            }
            Effect::ZfsDataset { name, properties } => {
                let kind = if properties.iter().any(|(k, _)| k == "volsize") { "volume" } else { "filesystem" };
                let mountpoint = properties
                    .iter()
                    .find(|(k, _)| k == "mountpoint")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| format!("/{name}"));
                self.datasets.update(
                    || self.load_datasets(),
                    |all| {
                        all.insert(
                            name.clone(),
                            Dataset { name: name.clone(), kind: kind.into(), used: 0, avail: 0, mountpoint },
                        );
                    },
                )?;
                let cell = self.dataset_props.cell(name);
                cell.update(
                    || Ok::<_, FactError>(DatasetProps::default()),
                    |p| {
                        p.modelled = true;
                        for (k, v) in properties {
                            p.values.insert(k.clone(), (v.clone(), zfs::PropSource::Local));
                        }
                    },
                )?;
            }
            Effect::ZfsProperties { name, properties } => {
                let cell = self.dataset_props.cell(name);
                cell.update(
                    || Ok::<_, FactError>(DatasetProps::default()),
                    |p| {
                        for (k, v) in properties {
                            p.values.insert(k.clone(), (v.clone(), zfs::PropSource::Local));
                        }
                    },
                )?;
            }
            Effect::Storage { id, def } => {
                self.storages.update(
                    || self.load_storages(),
                    |all| match def {
                        Some(d) => {
                            all.insert(id.clone(), d.clone());
                        }
                        None => {
                            all.shift_remove(id);
                        }
                    },
                )?;
                // The file view of storage.cfg is derived; forget it rather than model it twice.
                self.files.invalidate(&STORAGE_CFG.to_string());
            }
            Effect::Guest { kind, id, change } => self.apply_guest(*id, *kind, change)?,
            Effect::Nothing => {}
        }
        Ok(())
    }
}
