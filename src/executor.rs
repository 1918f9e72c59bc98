//! The executor: the only place that knows the mode. Apply runs each action's steps through the
//! connector and journals them; dry-run runs nothing. Both then apply the action's modelled
//! effect to the facts, so later steps of the same plan see the state this one creates.
//! Also the parallel guest walk: guests whose prerequisites are done run concurrently.

use crate::command::Output;
use crate::connector::ConnectorError;
use crate::ops::{Action, Plan, Step};
use crate::report::journal::{now_rfc3339, JournalEntry};
use crate::report::progress::Progress;
use crate::report::{ActionStatus, Event, Level};
use crate::run::Run;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{subject}: `{step}` failed (exit {code}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    StepFailed { subject: String, step: String, code: i32, stderr: String },
    #[error("{subject}: {source}")]
    Connector { subject: String, source: ConnectorError },
    #[error("interrupted before `{subject}`")]
    Interrupted { subject: String },
    #[error("{subject}: {message}")]
    Model { subject: String, message: String },
    #[error("{subject}: {message}")]
    Http { subject: String, message: String },
}

/// What happened to an op's plan.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub changed: bool,
    pub actions: usize,
    /// What the last command of the last action printed (apply only; a dry-run runs nothing).
    pub output: Option<CommandOutput>,
}

/// Defined with the command it comes from, so ops (a lower layer) can return one too.
pub use crate::command::CommandOutput;

impl Run {
    /// Carry out an op's plan: report a no-op, or run (apply) / model (dry-run) each action.
    pub fn execute(&self, plan: Plan, guest: Option<u32>) -> Result<Outcome, ExecError> {
        if plan.actions.is_empty() {
            self.emit(Event::Noop { subject: plan.subject, reason: plan.noop_reason, guest });
            return Ok(Outcome::default());
        }
        let count = plan.actions.len();
        let mut output = None;
        for mut action in plan.actions {
            if action.guest.is_none() {
                action.guest = guest;
            }
            output = self.execute_action(action)?;
        }
        Ok(Outcome { changed: true, actions: count, output })
    }

