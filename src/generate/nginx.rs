//! The Nginx gateway's configuration: the main file (`nginx.conf`) and the gateway file it
//! includes. Port 80 redirects to HTTPS but keeps `/.well-known/acme-challenge/`; each routed
//! host has its own TLS server proxying to Traefik's `websecure` over TLS verified against the
//! lab root (the name checked and sent as SNI is the request's host); websocket upgrades pass
//! through; long timeouts, unbuffered streaming and a 100 MB body suit Portainer and LLM APIs;
//! a default 443 server refuses the handshake for any other name instead of answering with the
//! wrong certificate. Written for Debian 12's nginx 1.22 (`listen … http2`, not `http2 on`).
//!
//! The main file includes the gateway file by a *relative* path, which nginx resolves against
//! the directory of the main file: the same two files copied into a candidate directory can be
//! checked with `nginx -t -c <candidate>/nginx.conf` before either becomes live.
//!
//! Every configuration value is one nginx word: no whitespace, quote, `;`, `{`, `}`, `#`, `$`
//! or control character (they would end the directive, open a block, start a comment or expand
//! a variable).

use super::error::{token, GenerateError, Refusal};
use super::hostname;
use crate::inventory::edge::Edge;
use std::fmt::Write as _;

/// The gateway file's name, relative to the directory of the main file.
pub const GATEWAY_FILE: &str = "phoenix-gateway.conf";

/// Where the gateway listens and what it points at.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayOptions {
    /// `host:port` of Traefik's websecure entry point.
    pub traefik: String,
    /// Listen address (`None`: all addresses) and ports.
    pub listen_addr: Option<String>,
    pub http_port: u16,
    pub https_port: u16,
    /// The gateway's certificate (its SANs cover every routed host) and key.
    pub cert_file: String,
    pub key_file: String,
    /// The lab root, which Traefik's certificate is verified against.
    pub root_ca_file: String,
    /// Where ACME http-01 challenge files are served from.
    pub acme_root: String,
}

/// Where the certificate stage installs the gateway's certificate and key in its container.
pub const CERT_FILE: &str = "/etc/nginx/ssl/gateway.crt";
pub const KEY_FILE: &str = "/etc/nginx/ssl/gateway.key";

impl GatewayOptions {
    /// The lab's gateway: all addresses, ports 80 and 443, the certificate stage's paths and
    /// the trusted_ca feature's root.
    pub fn lab_defaults(traefik: String) -> Self {
        GatewayOptions {
            traefik,
            listen_addr: None,
            http_port: 80,
            https_port: 443,
            cert_file: CERT_FILE.into(),
            key_file: KEY_FILE.into(),
            root_ca_file: super::traefik::ROOT_CA_FILE.into(),
            acme_root: "/var/www/html".into(),
        }
    }
}

/// What the main file sets outside the gateway file.
#[derive(Debug, Clone, PartialEq)]
pub struct MainOptions {
    /// `None` when nginx does not start as root (tests).
    pub user: Option<String>,
    pub pid: String,
    pub error_log: String,
    pub access_log: String,
    /// Dynamic modules (Debian: `/etc/nginx/modules-enabled/*.conf`); `None` for none.
    pub modules: Option<String>,
    pub mime_types: String,
}

impl MainOptions {
    /// Debian's layout, as its package and systemd unit expect it.
    pub fn debian() -> Self {
        MainOptions {
            user: Some("www-data".into()),
            pid: "/run/nginx.pid".into(),
            error_log: "/var/log/nginx/error.log".into(),
            access_log: "/var/log/nginx/access.log".into(),
            modules: Some("/etc/nginx/modules-enabled/*.conf".into()),
            mime_types: "/etc/nginx/mime.types".into(),
        }
    }
}

