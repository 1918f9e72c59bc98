//! `log::` — messages and stage headings in the run's output.

use super::{Ctx, Namespace};
use crate::report::{Event, Level};

fn emit(ctx: &Ctx, level: Level, message: &str) {
    let guest = crate::executor::current_guest();
    match ctx.run() {
        Ok(run) => run.emit(Event::Log {
            level,
            message: message.to_string(),
            guest,
        }),
        // No run (e.g. `phoenix check`): still say it, through tracing.
        Err(_) => tracing::info!(target: "plan", "{message}"),
    }
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("log", "Messages and stage headings in the run's output.");
    let c = ctx.clone();
    ns.add(
        "info",
        &["message: String"],
        "Print an informational line.",
        move |m: &str| emit(&c, Level::Info, m),
    );
    let c = ctx.clone();
    ns.add(
        "warn",
        &["message: String"],
        "Print a warning (also shown with -q).",
        move |m: &str| emit(&c, Level::Warn, m),
    );
    let c = ctx.clone();
    ns.add(
        "error",
        &["message: String"],
        "Print an error line without stopping the plan.",
        move |m: &str| emit(&c, Level::Error, m),
    );
    let c = ctx.clone();
    ns.add(
        "debug",
        &["message: String"],
        "Print a line shown only with -v.",
        move |m: &str| emit(&c, Level::Debug, m),
    );
    let c = ctx.clone();
    ns.add(
        "stage",
        &["title: String"],
        "Start a new stage: a heading that groups the lines after it.",
        move |t: &str| {
            if let Ok(run) = c.run() {
                run.emit(Event::Stage {
                    title: t.to_string(),
                });
            }
        },
    );
    ns
}
