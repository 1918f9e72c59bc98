//! Human rendering of events: one glyph per change kind, grouped lines, a closing summary.

use super::escape::{lines, one_line};
use super::{ActionStatus, Event, Level, Verbosity};

const RESET: &str = "\x1b[0m";

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}{RESET}")
    } else {
        text.to_string()
    }
}

fn guest_prefix(guest: &Option<u32>) -> String {
    guest.map(|g| format!("[{g}] ")).unwrap_or_default()
}

/// The text for one event, or `None` when this verbosity hides it.
pub fn render(event: &Event, verbosity: Verbosity, color: bool, dry_run: bool) -> Option<String> {
    match event {
        Event::RunStarted { plan, host, dry_run, .. } => (verbosity > Verbosity::Quiet).then(|| {
            let mode = if *dry_run { " (dry-run: nothing will be changed)" } else { "" };
            paint(color, "1", &format!("phoenix {} on {}{mode}", one_line(plan), one_line(host))) + "\n"
        }),
        Event::Stage { title } => {
            (verbosity > Verbosity::Quiet).then(|| paint(color, "1", &format!("\n== {}", one_line(title))) + "\n")
        }
        Event::Action { change, subject, reason, guest, steps, status, error, note, diff } => {
            let glyph = match status {
                ActionStatus::Failed => paint(color, "31", "✗"),
                _ => paint(
                    color,
                    match change {
                        crate::types::Change::Create => "32",
                        crate::types::Change::Update => "33",
                        crate::types::Change::Delete => "31",
                        crate::types::Change::Run => "36",
                    },
                    change.glyph(),
                ),
            };
            let mut text = format!("{glyph} {}{} ({})\n", guest_prefix(guest), one_line(subject), one_line(reason));
            if let Some(n) = note {
                text.push_str(&format!("    {}\n", paint(color, "2", &format!("note: {}", one_line(n)))));
            }
            if verbosity > Verbosity::Quiet || *status == ActionStatus::Failed {
                for s in steps {
                    text.push_str(&format!("    {}\n", paint(color, "2", &one_line(s))));
                }
                if let Some(e) = error {
                    for line in lines(e).lines() {
                        text.push_str(&format!("    {}\n", paint(color, "31", line)));
                    }
                }
                if let Some(d) = diff.as_ref().filter(|_| dry_run) {
                    for line in d.lines() {
                        let code = match line.as_bytes().first() {
                            _ if line.starts_with("+++") || line.starts_with("---") => "1",
                            Some(b'+') => "32",
                            Some(b'-') => "31",
                            Some(b'@') => "36",
                            _ => "2",
                        };
                        text.push_str(&format!("      {}\n", paint(color, code, &one_line(line))));
                    }
                }
                Some(text)
            } else {
                None
            }
        }
        Event::Noop { subject, reason, guest } => (verbosity >= Verbosity::Verbose).then(|| {
            paint(color, "2", &format!("· {}{} ({})", guest_prefix(guest), one_line(subject), one_line(reason))) + "\n"
        }),
        Event::Log { level, message, guest } => {
            let show = match level {
                Level::Debug => verbosity >= Verbosity::Verbose,
                Level::Info => verbosity > Verbosity::Quiet,
                Level::Warn | Level::Error => true,
            };
            show.then(|| {
                let tag = match level {
                    Level::Debug => paint(color, "2", "debug: "),
                    Level::Info => String::new(),
                    Level::Warn => paint(color, "33", "warning: "),
                    Level::Error => paint(color, "31", "error: "),
                };
                format!("{tag}{}{}\n", guest_prefix(guest), lines(message))
            })
        }
        Event::Row { text, .. } => (verbosity > Verbosity::Quiet).then(|| format!("{}\n", lines(text))),
        Event::GuestFinished { guest, outcome, detail, elapsed_ms } => {
            let show = verbosity >= Verbosity::Verbose || outcome != "ok";
            show.then(|| {
                let o = match outcome.as_str() {
                    "ok" => paint(color, "32", outcome),
                    _ => paint(color, "31", outcome),
                };
                let took =
                    if *elapsed_ms >= 1000 { format!(" ({:.1}s)", *elapsed_ms as f64 / 1000.0) } else { String::new() };
                if detail.is_empty() {
                    format!("[{guest}] {o}{took}\n")
                } else {
                    format!("[{guest}] {o}{took}: {}\n", lines(detail))
                }
            })
        }
        Event::RunFinished { created, updated, deleted, ran, failed, unchanged, interrupted, duration_ms, .. } => {
            // A read-only plan (status, inspect) has nothing to sum up.
            if created + updated + deleted + ran + failed + unchanged == 0 && !*interrupted {
                return None;
            }
            let secs = *duration_ms as f64 / 1000.0;
            let mut line = if dry_run {
                format!(
                    "Plan: {created} to create, {updated} to update, {deleted} to delete, {ran} to run ({unchanged} unchanged)"
                )
            } else {
                format!("Applied: {created} created, {updated} updated, {deleted} deleted, {ran} run ({unchanged} unchanged)")
            };
            if *failed > 0 {
                line.push_str(&format!(", {failed} failed"));
            }
            if *interrupted {
                line.push_str(", interrupted");
            }
            line.push_str(&format!(" in {secs:.2}s"));
            let code = if *failed > 0 || *interrupted { "31" } else { "1" };
            Some(format!("\n{}\n", paint(color, code, &line)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Change;

    #[test]
    fn action_line_shows_glyph_reason_and_steps() {
        let e = Event::Action {
            change: Change::Update,
            subject: "zfs dataset tank/a".into(),
            reason: "compression: off → lz4".into(),
            guest: None,
            steps: vec!["zfs set compression=lz4 tank/a".into()],
            status: ActionStatus::Planned,
            error: None,
            note: None,
            diff: None,
        };
        assert_eq!(
            render(&e, Verbosity::Normal, false, true).unwrap(),
            "~ zfs dataset tank/a (compression: off → lz4)\n    zfs set compression=lz4 tank/a\n"
        );
        assert_eq!(render(&e, Verbosity::Quiet, false, true), None);
    }

    #[test]
    fn config_values_cannot_drive_the_terminal() {
        let e = Event::Action {
            change: Change::Create,
            subject: "ct 101 \x1b[2J".into(),
            reason: "absent\rfake ok".into(),
            guest: Some(101),
            steps: vec!["pct create 101 --hostname a\x1b]0;title\x07".into()],
            status: ActionStatus::Failed,
            error: Some("line one\nline \x1b[31mtwo".into()),
            note: None,
            diff: None,
        };
        let text = render(&e, Verbosity::Normal, false, false).unwrap();
        assert!(!text.contains('\x1b') && !text.contains('\r') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("ct 101 \\x1b[2J (absent\\rfake ok)"), "{text}");
        assert!(text.contains("    line \\x1b[31mtwo\n"), "{text}");
        let log = Event::Log { level: Level::Warn, message: "x\x1b[8mhidden".into(), guest: None };
        assert_eq!(render(&log, Verbosity::Normal, false, false).unwrap(), "warning: x\\x1b[8mhidden\n");
    }

    #[test]
    fn noop_only_when_verbose() {
        let e = Event::Noop { subject: "file /x".into(), reason: "matches".into(), guest: Some(101) };
        assert_eq!(render(&e, Verbosity::Normal, false, false), None);
        assert_eq!(render(&e, Verbosity::Verbose, false, false).unwrap(), "· [101] file /x (matches)\n");
    }
}
