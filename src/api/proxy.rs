//! `proxy::` — the texts of the Traefik and Nginx edge files, generated from the edge (the map
//! `config::edge()` returns: the serialised `inventory::edge::Edge`) through the builders in
//! `generate::traefik` and `generate::nginx`. Pure: no host is touched, so the sync stages
//! decide what to write and how to check it, and `phoenix check` can call these too.

use super::convert::{known_keys, opt_str};
use super::{at, Namespace, Res};
use crate::generate::nginx::{self, GatewayOptions, MainOptions};
use crate::generate::traefik::{self, DashboardGuard, TraefikOptions};
use crate::inventory::edge::{Edge, EdgeGuest, Route, Scheme, Upstream};
use rhai::{Dynamic, Map, NativeCallContext};
use serde::Deserialize;
use std::net::Ipv4Addr;

/// The edge as a plan hands it back: the same fields as [`Edge`] (serialised through JSON).
#[derive(Deserialize)]
struct EdgeIn {
    domain: String,
    #[serde(default)]
    traefik: Option<GuestIn>,
    #[serde(default)]
    gateway: Option<GuestIn>,
    #[serde(default)]
    ca: Option<GuestIn>,
    routes: Vec<RouteIn>,
}

#[derive(Deserialize)]
struct GuestIn {
    id: u32,
    name: String,
    #[serde(default)]
    ip: Option<Ipv4Addr>,
}

#[derive(Deserialize)]
struct RouteIn {
    name: String,
    host: String,
    upstream: UpstreamIn,
    #[serde(default)]
    declared_in: String,
}

#[derive(Deserialize)]
enum UpstreamIn {
    Server { scheme: SchemeIn, ip: Ipv4Addr, port: u16, guest: u32 },
    TraefikDashboard,
}

#[derive(Deserialize)]
enum SchemeIn {
    Http,
    Https,
}

fn guest(g: Option<GuestIn>) -> Option<EdgeGuest> {
    g.map(|g| EdgeGuest { id: g.id, name: g.name, ip: g.ip })
}

/// The edge from its plan value; a wrong shape names the field serde stopped at.
fn edge_from(value: &Map, what: &str) -> Res<Edge> {
    let json: serde_json::Value = rhai::serde::from_dynamic(&Dynamic::from(value.clone()))
        .map_err(|e| format!("{what}: the edge is not a map of plain values: {e}"))?;
    let e: EdgeIn = serde_json::from_value(json)
        .map_err(|e| format!("{what}: the edge does not have the shape of config::edge(): {e}"))?;
    Ok(Edge {
        domain: e.domain,
        ca: guest(e.ca),
        traefik: guest(e.traefik),
        gateway: guest(e.gateway),
        routes: e
            .routes
            .into_iter()
            .map(|r| Route {
                name: r.name,
                host: r.host,
                declared_in: r.declared_in,
                upstream: match r.upstream {
                    UpstreamIn::TraefikDashboard => Upstream::TraefikDashboard,
                    UpstreamIn::Server { scheme, ip, port, guest } => Upstream::Server {
                        scheme: match scheme {
                            SchemeIn::Http => Scheme::Http,
                            SchemeIn::Https => Scheme::Https,
                        },
                        ip,
                        port,
                        guest,
                    },
                },
            })
            .collect(),
        dns_records: Vec::new(),
    })
}

/// A list of strings from an option.
fn strings(opts: &Map, key: &str, what: &str) -> Res<Option<Vec<String>>> {
    match opts.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => {
            let arr = v
                .clone()
                .try_cast::<rhai::Array>()
                .ok_or_else(|| format!("{what}: `{key}` must be an array of strings"))?;
            arr.into_iter()
                .map(|x| x.into_string().map_err(|t| format!("{what}: `{key}` must hold strings, not {t}").into()))
                .collect::<Res<Vec<String>>>()
                .map(Some)
        }
    }
}

