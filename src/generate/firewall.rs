//! Proxmox firewall files from the inventory: `cluster.fw` from the host firewall block and
//! `<id>.fw` per guest. Guest rules go only into the guest's own file (the original flattened
//! them into cluster rules, opening the ports host-wide).
//!
//! The one writer of firewall text: every field is checked before it is placed, so a value can
//! never add a line, a rule or an option (`"x\nIN ACCEPT -p tcp"` as a comment is refused, not
//! written). Rule fields are single tokens (the file splits rules on whitespace and comments on
//! `#`); a comment is one line without leading or trailing blanks (the reader trims them).

use super::error::{no_control, token, GenerateError, Refusal};
use crate::facts::firewall::{render_firewall, Direction, FirewallFile, Rule};
use crate::inventory::{FirewallRule, GuestFirewall, HostFirewall};

/// Characters a rule field may not hold: the comment marker, and `-` at the start is allowed
/// (the reader takes the word after a flag as its value whatever it is).
const FIELD_FORBIDDEN: &[(char, Refusal)] = &[('#', Refusal::Hash)];

/// A rule field (`-source`, `-dport`, …): one token.
fn field(name: &str, value: &Option<String>) -> Result<Option<String>, GenerateError> {
    match value {
        Some(v) => {
            token(name, v, FIELD_FORBIDDEN)?;
            Ok(Some(v.clone()))
        }
        None => Ok(None),
    }
}

/// A comment: one line, no leading/trailing blanks; an empty comment is none (the reader
/// cannot tell `# ` from no comment).
pub fn comment(name: &str, value: &Option<String>) -> Result<Option<String>, GenerateError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(c) => {
            no_control(name, c)?;
            if c.trim() != c {
                return Err(GenerateError::new(name, c, Refusal::LeadingOrTrailingSpace));
            }
            Ok(Some(c.to_string()))
        }
    }
}

/// `ACCEPT`, `DROP` or `REJECT` (any case in the config).
fn verdict(name: &str, value: &str) -> Result<String, GenerateError> {
    let up = value.to_ascii_uppercase();
    match up.as_str() {
        "ACCEPT" | "DROP" | "REJECT" => Ok(up),
        _ => Err(GenerateError::new(name, value, Refusal::NotAllowedWord)),
    }
}

fn direction(name: &str, value: &str) -> Result<Direction, GenerateError> {
    match value.to_ascii_lowercase().as_str() {
        "in" => Ok(Direction::In),
        "out" => Ok(Direction::Out),
        _ => Err(GenerateError::new(name, value, Refusal::NotAllowedWord)),
    }
}

/// One rule, every field checked. `at` names the rule in errors (`cluster.fw rule 3`).
pub fn rule(at: &str, r: &FirewallRule) -> Result<Rule, GenerateError> {
    let f = |what: &str| format!("{at} {what}");
    Ok(Rule {
        enabled: r.enable,
        direction: Some(direction(&f("type"), &r.rule_type)?),
        action: verdict(&f("action"), &r.action)?,
        r#macro: None,
        iface: field(&f("iface"), &r.iface)?,
        source: field(&f("source"), &r.source)?,
        dest: field(&f("dest"), &r.dest)?,
        proto: field(&f("proto"), &r.proto)?,
        dport: field(&f("dport"), &r.dport)?,
        sport: field(&f("sport"), &r.sport)?,
        log: None,
        icmp_type: None,
        comment: comment(&f("comment"), &r.comment)?,
    })
}

fn rules(file: &str, rules: &[FirewallRule]) -> Result<Vec<Rule>, GenerateError> {
    rules.iter().enumerate().map(|(i, r)| rule(&format!("{file} rule {}", i + 1), r)).collect()
}

