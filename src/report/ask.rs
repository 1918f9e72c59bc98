//! A yes/no question to the operator on the terminal: the rehearsal's "apply?" and a plan's
//! `host::confirm` during a run.

use std::io::{IsTerminal, Write};

/// Ask a yes/no question on the terminal (default no). Without a terminal there is no one to
/// ask: an error that says how to confirm instead.
pub fn ask(question: &str) -> Result<bool, String> {
    use std::io::BufRead;
    if !std::io::stdin().is_terminal() {
        return Err(format!("{question} — not confirmed: pass --yes to confirm without a terminal"));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES"))
}