/// `has_dashboard`: whether a route leads to the dashboard (only then is a guard required).
fn traefik_options(opts: &Map, has_dashboard: bool) -> Res<TraefikOptions> {
    const WHAT: &str = "proxy::traefik_dynamic";
    known_keys(
        opts,
        WHAT,
        &["cert_file", "key_file", "root_ca_file", "dashboard_allow", "dashboard_depth", "dashboard_users_file"],
    )?;
    let users = opt_str(opts, "dashboard_users_file")?;
    let allow = strings(opts, "dashboard_allow", WHAT)?;
    let dashboard = match (users, allow) {
        (Some(_), Some(_)) => return Err(format!("{WHAT}: give `dashboard_allow` or `dashboard_users_file`, not both").into()),
        (Some(users_file), None) => DashboardGuard::BasicAuth { users_file },
        (None, Some(source_ranges)) => {
            let depth = match opts.get("dashboard_depth") {
                None => 0,
                Some(v) => {
                    let i = v.as_int().map_err(|t| format!("{WHAT}: `dashboard_depth` must be an integer, not {t}"))?;
                    u8::try_from(i).ok().filter(|d| *d <= 8).ok_or_else(|| format!("{WHAT}: `dashboard_depth` {i} is not 0–8"))?
                }
            };
            DashboardGuard::IpAllowList { source_ranges, depth }
        }
        // Never written without a dashboard route; nothing is opened by it.
        (None, None) if !has_dashboard => {
            DashboardGuard::IpAllowList { source_ranges: vec!["127.0.0.1/32".into()], depth: 0 }
        }
        (None, None) => {
            return Err(format!(
                "{WHAT}: the dashboard needs a guard: `dashboard_allow` (CIDR ranges) or `dashboard_users_file` (htpasswd file in the container)"
            )
            .into())
        }
    };
    Ok(TraefikOptions {
        cert_file: opt_str(opts, "cert_file")?.unwrap_or_else(|| traefik::CERT_FILE.into()),
        key_file: opt_str(opts, "key_file")?.unwrap_or_else(|| traefik::KEY_FILE.into()),
        root_ca_file: opt_str(opts, "root_ca_file")?.unwrap_or_else(|| traefik::ROOT_CA_FILE.into()),
        dashboard,
    })
}

fn gateway_options(edge: &Edge, opts: &Map) -> Res<GatewayOptions> {
    const WHAT: &str = "proxy::nginx_gateway";
    known_keys(opts, WHAT, &["traefik", "cert_file", "key_file", "root_ca_file"])?;
    let traefik = match opt_str(opts, "traefik")? {
        Some(t) => t,
        None => match &edge.traefik {
            Some(EdgeGuest { ip: Some(ip), .. }) => format!("{ip}:443"),
            Some(g) => {
                return Err(format!(
                "{WHAT}: guest {} ({}) runs Traefik but has no static address (DHCP): give it one in network_config.ip",
                g.id, g.name
            )
                .into())
            }
            None => {
                return Err(
                    format!("{WHAT}: no guest has the traefik feature, so the gateway has nothing to proxy to").into()
                )
            }
        },
    };
    let mut o = GatewayOptions::lab_defaults(traefik);
    if let Some(v) = opt_str(opts, "cert_file")? {
        o.cert_file = v;
    }
    if let Some(v) = opt_str(opts, "key_file")? {
        o.key_file = v;
    }
    if let Some(v) = opt_str(opts, "root_ca_file")? {
        o.root_ca_file = v;
    }
    Ok(o)
}

/// The network of an interface address: `10.20.0.2/24` → `10.20.0.0/24`.
fn network_of(address: &str) -> Res<String> {
    let bad = || format!("proxy::network_of: `{address}` is not an IPv4 address with a prefix (10.20.0.2/24)");
    let (ip, prefix) = address.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    Ok(format!("{}/{prefix}", Ipv4Addr::from(u32::from(ip) & mask)))
}

