//! The reporter: everything a run tells the operator. Human lines or JSON events on stdout, the
//! journal of executed actions in the state dir, and progress for long waits on a TTY.

pub mod ask;
pub mod diff;
pub mod escape;
pub mod event;
pub mod human;
pub mod journal;
pub mod progress;

pub use event::{ActionStatus, Event, Level};
pub use journal::Journal;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// How much human output to print: `-q` = summary and errors, default = changes, `-v` = also
/// unchanged items and the commands behind each action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Counts for the closing summary.
#[derive(Debug, Default)]
pub struct Tally {
    pub create: AtomicU64,
    pub update: AtomicU64,
    pub delete: AtomicU64,
    pub run: AtomicU64,
    pub failed: AtomicU64,
    pub unchanged: AtomicU64,
}

impl Tally {
    pub fn count(&self, change: crate::types::Change) {
        use crate::types::Change::*;
        let c = match change {
            Create => &self.create,
            Update => &self.update,
            Delete => &self.delete,
            Run => &self.run,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    pub fn changes(&self) -> u64 {
        Self::get(&self.create) + Self::get(&self.update) + Self::get(&self.delete) + Self::get(&self.run)
    }
}

/// Writes events to stdout in the chosen format. Shared by all threads of a run; each event is
/// written whole under one lock so parallel guests never interleave within a line.
pub struct Reporter {
    format: OutputFormat,
    verbosity: Verbosity,
    color: bool,
    dry_run: bool,
    out: Mutex<Box<dyn Write + Send>>,
    pub tally: Tally,
}

impl Reporter {
    pub fn new(
        format: OutputFormat,
        verbosity: Verbosity,
        dry_run: bool,
        out: Box<dyn Write + Send>,
        color: bool,
    ) -> Self {
        Reporter { format, verbosity, color, dry_run, out: Mutex::new(out), tally: Tally::default() }
    }

    /// A reporter printing to stdout, colour only on a TTY without `NO_COLOR`.
    pub fn stdout(format: OutputFormat, verbosity: Verbosity, dry_run: bool) -> Self {
        use std::io::IsTerminal;
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self::new(format, verbosity, dry_run, Box::new(std::io::stdout()), color)
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    pub fn emit(&self, event: &Event) {
        if let Event::Action { change, status, .. } = event {
            match status {
                ActionStatus::Failed => {
                    self.tally.failed.fetch_add(1, Ordering::Relaxed);
                }
                _ => self.tally.count(*change),
            }
        }
        if let Event::Noop { .. } = event {
            self.tally.unchanged.fetch_add(1, Ordering::Relaxed);
        }
        let text = match self.format {
            OutputFormat::Json => match serde_json::to_string(event) {
                Ok(line) => Some(line + "\n"),
                Err(e) => Some(format!("{{\"event\":\"error\",\"message\":\"cannot encode event: {e}\"}}\n")),
            },
            OutputFormat::Human => human::render(event, self.verbosity, self.color, self.dry_run),
        };
        if let Some(text) = text {
            let mut out = match self.out.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            // A closed stdout (e.g. `| head`) must not abort the run half-way: ignore write errors.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

static RUN_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A run id unique enough to group journal lines: start time in ms plus pid plus a counter.
pub fn new_run_id() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{ms:x}-{}-{}", std::process::id(), RUN_COUNTER.fetch_add(1, Ordering::Relaxed))
}
