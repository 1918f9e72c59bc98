//! Fault injection for the Portainer simulator, per route pattern: answer with an HTTP error
//! (5xx, 429, any status) or answer slowly, for the next N matching requests. "Not yet
//! listening" is a start option (see server.rs), since it is about the socket, not a route.

use std::time::Duration;

use super::errors::ApiError;
use super::router::Response;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer this status with a Portainer-shaped error body instead of running the handler.
    Status(u16),
    /// 429 as a rate-limiting proxy in front of Portainer answers it (text, `Retry-After: 1`).
    /// Portainer itself never sends 429: its own limiter (api/http/security/rate_limiter.go,
    /// on `/api/auth` and token creation) answers 403 `Access denied`.
    TooManyRequests,
    /// Run the handler, then hold the answer back this long.
    Delay(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `GET`, `POST`… or `None` for any method.
    pub method: Option<String>,
    /// Glob on the path: `*` any run of characters, `?` one (`/api/stacks/*`).
    pub path: String,
    pub action: FaultAction,
    /// How many matching requests it applies to; 0 = all of them. Then the route recovers.
    pub times: u32,
    /// Matching requests it has applied to so far.
    pub applied: u32,
}

impl Fault {
    pub fn new(method: Option<&str>, path: &str, action: FaultAction, times: u32) -> Self {
        Fault { method: method.map(str::to_string), path: path.to_string(), action, times, applied: 0 }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && crate::faults::glob_match(&self.path, path)
    }
}

/// What the faults decide for one request: an answer in the handler's place, and a delay.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub answer: Option<Response>,
    pub delay: Duration,
}

/// Count the request against every live matching fault (each fault applies `times` times).
pub fn check(faults: &mut [Fault], method: &str, path: &str) -> Verdict {
    let mut v = Verdict::default();
    for f in faults.iter_mut() {
        if !f.matches(method, path) || (f.times != 0 && f.applied >= f.times) {
            continue;
        }
        f.applied = f.applied.saturating_add(1);
        match &f.action {
            FaultAction::Delay(d) => v.delay += *d,
            FaultAction::TooManyRequests if v.answer.is_none() => {
                v.answer = Some(Response::text(429, "Too Many Requests").with_header("Retry-After", "1".into()));
            }
            FaultAction::Status(code) if v.answer.is_none() => {
                let e = ApiError::new(*code, "Simulated fault", format!("injected HTTP {code} by the simulator"));
                v.answer = Some(Response::error(&e));
            }
            _ => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fault_applies_n_times_then_recovers() {
        let mut faults = vec![Fault::new(Some("GET"), "/api/stacks*", FaultAction::Status(503), 2)];
        assert_eq!(check(&mut faults, "GET", "/api/stacks").answer.unwrap().status, 503);
        assert!(check(&mut faults, "POST", "/api/stacks").answer.is_none(), "other method");
        assert_eq!(check(&mut faults, "GET", "/api/stacks/3").answer.unwrap().status, 503);
        assert!(check(&mut faults, "GET", "/api/stacks").answer.is_none(), "recovered");
    }

    #[test]
    fn delays_add_up_and_do_not_answer() {
        let mut faults = vec![
            Fault::new(None, "/api/*", FaultAction::Delay(Duration::from_millis(5)), 0),
            Fault::new(None, "/api/auth", FaultAction::TooManyRequests, 1),
        ];
        let v = check(&mut faults, "POST", "/api/auth");
        assert_eq!(v.delay, Duration::from_millis(5));
        assert_eq!(v.answer.unwrap().status, 429);
    }
}