    fn execute_action(&self, action: Action) -> Result<Option<CommandOutput>, ExecError> {
        if self.cancelled() {
            return Err(ExecError::Interrupted { subject: action.subject });
        }
        let steps: Vec<String> = action.steps.iter().map(Step::describe).collect();
        let event = |status, error, note, diff| Event::Action {
            change: action.change,
            subject: action.subject.clone(),
            reason: action.reason.clone(),
            guest: action.guest,
            steps: steps.clone(),
            status,
            error,
            note,
            diff,
        };
        let output = if self.dry_run {
            let diff = action
                .content_change
                .as_ref()
                .and_then(|c| crate::report::diff::file_diff(&c.path, c.old.as_deref(), &c.new, c.mode));
            self.emit(event(ActionStatus::Planned, None, action.note.clone(), diff));
            None
        } else {
            let started = now_rfc3339();
            // Whatever this action may change must be read from the host from now on, not
            // served from the rehearsal's recorded answers.
            for scope in base_scopes(&action) {
                self.facts.forget_base(&scope);
            }
            // Hold the serialisation key (e.g. one clone per source at a time) for the whole action.
            let key_lock = action.serialize_on.as_ref().map(|k| self.serial_lock(k));
            let _held = key_lock.as_ref().map(|m| match m.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            });
            let result = self.run_steps(&action);
            // Whatever it did (even half of it), reads inside those guests are stale now.
            action.guests_acted_on().into_iter().for_each(|id| self.facts.forget_inside(id));
            let error = result.as_ref().err().map(|e| e.to_string());
            if let Some(journal) = &self.journal {
                let entry = JournalEntry {
                    started,
                    finished: now_rfc3339(),
                    run_id: &self.id,
                    host: &self.host,
                    plan: &self.plan,
                    change: action.change,
                    subject: &action.subject,
                    reason: &action.reason,
                    guest: action.guest,
                    steps: steps.clone(),
                    ok: result.is_ok(),
                    error: error.clone(),
                };
                if let Err(e) = journal.record(&entry) {
                    self.emit(Event::Log { level: Level::Warn, message: e.to_string(), guest: action.guest });
                }
            }
            let status = if result.is_ok() { ActionStatus::Done } else { ActionStatus::Failed };
            self.emit(event(status, error, None, None));
            match result {
                Ok(output) => output,
                Err(e) => {
                    self.action_failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        };
        self.facts
            .apply(&action.effect)
            .map_err(|e| ExecError::Model { subject: action.subject.clone(), message: e.to_string() })?;
        Ok(output)
    }

    fn serial_lock(&self, key: &str) -> std::sync::Arc<Mutex<()>> {
        let mut map = match self.serial_locks.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.entry(key.to_string()).or_default().clone()
    }

    /// Run a host command, retrying while Proxmox reports a lock held by someone else (another
    /// clone from the same storage, a backup, pvestatd): those clear by themselves.
    fn run_retrying_locks(&self, command: &crate::command::Command) -> Result<Output, ConnectorError> {
        let mut delay = std::time::Duration::from_millis(LOCK_RETRY_FIRST_MS);
        let mut waited = std::time::Duration::ZERO;
        loop {
            let out = self.connector.run(command)?;
            if out.success()
                || !is_lock_error(&out.stderr_str())
                || waited >= std::time::Duration::from_secs(LOCK_RETRY_BUDGET_S)
            {
                return Ok(out);
            }
            if self.cancelled() {
                return Ok(out);
            }
            tracing::info!("{}: lock busy, retrying in {:?}", command, delay);
            std::thread::sleep(delay);
            waited += delay;
            delay = (delay * 2).min(std::time::Duration::from_secs(8));
        }
    }

    /// Run an action's steps in order; the output of the last command step is returned.
    fn run_steps(&self, action: &Action) -> Result<Option<CommandOutput>, ExecError> {
        let mut last = None;
        for step in &action.steps {
            let _progress = Progress::start(step.describe());
            if let Some(out) = self.run_step(&action.subject, step)? {
                last = Some(out);
            }
        }
        Ok(last)
    }

    /// Run one step; commands return their output.
    fn run_step(&self, subject: &str, step: &Step) -> Result<Option<CommandOutput>, ExecError> {
        let conn_err = |source| ExecError::Connector { subject: subject.to_string(), source };
        let failed = |step: String, code: i32, stderr: String| ExecError::StepFailed {
            subject: subject.to_string(),
            step,
            code,
            stderr,
        };
        match step {
            Step::Exec { command } => {
                let out: Output = self.run_retrying_locks(command).map_err(conn_err)?;
                if !out.success() {
                    return Err(failed(command.to_string(), out.code, out.stderr_str().trim_end().to_string()));
                }
                Ok(Some(CommandOutput::from(&out)))
            }
            Step::Guest { kind, command, .. } => {
                let out: Output = self.connector.run(command).map_err(conn_err)?;
                let result = crate::ops::guest::guest_output(*kind, command, &out)
                    .map_err(|e| failed(command.to_string(), out.code, e.to_string()))?;
                if result.code != 0 {
                    return Err(failed(command.to_string(), result.code, result.stderr.trim_end().to_string()));
                }
                Ok(Some(result))
            }
            Step::WriteFile { path, file } => {
                self.connector.write_file(path, file).map_err(conn_err)?;
                Ok(None)
            }
            Step::RemoveFile { path } => {
                self.connector.remove_file(path).map_err(conn_err)?;
                Ok(None)
            }
            // The answer goes to the call's own slot, not to an output (it may hold a secret).
            Step::Http { call } => {
                call.run().map_err(|e| ExecError::Http { subject: subject.to_string(), message: e.to_string() })?;
                Ok(None)
            }
            Step::CopyFromGuest { source, target } => {
                // Read the source now (it may have been made earlier in this run), then write it
                // with the same steps a push uses.
                let cat = vec!["cat".to_string(), source.path.clone()];
                let read = crate::ops::guest::in_guest_command(source.kind, source.id, &cat, None);
                let out = self.connector.run(&read).map_err(conn_err)?;
                let content = crate::ops::guest::guest_output(source.kind, &read, &out)
                    .map_err(|e| failed(read.to_string(), out.code, e.to_string()))?;
                if content.code != 0 {
                    return Err(failed(read.to_string(), content.code, content.stderr.trim_end().to_string()));
                }
                let want = crate::ops::guest::GuestFile {
                    path: target.path.clone(),
                    content: content.stdout.into_bytes(),
                    mode: target.mode,
                    owner: target.owner.clone(),
                    group: target.group.clone(),
                };
                for s in crate::ops::guest::write_steps(target.kind, target.id, &want) {
                    self.run_step(subject, &s)?;
                }
                Ok(None)
            }
        }
    }
}

/// What an action may change, as scopes of the rehearsal's recorded host answers to forget
/// before it runs. Generous on purpose: forgetting costs one read, a stale answer costs a
/// wrong decision. Each guest the action names is forgotten whole; a `pct`/`qm` command also
/// changes the listings and ZFS (a guest's disks are datasets); a host command phoenix does
/// not model (`exportfs`) may change anything, while a modelled one changes what its effect
/// says; a written host file that may be bind-mounted into a guest may change anything too.
fn base_scopes(action: &Action) -> Vec<crate::facts::base::Scope> {
    use crate::facts::base::{written_scope, Scope};
    use crate::facts::guests::GuestChange;
    use crate::ops::Effect;
    // Making a host directory or setting its owner (bind-mount sources) changes what was read
    // about that directory and the guest the action is for, whose mount it is; any other
    // unmodelled command may change anything.
    let host_dir_command =
        |s: &Step| matches!(s, Step::Exec { command } if matches!(command.program(), "mkdir" | "chown"));
    if action.effect == Effect::Nothing
        && action.steps.iter().any(|s| matches!(s, Step::Exec { .. }) && !host_dir_command(s))
    {
        return vec![Scope::All];
    }
    let mut scopes: Vec<Scope> = Vec::new();
    let mut add = |scope: Scope| {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    };
    if let Some(g) = action.guest {
        add(Scope::Guest(g));
    }
    match &action.effect {
        Effect::Guest { id, change, .. } => {
            add(Scope::Guest(*id));
            if !matches!(change, GuestChange::Check { .. } | GuestChange::File { .. }) {
                add(Scope::Listing);
            }
        }
        Effect::ZfsPool { .. } | Effect::ZfsDataset { .. } | Effect::ZfsProperties { .. } => add(Scope::Zfs),
        Effect::Storage { .. } => add(Scope::File(crate::facts::STORAGE_CFG.to_string())),
        Effect::File { path, .. } => add(written_scope(path)),
        Effect::Nothing => {}
    }
    for step in &action.steps {
        match step {
            Step::Guest { id, .. } => add(Scope::Guest(*id)),
            Step::CopyFromGuest { target, .. } => add(Scope::Guest(target.id)),
            Step::WriteFile { path, .. } | Step::RemoveFile { path } => add(written_scope(path)),
            Step::Http { .. } => add(Scope::Probe),
            Step::Exec { command } => match command.program() {
                // `pct clone 900 103`, `qm set 9000 …`: every guest id the command names.
                "pct" | "qm" => {
                    add(Scope::Listing);
                    add(Scope::Zfs);
                    for arg in &command.argv {
                        if let Ok(id) = arg.expose().parse::<u32>() {
                            add(Scope::Guest(id));
                        }
                    }
                }
                "zfs" | "zpool" => add(Scope::Zfs),
                // Bind-mount sources and export directories (`ops::dir`): the paths named.
                "mkdir" | "chown" => {
                    for arg in command.argv.iter().map(crate::command::Arg::expose) {
                        if arg.starts_with('/') {
                            add(Scope::HostDir(arg.to_string()));
                        }
                    }
                }
                "pvesm" => {
                    add(Scope::File(crate::facts::STORAGE_CFG.to_string()));
                    add(Scope::Zfs);
                }
                // Another command with a modelled effect (`curl -o <image>` → that file):
                // the effect says what it changes, as it does for the dry-run.
                _ if action.effect != Effect::Nothing => {}
                _ => add(Scope::Host),
            },
        }
    }
    if scopes.contains(&Scope::All) {
        return vec![Scope::All];
    }
    scopes
}

/// First wait and total budget for retrying lock errors.
const LOCK_RETRY_FIRST_MS: u64 = 250;
const LOCK_RETRY_BUDGET_S: u64 = 60;

/// Whether a failure is Proxmox saying a lock is held (retryable), per the contracts reference.
pub fn is_lock_error(stderr: &str) -> bool {
    stderr.contains("can't lock file")
        || stderr.contains("CT is locked")
        || stderr.contains("VM is locked")
        || (stderr.contains("got timeout") && stderr.contains("lock"))
        || stderr.contains("trying to acquire lock")
}

/// One line for the end of a walk: how many guests ended how, naming those that did not succeed.
fn walk_summary(outcomes: &[(u32, GuestOutcome)]) -> String {
    let mut parts = Vec::new();
    let ok = outcomes.iter().filter(|(_, o)| *o == GuestOutcome::Ok).count();
    parts.push(format!("{ok} ok"));
    for label in ["failed", "skipped"] {
        let ids: Vec<String> =
            outcomes.iter().filter(|(_, o)| o.label() == label).map(|(id, _)| id.to_string()).collect();
        if !ids.is_empty() {
            parts.push(format!("{} {label} ({})", ids.len(), ids.join(", ")));
        }
    }
    format!("guests: {}", parts.join(", "))
}

/// How one guest of a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestOutcome {
    Ok,
    Failed(String),
    /// Not started because a prerequisite failed (or the run stopped).
    Skipped(String),
}

