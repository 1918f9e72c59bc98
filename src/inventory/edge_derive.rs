//! How the edge is derived: roles, then routes, then DNS records. Each step collects every
//! problem it finds (with the pointer of the value to fix) instead of stopping at the first.

use super::super::source::child_pointer;
use super::super::{GuestRef, Inventory};
use super::{DnsRecord, Edge, EdgeGuest, EdgeProblem, Origin, Route, Scheme, Upstream, GATEWAY_SCRIPT};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Problems so far.
#[derive(Default)]
struct Problems(Vec<EdgeProblem>);

impl Problems {
    fn add(&mut self, origin: Origin, pointer: String, message: String, help: impl Into<String>) {
        self.0.push(EdgeProblem { origin, pointer, message, help: help.into(), warning: false });
    }

    fn warn(&mut self, origin: Origin, pointer: String, message: String, help: impl Into<String>) {
        self.0.push(EdgeProblem { origin, pointer, message, help: help.into(), warning: true });
    }
}

/// The static address of a guest: `10.0.0.10/24` → 10.0.0.10; `None` for DHCP.
fn static_ip(g: GuestRef<'_>) -> Option<Ipv4Addr> {
    let cidr = match g {
        GuestRef::Lxc(l) => Some(l.network_config.ip.as_str()),
        GuestRef::Vm(v) => v.network_config.as_ref().map(|n| n.ip.as_str()),
    }?;
    cidr.split('/').next()?.parse().ok()
}

fn features(g: GuestRef<'_>) -> &[String] {
    match g {
        GuestRef::Lxc(l) => &l.features,
        GuestRef::Vm(v) => &v.features,
    }
}

fn origin_of(g: GuestRef<'_>) -> Origin {
    match g {
        GuestRef::Lxc(_) => Origin::Lxc,
        GuestRef::Vm(_) => Origin::Vm,
    }
}

fn at(g: GuestRef<'_>) -> &str {
    match g {
        GuestRef::Lxc(l) => &l.at,
        GuestRef::Vm(v) => &v.at,
    }
}

fn who(g: GuestRef<'_>) -> String {
    match g {
        GuestRef::Lxc(l) => format!("container {} ({})", l.id, l.name),
        GuestRef::Vm(v) => format!("VM {} ({})", v.id, v.name),
    }
}

fn edge_guest(g: GuestRef<'_>) -> EdgeGuest {
    EdgeGuest { id: g.id(), name: g.name().to_string(), ip: static_ip(g) }
}

