//! dnsmasq's configuration for the lab's names (`/etc/dnsmasq.d/phoenix.conf`) and the host's
//! `/etc/resolv.conf` that points at it.
//!
//! dnsmasq reads one `option[=value]` per line and splits values at `,` and `/`; a name with a
//! newline would add an option (`server=` to an attacker's resolver), one with a comma or a
//! slash would add names or domains to a record. Names must therefore be DNS names (labels of
//! letters, digits and `-`), addresses are typed, and the comment beside each record may not
//! hold a control character.
//!
//! The file carries dnsmasq's own settings too (the original rewrote `/etc/dnsmasq.conf`;
//! phoenix leaves that file to the operator and Debian, whose unit reads `/etc/dnsmasq.d/`):
//! answer only for the lab's domain locally (`local=/<domain>/`), never forward plain names or
//! private reverse lookups (`domain-needed`, `bogus-priv`), forward everything else only to the
//! declared upstream servers (`no-resolv` + `server=`) so dnsmasq does not loop back to itself
//! through the resolv.conf written below.

use super::error::{no_control, GenerateError, Refusal};
use std::net::Ipv4Addr;

/// One `name → address` line.
pub struct Record<'a> {
    pub name: &'a str,
    pub ip: Ipv4Addr,
    /// Written as a comment above the record.
    pub why: &'a str,
}

/// Labels of 1–63 letters, digits and `-` (not at either end), joined by dots.
fn dns_name(field: &str, value: &str) -> Result<(), GenerateError> {
    no_control(field, value)?;
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(GenerateError::new(field, value, Refusal::NotDnsName))
    }
}

/// `/etc/dnsmasq.d/phoenix.conf`. Records are written in the order given (the edge sorts them).
pub fn conf(
    domain: &str,
    listen: Ipv4Addr,
    upstreams: &[Ipv4Addr],
    records: &[Record],
) -> Result<String, GenerateError> {
    dns_name("domain_name", domain)?;
    if upstreams.is_empty() {
        return Err(GenerateError::new("dns_server.upstream_servers", "", Refusal::Empty));
    }
    let mut out = String::new();
    out.push_str("# Managed by phoenix (sync dns): the lab's names. Edits are overwritten; change the\n");
    out.push_str("# configuration and run `phoenix sync dns` instead.\n");
    out.push_str("domain-needed\nbogus-priv\nno-resolv\nstop-dns-rebind\nrebind-localhost-ok\n");
    out.push_str(&format!("local=/{domain}/\n"));
    out.push_str(&format!("listen-address={listen}\n"));
    for u in upstreams {
        out.push_str(&format!("server={u}\n"));
    }
    for r in records {
        dns_name(&format!("DNS record {}", super::error::shown(r.name)), r.name)?;
        no_control(&format!("DNS record {} comment", r.name), r.why)?;
        out.push_str(&format!("# {}\nhost-record={},{}\n", r.why, r.name, r.ip));
    }
    Ok(out)
}

/// `/etc/resolv.conf`: dnsmasq first, then up to two upstream servers as fallbacks for the
/// moments dnsmasq is down (glibc reads three nameservers at most). Proxmox's own DNS settings
/// (the node's System → DNS panel) read and write this same `search`/`nameserver` format.
pub fn resolv_conf(domain: &str, listen: Ipv4Addr, upstreams: &[Ipv4Addr]) -> Result<String, GenerateError> {
    dns_name("domain_name", domain)?;
    let mut out =
        String::from("# Managed by phoenix (sync dns): dnsmasq on this host first, the upstream servers after it.\n");
    out.push_str(&format!("search {domain}\nnameserver {listen}\n"));
    for u in upstreams.iter().filter(|u| **u != listen).take(2) {
        out.push_str(&format!("nameserver {u}\n"));
    }
    Ok(out)
}

/// The nameservers a resolv.conf names, minus `own` and loopback addresses: the servers the
/// host used before dnsmasq, kept as dnsmasq's upstreams when the config declares none.
pub fn upstreams_in_resolv(text: &str, own: Ipv4Addr) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(ip)) = words.next().map(str::parse::<Ipv4Addr>) else { continue };
        if ip != own && !ip.is_loopback() && !ip.is_unspecified() && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn writes_settings_upstreams_and_records() {
        let r = [Record { name: "ca.lab.example", ip: ip("10.0.0.10"), why: "guest 103" }];
        let text = conf("lab.example", ip("10.0.0.2"), &[ip("9.9.9.9"), ip("1.1.1.1")], &r).unwrap();
        assert!(
            text.contains("\nlocal=/lab.example/\nlisten-address=10.0.0.2\nserver=9.9.9.9\nserver=1.1.1.1\n"),
            "{text}"
        );
        assert!(text.ends_with("# guest 103\nhost-record=ca.lab.example,10.0.0.10\n"), "{text}");
    }

    #[test]
    fn refuses_what_would_change_the_file() {
        let up = [ip("9.9.9.9")];
        for bad in ["a\nserver=6.6.6.6", "a,b.lab", "a/b", "a b", "", "-a.lab", "a..lab", &"x".repeat(64)] {
            let r = [Record { name: bad, ip: ip("10.0.0.1"), why: "w" }];
            let e = conf("lab", ip("10.0.0.2"), &up, &r).unwrap_err();
            assert!(matches!(e.reason, Refusal::NotDnsName | Refusal::ControlChar), "{bad:?}: {e}");
        }
        let r = [Record { name: "a.lab", ip: ip("10.0.0.1"), why: "x\nserver=6.6.6.6" }];
        assert_eq!(conf("lab", ip("10.0.0.2"), &up, &r).unwrap_err().reason, Refusal::ControlChar);
        assert_eq!(conf("lab/", ip("10.0.0.2"), &up, &[]).unwrap_err().reason, Refusal::NotDnsName);
        assert_eq!(conf("lab", ip("10.0.0.2"), &[], &[]).unwrap_err().reason, Refusal::Empty);
        let big = "y".repeat(50_000_000);
        let e = conf(&big, ip("10.0.0.2"), &up, &[]).unwrap_err();
        assert!(e.to_string().len() < 300, "a 50 MB value is not echoed");
    }

    #[test]
    fn resolv_conf_keeps_two_fallbacks_and_reads_back_stably() {
        let own = ip("10.0.0.2");
        let text = resolv_conf("lab", own, &[ip("9.9.9.9"), ip("1.1.1.1"), ip("8.8.8.8")]).unwrap();
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            ["search lab", "nameserver 10.0.0.2", "nameserver 9.9.9.9", "nameserver 1.1.1.1"]
        );
        // Read back (the next run, without declared upstreams): the same servers, not itself.
        assert_eq!(upstreams_in_resolv(&text, own), [ip("9.9.9.9"), ip("1.1.1.1")]);
        assert_eq!(upstreams_in_resolv("nameserver 127.0.0.53\nnameserver 10.0.0.1 # x\n", own), [ip("10.0.0.1")]);
    }
}