impl GuestOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            GuestOutcome::Ok => "ok",
            GuestOutcome::Failed(_) => "failed",
            GuestOutcome::Skipped(_) => "skipped",
        }
    }
    pub fn detail(&self) -> &str {
        match self {
            GuestOutcome::Ok => "",
            GuestOutcome::Failed(d) | GuestOutcome::Skipped(d) => d,
        }
    }
}

struct WalkState {
    /// Prerequisites not yet finished, per guest still waiting.
    waiting_on: HashMap<u32, usize>,
    ready: BTreeSet<u32>,
    running: usize,
    outcomes: HashMap<u32, GuestOutcome>,
    stop: bool,
}

impl Run {
    /// Run `work` for every guest in the dependency closure of `targets`, prerequisites first,
    /// up to `self.parallel` at once. A failed guest skips its dependents; independent guests go
    /// on unless `fail_fast`. Returns every guest's outcome in dependency order.
    pub fn walk<F>(&self, targets: &[u32], work: F) -> Result<Vec<(u32, GuestOutcome)>, crate::graph::GraphError>
    where
        F: Fn(u32) -> Result<(), String> + Sync,
    {
        let order = self.graph.order(targets)?;
        let members: BTreeSet<u32> = order.iter().copied().collect();
        let mut waiting_on = HashMap::new();
        let mut ready = BTreeSet::new();
        for &id in &order {
            let n = self.graph.prerequisites(id).iter().filter(|(p, _)| members.contains(p)).count();
            if n == 0 {
                ready.insert(id);
            } else {
                waiting_on.insert(id, n);
            }
        }
        let state = Mutex::new(WalkState { waiting_on, ready, running: 0, outcomes: HashMap::new(), stop: false });
        let wake = Condvar::new();
        let lock = || match state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };

