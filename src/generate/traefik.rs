//! Traefik's dynamic configuration (file provider) for the lab's edge: one router per route on
//! the `websecure` entry point with TLS from the certificate stage, one catch-all router on
//! `web` that redirects to `websecure`, a service per route with the right scheme (https
//! upstreams verified against the lab root through a servers transport that names the route's
//! host), and the dashboard (`api@internal`) behind an IP allow-list or basic auth.
//!
//! YAML is written by hand, block style, so the file reads like the documentation's examples.
//! Keys are either fixed words of this file or route names (checked: lowercase letters, digits
//! and `-`); every value is a double-quoted scalar escaped as JSON (a JSON string is a valid
//! YAML double-quoted scalar), and values that Traefik itself parses further (a host inside
//! ``Host(`…`)``, a path, a CIDR) are refused when they would change that structure.

use super::error::{no_control, token, GenerateError, Refusal};
use super::hostname;
use crate::inventory::edge::{Edge, Route, Scheme, Upstream};

/// The entry point the routes live on (the static configuration's `:443`).
pub const WEBSECURE: &str = "websecure";
/// The plain-HTTP entry point (`:80`), which only redirects.
pub const WEB: &str = "web";
/// The name of the redirecting router and its middleware.
pub const REDIRECT: &str = "redirect-to-websecure";
/// The dashboard guard middleware.
pub const DASHBOARD_GUARD: &str = "dashboard-guard";
/// The servers transports for https upstreams are named `<route>-lab-ca`.
pub const TRANSPORT_SUFFIX: &str = "-lab-ca";

/// How the dashboard is protected; it is never served without one.
#[derive(Debug, Clone, PartialEq)]
pub enum DashboardGuard {
    /// Clients whose address is in one of these CIDR ranges. `depth` > 0: the client address is
    /// taken from `X-Forwarded-For` at that depth (requests arrive through the gateway, and the
    /// static configuration trusts forwarded headers from the gateway only, so a client that
    /// reaches Traefik directly has its header removed and is refused).
    IpAllowList { source_ranges: Vec<String>, depth: u8 },
    /// Basic auth against an htpasswd file inside the Traefik container (written from a secret
    /// by the stage, so the hashes are neither in this file nor in any output).
    BasicAuth { users_file: String },
}

/// Paths inside the Traefik container and the dashboard's protection.
#[derive(Debug, Clone, PartialEq)]
pub struct TraefikOptions {
    /// The certificate Traefik presents on `websecure` (its SANs cover the routed names).
    pub cert_file: String,
    pub key_file: String,
    /// The lab's root CA, which https upstreams are verified against.
    pub root_ca_file: String,
    pub dashboard: DashboardGuard,
}

impl TraefikOptions {
    /// The paths the certificate stage installs into the Traefik container and the trusted_ca
    /// feature's root, with the dashboard open to `source_ranges`.
    pub fn lab_defaults(source_ranges: Vec<String>, depth: u8) -> Self {
        TraefikOptions {
            cert_file: CERT_FILE.into(),
            key_file: KEY_FILE.into(),
            root_ca_file: ROOT_CA_FILE.into(),
            dashboard: DashboardGuard::IpAllowList { source_ranges, depth },
        }
    }
}

/// Where the certificate stage puts Traefik's certificate and key inside its container.
pub const CERT_FILE: &str = "/etc/traefik/certs/traefik.crt";
pub const KEY_FILE: &str = "/etc/traefik/certs/traefik.key";
/// Where the trusted_ca feature puts the lab root inside a guest.
pub const ROOT_CA_FILE: &str = "/usr/local/share/ca-certificates/phoenix-root-ca.crt";

/// A YAML document under construction: indented block mappings, quoted scalar values.
struct Yaml {
    out: String,
}