/// Refuse anything that is not a single nginx word safe to write unquoted.
fn word(field: &str, value: &str) -> Result<(), GenerateError> {
    token(
        field,
        value,
        &[
            (';', Refusal::KeyCharset),
            ('{', Refusal::KeyCharset),
            ('}', Refusal::KeyCharset),
            ('"', Refusal::KeyCharset),
            ('\'', Refusal::KeyCharset),
            ('$', Refusal::KeyCharset),
            ('#', Refusal::Hash),
            ('\\', Refusal::KeyCharset),
        ],
    )
}

fn abs_path(field: &str, value: &str) -> Result<(), GenerateError> {
    word(field, value)?;
    if !value.starts_with('/') {
        return Err(GenerateError::new(field, value, Refusal::NotAllowedWord));
    }
    Ok(())
}

/// `host:port` where host is an IPv4 address or a DNS name.
fn host_port(field: &str, value: &str) -> Result<(), GenerateError> {
    word(field, value)?;
    let ok = value.rsplit_once(':').is_some_and(|(h, p)| {
        p.parse::<u16>().is_ok_and(|p| p > 0)
            && (h.parse::<std::net::Ipv4Addr>().is_ok() || hostname::check(field, h).is_ok())
    });
    if !ok {
        return Err(GenerateError::new(field, value, Refusal::NotAllowedWord));
    }
    Ok(())
}

fn check_gateway(o: &GatewayOptions) -> Result<(), GenerateError> {
    host_port("gateway: Traefik address", &o.traefik)?;
    if let Some(a) = &o.listen_addr {
        word("gateway listen address", a)?;
        if a.parse::<std::net::IpAddr>().is_err() {
            return Err(GenerateError::new("gateway listen address", a, Refusal::NotAllowedWord));
        }
    }
    abs_path("gateway certificate file", &o.cert_file)?;
    abs_path("gateway key file", &o.key_file)?;
    abs_path("lab root CA file", &o.root_ca_file)?;
    abs_path("ACME challenge root", &o.acme_root)
}

fn listen(o: &GatewayOptions, port: u16) -> String {
    match &o.listen_addr {
        Some(a) if a.contains(':') => format!("[{a}]:{port}"),
        Some(a) => format!("{a}:{port}"),
        None => port.to_string(),
    }
}

/// The gateway file (http context) for `edge`: one server per routed host, in the edge's order.
pub fn gateway_config(edge: &Edge, o: &GatewayOptions) -> Result<String, GenerateError> {
    check_gateway(o)?;
    for r in &edge.routes {
        hostname::check(&format!("route {} host", r.name), &r.host)?;
    }
    let mut t = String::new();
    let http = listen(o, o.http_port);
    let https = listen(o, o.https_port);
    // `write!` to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(t, "# Managed by phoenix (sync stage nginx): local changes are overwritten.");
    let _ = writeln!(t, "# {} routed name(s); each is proxied to Traefik at {}.", edge.routes.len(), o.traefik);
    t.push_str(
        "\n# A websocket upgrade is passed on; other requests may reuse the upstream connection.\n\
         map $http_upgrade $connection_upgrade {\n    default upgrade;\n    ''      close;\n}\n",
    );
    let _ = write!(
        t,
        "\n# Plain HTTP: ACME http-01 challenges are answered, everything else goes to HTTPS.\n\
         server {{\n    listen {http} default_server;\n    server_name _;\n\n\
         \x20   location /.well-known/acme-challenge/ {{\n        root {acme};\n    }}\n\
         \x20   location / {{\n        return 301 https://$host$request_uri;\n    }}\n}}\n",
        acme = o.acme_root,
    );
    let _ = write!(
        t,
        "\n# Any name not routed below: no certificate is shown, the handshake is refused.\n\
         server {{\n    listen {https} ssl http2 default_server;\n    server_name _;\n    ssl_reject_handshake on;\n}}\n",
    );
    for r in &edge.routes {
        let _ = write!(
            t,
            "\n# {host} ({from})\n\
             server {{\n    listen {https} ssl http2;\n    server_name {host};\n\
             \x20   ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
             \x20   ssl_protocols TLSv1.2 TLSv1.3;\n\n\
             \x20   # Portainer uploads and LLM requests can be large; answers stream.\n\
             \x20   client_max_body_size 100m;\n\n\
             \x20   location / {{\n\
             \x20       proxy_pass https://{traefik};\n\
             \x20       proxy_http_version 1.1;\n\
             \x20       proxy_set_header Host $host;\n\
             \x20       proxy_set_header Upgrade $http_upgrade;\n\
             \x20       proxy_set_header Connection $connection_upgrade;\n\
             \x20       proxy_set_header X-Real-IP $remote_addr;\n\
             \x20       proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             \x20       proxy_set_header X-Forwarded-Proto $scheme;\n\
             \x20       proxy_ssl_verify on;\n\
             \x20       proxy_ssl_verify_depth 3;\n\
             \x20       proxy_ssl_trusted_certificate {root};\n\
             \x20       proxy_ssl_server_name on;\n\
             \x20       proxy_ssl_name $host;\n\
             \x20       proxy_connect_timeout 10s;\n\
             \x20       proxy_send_timeout 3600s;\n\
             \x20       proxy_read_timeout 3600s;\n\
             \x20       proxy_buffering off;\n\
             \x20       proxy_request_buffering off;\n\
             \x20   }}\n}}\n",
            host = r.host,
            from = comment_text(&r.declared_in),
            cert = o.cert_file,
            key = o.key_file,
            traefik = o.traefik,
            root = o.root_ca_file,
        );
    }
    Ok(t)
}

