//! The edge derived from the example configuration, and every way a config can make it
//! inconsistent.

use super::super::lxc::TraefikService;
use super::super::{hypervisor, load, Inventory};
use super::*;
use std::path::Path;

fn example() -> Inventory {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("etc")).expect("the example configuration loads")
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn record<'a>(e: &'a Edge, name: &str) -> Option<&'a DnsRecord> {
    e.dns_records.iter().find(|r| r.name == name)
}

fn route<'a>(e: &'a Edge, name: &str) -> &'a Route {
    e.routes.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no route {name}: {:?}", e.routes))
}

#[test]
fn example_roles_come_from_features_and_the_explicit_gateway() {
    let e = derive(&example()).unwrap();
    assert_eq!(e.domain, "lab.example.internal");
    assert_eq!(e.ca.as_ref().map(|g| g.id), Some(103));
    assert_eq!(e.traefik.as_ref().map(|g| (g.id, g.ip)), Some((102, Some(ip("10.20.0.12")))));
    assert_eq!(e.gateway.as_ref().map(|g| (g.id, g.ip)), Some((101, Some(ip("10.20.0.20")))));
}

#[test]
fn example_routes_have_the_right_upstreams() {
    let e = derive(&example()).unwrap();
    // The CA speaks TLS only (the original sent plain HTTP to step-ca).
    assert_eq!(
        route(&e, "ca").upstream,
        Upstream::Server { scheme: Scheme::Https, ip: ip("10.20.0.10"), port: 9000, guest: 103 }
    );
    assert_eq!(route(&e, "traefik").upstream, Upstream::TraefikDashboard);
    assert_eq!(
        route(&e, "ollama").upstream,
        Upstream::Server { scheme: Scheme::Http, ip: ip("10.20.0.40"), port: 11434, guest: 120 }
    );
    assert_eq!(
        route(&e, "portainer").upstream,
        Upstream::Server { scheme: Scheme::Https, ip: ip("10.20.0.50"), port: 9443, guest: 1001 }
    );
    // Stack labels on the VM that runs the stack.
    let q = route(&e, "qdrant");
    assert_eq!(q.host, "qdrant.lab.example.internal");
    assert!(
        matches!(q.upstream, Upstream::Server { ip: a, guest: 1002, scheme: Scheme::Http, .. } if a == ip("10.20.0.51"))
    );
    assert_eq!(route(&e, "notes").host, "notes.lab.example.internal");
    let hosts: Vec<&str> = e.routes.iter().map(|r| r.host.as_str()).collect();
    let mut sorted = hosts.clone();
    sorted.sort();
    assert_eq!(hosts, sorted, "routes are sorted by host");
}

#[test]
fn example_records_route_names_to_the_gateway_and_guests_to_themselves() {
    let e = derive(&example()).unwrap();
    let at = |n: &str| record(&e, n).map(|r| r.ip.to_string()).unwrap_or_else(|| format!("missing {n}"));
    assert_eq!(at("qdrant.lab.example.internal"), "10.20.0.20");
    assert_eq!(at("portainer.lab.example.internal"), "10.20.0.20");
    assert_eq!(at("traefik.lab.example.internal"), "10.20.0.20", "the dashboard route wins over the guest name");
    // `dns: "direct"` in the example: the CA is reached on its own port 9000 by ACME clients.
    assert_eq!(at("ca.lab.example.internal"), "10.20.0.10");
    assert_eq!(at("step-ca.lab.example.internal"), "10.20.0.10");
    assert_eq!(at("gateway.lab.example.internal"), "10.20.0.20");
    assert_eq!(at("ai-apps.lab.example.internal"), "10.20.0.51");
    // A DHCP template has no record.
    assert!(record(&e, "ubuntu-noble-template.lab.example.internal").is_none());
    let names: Vec<&str> = e.dns_records.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "records are sorted and unique");
}

#[test]
fn duplicate_route_names_are_refused_with_both_places() {
    let mut inv = example();
    inv.lxc.guests.get_mut(&110).unwrap().traefik_service =
        Some(TraefikService { name: "ollama".into(), port: 80, scheme: None, dns: None });
    let err = derive(&inv).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    let p = &err.0[0];
    assert!(p.message.contains("route name `ollama`") && p.message.contains("guest 120"), "{}", p.message);
    assert_eq!(p.origin, Origin::Lxc);
    assert!(p.pointer.ends_with("/traefik_service/name"), "{}", p.pointer);
}