impl Yaml {
    fn new() -> Self {
        Yaml { out: String::new() }
    }
    fn pad(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }
    /// `key:` opening a nested mapping or sequence.
    fn open(&mut self, depth: usize, key: &str) {
        self.pad(depth);
        self.out.push_str(key);
        self.out.push_str(":\n");
    }
    /// `key: "value"`.
    fn str(&mut self, depth: usize, key: &str, value: &str) {
        self.pad(depth);
        self.out.push_str(key);
        self.out.push_str(": ");
        self.out.push_str(&quoted(value));
        self.out.push('\n');
    }
    /// `key: <literal>` for fixed words of this file (`true`, `{}`, numbers).
    fn lit(&mut self, depth: usize, key: &str, literal: &str) {
        self.pad(depth);
        self.out.push_str(key);
        self.out.push_str(": ");
        self.out.push_str(literal);
        self.out.push('\n');
    }
    /// `key: ["a", "b"]`.
    fn list(&mut self, depth: usize, key: &str, values: &[&str]) {
        let items: Vec<String> = values.iter().map(|v| quoted(v)).collect();
        self.lit(depth, key, &format!("[{}]", items.join(", ")));
    }
    /// `- key: "value"` (the first key of a sequence item).
    fn item_str(&mut self, depth: usize, key: &str, value: &str) {
        self.pad(depth);
        self.out.push_str("- ");
        self.out.push_str(key);
        self.out.push_str(": ");
        self.out.push_str(&quoted(value));
        self.out.push('\n');
    }
}

/// A double-quoted YAML scalar: JSON string escaping, which YAML's double-quoted style reads
/// the same way (`\"`, `\\`, `\n`, `\uXXXX`).
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string())
}

/// A router/service/middleware name: lowercase letters, digits and `-` (Traefik joins names
/// with `@` for the provider, and a `.` would be read as a path in the labels format).
fn name(field: &str, value: &str) -> Result<(), GenerateError> {
    if value.is_empty() {
        return Err(GenerateError::new(field, value, Refusal::Empty));
    }
    if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(GenerateError::new(field, value, Refusal::KeyCharset));
    }
    Ok(())
}

/// A path inside the container: one word, no quote or backtick (it goes into YAML quoted,
/// but an operator reading the file should see the path as it is).
fn path(field: &str, value: &str) -> Result<(), GenerateError> {
    token(field, value, &[('"', Refusal::KeyCharset), ('`', Refusal::KeyCharset), ('#', Refusal::Hash)])?;
    if !value.starts_with('/') {
        return Err(GenerateError::new(field, value, Refusal::NotAllowedWord));
    }
    Ok(())
}

/// A CIDR range or a single address (Traefik's `sourceRange` entries).
fn cidr(field: &str, value: &str) -> Result<(), GenerateError> {
    no_control(field, value)?;
    let (addr, prefix) = value.split_once('/').unwrap_or((value, ""));
    let addr_ok = addr.parse::<std::net::IpAddr>().is_ok();
    let max = if addr.contains(':') { 128 } else { 32 };
    let prefix_ok = prefix.is_empty() || prefix.parse::<u8>().is_ok_and(|p| p <= max);
    if !addr_ok || !prefix_ok {
        return Err(GenerateError::new(field, value, Refusal::NotAllowedWord));
    }
    Ok(())
}

fn check_route(r: &Route) -> Result<(), GenerateError> {
    name(&format!("route {} name", r.name), &r.name)?;
    hostname::check(&format!("route {} host", r.name), &r.host)
}

fn check_options(o: &TraefikOptions) -> Result<(), GenerateError> {
    path("traefik certificate file", &o.cert_file)?;
    path("traefik key file", &o.key_file)?;
    path("lab root CA file", &o.root_ca_file)?;
    match &o.dashboard {
        DashboardGuard::IpAllowList { source_ranges, .. } => {
            if source_ranges.is_empty() {
                return Err(GenerateError::new("dashboard allow-list", "", Refusal::Empty));
            }
            for r in source_ranges {
                cidr("dashboard allow-list entry", r)?;
            }
        }
        DashboardGuard::BasicAuth { users_file } => path("dashboard users file", users_file)?,
    }
    Ok(())
}

