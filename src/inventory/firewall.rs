//! Firewall rules as the original wrote them (host, guest and stack rules share one shape).

use super::reader::{bool_, formatted, string, Ctx, Obj};
use super::rules::{Format, FIREWALL_ADDRESS, FIREWALL_IFACE, FIREWALL_PORTS, GUEST_IFACE};
use super::suggest::did_you_mean;
use serde::Serialize;
use serde_json::Value;

const TYPES: [&str; 2] = ["in", "out"];
const ACTIONS: [&str; 3] = ["ACCEPT", "DROP", "REJECT"];
/// Protocol names the Proxmox firewall accepts that configs plausibly use.
const PROTOS: [&str; 12] =
    ["tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "udplite", "sctp", "dccp", "gre", "esp", "ah", "igmp"];
/// Protocols whose rules may name ports (pve-firewall's PROTOCOLS_WITH_PORTS); for the ICMP
/// ones `dport` holds the ICMP type.
const WITH_PORTS: [&str; 5] = ["tcp", "udp", "udplite", "sctp", "dccp"];
const ICMP: [&str; 3] = ["icmp", "icmpv6", "ipv6-icmp"];

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
        _ if s.chars().count() > 40 => format!("use one of: {}", allowed.join(", ")),
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

/// Ports may be written as numbers or strings, in pve-firewall's syntax.
fn port_text(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    match v {
        Value::Number(n) if n.is_u64() => formatted(&FIREWALL_PORTS)(ctx, &Value::String(n.to_string()), ptr),
        Value::String(_) => formatted(&FIREWALL_PORTS)(ctx, v, ptr),
        other => {
            ctx.type_error(ptr, "a port, e.g. 443 or \"8000:8010\"", other);
            None
        }
    }
}

fn policy(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    one_of(ctx, v, ptr, &ACTIONS, "policy")
}

/// A rule of the host (cluster.fw). phoenix keeps the host rules in its own security group
/// (`phoenix-host`, so the administrator's part of the shared file stays theirs), and
/// pve-firewall refuses `-i` on a rule inside a security group (`verify_rule`, rule_env
/// `group`): an interface is refused here, with the way out.
pub(crate) fn host_rule(ctx: &Ctx, v: &Value, ptr: &str) -> Option<FirewallRule> {
    let r = rule(ctx, v, ptr, &FIREWALL_IFACE)?;
    if r.iface.is_some() {
        let at = format!("{ptr}/iface");
        ctx.report(
            ctx.at_key(&at, format!("`{}`: a host rule cannot name an interface", ctx.path(&at)))
                .label("interface on a host rule")
                .help(
                    "phoenix keeps the host rules in the `phoenix-host` security group of cluster.fw, and \
                     pve-firewall ignores a rule with `-i` inside a security group; match on `source`/`dest` \
                     instead, or add the rule in the Proxmox GUI",
                ),
        );
        return None;
    }
    Some(r)
}

/// A rule of a guest (its `<id>.fw`, or a stack deployed on it): interfaces are `netN`.
pub(crate) fn guest_rule(ctx: &Ctx, v: &Value, ptr: &str) -> Option<FirewallRule> {
    rule(ctx, v, ptr, &GUEST_IFACE)
}

fn rule(ctx: &Ctx, v: &Value, ptr: &str, iface_format: &'static Format) -> Option<FirewallRule> {
    let mut o = Obj::new(ctx, v, ptr)?;
    let rule_type = o.req("type", |c, v, p| one_of(c, v, p, &TYPES, "rule type"));
    let action = o.req("action", |c, v, p| one_of(c, v, p, &ACTIONS, "action"));
    let proto = o.opt("proto", |c, v, p| one_of(c, v, p, &PROTOS, "protocol"));
    let iface = o.opt("iface", formatted(iface_format));
    let source = o.opt("source", formatted(&FIREWALL_ADDRESS));
    let dest = o.opt("dest", formatted(&FIREWALL_ADDRESS));
    // The original's rules say `port`; its generate_rule_string writes it as `-dport`.
    let dport = match (o.has("dport"), o.has("port")) {
        (true, true) => {
            ctx.report(
                ctx.at_key(&o.field_ptr("port"), "the destination port is given twice, as `dport` and as `port`")
                    .label("second declaration")
                    .help("keep one: `port` is the original tool's name for `dport`"),
            );
            o.accept("port");
            o.opt("dport", port_text)
        }
        (false, true) => o.opt("port", port_text),
        _ => {
            o.accept("port");
            o.opt("dport", port_text)
        }
    };
    let sport = o.opt("sport", port_text);
    if dport.is_some() || sport.is_some() {
        let key = if sport.is_some() && dport.is_none() {
            "sport"
        } else if o.has("port") {
            "port"
        } else {
            "dport"
        };
        match proto.as_deref() {
            None if o.has("proto") => {}
            None => ctx.report(
                ctx.at_key(&o.field_ptr(key), format!("a rule with `{key}` needs `proto`"))
                    .label("ports without a protocol")
                    .help("add \"proto\": \"tcp\" (or udp): pve-firewall refuses ports without a protocol"),
            ),
            Some(p) if WITH_PORTS.contains(&p) || (ICMP.contains(&p) && sport.is_none()) => {}
            Some(p) => ctx.report(
                ctx.at_key(&o.field_ptr(key), format!("protocol `{p}` has no ports"))
                    .label("ports on a protocol without them")
                    .help(format!("ports work with {}; remove `{key}` or change `proto`", WITH_PORTS.join(", "))),
            ),
        }
    }
    let comment = o.opt("comment", comment);
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

/// A rule's comment: pve-firewall trims the text after `#` when it reads the file back, so a
/// comment with blanks at either end would never read back as declared (drift on every run).
fn comment(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let s = string(ctx, v, ptr)?;
    if s.trim() != s {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` starts or ends with blanks", ctx.path(ptr)))
                .label("leading or trailing blanks")
                .help("remove them: pve-firewall trims a rule's comment when it reads the file"),
        );
        return None;
    }
    Some(s)
}

pub(crate) fn guest_firewall(o: &mut Obj) -> GuestFirewall {
    let enabled = o.opt("enabled", bool_).unwrap_or(false);
    let rules = o.list("rules", guest_rule);
    GuestFirewall { enabled, rules }
}

pub(crate) fn host_firewall(o: &mut Obj) -> HostFirewall {
    HostFirewall {
        enabled: o.opt("enabled", bool_).unwrap_or(false),
        default_input_policy: o.opt("default_input_policy", policy),
        default_output_policy: o.opt("default_output_policy", policy),
        global_firewall_rules: o.list("global_firewall_rules", host_rule),
    }
}

/// The environment of a stack whose `firewall_rules` go into the `.fw` of the VM that deploys
/// it when the reference names none (the original only ever used `production`).
pub const DEFAULT_STACK_ENVIRONMENT: &str = "production";

/// The firewall rules of every stack a guest deploys, as (stack name, rules), in the order of
/// its `docker_stacks`. Only VMs deploy stacks. A reference to a stack or environment that does
/// not exist contributes nothing here: the configuration check refuses it before any run.
pub fn stack_firewall_rules(inv: &super::Inventory, id: u32) -> Vec<(&str, &[FirewallRule])> {
    let Some(super::GuestRef::Vm(vm)) = inv.guest(id) else {
        return Vec::new();
    };
    vm.docker_stacks
        .iter()
        .filter_map(|s| {
            let stack = inv.stacks.get(&s.name)?;
            let env = s.environment.as_deref().unwrap_or(DEFAULT_STACK_ENVIRONMENT);
            let rules = &stack.manifest.environments.get(env)?.firewall_rules;
            Some((stack.name.as_str(), rules.as_slice()))
        })
        .collect()
}