        let worker = || loop {
            let id = {
                let mut s = lock();
                loop {
                    if s.stop || self.cancelled() {
                        // Whatever has not started is skipped.
                        let pending: Vec<u32> = s.ready.iter().copied().chain(s.waiting_on.keys().copied()).collect();
                        for p in pending {
                            s.outcomes.entry(p).or_insert_with(|| GuestOutcome::Skipped("run stopped".into()));
                        }
                        s.ready.clear();
                        s.waiting_on.clear();
                    }
                    if let Some(&id) = s.ready.iter().next() {
                        s.ready.remove(&id);
                        s.running += 1;
                        break Some(id);
                    }
                    if s.running == 0 {
                        break None;
                    }
                    s = match wake.wait(s) {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    };
                }
            };
            let Some(id) = id else {
                wake.notify_all();
                return;
            };
            let started = std::time::Instant::now();
            let outcome = match work(id) {
                Ok(()) => GuestOutcome::Ok,
                Err(e) => GuestOutcome::Failed(e),
            };
            self.emit(Event::GuestFinished {
                guest: id,
                outcome: outcome.label().to_string(),
                detail: outcome.detail().to_string(),
                elapsed_ms: started.elapsed().as_millis() as u64,
            });
            let mut s = lock();
            s.running -= 1;
            let failed = outcome != GuestOutcome::Ok;
            s.outcomes.insert(id, outcome);
            if failed {
                if self.dry_run {
                    // A rehearsal changed nothing: a failed guest is a plan (or read) error,
                    // which fails the rehearsal, so there is no point going on with the others.
                    s.stop = true;
                } else {
                    // A guest that failed part-way has touched the host: the run failed (exit 1).
                    self.action_failed.store(true, Ordering::Relaxed);
                }
                if self.fail_fast {
                    s.stop = true;
                }
                // Every transitive dependent inside the walk is skipped, naming the cause.
                let mut stack = vec![id];
                while let Some(cur) = stack.pop() {
                    for (dep, _) in self.graph.dependents(cur) {
                        if s.waiting_on.remove(&dep).is_some() || s.ready.remove(&dep) {
                            s.outcomes.insert(dep, GuestOutcome::Skipped(format!("{id} failed")));
                            self.emit(Event::GuestFinished {
                                guest: dep,
                                outcome: "skipped".into(),
                                detail: format!("prerequisite {id} failed"),
                                elapsed_ms: 0,
                            });
                            stack.push(dep);
                        }
                    }
                }
            } else {
                for (dep, _) in self.graph.dependents(id) {
                    if let Some(n) = s.waiting_on.get_mut(&dep) {
                        *n -= 1;
                        if *n == 0 {
                            s.waiting_on.remove(&dep);
                            s.ready.insert(dep);
                        }
                    }
                }
            }
            drop(s);
            wake.notify_all();
        };

