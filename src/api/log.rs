//! `log::` — messages and stage headings in the run's output.

use super::{at, Ctx, Namespace, Res};
use crate::report::{Event, Level};
use rhai::{Dynamic, NativeCallContext};

fn emit(ctx: &Ctx, level: Level, message: &str) {
    let guest = crate::executor::current_guest();
    match ctx.run() {
        Ok(run) => run.emit(Event::Log { level, message: message.to_string(), guest }),
        // No run (e.g. `phoenix check`): still say it, through tracing.
        Err(_) => tracing::info!(target: "plan", "{message}"),
    }
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("log", "Messages and stage headings in the run's output.");
    let c = ctx.clone();
    ns.add("info", &["message: String"], "Print an informational line.", move |m: &str| emit(&c, Level::Info, m));
    let c = ctx.clone();
    ns.add("warn", &["message: String"], "Print a warning (also shown with -q).", move |m: &str| {
        emit(&c, Level::Warn, m)
    });
    let c = ctx.clone();
    ns.add("error", &["message: String"], "Print an error line without stopping the plan.", move |m: &str| {
        emit(&c, Level::Error, m)
    });
    let c = ctx.clone();
    ns.add(
        "detail",
        &["message: String"],
        "Print a line shown only with -v (not `debug`: that is a Rhai keyword).",
        move |m: &str| emit(&c, Level::Debug, m),
    );
    let c = ctx.clone();
    ns.add(
        "stage",
        &["title: String"],
        "Start a new stage: a heading that groups the lines after it.",
        move |t: &str| {
            if let Ok(run) = c.run() {
                run.emit(Event::Stage { title: t.to_string() });
            }
        },
    );
    let c = ctx.clone();
    ns.add(
        "row",
        &["text: String", "data: Map", "-> ()"],
        "Report one row of a table (e.g. `status`): human output prints `text` (the plan lays it out); \
         --output json emits {\"event\":\"row\",\"text\":…,\"row\":data} for scripts to consume.",
        move |nc: NativeCallContext, text: &str, data: rhai::Map| -> Res<()> {
            at(&nc, || {
                let run = c.run()?;
                let json: serde_json::Value = rhai::serde::from_dynamic(&Dynamic::from(data))?;
                run.emit(Event::Row { text: text.to_string(), row: json });
                Ok(())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "fail",
        &["message: String", "-> ()"],
        "Stop the plan and fail the run with exit code 1 (a failed check, not invalid input).",
        move |nc: NativeCallContext, message: &str| -> Res<()> {
            at(&nc, || {
                let run = c.run()?;
                run.action_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                // Shown as the operator's message (script frames only with -v), like fail().
                Err(crate::api::operator::raise(message, None))
            })
        },
    );
    ns
}
