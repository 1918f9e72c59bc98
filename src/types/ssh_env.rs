//! The environment variables that tune ssh connections: read by the ssh connector, named in the
//! hint of a host the lock could not reach.

/// Environment variable holding extra ssh client options (space-separated).
pub const SSH_OPTS_ENV: &str = "PHOENIX_SSH_OPTS";

/// Environment variable: seconds to wait for the host to answer (ssh's ConnectTimeout).
pub const CONNECT_TIMEOUT_ENV: &str = "PHOENIX_SSH_CONNECT_TIMEOUT";

/// The default of [`CONNECT_TIMEOUT_ENV`].
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