        std::thread::scope(|scope| {
            for _ in 0..self.parallel.min(order.len()).max(1) {
                scope.spawn(worker);
            }
        });
        let mut outcomes = match state.into_inner() {
            Ok(s) => s.outcomes,
            Err(p) => p.into_inner().outcomes,
        };
        let result: Vec<(u32, GuestOutcome)> = order
            .into_iter()
            .map(|id| {
                let o = outcomes.remove(&id).unwrap_or_else(|| GuestOutcome::Skipped("not reached".into()));
                (id, o)
            })
            .collect();
        self.emit(Event::Log { level: Level::Info, message: walk_summary(&result), guest: None });
        Ok(result)
    }
}

thread_local! {
    /// The guest whose `graph::walk` callback this thread is running, so actions and log lines
    /// are attributed to it without every API call naming it.
    static CURRENT_GUEST: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// The guest the current thread works for, if any.
pub fn current_guest() -> Option<u32> {
    CURRENT_GUEST.with(|g| g.get())
}

/// Run `f` attributed to guest `id`.
pub fn with_guest<R>(id: u32, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT_GUEST.with(|g| g.replace(Some(id)));
    // Its reads are noted (and batched) for it too.
    let r = crate::facts::batch::for_guest(id, f);
    CURRENT_GUEST.with(|g| g.set(prev));
    r
}

/// Poll `probe` until it yields a value or `timeout_s` passes: bounded, interruptible, with
/// progress on a TTY. Waits are for apply only; a dry-run never waits.
pub fn wait_for<T, E: Into<Box<rhai::EvalAltResult>>>(
    run: &Run,
    what: &str,
    timeout_s: i64,
    mut probe: impl FnMut() -> Result<Option<T>, E>,
) -> Result<T, Box<rhai::EvalAltResult>> {
    let _progress = Progress::start(what.to_string());
    let start = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(timeout_s.max(0) as u64);
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        if let Some(v) = probe().map_err(Into::into)? {
            return Ok(v);
        }
        if run.cancelled() {
            return Err(format!("{what}: interrupted").into());
        }
        if start.elapsed() >= limit {
            return Err(format!("{what}: gave up after {timeout_s}s").into());
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_secs(2));
    }
}
