//! Rehearse, then apply: how a plan runs against a host.
//!
//! Every run first *rehearses* the plan: the same plan evaluated as a dry-run (reads go to the
//! host, every action is modelled into the facts overlay, nothing mutating is sent), with its
//! output held back. A plan bug the compiler cannot see — a misspelled method or property, an
//! unknown option key, a wrong argument type, a `throw` from the API's validation, an error in
//! one guest's `graph::walk` callback — therefore ends the run before the first mutating
//! command, with the diagnostic and exit 2. Only a rehearsal that finished without error is
//! applied; the apply starts from the rehearsal's base facts, so the host is not read twice.
//!
//! `--dry-run` is the rehearsal with its output printed, and no apply. `--confirm` shows the
//! rehearsal and asks before applying; a plan's own `host::confirm` questions are asked once,
//! here, after the rehearsal, never again during the apply.

use crate::api::Ctx;
use crate::cli::{Global, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK};
use crate::connector::Connector;
use crate::graph::GuestGraph;
use crate::inventory::Inventory;
use crate::project::resolver::Found;
use crate::report::ask::ask;
use crate::report::{Journal, OutputFormat, Reporter, Verbosity};
use crate::run::{Run, RunOptions};
use crate::script::{Limits, Scripts};
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Benchmarks only: `PHOENIX_NO_REHEARSAL=1` applies without rehearsing, to measure what the
/// rehearsal costs. It gives up the guarantee that a plan bug changes nothing, and says so.
const NO_REHEARSAL_ENV: &str = "PHOENIX_NO_REHEARSAL";

/// Everything needed to run one compiled plan against one connected, locked host.
pub struct PlanJob<'a> {
    pub global: &'a Global,
    pub verbosity: Verbosity,
    /// The plan for output and the journal (`setup`, `plans/x.rhai`).
    pub label: String,
    pub args: crate::script::params::PlanArgs,
    /// Where plans/ and stdlib/ are looked up (the apply builds its own engine from it).
    pub project_root: Option<PathBuf>,
    pub inventory: Arc<Inventory>,
    pub graph: Arc<GuestGraph>,
    pub connector: Arc<dyn Connector>,
    pub state_dir: PathBuf,
    pub cancel: Arc<AtomicBool>,
    /// The engine the plan was compiled and checked with; the rehearsal runs on it.
    pub scripts: Scripts,
    pub ctx: Ctx,
    pub found: Found,
    pub ast: rhai::AST,
}

/// Output held back while rehearsing: shown only if the operator is asked, or if the
/// rehearsal failed on the host (a failed health check).
#[derive(Clone, Default)]
struct HeldOutput(Arc<Mutex<Vec<u8>>>);

impl HeldOutput {
    fn take(&self) -> Vec<u8> {
        match self.0.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    /// Print what was held to stdout (a closed stdout is not an error here).
    fn show(&self) {
        let text = self.take();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&text);
        let _ = out.flush();
    }
}

impl Write for HeldOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut g) => g.extend_from_slice(buf),
            Err(p) => p.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What to do after the rehearsal.
enum Decision {
    /// Apply, with these questions already answered yes.
    Apply(HashSet<String>),
    /// Stop with this exit code; nothing was applied.
    Stop(i32),
}

fn run_options(job: &PlanJob, dry_run: bool, journal: Option<Journal>) -> RunOptions {
    let g = job.global;
    RunOptions {
        plan: job.label.clone(),
        dry_run,
        rehearsal: dry_run && !g.dry_run,
        parallel: g.parallel as usize,
        fail_fast: g.fail_fast,
        yes: g.yes,
        journal,
        cancel: job.cancel.clone(),
        base: None,
        approved: HashSet::new(),
        state_dir: Some(job.state_dir.clone()),
    }
}

fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Run the plan: rehearse, then (unless `--dry-run`, or the rehearsal failed, or the operator
/// declined) apply. Returns the exit code.
pub fn run_plan(job: PlanJob) -> i32 {
    let g = job.global;
    if !g.dry_run && std::env::var_os(NO_REHEARSAL_ENV).is_some_and(|v| v == "1") {
        tracing::warn!("{NO_REHEARSAL_ENV}=1: applying without a rehearsal (for benchmarks only)");
        let (scripts, ctx, found, ast) = (&job.scripts, &job.ctx, &job.found, &job.ast);
        return apply(&job, scripts, ctx, found, ast, None, HashSet::new());
    }

    let held = HeldOutput::default();
    let reporter = if g.dry_run {
        Reporter::stdout(g.output, job.verbosity, true)
    } else {
        Reporter::new(g.output, job.verbosity, true, Box::new(held.clone()), stdout_color())
    };
    let rehearsal = Arc::new(Run::new(
        run_options(&job, true, None),
        job.connector.clone(),
        reporter,
        job.inventory.clone(),
        job.graph.clone(),
    ));
    if let Err(e) = job.ctx.install(rehearsal.clone()) {
        crate::stderr::plain_error(&e, None);
        return crate::cli::EXIT_FAILED;
    }
    // The reads each guest needed last time are fetched in one round trip per guest.
    let read_plan = crate::facts::batch::ReadPlan::path(&job.state_dir, &job.label);
    rehearsal.facts.expect_reads(crate::facts::batch::ReadPlan::load_or_borrow(&read_plan, &rehearsal.host));
    rehearsal.start();
    let mut scope = Scripts::plan_scope(&job.args, true, &rehearsal.host);
    let result = job.scripts.run(&job.ast, &job.found.name, &mut scope);
    let code = exit_code(rehearsal.finish(result.is_err()), &result);
    if result.is_ok() {
        let made = crate::facts::batch::ReadPlan { host: rehearsal.host.clone(), guests: rehearsal.facts.reads_made() };
        if let Err(e) = made.save(&read_plan) {
            tracing::debug!("{}: {e} (the next run reads one by one)", read_plan.display());
        }
    }
    let interrupted = rehearsal.cancelled();
    if let Err(d) = &result {
        if !interrupted {
            if code != crate::cli::EXIT_INVALID && !g.dry_run {
                // Failed on the host (a check said so): what the rehearsal saw explains it.
                held.show();
            }
            report_script_error(d, job.verbosity);
        }
    }
    if g.dry_run {
        return code;
    }
    if interrupted {
        eprintln!("interrupted during the rehearsal: nothing was applied");
        return EXIT_INTERRUPTED;
    }
    if code != EXIT_OK {
        // Exit 2 already says "nothing was run" (and the diagnostic what to fix); a rehearsal
        // that failed on the host (exit 1) would otherwise read like a failed apply.
        if code != EXIT_INVALID {
            eprintln!("the rehearsal of `{}` failed: nothing was applied to {}", job.label, rehearsal.host);
        }
        return code;
    }

    let approved = match approve(g, &rehearsal, &held) {
        Decision::Apply(approved) => approved,
        Decision::Stop(code) => return code,
    };
    let base = rehearsal.facts.base_snapshot();
    drop(rehearsal);

    // A fresh engine for the apply: the rehearsal's is bound to the rehearsal run, and
    // modules evaluated during the rehearsal must not carry its state into the apply.
    let ctx = Ctx::default();
    let scripts = Scripts::new(job.project_root.clone(), ctx.clone(), Limits::from_env(), job.cancel.clone());
    let ast = match scripts.compile(&job.found) {
        Ok(a) => a,
        Err(d) => {
            crate::stderr::report_diagnostic(&d);
            return EXIT_INVALID;
        }
    };
    apply(&job, &scripts, &ctx, &job.found, &ast, Some(base), approved)
}

/// The apply: the plan run for real, from the rehearsal's base facts.
fn apply(
    job: &PlanJob,
    scripts: &Scripts,
    ctx: &Ctx,
    found: &Found,
    ast: &rhai::AST,
    base: Option<crate::facts::base::BaseFacts>,
    approved: HashSet<String>,
) -> i32 {
    let g = job.global;
    let journal = Some(Journal::new(&job.state_dir.join("journal.jsonl")));
    let mut opts = run_options(job, false, journal);
    opts.base = base;
    opts.approved = approved;
    let reporter = Reporter::stdout(g.output, job.verbosity, false);
    let run = Arc::new(Run::new(opts, job.connector.clone(), reporter, job.inventory.clone(), job.graph.clone()));
    if let Err(e) = ctx.install(run.clone()) {
        crate::stderr::plain_error(&e, None);
        return crate::cli::EXIT_FAILED;
    }
    run.start();
    let mut scope = Scripts::plan_scope(&job.args, false, &run.host);
    let result = scripts.run(ast, &found.name, &mut scope);
    // What each guest read in the apply replaces what its rehearsal read (before changes).
    let made = run.facts.reads_made();
    if !made.is_empty() {
        let path = crate::facts::batch::ReadPlan::path(&job.state_dir, &job.label);
        let mut plan = crate::facts::batch::ReadPlan::load(&path, &run.host);
        plan.guests.extend(made);
        if let Err(e) = plan.save(&path) {
            tracing::debug!("{}: {e} (the next run reads one by one)", path.display());
        }
    }
    if let Err(d) = &result {
        if d.kind != crate::script::diagnostic::ScriptErrorKind::Interrupted {
            report_script_error(d, job.verbosity);
        }
    }
    exit_code(run.finish(result.is_err()), &result)
}

/// The run's exit code, except that a connection lost mid-command is a failure on the host
/// (exit 1), not bad input (exit 2): the operator fixes the network, not the plan.
fn exit_code<T>(code: i32, result: &Result<T, crate::script::diagnostic::ScriptDiagnostic>) -> i32 {
    match result {
        Err(d) if d.kind == crate::script::diagnostic::ScriptErrorKind::HostLost => crate::cli::EXIT_FAILED,
        _ => code,
    }
}

/// A plan's error as the operator should read it: an operator error (`fail(…)`) as its message
/// and hint, with the script frame only under `-v`; a plan bug with its frames.
fn report_script_error(d: &crate::script::diagnostic::ScriptDiagnostic, verbosity: Verbosity) {
    let short = d.operator_message(verbosity == Verbosity::Verbose);
    crate::stderr::report_diagnostic(short.as_ref().unwrap_or(d));
}

/// After a clean rehearsal: whether to apply, asking the operator where the plan or
/// `--confirm` wants it. Each question is asked once, here, with the rehearsal shown first.
fn approve(g: &Global, rehearsal: &Run, held: &HeldOutput) -> Decision {
    let questions = rehearsal.questions();
    if g.confirm {
        let changes = rehearsal.reporter.tally.changes();
        held.show();
        if changes == 0 {
            let text = format!("nothing to change on {}: nothing to apply", rehearsal.host);
            if g.output == OutputFormat::Json {
                eprintln!("{text}");
            } else {
                println!("{text}");
            }
            return Decision::Stop(EXIT_OK);
        }
        if !g.yes {
            let plural = if changes == 1 { "" } else { "s" };
            let question = format!("Apply these {changes} change{plural} to {}?", rehearsal.host);
            match ask(&question) {
                Ok(true) => {}
                Ok(false) => return declined(),
                Err(e) => {
                    crate::stderr::plain_error(&e, Some("--yes applies without asking"));
                    return Decision::Stop(EXIT_INVALID);
                }
            }
        }
        // The operator approved the whole plan, the plan's own questions included.
        return Decision::Apply(questions.into_iter().collect());
    }
    if questions.is_empty() || g.yes {
        return Decision::Apply(HashSet::new());
    }
    if !std::io::stdin().is_terminal() {
        crate::stderr::plain_error(
            &format!("{} — not confirmed: nothing was applied", questions.join("; ")),
            Some("pass --yes to confirm without a terminal"),
        );
        return Decision::Stop(EXIT_INVALID);
    }
    // Show what will happen, then ask what the plan asks.
    held.show();
    for q in &questions {
        match ask(q) {
            Ok(true) => {}
            Ok(false) => return declined(),
            Err(e) => {
                crate::stderr::plain_error(&e, None);
                return Decision::Stop(EXIT_INVALID);
            }
        }
    }
    Decision::Apply(questions.into_iter().collect())
}

fn declined() -> Decision {
    eprintln!("not confirmed: nothing was applied");
    Decision::Stop(EXIT_INVALID)
}
