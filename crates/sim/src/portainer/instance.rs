//! The running Portainer process, as opposed to its database: the JWT signing secret (Portainer
//! generates a fresh one at every start, api/jwt/jwt.go, so a restart invalidates every JWT but
//! no API key) and the admin-initialisation window (api/adminmonitor/admin_monitor.go).
//!
//! The window: `adminmonitor.New(5*time.Minute, …)` starts with the server; when it fires and no
//! administrator exists, the instance is disabled for good — until the process restarts — and
//! every `/api` request whose RequestURI is not exactly `/api/status` or `/api/settings/public`
//! answers **303** `Administrator initialization timeout` with header
//! `redirect-reason: AdminInitTimeout`. Portainer does not exit. An admin created in time cancels
//! the monitor. Time is real elapsed time plus a simulated offset a test can advance.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::crypto;

/// Portainer's default: `adminmonitor.New(5*time.Minute, …)` in api/http/server.go.
pub const DEFAULT_INIT_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Portainer's default `--session-timeout` (JWT lifetime).
pub const DEFAULT_SESSION: Duration = Duration::from_secs(8 * 3600);

#[derive(Debug)]
pub struct Instance {
    started: Instant,
    /// Simulated time added to the real wall clock (tests jump past JWT expiry without
    /// waiting): kept across restarts, since wall-clock time does not go back on a restart.
    offset: Duration,
    /// Simulated time added to this process's uptime (tests jump past the initialisation
    /// window): a restart is a new process, so it starts again from zero.
    uptime_offset: Duration,
    pub init_window: Duration,
    pub session: Duration,
    pub jwt_secret: Vec<u8>,
    admin_init_disabled: bool,
}

impl Instance {
    pub fn start(init_window: Duration, session: Duration) -> Result<Self, String> {
        Ok(Instance {
            started: Instant::now(),
            offset: Duration::ZERO,
            uptime_offset: Duration::ZERO,
            init_window,
            session,
            jwt_secret: crypto::random_bytes(32)?,
            admin_init_disabled: false,
        })
    }

    /// A process restart: new JWT secret, new window (uptime from zero), the disabled flag
    /// cleared. The wall-clock offset is kept, since wall-clock time does not go back on a
    /// restart.
    pub fn restart(&mut self) -> Result<(), String> {
        self.jwt_secret = crypto::random_bytes(32)?;
        self.started = Instant::now();
        self.uptime_offset = Duration::ZERO;
        self.admin_init_disabled = false;
        Ok(())
    }

    /// Time passes: for the wall clock and for this process's uptime alike.
    pub fn advance(&mut self, by: Duration) {
        self.offset += by;
        self.uptime_offset += by;
    }

    /// This process's uptime.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed() + self.uptime_offset
    }

    /// Unix seconds on the simulated clock (for JWT `iat`/`exp` and dates).
    pub fn now_unix(&self) -> i64 {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        (real + self.offset).as_secs() as i64
    }

    /// Called on every request: the monitor fires once the window has passed; it disables the
    /// instance only when no administrator exists at that moment, and the flag then sticks.
    pub fn init_disabled(&mut self, has_admin: bool) -> bool {
        if !self.admin_init_disabled && !has_admin && self.elapsed() >= self.init_window {
            self.admin_init_disabled = true;
        }
        self.admin_init_disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_disables_only_without_admin_and_sticks_until_restart() {
        let mut i = Instance::start(Duration::from_secs(60), DEFAULT_SESSION).unwrap();
        assert!(!i.init_disabled(false));
        i.advance(Duration::from_secs(61));
        assert!(!i.init_disabled(true), "an admin exists: never disabled");
        assert!(i.init_disabled(false));
        assert!(i.init_disabled(true), "sticky once fired");
        let secret = i.jwt_secret.clone();
        let wall = i.now_unix();
        i.restart().unwrap();
        assert!(!i.init_disabled(false));
        assert!(i.now_unix() >= wall, "the wall clock does not go back on a restart");
        assert_ne!(i.jwt_secret, secret);
    }
}
