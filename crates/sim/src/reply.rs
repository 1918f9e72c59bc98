//! What a simulated command answers: done now, or (for long tasks that hold a guest `lock:`)
//! a continuation the host runs after sleeping outside the state mutex.

use super::state::SimState;
use crate::output::Output;

pub(crate) type Continuation = Box<dyn FnOnce(&mut SimState) -> Output + Send>;

pub(crate) enum Step {
    Done(Output),
    Then(Continuation),
}

impl From<Output> for Step {
    fn from(o: Output) -> Step {
        Step::Done(o)
    }
}

pub(crate) fn ok(stdout: impl Into<Vec<u8>>) -> Output {
    Output { code: 0, stdout: stdout.into(), stderr: Vec::new() }
}

/// A Perl `die`: the message (newline-terminated) on stderr.
pub(crate) fn die(msg: impl AsRef<str>, code: i32) -> Output {
    let mut m = msg.as_ref().to_string();
    if !m.ends_with('\n') {
        m.push('\n');
    }
    Output { code, stdout: Vec::new(), stderr: m.into_bytes() }
}

/// A die with exit 255 (every PVE die except a missing config).
pub(crate) fn fail(msg: impl AsRef<str>) -> Output {
    die(msg, 255)
}

/// A failed task: worker output already on stdout, the error flattened to one line on stderr.
pub(crate) fn task_fail(stdout: String, msg: &str) -> Output {
    let flat = msg.trim_end_matches('\n').replace('\n', " ");
    Output { code: 255, stdout: stdout.into_bytes(), stderr: format!("{flat}\n").into_bytes() }
}

/// `400 Parameter verification failed.` with the parameter message and a usage line.
pub(crate) fn param_fail(param: &str, msg: &str, usage: &str) -> Output {
    die(format!("400 Parameter verification failed.\n{param}: {msg}\n{usage}\n"), 255)
}