/// One role: the explicit `edge.<key>` id when given (it must name a declared guest), else the
/// only guest that matches `default`; two matches are ambiguous and must be settled by config.
fn role(
    inv: &Inventory,
    p: &mut Problems,
    key: &str,
    explicit: Option<u32>,
    what: &str,
    default: impl Fn(GuestRef<'_>) -> bool,
) -> Option<EdgeGuest> {
    if let Some(id) = explicit {
        return match inv.guest(id) {
            Some(g) => Some(edge_guest(g)),
            // A warning: a cut-down configuration (or a guest retired for now) still loads, and
            // the stages that need this role fail with the reason.
            None => {
                p.warn(
                    Origin::Hypervisor,
                    format!("/edge/{key}"),
                    format!("edge.{key} names guest {id}, which is not declared: the lab has no {what} for now"),
                    format!("declare guest {id}, or name the guest that runs {what} (or remove edge.{key})"),
                );
                None
            }
        };
    }
    let found: Vec<GuestRef<'_>> = inv.guests().filter(|g| default(*g)).collect();
    match found.as_slice() {
        [] => None,
        [one] => Some(edge_guest(*one)),
        [first, second, ..] => {
            p.add(
                origin_of(*second),
                at(*second).to_string(),
                format!("{} and {} both look like {what}", who(*first), who(*second)),
                format!("say which one in phoenix_hypervisor_config.json: \"edge\": {{\"{key}\": {}}}", first.id()),
            );
            None
        }
    }
}

/// A host name on the domain: `<label>(.<label>)*.<domain>`.
fn on_domain(host: &str, domain: &str) -> bool {
    host.len() > domain.len() + 1
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// Router and service names become Traefik keys, Nginx server names and file names.
fn route_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A route being collected, with where it was declared (for duplicate messages).
struct Declared {
    route: Route,
    origin: Origin,
    pointer: String,
    /// Whether its DNS name resolves to the upstream guest rather than the gateway.
    direct: bool,
}

pub(super) fn derive(inv: &Inventory) -> Result<(Edge, Vec<EdgeProblem>), Vec<EdgeProblem>> {
    let mut p = Problems::default();
    let domain = inv.hypervisor.domain_name.clone();
    let roles = inv.hypervisor.edge.clone().unwrap_or_default();
    let ca = role(inv, &mut p, "ca_guest", roles.ca_guest, "the lab CA (feature step_ca)", |g| {
        features(g).iter().any(|f| f == "step_ca")
    });
    let traefik = role(inv, &mut p, "traefik_guest", roles.traefik_guest, "Traefik (feature traefik)", |g| {
        features(g).iter().any(|f| f == "traefik")
    });
    let gateway = role(
        inv,
        &mut p,
        "gateway_guest",
        roles.gateway_guest,
        &format!("the gateway (feature nginx, or application_script {GATEWAY_SCRIPT})"),
        |g| {
            features(g).iter().any(|f| f == "nginx")
                || matches!(g, GuestRef::Lxc(l) if l.application_script.as_deref() == Some(GATEWAY_SCRIPT))
        },
    );

    let mut declared: Vec<Declared> = Vec::new();
    guest_routes(inv, &mut p, &domain, ca.as_ref(), traefik.as_ref(), &mut declared);
    stack_routes(inv, &mut p, &domain, &mut declared);
    let routes = unique_routes(&mut p, declared);

    let dns_records = records(inv, &mut p, &domain, gateway.as_ref().or(traefik.as_ref()), traefik.as_ref(), &routes);
    if p.0.iter().any(|e| !e.warning) {
        return Err(p.0);
    }
    let routes = routes.into_iter().map(|d| d.route).collect();
    Ok((Edge { domain, ca, traefik, gateway, routes, dns_records }, p.0))
}

/// Every guest's `traefik_service`.
fn guest_routes(
    inv: &Inventory,
    p: &mut Problems,
    domain: &str,
    ca: Option<&EdgeGuest>,
    traefik: Option<&EdgeGuest>,
    out: &mut Vec<Declared>,
) {
    for g in inv.guests() {
        let ts = match g {
            GuestRef::Lxc(l) => l.traefik_service.as_ref(),
            GuestRef::Vm(v) => v.traefik_service.as_ref(),
        };
        let Some(ts) = ts else { continue };
        let ptr = child_pointer(at(g), "traefik_service");
        let name_ptr = child_pointer(&ptr, "name");
        if !route_name_ok(&ts.name) {
            p.add(
                origin_of(g),
                name_ptr,
                format!("traefik_service name `{}` of {} cannot name a route", ts.name, who(g)),
                "use lowercase letters, digits and `-` (one DNS label, e.g. \"qdrant\"); the host is <name>.<domain>",
            );
            continue;
        }
        let direct = ts.dns.as_deref() == Some("direct");
        let upstream = if traefik.is_some_and(|t| t.id == g.id()) {
            Upstream::TraefikDashboard
        } else {
            let Some(ip) = static_ip(g) else {
                p.add(
                    origin_of(g),
                    ptr,
                    format!("{} declares a traefik_service but has no static address (dhcp)", who(g)),
                    "give the guest a static network_config.ip, or remove traefik_service",
                );
                continue;
            };
            let scheme = match ts.scheme.as_deref() {
                Some("https") => Scheme::Https,
                Some(_) => Scheme::Http,
                // step-ca only speaks TLS; VMs serve TLS (the original's https upstreams).
                None if ca.is_some_and(|c| c.id == g.id()) => Scheme::Https,
                None if matches!(g, GuestRef::Vm(_)) => Scheme::Https,
                None => Scheme::Http,
            };
            Upstream::Server { scheme, ip, port: ts.port, guest: g.id() }
        };
        let route = Route {
            name: ts.name.clone(),
            host: format!("{}.{domain}", ts.name),
            upstream,
            declared_in: format!("guest {} traefik_service", g.id()),
        };
        out.push(Declared { route, origin: origin_of(g), pointer: name_ptr, direct });
    }
}

/// `Host(`h`)`, the only router rule the edge understands (Traefik, Nginx and DNS must agree).
fn host_rule(rule: &str) -> Option<&str> {
    let inner = rule.strip_prefix("Host(`")?.strip_suffix("`)")?;
    (!inner.is_empty() && !inner.contains('`')).then_some(inner)
}

/// The routers and service ports a stack service declares in its traefik labels.
struct Labels<'a> {
    /// router → (host, label index)
    routers: Vec<(&'a str, &'a str, usize)>,
    /// router → service it names (`traefik.http.routers.<r>.service=<s>`)
    router_service: BTreeMap<&'a str, &'a str>,
    /// service → (port, label index)
    ports: BTreeMap<&'a str, (u16, usize)>,
    /// service → scheme
    schemes: BTreeMap<&'a str, Scheme>,
}

fn parse_labels<'a>(labels: &'a [String], mut bad: impl FnMut(usize, String)) -> Labels<'a> {
    let mut l = Labels {
        routers: Vec::new(),
        router_service: BTreeMap::new(),
        ports: BTreeMap::new(),
        schemes: BTreeMap::new(),
    };
    for (i, label) in labels.iter().enumerate() {
        let Some((key, value)) = label.split_once('=') else { continue };
        let parts: Vec<&str> = key.split('.').collect();
        match parts.as_slice() {
            ["traefik", "http", "routers", r, "rule"] => match host_rule(value) {
                Some(h) => l.routers.push((r, h, i)),
                None => bad(i, format!("router rule `{value}` is not a single Host(`name`)")),
            },
            ["traefik", "http", "routers", r, "service"] => {
                l.router_service.insert(r, value);
            }
            ["traefik", "http", "services", s, "loadbalancer", "server", "port"] => match value.parse::<u16>() {
                Ok(port) if port > 0 => {
                    l.ports.insert(s, (port, i));
                }
                _ => bad(i, format!("service port `{value}` is not a port (1-65535)")),
            },
            ["traefik", "http", "services", s, "loadbalancer", "server", "scheme"] => match value {
                "http" => {
                    l.schemes.insert(s, Scheme::Http);
                }
                "https" => {
                    l.schemes.insert(s, Scheme::Https);
                }
                _ => bad(i, format!("service scheme `{value}` is neither http nor https")),
            },
            _ => {}
        }
    }
    l
}

