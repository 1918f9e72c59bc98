//! How phoenix reaches a TCP service on the host's network (Portainer on a VM): directly, through
//! an SSH port forward on the run's control master, or the simulator's own server — which, like
//! the real one, serves HTTPS with the certificate its container was started with, and only
//! while that container runs (a refused connection otherwise).

use std::net::SocketAddr;

/// A local address that leads to the service; dropping it closes the way (cancels a forward).
pub struct Route {
    /// Connect here instead of resolving the service's name (the name stays in the URL, so
    /// TLS still verifies it).
    pub connect_to: Option<SocketAddr>,
    /// Held for as long as the route is used (a port forward, cancelled on drop).
    pub guard: Option<Box<dyn Send + Sync>>,
}

impl Route {
    /// Straight to the service, as its name resolves from here.
    pub fn direct() -> Self {
        Route { connect_to: None, guard: None }
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Route({:?})", self.connect_to)
    }
}