/// The dynamic configuration for `edge`. Routes are written in the edge's order (sorted by
/// host), so the same edge always gives the same bytes and a converged host sees no change.
pub fn dynamic_config(edge: &Edge, opts: &TraefikOptions) -> Result<String, GenerateError> {
    check_options(opts)?;
    for r in &edge.routes {
        check_route(r)?;
    }
    let has_dashboard = edge.routes.iter().any(|r| matches!(r.upstream, Upstream::TraefikDashboard));
    let mut y = Yaml::new();
    y.out.push_str("# Managed by phoenix (sync stage traefik): local changes are overwritten.\n");
    y.out.push_str(&format!("# Domain {}: {} route(s).\n", quoted(&edge.domain), edge.routes.len()));
    y.open(0, "http");

    y.open(1, "routers");
    y.open(2, REDIRECT);
    // Every plain-HTTP request, whatever its host, goes to the same URL on https.
    y.str(3, "rule", "PathPrefix(`/`)");
    y.list(3, "entryPoints", &[WEB]);
    y.list(3, "middlewares", &[REDIRECT]);
    y.str(3, "service", "noop@internal");
    y.lit(3, "priority", "1");
    for r in &edge.routes {
        y.open(2, &r.name);
        y.str(3, "rule", &format!("Host(`{}`)", r.host));
        y.list(3, "entryPoints", &[WEBSECURE]);
        match r.upstream {
            Upstream::TraefikDashboard => {
                y.str(3, "service", "api@internal");
                y.list(3, "middlewares", &[DASHBOARD_GUARD]);
            }
            Upstream::Server { .. } => y.str(3, "service", &r.name),
        }
        y.lit(3, "tls", "{}");
    }

    y.open(1, "middlewares");
    y.open(2, REDIRECT);
    y.open(3, "redirectScheme");
    y.str(4, "scheme", "https");
    y.lit(4, "permanent", "true");
    if has_dashboard {
        y.open(2, DASHBOARD_GUARD);
        match &opts.dashboard {
            DashboardGuard::IpAllowList { source_ranges, depth } => {
                y.open(3, "ipAllowList");
                let ranges: Vec<&str> = source_ranges.iter().map(String::as_str).collect();
                y.list(4, "sourceRange", &ranges);
                if *depth > 0 {
                    y.open(4, "ipStrategy");
                    y.lit(5, "depth", &depth.to_string());
                }
            }
            DashboardGuard::BasicAuth { users_file } => {
                y.open(3, "basicAuth");
                y.str(4, "usersFile", users_file);
                y.lit(4, "removeHeader", "true");
            }
        }
    }

    let servers: Vec<&Route> = edge.routes.iter().filter(|r| matches!(r.upstream, Upstream::Server { .. })).collect();
    if !servers.is_empty() {
        y.open(1, "services");
        for r in &servers {
            let Upstream::Server { scheme, ip, port, .. } = r.upstream else { continue };
            let scheme_word = match scheme {
                Scheme::Http => "http",
                Scheme::Https => "https",
            };
            y.open(2, &r.name);
            y.open(3, "loadBalancer");
            y.open(4, "servers");
            y.item_str(5, "url", &format!("{scheme_word}://{ip}:{port}"));
            y.lit(4, "passHostHeader", "true");
            if scheme == Scheme::Https {
                y.str(4, "serversTransport", &format!("{}{TRANSPORT_SUFFIX}", r.name));
            }
        }
    }
    let https: Vec<&&Route> =
        servers.iter().filter(|r| matches!(r.upstream, Upstream::Server { scheme: Scheme::Https, .. })).collect();
    if !https.is_empty() {
        y.open(1, "serversTransports");
        for r in https {
            // The upstream's certificate names the service (the lab CA issued it for that
            // name), not the address Traefik dials, so the name to verify is the route's host.
            y.open(2, &format!("{}{TRANSPORT_SUFFIX}", r.name));
            y.str(3, "serverName", &r.host);
            y.list(3, "rootCAs", &[opts.root_ca_file.as_str()]);
        }
    }

    y.open(0, "tls");
    y.open(1, "certificates");
    y.item_str(2, "certFile", &opts.cert_file);
    y.str(3, "keyFile", &opts.key_file);
    y.open(1, "stores");
    y.open(2, "default");
    // Without a default certificate a client with an unknown name would get Traefik's
    // self-signed one; the lab certificate is the right answer to any name.
    y.open(3, "defaultCertificate");
    y.str(4, "certFile", &opts.cert_file);
    y.str(4, "keyFile", &opts.key_file);
    Ok(y.out)
}

