//! Progress for waits longer than a second, on a TTY only: a line on stderr that updates while
//! a slow command runs and disappears when it ends. Nothing is printed for short waits or when
//! stderr is not a terminal (logs and CI stay clean).

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Progress {
    /// Dropping the sender wakes the watcher at once, so short commands pay no delay.
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start watching a wait described by `label`; shows after one second.
    pub fn start(label: String) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { stop: None, handle: None };
        }
        let (tx, rx) = channel::<()>();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            if rx.recv_timeout(Duration::from_secs(1)) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            let mut i = 0;
            loop {
                {
                    let mut err = std::io::stderr().lock();
                    let secs = start.elapsed().as_secs();
                    let _ = write!(err, "\r\x1b[2K{} {label} ({secs}s)", frames[i % frames.len()]);
                    let _ = err.flush();
                }
                i += 1;
                if rx.recv_timeout(Duration::from_millis(100)) != Err(RecvTimeoutError::Timeout) {
                    break;
                }
            }
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        });
        Progress { stop: Some(tx), handle: Some(handle) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
