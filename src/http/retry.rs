//! When a failed call is worth another try. Connection failures (nothing reached the server),
//! 5xx and 429 are retried with an exponential backoff; any other 4xx is the server refusing
//! what was asked, and asking again would get the same answer. A timeout after the request was
//! sent is retried only for reads: a POST may have been carried out before the answer was lost.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A server's Retry-After is honoured up to this.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `n + 1` after try `n` (1-based) failed: first_delay · 2ⁿ⁻¹, capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How one try ended, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The server answered with this status (and maybe a Retry-After in seconds).
    Status { code: u16, retry_after: Option<u64> },
    /// No connection was made: nothing reached the server.
    ConnectFailed,
    /// The request may have reached the server, but no (complete) answer came.
    NoAnswer,
}

/// `None`: done (success, or a failure not worth repeating); `Some(wait)`: try again after it.
pub fn classify(policy: &RetryPolicy, attempt: Attempt, read: bool, tries_so_far: u32) -> Option<Duration> {
    if tries_so_far >= policy.attempts {
        return None;
    }
    let backoff = policy.backoff(tries_so_far);
    match attempt {
        Attempt::Status { code, retry_after } if code == 429 || (500..=599).contains(&code) => {
            Some(match retry_after {
                Some(s) => Duration::from_secs(s).min(policy.retry_after_cap),
                None => backoff,
            })
        }
        Attempt::Status { .. } => None,
        Attempt::ConnectFailed => Some(backoff),
        Attempt::NoAnswer if read => Some(backoff),
        Attempt::NoAnswer => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Attempt {
        Attempt::Status { code, retry_after: None }
    }

    #[test]
    fn server_errors_rate_limits_and_refused_connections_are_retried() {
        let p = RetryPolicy::default();
        for code in [500, 502, 503, 504, 429] {
            assert_eq!(classify(&p, status(code), false, 1), Some(Duration::from_millis(200)), "{code}");
        }
        assert_eq!(classify(&p, Attempt::ConnectFailed, false, 2), Some(Duration::from_millis(400)));
    }

    #[test]
    fn client_errors_and_successes_are_final() {
        let p = RetryPolicy::default();
        for code in [200, 204, 301, 400, 401, 403, 404, 409, 422] {
            assert_eq!(classify(&p, status(code), true, 1), None, "{code}");
        }
    }

    #[test]
    fn a_lost_answer_is_retried_only_for_reads() {
        let p = RetryPolicy::default();
        assert!(classify(&p, Attempt::NoAnswer, true, 1).is_some());
        assert_eq!(classify(&p, Attempt::NoAnswer, false, 1), None, "a POST may have happened");
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_tries_are_bounded() {
        let p = RetryPolicy::default();
        let waits: Vec<u128> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 3200, 5000]);
        assert_eq!(classify(&p, status(503), false, p.attempts), None);
        assert_eq!(p.backoff(u32::MAX), p.max_delay);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::default();
        let ra = |s| Attempt::Status { code: 429, retry_after: Some(s) };
        assert_eq!(classify(&p, ra(3), false, 1), Some(Duration::from_secs(3)));
        assert_eq!(classify(&p, ra(3600), false, 1), Some(Duration::from_secs(30)));
    }
}