/// Every routed service of the stacks each VM runs (`docker_stacks`).
fn stack_routes(inv: &Inventory, p: &mut Problems, domain: &str, out: &mut Vec<Declared>) {
    for vm in inv.vm.guests.values() {
        let g = GuestRef::Vm(vm);
        for sref in &vm.docker_stacks {
            let Some(stack) = inv.stacks.get(&sref.name) else { continue };
            let env_name = sref.environment.as_deref().unwrap_or("production");
            let Some(env) = stack.manifest.environments.get(env_name) else { continue };
            let origin = Origin::Stack(stack.name.clone());
            for (svc, service) in &env.services {
                let svc_ptr = child_pointer(
                    &child_pointer(&child_pointer(&child_pointer("", "environments"), env_name), "services"),
                    svc,
                );
                let labels_ptr = child_pointer(&svc_ptr, "traefik_labels");
                let label_ptr = |i: usize| child_pointer(&labels_ptr, &i.to_string());
                let mut bad = Vec::new();
                let labels = parse_labels(&service.traefik_labels, |i, m| bad.push((i, m)));
                for (i, m) in bad {
                    p.add(
                        origin.clone(),
                        label_ptr(i),
                        format!("stack `{}` service `{svc}`: {m}", stack.name),
                        "write `traefik.http.routers.<name>.rule=Host(`<name>.<domain>`)` and \
                         `traefik.http.services.<name>.loadbalancer.server.port=<port>`",
                    );
                }
                for (router, host, i) in &labels.routers {
                    let here = format!("stack `{}` service `{svc}` router `{router}`", stack.name);
                    if !route_name_ok(router) {
                        p.add(
                            origin.clone(),
                            label_ptr(*i),
                            format!("{here}: `{router}` cannot name a route"),
                            "use lowercase letters, digits and `-` for router names",
                        );
                        continue;
                    }
                    if !on_domain(host, domain) {
                        p.add(
                            origin.clone(),
                            label_ptr(*i),
                            format!("{here}: host `{host}` is not on the lab's domain `{domain}`"),
                            format!("write a name ending in .{domain} (the domain is phoenix_hypervisor_config.json's domain_name)"),
                        );
                        continue;
                    }
                    let service_name = labels.router_service.get(router).copied();
                    let port = match service_name {
                        Some(s) => labels.ports.get(s).map(|(port, _)| (s, *port)),
                        None if labels.ports.len() == 1 => labels.ports.iter().next().map(|(s, (port, _))| (*s, *port)),
                        None => None,
                    };
                    let Some((service_key, port)) = port else {
                        p.add(
                            origin.clone(),
                            label_ptr(*i),
                            format!("{here}: no port for its upstream"),
                            format!(
                                "add `traefik.http.services.{}.loadbalancer.server.port=<port>` (and, with several \
                                 services, `traefik.http.routers.{router}.service=<service>`)",
                                service_name.unwrap_or(router)
                            ),
                        );
                        continue;
                    };
                    let Some(ip) = static_ip(g) else {
                        p.add(
                            Origin::Vm,
                            sref.at.clone(),
                            format!("{here} runs on VM {}, which has no static address", vm.id),
                            "give the VM a static network_config.ip so Traefik can reach the stack",
                        );
                        continue;
                    };
                    let scheme = labels.schemes.get(service_key).copied().unwrap_or(Scheme::Http);
                    let route = Route {
                        name: router.to_string(),
                        host: host.to_string(),
                        upstream: Upstream::Server { scheme, ip, port, guest: vm.id },
                        declared_in: format!("stack {} service {svc} on VM {}", stack.name, vm.id),
                    };
                    out.push(Declared { route, origin: origin.clone(), pointer: label_ptr(*i), direct: false });
                }
            }
        }
    }
}

