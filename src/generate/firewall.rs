//! Proxmox firewall files from the inventory: `cluster.fw` from the host firewall block and
//! `<id>.fw` per guest. Guest rules go only into the guest's own file (the original flattened
//! them into cluster rules, opening the ports host-wide).

use crate::facts::firewall::{render_firewall, Direction, FirewallFile, Rule};
use crate::inventory::{FirewallRule, GuestFirewall, HostFirewall};

fn rule(r: &FirewallRule) -> Rule {
    Rule {
        enabled: r.enable,
        direction: Some(if r.rule_type.eq_ignore_ascii_case("out") { Direction::Out } else { Direction::In }),
        action: r.action.to_ascii_uppercase(),
        r#macro: None,
        iface: r.iface.clone(),
        source: r.source.clone(),
        dest: r.dest.clone(),
        proto: r.proto.clone(),
        dport: r.dport.clone(),
        sport: r.sport.clone(),
        log: None,
        icmp_type: None,
        comment: r.comment.clone(),
    }
}

/// `/etc/pve/firewall/cluster.fw`: enable flag, default policies and the global rules.
pub fn cluster_file(fw: &HostFirewall) -> String {
    let mut file = FirewallFile::default();
    file.options.insert("enable".into(), if fw.enabled { "1" } else { "0" }.into());
    if let Some(p) = &fw.default_input_policy {
        file.options.insert("policy_in".into(), p.to_ascii_uppercase());
    }
    if let Some(p) = &fw.default_output_policy {
        file.options.insert("policy_out".into(), p.to_ascii_uppercase());
    }
    file.rules = fw.global_firewall_rules.iter().map(rule).collect();
    render_firewall(&file)
}

/// `/etc/pve/firewall/<id>.fw` for a guest: `enable: 1` when its firewall is enabled (the
/// option the original never set), and its rules.
pub fn guest_file(fw: &GuestFirewall) -> String {
    let mut file = FirewallFile::default();
    file.options.insert("enable".into(), if fw.enabled { "1" } else { "0" }.into());
    file.rules = fw.rules.iter().map(rule).collect();
    render_firewall(&file)
}
