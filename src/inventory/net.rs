//! Address syntax checks for config values: IPv4 CIDR, IPv4 gateway, MAC address.

use super::reader::{i64_, string, Ctx};
use super::rules::{cidr_v4, unicast_mac};
use serde_json::Value;
use std::net::Ipv4Addr;

/// `10.0.0.10/24` → (address, prefix length).
pub(crate) fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr, len))
}

pub(crate) fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    (u32::from(a) & mask) == (u32::from(b) & mask)
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `boot_order`: Proxmox's startup order is a non-negative number (pve-startup-order).
pub(crate) fn boot_order(ctx: &Ctx, v: &serde_json::Value, ptr: &str) -> Option<i64> {
    let n = i64_(ctx, v, ptr)?;
    if n >= 0 {
        return Some(n);
    }
    ctx.report(
        ctx.at_value(ptr, format!("`{}` must be at least 0", ctx.path(ptr)))
            .label(format!("this is {n}"))
            .help("Proxmox's startup order is a non-negative number; lower numbers start first"),
    );
    None
}

/// An IPv4 address with prefix length, as `pct`/`qm` take it.
pub(crate) fn cidr(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let s = string(ctx, v, ptr)?;
    if let Err(label) = cidr_v4(&s) {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` is not an IPv4 address in CIDR form", ctx.path(ptr)))
                .label(label)
                .help("write the address with its prefix length (8 to 32), e.g. \"10.0.0.10/24\""),
        );
        return None;
    }
    Some(s)
}

pub(crate) fn ipv4(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let s = string(ctx, v, ptr)?;
    if s.parse::<Ipv4Addr>().is_err() {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` is not an IPv4 address", ctx.path(ptr)))
                .label("expected an address like 10.0.0.1")
                .help("write a plain IPv4 address without prefix length, e.g. \"10.0.0.1\""),
        );
        return None;
    }
    Some(s)
}

pub(crate) fn mac(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let s = string(ctx, v, ptr)?;
    if let Err(label) = unicast_mac(&s) {
        let help = if is_mac(&s) {
            "use a unicast address: the first byte even and not all zeros, e.g. \"52:54:00:12:34:56\" \
             (Proxmox refuses the others)"
        } else {
            "write six colon-separated hex pairs, e.g. \"52:54:00:12:34:56\""
        };
        ctx.report(ctx.at_value(ptr, format!("`{}` is not a MAC address", ctx.path(ptr))).label(label).help(help));
        return None;
    }
    Some(s)
}

/// Reports a gateway outside the subnet of the guest's address (the guest could not reach it).
pub(crate) fn check_gateway(ctx: &Ctx, ip: &str, gw_ptr: &str, gw: &str) {
    let (Some((addr, prefix)), Ok(gw_addr)) = (parse_cidr(ip), gw.parse::<Ipv4Addr>()) else {
        return;
    };
    if !same_subnet(addr, gw_addr, prefix) {
        ctx.report(
            ctx.at_value(gw_ptr, format!("gateway {gw} is outside the subnet of {ip}"))
                .label("not reachable from the guest's address")
                .help(format!("use a gateway inside {ip} (the same first {prefix} bits) or fix the address")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_subnet() {
        assert_eq!(parse_cidr("10.0.0.10/24"), Some((Ipv4Addr::new(10, 0, 0, 10), 24)));
        assert!(parse_cidr("10.0.0.10").is_none());
        assert!(parse_cidr("10.0.0.10/33").is_none());
        assert!(parse_cidr("10.0.0.300/24").is_none());
        let a = Ipv4Addr::new(10, 0, 0, 10);
        assert!(same_subnet(a, Ipv4Addr::new(10, 0, 0, 1), 24));
        assert!(!same_subnet(a, Ipv4Addr::new(10, 0, 1, 1), 24));
        assert!(same_subnet(a, Ipv4Addr::new(192, 168, 0, 1), 0));
        assert!(same_subnet(a, a, 32));
    }

    #[test]
    fn macs() {
        assert!(is_mac("52:54:00:AB:cd:01"));
        assert!(!is_mac("52:54:00:AB:cd"));
        assert!(!is_mac("52-54-00-AB-cd-01"));
        assert!(!is_mac("52:54:00:AB:cd:0g"));
    }
}