/// `/etc/pve/firewall/cluster.fw`: enable flag, default policies and the global rules.
pub fn cluster_file(fw: &HostFirewall) -> Result<String, GenerateError> {
    let mut file = FirewallFile::default();
    file.options.insert("enable".into(), if fw.enabled { "1" } else { "0" }.into());
    if let Some(p) = &fw.default_input_policy {
        file.options.insert("policy_in".into(), verdict("cluster.fw policy_in", p)?);
    }
    if let Some(p) = &fw.default_output_policy {
        file.options.insert("policy_out".into(), verdict("cluster.fw policy_out", p)?);
    }
    file.rules = rules("cluster.fw", &fw.global_firewall_rules)?;
    Ok(render_firewall(&file))
}

/// `/etc/pve/firewall/<id>.fw` for a guest: `enable: 1` when its firewall is enabled (the
/// option the original never set), and its rules.
pub fn guest_file(id: u32, fw: &GuestFirewall) -> Result<String, GenerateError> {
    let mut file = FirewallFile::default();
    file.options.insert("enable".into(), if fw.enabled { "1" } else { "0" }.into());
    file.rules = rules(&format!("{id}.fw"), &fw.rules)?;
    Ok(render_firewall(&file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::firewall::parse_firewall;

    fn r(comment: &str) -> FirewallRule {
        FirewallRule {
            rule_type: "in".into(),
            action: "accept".into(),
            proto: Some("tcp".into()),
            iface: None,
            source: Some("10.0.0.0/24".into()),
            dest: None,
            dport: Some("22".into()),
            sport: None,
            comment: Some(comment.into()),
            enable: true,
        }
    }

    fn host(rules: Vec<FirewallRule>) -> HostFirewall {
        HostFirewall {
            enabled: true,
            default_input_policy: Some("drop".into()),
            default_output_policy: None,
            global_firewall_rules: rules,
        }
    }

    #[test]
    fn a_comment_is_data_and_parses_back() {
        let text = cluster_file(&host(vec![r("ssh # from lan (admins)")])).unwrap();
        let back = parse_firewall(&text).unwrap();
        assert_eq!(back.rules.len(), 1);
        assert_eq!(back.rules[0].comment.as_deref(), Some("ssh # from lan (admins)"));
        assert_eq!(back.options["policy_in"], "DROP");
    }

    #[test]
    fn a_newline_in_a_comment_cannot_add_a_rule() {
        let e = cluster_file(&host(vec![r("x\nIN ACCEPT -p tcp")])).unwrap_err();
        assert_eq!(e.field, "cluster.fw rule 1 comment");
        assert_eq!(e.reason, Refusal::ControlChar);
        assert!(e.to_string().contains("\"x\\nIN ACCEPT -p tcp\""), "{e}");
    }

    #[test]
    fn fields_are_single_tokens() {
        let mut bad = r("ok");
        bad.dport = Some("22 -source 0.0.0.0/0".into());
        assert_eq!(cluster_file(&host(vec![bad])).unwrap_err().reason, Refusal::Whitespace);
        let mut bad = r("ok");
        bad.source = Some("1.2.3.4#x".into());
        assert_eq!(cluster_file(&host(vec![bad])).unwrap_err().reason, Refusal::Hash);
        let mut bad = r("ok");
        bad.action = "ACCEPT -p tcp".into();
        assert_eq!(cluster_file(&host(vec![bad])).unwrap_err().reason, Refusal::NotAllowedWord);
        let mut h = host(vec![]);
        h.default_output_policy = Some("ACCEPT\n[RULES]".into());
        assert_eq!(cluster_file(&h).unwrap_err().field, "cluster.fw policy_out");
        assert_eq!(cluster_file(&host(vec![r(" padded")])).unwrap_err().reason, Refusal::LeadingOrTrailingSpace);
    }

    #[test]
    fn guest_file_names_the_guest() {
        let fw = GuestFirewall { enabled: true, rules: vec![r("a\rb")] };
        assert_eq!(guest_file(101, &fw).unwrap_err().field, "101.fw rule 1 comment");
        let fw = GuestFirewall { enabled: true, rules: vec![r("web")] };
        assert_eq!(parse_firewall(&guest_file(101, &fw).unwrap()).unwrap().rules.len(), 1);
    }
}