/// What the static configuration (`traefik.yml`, read only at start) enables.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticOptions {
    /// Listen addresses (`:80`, `127.0.0.1:8080`).
    pub web: String,
    pub websecure: String,
    /// The `traefik` entry point: ping (and nothing else: the API is reached through the
    /// dashboard's router only).
    pub traefik: String,
    /// The file provider's directory, watched.
    pub dynamic_dir: String,
    /// Addresses whose X-Forwarded-* headers `websecure` keeps (the gateway); others' are removed.
    pub trusted_ips: Vec<String>,
    /// Whether the API and dashboard exist (only when a route leads to them).
    pub dashboard: bool,
}

impl StaticOptions {
    /// The lab's Traefik container: ports 80, 443 and 8080 on every address.
    pub fn lab_defaults(dynamic_dir: String, trusted_ips: Vec<String>, dashboard: bool) -> Self {
        StaticOptions {
            web: ":80".into(),
            websecure: ":443".into(),
            traefik: ":8080".into(),
            dynamic_dir,
            trusted_ips,
            dashboard,
        }
    }
}

/// An entry point address: `[host]:port` with a port and no space or quote.
fn address(field: &str, value: &str) -> Result<(), GenerateError> {
    token(field, value, &[('"', Refusal::KeyCharset), ('#', Refusal::Hash)])?;
    let ok = value.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok_and(|p| p > 0));
    if !ok {
        return Err(GenerateError::new(field, value, Refusal::NotAllowedWord));
    }
    Ok(())
}

