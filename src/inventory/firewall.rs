//! Firewall rules as the original wrote them (host, guest and stack rules share one shape).

use super::reader::{bool_, string, Ctx, Obj};
use super::suggest::did_you_mean;
use serde::Serialize;
use serde_json::Value;

const TYPES: [&str; 2] = ["in", "out"];
const ACTIONS: [&str; 3] = ["ACCEPT", "DROP", "REJECT"];
/// Protocol names the Proxmox firewall accepts that configs plausibly use.
const PROTOS: [&str; 11] = ["tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "udplite", "sctp", "gre", "esp", "ah", "igmp"];

#[derive(Debug, Clone, Serialize)]
pub struct FirewallRule {
    /// `in` or `out` (lowercase).
    #[serde(rename = "type")]
    pub rule_type: String,
    /// `ACCEPT`, `DROP` or `REJECT` (uppercase).
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// Port, range (`8000:8010`) or list, as text; numbers are accepted and converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Rules are enabled unless `enable: false`.
    pub enable: bool,
}

/// `{enabled, rules[]}` on a guest.
#[derive(Debug, Clone, Serialize)]
pub struct GuestFirewall {
    pub enabled: bool,
    pub rules: Vec<FirewallRule>,
}

/// The host (cluster) firewall: `shared_volumes.firewall` in the original, top-level
/// `firewall` in later versions.
#[derive(Debug, Clone, Serialize)]
pub struct HostFirewall {
    pub enabled: bool,
    pub default_input_policy: Option<String>,
    pub default_output_policy: Option<String>,
    pub global_firewall_rules: Vec<FirewallRule>,
}

/// Checks `value` against a closed set, case-insensitively, and returns the canonical spelling.
fn one_of(ctx: &Ctx, v: &Value, ptr: &str, allowed: &[&'static str], what: &str) -> Option<String> {
    let s = string(ctx, v, ptr)?;
    if let Some(hit) = allowed.iter().find(|a| a.eq_ignore_ascii_case(&s)) {
        return Some((*hit).to_string());
    }
    let help = match did_you_mean(&s, allowed.iter().copied()) {
        Some(m) => format!("did you mean `{m}`? allowed: {}", allowed.join(", ")),
        None => format!("use one of: {}", allowed.join(", ")),
    };
    ctx.report(
        ctx.at_value(ptr, format!("`{}` is not a valid firewall {what}", ctx.path(ptr)))
            .label(format!("unknown {what}"))
            .help(help),
    );
    None
}

/// Ports may be written as numbers or strings.
fn port_text(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    match v {
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        other => {
            ctx.type_error(ptr, "a port, e.g. 443 or \"8000:8010\"", other);
            None
        }
    }
}

fn policy(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    one_of(ctx, v, ptr, &ACTIONS, "policy")
}

pub(crate) fn rule(ctx: &Ctx, v: &Value, ptr: &str) -> Option<FirewallRule> {
    let mut o = Obj::new(ctx, v, ptr)?;
    let rule_type = o.req("type", |c, v, p| one_of(c, v, p, &TYPES, "rule type"));
    let action = o.req("action", |c, v, p| one_of(c, v, p, &ACTIONS, "action"));
    let proto = o.opt("proto", |c, v, p| one_of(c, v, p, &PROTOS, "protocol"));
    let iface = o.opt("iface", string);
    let source = o.opt("source", string);
    let dest = o.opt("dest", string);
    let dport = o.opt("dport", port_text);
    let sport = o.opt("sport", port_text);
    let comment = o.opt("comment", string);
    let enable = o.opt("enable", bool_).unwrap_or(true);
    o.finish();
    Some(FirewallRule {
        rule_type: rule_type?,
        action: action?,
        proto,
        iface,
        source,
        dest,
        dport,
        sport,
        comment,
        enable,
    })
}

pub(crate) fn guest_firewall(o: &mut Obj) -> GuestFirewall {
    let enabled = o.opt("enabled", bool_).unwrap_or(false);
    let rules = o.list("rules", rule);
    GuestFirewall { enabled, rules }
}

pub(crate) fn host_firewall(o: &mut Obj) -> HostFirewall {
    HostFirewall {
        enabled: o.opt("enabled", bool_).unwrap_or(false),
        default_input_policy: o.opt("default_input_policy", policy),
        default_output_policy: o.opt("default_output_policy", policy),
        global_firewall_rules: o.list("global_firewall_rules", rule),
    }
}
