//! `edge::` — the lab's network edge (roles, routes, DNS records) derived from the
//! configuration, and the DNS stage's files and check.

use super::at;
use super::{Ctx, Namespace, Res};
use crate::generate::dnsmasq::{self, Record};
use crate::inventory::edge::{derive, Edge};
use crate::inventory::Inventory;
use rhai::{Dynamic, Map, NativeCallContext};
use std::net::Ipv4Addr;

pub(crate) fn edge_of(inv: &Inventory) -> Res<Edge> {
    // The load already derived it once without error; this cannot fail for a loaded inventory.
    derive(inv).map_err(|e| e.to_string().into())
}

/// The host's own address: where dnsmasq listens (`network.interfaces.address`).
fn host_address(inv: &Inventory) -> Res<Ipv4Addr> {
    let cidr = inv
        .hypervisor
        .network
        .as_ref()
        .and_then(|n| n.interfaces.as_ref())
        .and_then(|i| i.address.as_deref())
        .ok_or("network.interfaces.address is not set in phoenix_hypervisor_config.json: dnsmasq needs the host's address to listen on")?;
    cidr.split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("network.interfaces.address `{cidr}` is not an IPv4 address").into())
}

/// dnsmasq's upstream servers: the declared `dns_server.upstream_servers`, else the servers
/// the host's resolv.conf names now (so pointing the host at dnsmasq loses none of them).
fn upstreams(inv: &Inventory, listen: Ipv4Addr, current_resolv: Option<&str>) -> Res<Vec<Ipv4Addr>> {
    let declared: Vec<Ipv4Addr> = inv
        .hypervisor
        .dns_server
        .as_ref()
        .map(|d| d.upstream_servers.iter().filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_default();
    if !declared.is_empty() {
        return Ok(declared);
    }
    let found = current_resolv.map(|t| dnsmasq::upstreams_in_resolv(t, listen)).unwrap_or_default();
    if found.is_empty() {
        return Err("no upstream DNS server: dns_server.upstream_servers is empty and /etc/resolv.conf names none \
                    besides this host; declare e.g. \"upstream_servers\": [\"9.9.9.9\"]"
            .into());
    }
    Ok(found)
}

fn dns_files(inv: &Inventory, current_resolv: Option<&str>) -> Res<Map> {
    let edge = edge_of(inv)?;
    let listen = host_address(inv)?;
    let ups = upstreams(inv, listen, current_resolv)?;
    let records: Vec<Record> =
        edge.dns_records.iter().map(|r| Record { name: &r.name, ip: r.ip, why: &r.why }).collect();
    let conf = dnsmasq::conf(&edge.domain, listen, &ups, &records).map_err(|e| e.to_string())?;
    let resolv = dnsmasq::resolv_conf(&edge.domain, listen, &ups).map_err(|e| e.to_string())?;
    let mut m = Map::new();
    m.insert("conf".into(), conf.into());
    m.insert("resolv".into(), resolv.into());
    m.insert("listen".into(), listen.to_string().into());
    m.insert("upstreams".into(), ups.iter().map(|u| Dynamic::from(u.to_string())).collect::<rhai::Array>().into());
    m.insert("records".into(), (edge.dns_records.len() as i64).into());
    Ok(m)
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("edge", "The DNS stage's files and check, from the edge (config::edge()).");

    let c = ctx.clone();
    ns.add(
        "dns_files",
        &["current_resolv: String", "-> Map"],
        "The DNS stage's files: #{conf (for /etc/dnsmasq.d/phoenix.conf), resolv (for /etc/resolv.conf), listen, \
         upstreams, records}. `current_resolv` is the host's resolv.conf now (or ()): its nameservers become \
         dnsmasq's upstreams when dns_server.upstream_servers is empty.",
        move |nc: NativeCallContext, current: Dynamic| -> Res<Map> {
            at(&nc, || {
                let text = if current.is_unit() {
                    None
                } else {
                    Some(
                        current
                            .into_string()
                            .map_err(|t| format!("edge::dns_files: expected a string or (), not {t}"))?,
                    )
                };
                dns_files(&c.run()?.inventory, text.as_deref())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "dnsmasq_check",
        &["conf: String", "-> Map"],
        "Check a dnsmasq configuration with the host's own dnsmasq before it is installed: \
         `dnsmasq --test --conf-file=/dev/stdin` with the text on stdin (nothing is written; also runs in a \
         dry-run). Returns #{ok: bool, message: String} with dnsmasq's own words.",
        move |nc: NativeCallContext, conf: &str| -> Res<Map> {
            at(&nc, || {
                let run = c.run()?;
                let cmd = crate::command::Command::new(["dnsmasq", "--test", "--conf-file=/dev/stdin"])
                    .with_stdin(conf.as_bytes().to_vec());
                let out = run.connector.run(&cmd).map_err(|e| e.to_string())?;
                let out = crate::executor::CommandOutput::from(&out);
                let mut m = Map::new();
                m.insert("ok".into(), (out.code == 0).into());
                let text = format!("{}{}", out.stderr.trim(), out.stdout.trim());
                m.insert("message".into(), text.trim().to_string().into());
                Ok(m)
            })
        },
    );
    ns
}