#[test]
fn a_stack_host_off_the_domain_is_refused() {
    let mut inv = example();
    let env = inv.stacks.get_mut("notes_app").unwrap().manifest.environments.get_mut("production").unwrap();
    let svc = env.services.values_mut().next().unwrap();
    for l in &mut svc.traefik_labels {
        if l.contains(".rule=") {
            *l = "traefik.http.routers.notes.rule=Host(`notes.example.com`)".into();
        }
    }
    let err = derive(&inv).unwrap_err();
    assert!(err.0.iter().any(|p| p.message.contains("not on the lab's domain")), "{err}");
    assert!(matches!(&err.0[0].origin, Origin::Stack(s) if s == "notes_app"));
    assert!(err.0[0].pointer.starts_with("/environments/production/services/"), "{}", err.0[0].pointer);
}

#[test]
fn a_rule_other_than_one_host_is_refused() {
    let mut inv = example();
    let env = inv.stacks.get_mut("notes_app").unwrap().manifest.environments.get_mut("production").unwrap();
    let svc = env.services.values_mut().next().unwrap();
    svc.traefik_labels.push("traefik.http.routers.x.rule=Host(`a.lab.example.internal`) || PathPrefix(`/`)".into());
    let err = derive(&inv).unwrap_err();
    assert!(err.0.iter().any(|p| p.message.contains("is not a single Host")), "{err}");
}

#[test]
fn two_guests_with_the_same_name_but_different_addresses_clash_in_dns() {
    let mut inv = example();
    inv.lxc.guests.get_mut(&110).unwrap().name = "Step-CA".into();
    let err = derive(&inv).unwrap_err();
    assert!(err.0.iter().any(|p| p.message.contains("DNS name `step-ca.lab.example.internal`")), "{err}");
    assert_eq!(err.0[0].pointer, "/lxc_configs/110/name");
}

#[test]
fn explicit_roles_win_and_an_undeclared_one_is_a_warning() {
    let mut inv = example();
    inv.hypervisor.edge =
        Some(hypervisor::EdgeRoles { gateway_guest: Some(102), traefik_guest: None, ca_guest: Some(4242) });
    let (e, warnings) = derive_with_warnings(&inv).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].warning && warnings[0].pointer == "/edge/ca_guest", "{warnings:?}");
    assert_eq!(e.ca, None, "a role on an undeclared guest is absent");
    inv.hypervisor.edge = Some(hypervisor::EdgeRoles { gateway_guest: Some(102), ..Default::default() });
    let e = derive(&inv).unwrap();
    assert_eq!(e.gateway.unwrap().id, 102);
    assert_eq!(record_ip(&derive(&inv).unwrap(), "qdrant.lab.example.internal"), Some(ip("10.20.0.12")));
}

fn record_ip(e: &Edge, n: &str) -> Option<Ipv4Addr> {
    record(e, n).map(|r| r.ip)
}

#[test]
fn two_ca_guests_without_an_explicit_choice_are_ambiguous() {
    let mut inv = example();
    inv.hypervisor.edge = None;
    assert_eq!(derive(&inv).unwrap().ca.unwrap().id, 103, "the default: the guest with feature step_ca");
    inv.lxc.guests.get_mut(&110).unwrap().features.push("step_ca".into());
    let err = derive(&inv).unwrap_err();
    assert!(err.0.iter().any(|p| p.message.contains("both look like the lab CA")), "{err}");
    assert!(err.0.iter().any(|p| p.help.contains("\"ca_guest\"")), "{err}");
}

#[test]
fn scheme_and_dns_overrides() {
    let mut inv = example();
    inv.lxc.guests.get_mut(&120).unwrap().traefik_service = Some(TraefikService {
        name: "ollama".into(),
        port: 11434,
        scheme: Some("https".into()),
        dns: Some("direct".into()),
    });
    let e = derive(&inv).unwrap();
    assert!(matches!(route(&e, "ollama").upstream, Upstream::Server { scheme: Scheme::Https, .. }));
    assert_eq!(record_ip(&e, "ollama.lab.example.internal"), Some(ip("10.20.0.40")));
}

#[test]
fn a_dhcp_guest_cannot_be_routed() {
    let mut inv = example();
    inv.lxc.guests.get_mut(&120).unwrap().network_config.ip = "dhcp".into();
    let err = derive(&inv).unwrap_err();
    assert!(err.0.iter().any(|p| p.message.contains("no static address")), "{err}");
}

#[test]
fn a_route_name_that_is_no_dns_label_is_refused() {
    let mut inv = example();
    inv.lxc.guests.get_mut(&120).unwrap().traefik_service.as_mut().unwrap().name = "Ollama.x".into();
    let err = derive(&inv).unwrap_err();
    assert!(err.0.iter().any(|p| p.message.contains("cannot name a route")), "{err}");
}
