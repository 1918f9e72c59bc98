//! Fault injection: fail the Nth command matching a glob, instead of running it.

use super::state::Fault;
use crate::output::Output;

/// Glob match with `*` (any run, including spaces) and `?` (one character).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Count this command against every matching fault; the first fault whose window covers this
/// occurrence answers in its place.
pub(crate) fn check(faults: &mut [Fault], line: &str) -> Option<Output> {
    let mut hit = None;
    for f in faults.iter_mut() {
        if !glob_match(&f.pattern, line) {
            continue;
        }
        f.seen = f.seen.saturating_add(1);
        let in_window = f.seen >= f.nth && (f.times == 0 || f.seen < f.nth.saturating_add(f.times));
        if in_window && hit.is_none() {
            hit = Some(Output {
                code: f.code,
                stdout: f.stdout.clone().into_bytes(),
                stderr: f.stderr.clone().into_bytes(),
            });
        }
    }
    hit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(pattern: &str, nth: u32, times: u32) -> Fault {
        Fault {
            pattern: pattern.into(),
            nth,
            times,
            stdout: String::new(),
            stderr: "boom\n".into(),
            code: 255,
            seen: 0,
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("pct clone 900 *", "pct clone 900 901 --full 1"));
        assert!(!glob_match("pct clone 900 *", "pct clone 9000 901"));
        assert!(glob_match("pct ?tart *", "pct start 100"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("zfs", "zfs list"));
    }

    #[test]
    fn nth_and_times() {
        let mut fs = vec![fault("pct start *", 2, 2)];
        let r: Vec<bool> = (0..5).map(|_| check(&mut fs, "pct start 100").is_some()).collect();
        assert_eq!(r, vec![false, true, true, false, false]);
        assert!(check(&mut fs, "pct stop 100").is_none());
    }

    #[test]
    fn times_zero_is_forever() {
        let mut fs = vec![fault("qm *", 1, 0)];
        assert!((0..10).all(|_| check(&mut fs, "qm list").is_some()));
    }
}