/// Traefik's static configuration: exactly what [`dynamic_config`] relies on. `web` only
/// redirects; `websecure` serves the routes with the certificate named in the dynamic file (no
/// ACME resolver); forwarded headers are trusted from `trusted_ips` only; ping on `traefik`;
/// the API and dashboard only when routed, never `insecure`.
pub fn static_config(o: &StaticOptions) -> Result<String, GenerateError> {
    address("traefik web address", &o.web)?;
    address("traefik websecure address", &o.websecure)?;
    address("traefik ping address", &o.traefik)?;
    path("traefik dynamic directory", &o.dynamic_dir)?;
    for ip in &o.trusted_ips {
        cidr("traefik trusted forwarder", ip)?;
    }
    let mut y = Yaml::new();
    y.out.push_str("# Managed by phoenix (traefik feature): local changes are overwritten.\n");
    y.out.push_str(&format!(
        "# Routers, services and TLS: files in {} (written by the sync stage traefik).\n",
        quoted(&o.dynamic_dir)
    ));
    y.open(0, "entryPoints");
    y.open(1, WEB);
    y.str(2, "address", &o.web);
    y.open(1, WEBSECURE);
    y.str(2, "address", &o.websecure);
    if !o.trusted_ips.is_empty() {
        y.open(2, "forwardedHeaders");
        let ips: Vec<&str> = o.trusted_ips.iter().map(String::as_str).collect();
        y.list(3, "trustedIPs", &ips);
    }
    y.open(1, "traefik");
    y.str(2, "address", &o.traefik);
    y.open(0, "ping");
    y.str(1, "entryPoint", "traefik");
    y.open(0, "providers");
    y.open(1, "file");
    y.str(2, "directory", &o.dynamic_dir);
    y.lit(2, "watch", "true");
    if o.dashboard {
        y.open(0, "api");
        y.lit(1, "dashboard", "true");
        y.lit(1, "insecure", "false");
    }
    y.open(0, "global");
    y.lit(1, "checkNewVersion", "false");
    y.lit(1, "sendAnonymousUsage", "false");
    y.open(0, "log");
    y.str(1, "level", "INFO");
    Ok(y.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::edge::EdgeGuest;
    use std::net::Ipv4Addr;

    fn route(name: &str, upstream: Upstream) -> Route {
        Route {
            name: name.into(),
            host: format!("{name}.lab.example.internal"),
            upstream,
            declared_in: format!("test {name}"),
        }
    }

    fn server(scheme: Scheme, last: u8, port: u16) -> Upstream {
        Upstream::Server { scheme, ip: Ipv4Addr::new(10, 20, 0, last), port, guest: 100 + last as u32 }
    }

    pub(crate) fn lab_edge() -> Edge {
        Edge {
            domain: "lab.example.internal".into(),
            ca: Some(EdgeGuest { id: 103, name: "step-ca".into(), ip: Some(Ipv4Addr::new(10, 20, 0, 10)) }),
            traefik: Some(EdgeGuest { id: 102, name: "traefik".into(), ip: Some(Ipv4Addr::new(10, 20, 0, 12)) }),
            gateway: Some(EdgeGuest { id: 101, name: "gateway".into(), ip: Some(Ipv4Addr::new(10, 20, 0, 20)) }),
            routes: vec![
                route("ca", server(Scheme::Https, 10, 9000)),
                route("ollama", server(Scheme::Http, 40, 11434)),
                route("traefik", Upstream::TraefikDashboard),
            ],
            dns_records: vec![],
        }
    }

    fn opts() -> TraefikOptions {
        TraefikOptions::lab_defaults(vec!["10.20.0.0/24".into()], 1)
    }

    #[test]
    fn lab_edge_config_reads_as_expected() {
        let text = dynamic_config(&lab_edge(), &opts()).unwrap();
        let expected = r#"# Managed by phoenix (sync stage traefik): local changes are overwritten.
# Domain "lab.example.internal": 3 route(s).
http:
  routers:
    redirect-to-websecure:
      rule: "PathPrefix(`/`)"
      entryPoints: ["web"]
      middlewares: ["redirect-to-websecure"]
      service: "noop@internal"
      priority: 1
    ca:
      rule: "Host(`ca.lab.example.internal`)"
      entryPoints: ["websecure"]
      service: "ca"
      tls: {}
    ollama:
      rule: "Host(`ollama.lab.example.internal`)"
      entryPoints: ["websecure"]
      service: "ollama"
      tls: {}
    traefik:
      rule: "Host(`traefik.lab.example.internal`)"
      entryPoints: ["websecure"]
      service: "api@internal"
      middlewares: ["dashboard-guard"]
      tls: {}
  middlewares:
    redirect-to-websecure:
      redirectScheme:
        scheme: "https"
        permanent: true
    dashboard-guard:
      ipAllowList:
        sourceRange: ["10.20.0.0/24"]
        ipStrategy:
          depth: 1
  services:
    ca:
      loadBalancer:
        servers:
          - url: "https://10.20.0.10:9000"
        passHostHeader: true
        serversTransport: "ca-lab-ca"
    ollama:
      loadBalancer:
        servers:
          - url: "http://10.20.0.40:11434"
        passHostHeader: true
  serversTransports:
    ca-lab-ca:
      serverName: "ca.lab.example.internal"
      rootCAs: ["/usr/local/share/ca-certificates/phoenix-root-ca.crt"]
tls:
  certificates:
    - certFile: "/etc/traefik/certs/traefik.crt"
      keyFile: "/etc/traefik/certs/traefik.key"
  stores:
    default:
      defaultCertificate:
        certFile: "/etc/traefik/certs/traefik.crt"
        keyFile: "/etc/traefik/certs/traefik.key"
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn basic_auth_names_a_users_file_never_a_hash() {
        let mut o = opts();
        o.dashboard = DashboardGuard::BasicAuth { users_file: "/etc/traefik/dashboard.htpasswd".into() };
        let text = dynamic_config(&lab_edge(), &o).unwrap();
        assert!(text.contains("basicAuth:\n        usersFile: \"/etc/traefik/dashboard.htpasswd\"\n"), "{text}");
        assert!(!text.contains("ipAllowList"));
    }

    #[test]
    fn no_dashboard_route_no_guard_and_no_https_no_transport() {
        let mut e = lab_edge();
        e.routes.retain(|r| r.name == "ollama");
        let text = dynamic_config(&e, &opts()).unwrap();
        assert!(!text.contains("dashboard-guard"), "{text}");
        assert!(!text.contains("api@internal"), "{text}");
        assert!(!text.contains("serversTransports"), "{text}");
        assert!(text.contains("ollama:"), "{text}");
    }

    #[test]
    fn hostile_values_are_refused_with_their_field() {
        let mut e = lab_edge();
        e.routes[0].host = "ca.lab`) || Host(`evil".into();
        let err = dynamic_config(&e, &opts()).unwrap_err();
        assert_eq!(err.reason, Refusal::NotDnsName);
        assert!(err.field.contains("route ca host"), "{err}");

        let mut e = lab_edge();
        e.routes[1].name = "ollama\n  evil".into();
        assert_eq!(dynamic_config(&e, &opts()).unwrap_err().reason, Refusal::KeyCharset);
        e.routes[1].name = "Ollama".into();
        assert_eq!(dynamic_config(&e, &opts()).unwrap_err().reason, Refusal::KeyCharset);

        for bad in ["10.0.0.0/33", "10.0.0.0/24\n", "any", "", "10.0.0.0/24 "] {
            let o = TraefikOptions::lab_defaults(vec![bad.into()], 0);
            assert!(dynamic_config(&lab_edge(), &o).is_err(), "{bad:?}");
        }
        assert!(dynamic_config(&lab_edge(), &TraefikOptions::lab_defaults(vec![], 0)).is_err());

        let mut o = opts();
        o.cert_file = "relative.crt".into();
        assert!(dynamic_config(&lab_edge(), &o).is_err());
        o.cert_file = "/etc/x\".crt".into();
        assert!(dynamic_config(&lab_edge(), &o).is_err());
    }

    #[test]
    fn static_config_enables_what_the_dynamic_file_uses() {
        let o = StaticOptions::lab_defaults("/etc/traefik/dynamic".into(), vec!["10.20.0.20".into()], true);
        let text = static_config(&o).unwrap();
        assert!(
            text.contains(
                "  websecure:\n    address: \":443\"\n    forwardedHeaders:\n      trustedIPs: [\"10.20.0.20\"]\n"
            ),
            "{text}"
        );
        assert!(text.contains("api:\n  dashboard: true\n  insecure: false\n"), "{text}");
        assert!(
            text.contains("providers:\n  file:\n    directory: \"/etc/traefik/dynamic\"\n    watch: true\n"),
            "{text}"
        );
        assert!(!text.contains("filename") && !text.contains("certificatesResolvers"), "{text}");
        let quiet = static_config(&StaticOptions::lab_defaults("/d".into(), vec![], false)).unwrap();
        assert!(!quiet.contains("api:") && !quiet.contains("forwardedHeaders"), "{quiet}");
        for (web, ips) in [(":80 x", vec![]), ("80", vec![]), (":80", vec!["10.0.0.1\n".to_string()])] {
            let mut bad = StaticOptions::lab_defaults("/d".into(), ips, false);
            bad.web = web.into();
            assert!(static_config(&bad).is_err(), "{web:?}");
        }
    }

    #[test]
    fn quoting_survives_any_string() {
        assert_eq!(quoted("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }
}
