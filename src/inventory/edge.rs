//! The lab's network edge as the sync stages see it: which guests play the CA, Traefik and
//! gateway roles, every routed service name on the config's domain, and the DNS records that
//! follow from them. Derived once from the inventory (`edge::derive`), so the DNS, certificate,
//! Traefik and Nginx stages can never disagree about a name, an address or an upstream.
//!
//! Shape of the traffic (ARCHITECTURE.md, sync stages): client → gateway (Nginx, TLS with the
//! lab CA's certificate) → Traefik `websecure` → the upstream. Names resolve to the gateway
//! unless the config says a service is reached directly (`dns: "direct"`), the original's
//! documented exception for container services.

use serde::Serialize;
use std::net::Ipv4Addr;

/// Everything the edge stages need, derived from the inventory.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Edge {
    /// The config's `domain_name` (never hard-coded).
    pub domain: String,
    /// The guest that runs the lab CA (the `step_ca` feature), if any.
    pub ca: Option<EdgeGuest>,
    /// The guest that runs Traefik (the `traefik` feature), if any.
    pub traefik: Option<EdgeGuest>,
    /// The guest that runs the Nginx gateway, if any.
    pub gateway: Option<EdgeGuest>,
    /// Every routed name, sorted by `host`; names are unique.
    pub routes: Vec<Route>,
    /// Every DNS record dnsmasq serves, sorted by `name`; names are unique.
    pub dns_records: Vec<DnsRecord>,
}

/// A guest with an edge role.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EdgeGuest {
    pub id: u32,
    pub name: String,
    /// Its static address; `None` for DHCP (a stage that needs the address fails with a remedy).
    pub ip: Option<Ipv4Addr>,
}

/// One routed service: a Traefik router and service, an Nginx server name, a DNS name and a
/// SAN on the gateway's certificate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Route {
    /// Router/service name: lowercase letters, digits and `-`, unique.
    pub name: String,
    /// Fully qualified host name on the domain, e.g. `qdrant.lab.example.internal`.
    pub host: String,
    pub upstream: Upstream,
    /// Where it was declared, for messages: `guest 1002 traefik_service`,
    /// `stack qdrant_service service qdrant`.
    pub declared_in: String,
}

/// Where Traefik sends a route's requests.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum Upstream {
    /// A server in a guest.
    Server { scheme: Scheme, ip: Ipv4Addr, port: u16, guest: u32 },
    /// Traefik's own dashboard and API (`api@internal`), always behind protection.
    TraefikDashboard,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum Scheme {
    Http,
    /// The upstream speaks TLS with a certificate from the lab CA; Traefik verifies it against
    /// the lab root through a servers transport.
    Https,
}

/// One `name → address` record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsRecord {
    pub name: String,
    pub ip: Ipv4Addr,
    /// Why the record exists, written as a comment beside it.
    pub why: String,
}

/// Which file a problem of the edge model is in (the pointer is relative to that file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Hypervisor,
    Lxc,
    Vm,
    /// `stacks/<name>/phoenix.json`.
    Stack(String),
}

/// A configuration problem found while deriving the edge: where it is, what, and how to fix it.
/// `inventory::load` turns these into diagnostics at file:line:col.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeProblem {
    pub origin: Origin,
    /// JSON pointer of the offending value in its file.
    pub pointer: String,
    pub message: String,
    pub help: String,
    /// A warning leaves the edge usable (the role is simply absent); an error does not.
    pub warning: bool,
}

impl std::fmt::Display for EdgeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.help)
    }
}

/// Every problem at once, for callers that have no source files to point into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeErrors(pub Vec<EdgeProblem>);

impl std::fmt::Display for EdgeErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "the edge configuration is inconsistent: {}", lines.join("; "))
    }
}

impl std::error::Error for EdgeErrors {}

/// The original's gateway application script: the guest that runs it is the gateway unless
/// `edge.gateway_guest` says otherwise.
pub const GATEWAY_SCRIPT: &str = "nginx_gateway.sh";

/// Derives the edge from a decoded inventory. Deterministic: the same inventory always gives
/// the same edge (routes sorted by host, records by name).
pub fn derive(inv: &super::Inventory) -> Result<Edge, EdgeErrors> {
    derive_with_warnings(inv).map(|(edge, _)| edge)
}

/// [`derive`], with the warnings found on the way (an explicit role naming a guest that is
/// not declared: the configuration loads, the stages needing that role say so).
pub fn derive_with_warnings(inv: &super::Inventory) -> Result<(Edge, Vec<EdgeProblem>), EdgeErrors> {
    derive::derive(inv).map_err(EdgeErrors)
}

#[path = "edge_derive.rs"]
mod derive;

#[cfg(test)]
#[path = "edge_tests.rs"]
mod tests;