/// Text for a comment: control characters (a newline would end the comment) become spaces.
fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The main file: process settings, the http defaults, and the gateway file by relative path.
pub fn main_config(o: &MainOptions) -> Result<String, GenerateError> {
    if let Some(u) = &o.user {
        word("nginx user", u)?;
    }
    abs_path("nginx pid file", &o.pid)?;
    abs_path("nginx error log", &o.error_log)?;
    abs_path("nginx access log", &o.access_log)?;
    if let Some(m) = &o.modules {
        abs_path("nginx modules", m)?;
    }
    abs_path("nginx mime types", &o.mime_types)?;
    let mut t = String::from("# Managed by phoenix (sync stage nginx): local changes are overwritten.\n");
    if let Some(u) = &o.user {
        let _ = writeln!(t, "user {u};");
    }
    let _ = writeln!(t, "worker_processes auto;\npid {};\nerror_log {};", o.pid, o.error_log);
    if let Some(m) = &o.modules {
        let _ = writeln!(t, "include {m};");
    }
    let _ = write!(
        t,
        "\nevents {{\n    worker_connections 1024;\n}}\n\n\
         http {{\n    include {mime};\n    default_type application/octet-stream;\n\
         \x20   access_log {access};\n    sendfile on;\n    tcp_nopush on;\n    server_tokens off;\n\
         \x20   ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_prefer_server_ciphers off;\n    ssl_session_cache shared:SSL:10m;\n\n\
         \x20   # Relative: resolved against this file's directory (a candidate copy is checked in place).\n\
         \x20   include {GATEWAY_FILE};\n}}\n",
        mime = o.mime_types,
        access = o.access_log,
    );
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::edge::{Route, Scheme, Upstream};
    use std::net::Ipv4Addr;

    fn edge() -> Edge {
        let route = |name: &str| Route {
            name: name.into(),
            host: format!("{name}.lab.example.internal"),
            upstream: Upstream::Server { scheme: Scheme::Http, ip: Ipv4Addr::new(10, 20, 0, 40), port: 80, guest: 140 },
            declared_in: format!("guest 140 traefik_service {name}"),
        };
        Edge {
            domain: "lab.example.internal".into(),
            ca: None,
            traefik: None,
            gateway: None,
            routes: vec![route("ollama"), route("portainer")],
            dns_records: vec![],
        }
    }

    #[test]
    fn one_server_per_host_and_a_rejecting_default() {
        let t = gateway_config(&edge(), &GatewayOptions::lab_defaults("10.20.0.12:443".into())).unwrap();
        assert_eq!(t.matches("server_name ollama.lab.example.internal;").count(), 1, "{t}");
        assert_eq!(t.matches("server_name portainer.lab.example.internal;").count(), 1, "{t}");
        assert_eq!(
            t.matches("listen 443 ssl http2 default_server;\n    server_name _;\n    ssl_reject_handshake on;").count(),
            1
        );
        assert_eq!(t.matches("proxy_pass https://10.20.0.12:443;").count(), 2);
        assert!(t.contains("location /.well-known/acme-challenge/ {\n        root /var/www/html;"), "{t}");
        assert!(t.contains("return 301 https://$host$request_uri;"));
        assert_eq!(t.matches("proxy_ssl_verify on;").count(), 2);
        assert_eq!(t.matches("proxy_ssl_name $host;").count(), 2);
        assert_eq!(t.matches('{').count(), t.matches('}').count());
    }

    #[test]
    fn listen_address_and_ports_are_parameters() {
        let mut o = GatewayOptions::lab_defaults("127.0.0.1:8443".into());
        o.listen_addr = Some("127.0.0.1".into());
        o.http_port = 18080;
        o.https_port = 18443;
        let t = gateway_config(&edge(), &o).unwrap();
        assert!(t.contains("listen 127.0.0.1:18080 default_server;"), "{t}");
        assert!(t.contains("listen 127.0.0.1:18443 ssl http2;"), "{t}");
        assert!(!t.contains("listen 443"), "{t}");
    }

    #[test]
    fn structure_changing_values_are_refused() {
        let base = GatewayOptions::lab_defaults("10.20.0.12:443".into());
        for (field, bad) in [
            ("traefik", "10.20.0.12:443; evil"),
            ("traefik", "10.20.0.12"),
            ("traefik", "$host:443"),
            ("cert", "/etc/nginx/ssl/a;b"),
            ("cert", "/etc/nginx/ssl/{a}"),
            ("cert", "/etc/x\ny"),
            ("cert", "relative.crt"),
            ("root", "/etc/\"x\""),
            ("acme", "/var/www/#x"),
            ("listen", "0.0.0.0 ssl"),
        ] {
            let mut o = base.clone();
            match field {
                "traefik" => o.traefik = bad.into(),
                "cert" => o.cert_file = bad.into(),
                "root" => o.root_ca_file = bad.into(),
                "acme" => o.acme_root = bad.into(),
                _ => o.listen_addr = Some(bad.into()),
            }
            assert!(gateway_config(&edge(), &o).is_err(), "{field} {bad:?}");
        }
        let mut e = edge();
        e.routes[0].host = "x.lab;} server {".into();
        assert_eq!(gateway_config(&e, &base).unwrap_err().reason, Refusal::NotDnsName);
        // A comment cannot be ended early by a newline in where a route was declared.
        let mut e = edge();
        e.routes[0].declared_in = "a\n}".into();
        let t = gateway_config(&e, &base).unwrap();
        assert_eq!(t.matches('{').count(), t.matches('}').count() - 1, "the only extra brace is inside the comment");
        assert!(t.contains("# ollama.lab.example.internal (a })"), "{t}");
    }

    #[test]
    fn main_file_includes_the_gateway_relatively() {
        let t = main_config(&MainOptions::debian()).unwrap();
        assert!(t.contains("\n    include phoenix-gateway.conf;\n"), "{t}");
        assert!(t.starts_with("# Managed by phoenix"));
        assert!(t.contains("user www-data;\n"));
        let mut o = MainOptions::debian();
        o.user = Some("www-data; daemon off".into());
        assert!(main_config(&o).is_err());
        o.user = None;
        assert!(!main_config(&o).unwrap().contains("user "));
    }
}