/// Route names and hosts must be unique; the second of a pair is the error.
fn unique_routes(p: &mut Problems, declared: Vec<Declared>) -> Vec<Declared> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut hosts: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for d in declared {
        if let Some(first) = names.get(&d.route.name) {
            p.add(
                d.origin.clone(),
                d.pointer.clone(),
                format!("route name `{}` ({}) is already used by {first}", d.route.name, d.route.declared_in),
                "each routed service needs its own name: rename one of them",
            );
            continue;
        }
        if let Some(first) = hosts.get(&d.route.host) {
            p.add(
                d.origin.clone(),
                d.pointer.clone(),
                format!("host `{}` ({}) is already routed by {first}", d.route.host, d.route.declared_in),
                "each host name can lead to one upstream only: rename one of them",
            );
            continue;
        }
        names.insert(d.route.name.clone(), d.route.declared_in.clone());
        hosts.insert(d.route.host.clone(), d.route.declared_in.clone());
        out.push(d);
    }
    out.sort_by(|a, b| a.route.host.cmp(&b.route.host));
    out
}

/// A record being collected: whether it came from a route (routes win over guest names).
struct Pending {
    ip: Ipv4Addr,
    why: String,
    from_route: bool,
}

/// The records dnsmasq serves: route hosts (→ the gateway, or the upstream guest when `dns:
/// "direct"`), then every guest with a static address by its lowercased name, then the agent
/// host names VMs declare. A guest name a route already claims (the Traefik guest named like
/// its dashboard route) keeps the route's address; any other clash is an error.
fn records(
    inv: &Inventory,
    p: &mut Problems,
    domain: &str,
    front: Option<&EdgeGuest>,
    traefik: Option<&EdgeGuest>,
    routes: &[Declared],
) -> Vec<DnsRecord> {
    let mut map: BTreeMap<String, Pending> = BTreeMap::new();
    for d in routes {
        let direct_ip = match &d.route.upstream {
            Upstream::Server { ip, .. } => Some(*ip),
            Upstream::TraefikDashboard => None,
        };
        let (ip, why) = if d.direct {
            match direct_ip {
                Some(ip) => (Some(ip), format!("{} (direct)", d.route.declared_in)),
                // The dashboard lives in Traefik: "direct" means the Traefik guest.
                None => (traefik.and_then(|t| t.ip), format!("{} (direct)", d.route.declared_in)),
            }
        } else {
            match front.and_then(|f| f.ip) {
                Some(ip) => (Some(ip), format!("{} via the gateway", d.route.declared_in)),
                None => (None, String::new()),
            }
        };
        let Some(ip) = ip else { continue };
        map.insert(d.route.host.clone(), Pending { ip, why, from_route: true });
    }
    let mut add_guest_record =
        |p: &mut Problems, name: String, ip: Ipv4Addr, why: String, origin: Origin, ptr: String| match map
            .get_mut(&name)
        {
            None => {
                map.insert(name, Pending { ip, why, from_route: false });
            }
            Some(existing) if existing.ip == ip => {}
            Some(existing) if existing.from_route => {
                existing.why = format!("{}; also the name of {why} (the route takes it)", existing.why);
            }
            Some(existing) => p.add(
                origin,
                ptr,
                format!(
                    "DNS name `{name}` ({why}) would resolve to {ip}, but it already resolves to {} ({})",
                    existing.ip, existing.why
                ),
                "guest names (lowercased) must be unique among guests with a static address",
            ),
        };
    for g in inv.guests() {
        let Some(ip) = static_ip(g) else { continue };
        let name = format!("{}.{domain}", g.name().to_lowercase());
        add_guest_record(p, name, ip, format!("guest {}", g.id()), origin_of(g), child_pointer(at(g), "name"));
    }
    for vm in inv.vm.guests.values() {
        let (Some(host), Some(ip)) = (&vm.portainer_agent_hostname, static_ip(GuestRef::Vm(vm))) else { continue };
        let ptr = child_pointer(&vm.at, "portainer_agent_hostname");
        if !on_domain(host, domain) {
            p.add(
                Origin::Vm,
                ptr,
                format!("portainer_agent_hostname `{host}` of VM {} is not on the lab's domain `{domain}`", vm.id),
                format!("write a name ending in .{domain}, or leave it out (the VM's name is used)"),
            );
            continue;
        }
        add_guest_record(p, host.to_lowercase(), ip, format!("VM {} agent", vm.id), Origin::Vm, ptr);
    }
    map.into_iter().map(|(name, r)| DnsRecord { name, ip: r.ip, why: r.why }).collect()
}
