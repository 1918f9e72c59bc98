//! A run: one plan against one host. Holds everything API functions need (connector, facts,
//! reporter, journal, inventory, graph) and the run-wide flags (dry-run, parallelism, cancel).
//!
//! Every plan is run twice (the `rehearse` module, a layer above, runs both): a dry-run
//! *rehearsal*, then — only if it finished without error — the *apply*. The rehearsal hands the
//! apply its base facts (the host's answers, so the apply does not read them again) and the
//! confirmations the operator already gave after seeing the rehearsal.

use crate::connector::Connector;
use crate::facts::base::BaseFacts;
use crate::facts::Facts;
use crate::graph::GuestGraph;
use crate::inventory::Inventory;
use crate::report::{Event, Journal, Reporter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub struct Run {
    pub id: String,
    /// The plan being run, for output and the journal (`setup`, `plans/x.rhai`).
    pub plan: String,
    pub host: String,
    pub dry_run: bool,
    /// The dry-run that precedes an apply (not an operator's `--dry-run`): a plan may let
    /// failures it contains (a sync stage) pass here so the apply still runs the rest.
    pub rehearsal: bool,
    /// Guests converged at once by `graph::walk`.
    pub parallel: usize,
    /// Stop every guest at the first failure instead of only the failed guest's dependents.
    pub fail_fast: bool,
    /// `--yes`: destructive plans proceed without asking.
    pub yes: bool,
    pub connector: Arc<dyn Connector>,
    pub facts: Facts,
    pub reporter: Reporter,
    pub journal: Option<Journal>,
    pub inventory: Arc<Inventory>,
    pub graph: Arc<GuestGraph>,
    /// Set by Ctrl-C: finish the command in flight, start nothing new.
    pub cancel: Arc<AtomicBool>,
    /// Set when a host action failed: the run exits 1 (not 2, which means invalid input).
    pub action_failed: AtomicBool,
    pub started: Instant,
    /// Keys of actions that must not overlap (see `Action::serialize_on`).
    pub serial_locks: std::sync::Mutex<std::collections::HashMap<String, Arc<std::sync::Mutex<()>>>>,
    /// Guests an action of this run changed (or, in a dry-run, would change).
    pub touched: std::sync::Mutex<std::collections::HashSet<u32>>,
    /// Questions `host::confirm` asked, in order (a dry-run answers yes and only notes them).
    pub confirmations: std::sync::Mutex<Vec<String>>,
    /// Questions the operator already answered yes to, after seeing the rehearsal.
    pub approved: std::collections::HashSet<String>,
    /// The state dir (credentials phoenix made live there); `None` in tests without one.
    pub state_dir: Option<std::path::PathBuf>,
}

/// Options a run is built with (from the CLI, or from a test or benchmark).
pub struct RunOptions {
    pub plan: String,
    pub dry_run: bool,
    /// See [`Run::rehearsal`].
    pub rehearsal: bool,
    pub parallel: usize,
    pub fail_fast: bool,
    pub yes: bool,
    pub journal: Option<Journal>,
    pub cancel: Arc<AtomicBool>,
    /// An apply's starting facts, from the rehearsal before it (`None`: read the host).
    pub base: Option<BaseFacts>,
    /// Confirmations already given (see [`Run::approved`]).
    pub approved: std::collections::HashSet<String>,
    /// See [`Run::state_dir`].
    pub state_dir: Option<std::path::PathBuf>,
}

impl Run {
    pub fn new(
        opts: RunOptions,
        connector: Arc<dyn Connector>,
        reporter: Reporter,
        inventory: Arc<Inventory>,
        graph: Arc<GuestGraph>,
    ) -> Run {
        let host = connector.describe();
        Run {
            id: crate::report::new_run_id(),
            plan: opts.plan,
            host,
            dry_run: opts.dry_run,
            rehearsal: opts.rehearsal,
            parallel: opts.parallel.max(1),
            fail_fast: opts.fail_fast,
            yes: opts.yes,
            facts: match (opts.dry_run, opts.base) {
                (true, _) => Facts::rehearsal(connector.clone()),
                (false, Some(base)) => Facts::with_base(connector.clone(), base),
                (false, None) => Facts::new(connector.clone(), false),
            },
            connector,
            reporter,
            journal: opts.journal,
            inventory,
            graph,
            cancel: opts.cancel,
            action_failed: AtomicBool::new(false),
            started: Instant::now(),
            serial_locks: Default::default(),
            touched: Default::default(),
            confirmations: Default::default(),
            approved: opts.approved,
            state_dir: opts.state_dir,
        }
    }

    /// `host::confirm`: whether to go on with something destructive. A dry-run notes the
    /// question and says yes (it changes nothing; the operator is asked once, after it). An
    /// apply says yes with `--yes` or when the question was approved after the rehearsal, asks
    /// on a terminal otherwise, and refuses without one.
    pub fn confirm(&self, question: &str) -> Result<bool, String> {
        if self.dry_run {
            let mut asked = match self.confirmations.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if !asked.iter().any(|q| q == question) {
                asked.push(question.to_string());
            }
            return Ok(true);
        }
        if self.yes || self.approved.contains(question) {
            return Ok(true);
        }
        crate::report::ask::ask(question)
    }

    /// The questions a dry-run met, in order.
    pub fn questions(&self) -> Vec<String> {
        match self.confirmations.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn emit(&self, event: Event) {
        if let Event::Action { guest: Some(g), .. } = &event {
            match self.touched.lock() {
                Ok(mut t) => t.insert(*g),
                Err(p) => p.into_inner().insert(*g),
            };
        }
        self.reporter.emit(&event);
    }

    /// Whether an action of this run changed the guest (planned it, in a dry-run).
    pub fn touched(&self, id: u32) -> bool {
        match self.touched.lock() {
            Ok(t) => t.contains(&id),
            Err(p) => p.into_inner().contains(&id),
        }
    }

    pub fn start(&self) {
        self.emit(Event::RunStarted {
            run_id: self.id.clone(),
            plan: self.plan.clone(),
            host: self.host.clone(),
            dry_run: self.dry_run,
        });
    }

    /// Emit the closing summary and return the exit code it reports.
    pub fn finish(&self, script_failed: bool) -> i32 {
        use crate::report::Tally;
        let t = &self.reporter.tally;
        let interrupted = self.cancelled();
        let exit_code = if interrupted {
            130
        } else if self.action_failed.load(Ordering::Relaxed) || Tally::get(&t.failed) > 0 {
            1
        } else if script_failed && !self.dry_run {
            // The rehearsal passed, so a plan that stops in the apply stopped on what the host
            // did (a check after an action): a failure on the host, and things did run.
            1
        } else if script_failed {
            2
        } else {
            0
        };
        self.emit(Event::RunFinished {
            created: Tally::get(&t.create),
            updated: Tally::get(&t.update),
            deleted: Tally::get(&t.delete),
            ran: Tally::get(&t.run),
            failed: Tally::get(&t.failed),
            unchanged: Tally::get(&t.unchanged),
            interrupted,
            duration_ms: self.started.elapsed().as_millis() as u64,
            exit_code,
        });
        exit_code
    }
}