pub fn namespace() -> Namespace {
    let mut ns = Namespace::new("proxy", "The Traefik and Nginx edge files, generated from config::edge().");

    ns.add(
        "traefik_dynamic",
        &["edge: Map", "opts: Map", "-> String"],
        "Traefik's dynamic configuration (file provider YAML) for the edge: a `websecure` router with TLS per \
         route, a `web` router redirecting to https, services (https upstreams verified against the lab root by \
         the route's name), the dashboard behind #{dashboard_allow: [\"10.20.0.0/24\"], dashboard_depth: 1} \
         (client address from X-Forwarded-For at that depth) or #{dashboard_users_file: \"/etc/traefik/…\"}. \
         Also: cert_file, key_file, root_ca_file (paths in the container; defaults in proxy::paths()).",
        |nc: NativeCallContext, edge: Map, opts: Map| -> Res<String> {
            at(&nc, || {
                let edge = edge_from(&edge, "proxy::traefik_dynamic")?;
                let has_dashboard = edge.routes.iter().any(|r| r.upstream == Upstream::TraefikDashboard);
                let o = traefik_options(&opts, has_dashboard)?;
                traefik::dynamic_config(&edge, &o).map_err(|e| format!("proxy::traefik_dynamic: {e}").into())
            })
        },
    );

    ns.add(
        "traefik_static",
        &["opts: Map", "-> String"],
        "Traefik's static configuration (traefik.yml) for the lab: entry points web :80, websecure :443 \
         (X-Forwarded-* kept only from #{trusted_ips: [\"10.20.0.20\"]}, the gateway), traefik :8080 for ping, the \
         file provider watching #{dynamic_dir}, and the API/dashboard (never insecure) only when #{dashboard: true}.",
        |nc: NativeCallContext, opts: Map| -> Res<String> {
            at(&nc, || {
                const WHAT: &str = "proxy::traefik_static";
                known_keys(&opts, WHAT, &["dynamic_dir", "trusted_ips", "dashboard"])?;
                let dir = opt_str(&opts, "dynamic_dir")?.ok_or_else(|| format!("{WHAT}: `dynamic_dir` is required"))?;
                let ips = strings(&opts, "trusted_ips", WHAT)?.unwrap_or_default();
                let dashboard = match opts.get("dashboard") {
                    None => false,
                    Some(v) => v.as_bool().map_err(|t| format!("{WHAT}: `dashboard` must be a bool, not {t}"))?,
                };
                traefik::static_config(&traefik::StaticOptions::lab_defaults(dir, ips, dashboard))
                    .map_err(|e| format!("{WHAT}: {e}").into())
            })
        },
    );

    ns.add(
        "nginx_gateway",
        &["edge: Map", "opts: Map", "-> String"],
        "The gateway file (http context) for the edge: port 80 redirects to https except ACME challenges, one \
         TLS server per routed name proxying to Traefik (#{traefik: \"ip:port\"}, default the Traefik guest's \
         address on 443) verified against the lab root, a default server that refuses unknown names. Also: \
         cert_file, key_file, root_ca_file.",
        |nc: NativeCallContext, edge: Map, opts: Map| -> Res<String> {
            at(&nc, || {
                let edge = edge_from(&edge, "proxy::nginx_gateway")?;
                let o = gateway_options(&edge, &opts)?;
                nginx::gateway_config(&edge, &o).map_err(|e| format!("proxy::nginx_gateway: {e}").into())
            })
        },
    );

    ns.add(
        "nginx_main",
        &["-> String"],
        "Nginx's main file for Debian's package (nginx.conf); it includes the gateway file by a path relative \
         to its own directory, so a candidate copy of both can be checked with `nginx -t -c <dir>/nginx.conf`.",
        |nc: NativeCallContext| -> Res<String> {
            at(&nc, || nginx::main_config(&MainOptions::debian()).map_err(|e| format!("proxy::nginx_main: {e}").into()))
        },
    );

    ns.add(
        "paths",
        &["-> Map"],
        "Where the edge files live in the containers: #{traefik_cert, traefik_key, root_ca, gateway_cert, \
         gateway_key, gateway_file} (the certificate stage installs the certificates there).",
        |_nc: NativeCallContext| -> Res<Map> {
            let mut m = Map::new();
            for (k, v) in [
                ("traefik_cert", traefik::CERT_FILE),
                ("traefik_key", traefik::KEY_FILE),
                ("root_ca", traefik::ROOT_CA_FILE),
                ("gateway_cert", nginx::CERT_FILE),
                ("gateway_key", nginx::KEY_FILE),
                ("gateway_file", nginx::GATEWAY_FILE),
            ] {
                m.insert(k.into(), v.into());
            }
            Ok(m)
        },
    );

    ns.add(
        "network_of",
        &["address: String", "-> String"],
        "The network of an interface address: \"10.20.0.2/24\" → \"10.20.0.0/24\" (the dashboard's default allow-list).",
        |nc: NativeCallContext, address: &str| -> Res<String> { at(&nc, || network_of(address)) },
    );
    ns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge_value() -> Map {
        let json = serde_json::json!({
            "domain": "lab.example.internal",
            "ca": null,
            "traefik": {"id": 102, "name": "traefik", "ip": "10.20.0.12"},
            "gateway": {"id": 101, "name": "gateway", "ip": "10.20.0.20"},
            "routes": [
                {"name": "ca", "host": "ca.lab.example.internal", "declared_in": "guest 103",
                 "upstream": {"Server": {"scheme": "Https", "ip": "10.20.0.10", "port": 9000, "guest": 103}}},
                {"name": "traefik", "host": "traefik.lab.example.internal", "declared_in": "guest 102",
                 "upstream": "TraefikDashboard"}
            ],
            "dns_records": []
        });
        rhai::serde::to_dynamic(json).unwrap().cast::<Map>()
    }

    #[test]
    fn the_serialised_edge_reads_back() {
        let e = edge_from(&edge_value(), "t").unwrap();
        assert_eq!(e.routes.len(), 2);
        assert_eq!(
            e.routes[0].upstream,
            Upstream::Server { scheme: Scheme::Https, ip: Ipv4Addr::new(10, 20, 0, 10), port: 9000, guest: 103 }
        );
        assert_eq!(e.routes[1].upstream, Upstream::TraefikDashboard);
        let o = gateway_options(&e, &Map::new()).unwrap();
        assert_eq!(o.traefik, "10.20.0.12:443");
    }

    #[test]
    fn a_wrong_edge_or_option_is_named() {
        let mut m = edge_value();
        m.insert("routes".into(), Dynamic::from(5_i64));
        let err = edge_from(&m, "proxy::x").unwrap_err().to_string();
        assert!(err.contains("proxy::x: the edge does not have the shape"), "{err}");
        let mut opts = Map::new();
        opts.insert("dashbord_allow".into(), Dynamic::from("x"));
        assert!(traefik_options(&opts, true).is_err());
        assert!(traefik_options(&Map::new(), true).unwrap_err().to_string().contains("needs a guard"));
        assert!(traefik_options(&Map::new(), false).is_ok(), "no dashboard route, no guard needed");
    }

    #[test]
    fn networks_of_addresses() {
        assert_eq!(network_of("10.20.0.2/24").unwrap(), "10.20.0.0/24");
        assert_eq!(network_of("192.168.7.9/16").unwrap(), "192.168.0.0/16");
        assert_eq!(network_of("10.0.0.1/32").unwrap(), "10.0.0.1/32");
        for bad in ["10.0.0.1", "10.0.0.1/33", "x/24", "dhcp"] {
            assert!(network_of(bad).is_err(), "{bad}");
        }
    }
}
