//! Stopping a run: Ctrl-C (SIGINT), SIGTERM (systemd, `kill`, a CI timeout) and SIGHUP (the
//! terminal went away) all mean the same thing. The first one stops the run after the command in
//! flight — no command is killed half-way, the summary is reported and the exit code is 130; a
//! second one (of any of the three) exits at once with 130.
//!
//! Commands phoenix starts run in their own process group (see the connectors), so a signal sent
//! to the terminal's foreground group reaches phoenix only, and phoenix decides when to stop.

use crate::cli::EXIT_INTERRUPTED;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Install the handler. Returns once it is registered, so no signal can slip past it: before
/// this call the default action (terminate) applies, which is right while nothing has run yet.
pub fn install_stop_handler(cancel: Arc<AtomicBool>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
        rt.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()))
            else {
                return;
            };
            let _ = ready_tx.send(());
            let first = tokio::select! {
                s = int.recv() => s.map(|_| "interrupted"),
                s = term.recv() => s.map(|_| "terminated (SIGTERM)"),
                s = hup.recv() => s.map(|_| "hung up (SIGHUP)"),
            };
            let Some(what) = first else { return };
            cancel.store(true, Ordering::SeqCst);
            // stderr may be gone (SIGHUP of a closed terminal): never panic on the write.
            let _ = writeln!(
                std::io::stderr(),
                "\n{what}: finishing the command in flight, then stopping (Ctrl-C again to abort now)"
            );
            let again = tokio::select! {
                s = int.recv() => s,
                s = term.recv() => s,
                s = hup.recv() => s,
            };
            if again.is_some() {
                let _ = writeln!(std::io::stderr(), "aborted: the command in flight may be incomplete");
                std::process::exit(EXIT_INTERRUPTED);
            }
        });
    });
    if spawned.is_err() || ready_rx.recv_timeout(std::time::Duration::from_secs(5)).is_err() {
        tracing::warn!("could not install the signal handler: SIGINT/SIGTERM/SIGHUP will stop phoenix at once");
    }
}
