//! Errors as the operator reads them on stderr: a diagnostic (colour on a TTY, plain unicode
//! otherwise), or a one-line error with its help. Used by `app` and by `rehearse`, which runs
//! below it.

use crate::inventory;
use std::io::{IsTerminal, Write};

/// Print a diagnostic to stderr: colour on a TTY, plain unicode otherwise (pinned in tests).
pub fn report_diagnostic(diag: &dyn miette::Diagnostic) {
    let text = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode()).with_width(100);
        let mut s = String::new();
        match handler.render_report(&mut s, diag) {
            Ok(()) => s,
            Err(_) => inventory::render(diag),
        }
    } else {
        inventory::render(diag)
    };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// `error: <message>` and, when there is one, `  help: <help>`.
pub fn plain_error(message: &str, help: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {message}");
    if let Some(h) = help {
        let _ = writeln!(err, "  help: {h}");
    }
}
