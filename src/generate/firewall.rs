//! Proxmox firewall files from the inventory: phoenix's part of `cluster.fw` from the host
//! firewall block and of `<id>.fw` per guest (its rules and the rules of the stacks it runs),
//! merged into what is on the host (see `firewall_merge`: what phoenix owns, and why). Guest
//! rules go only into the guest's own file (the original flattened them into cluster rules,
//! opening the ports host-wide).
//!
//! The one writer of firewall text: every field is checked before it is placed, so a value can
//! never add a line, a rule or an option (`"x\nIN ACCEPT -p tcp"` as a comment is refused, not
//! written). Rule fields are single tokens (the file splits rules on whitespace and comments on
//! `#`); a comment is one line without leading or trailing blanks (the reader trims them).

use super::error::{no_control, token, GenerateError, Refusal};
use super::firewall_merge::{merge, tagged_comment, Declared, MergeError, Part};
use crate::facts::firewall::{render_rule, Direction, Rule};
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

/// The security group in `cluster.fw` that holds the host rules (pve-firewall's group names:
/// `[A-Za-z][A-Za-z0-9\-\_]+`, at most 18 characters, read lowercased).
pub const CLUSTER_GROUP: &str = "phoenix-host";
const CLUSTER_GROUP_COMMENT: &str = "managed by phoenix: edits here are replaced on the next run";

/// A firewall file phoenix would not write: a value the builders refuse, or an existing file
/// it cannot merge into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirewallFileError {
    #[error(transparent)]
    Refused(#[from] GenerateError),
    #[error("{path}: {source}")]
    Existing { path: String, source: MergeError },
}

/// What phoenix declares in `cluster.fw`: `enable`, the policies it is given, and the host
/// rules in the `phoenix-host` group. pve-firewall refuses `-i` on a rule inside a security
/// group (`verify_rule`, rule_env `group`), so an interface is refused here too (the
/// configuration check explains it to the operator first).
pub fn cluster_declared(fw: &HostFirewall) -> Result<Declared, GenerateError> {
    let mut options = vec![("enable".to_string(), if fw.enabled { "1" } else { "0" }.to_string())];
    if let Some(p) = &fw.default_input_policy {
        options.push(("policy_in".into(), verdict("cluster.fw policy_in", p)?));
    }
    if let Some(p) = &fw.default_output_policy {
        options.push(("policy_out".into(), verdict("cluster.fw policy_out", p)?));
    }
    let mut lines = Vec::new();
    for (i, r) in rules("cluster.fw", &fw.global_firewall_rules)?.into_iter().enumerate() {
        if let Some(iface) = &r.iface {
            return Err(GenerateError::new(format!("cluster.fw rule {} iface", i + 1), iface, Refusal::NotAllowedWord));
        }
        lines.push(render_rule(&r));
    }
    Ok(Declared {
        options,
        part: Part::Group { name: CLUSTER_GROUP.into(), comment: CLUSTER_GROUP_COMMENT.into(), rules: lines },
    })
}

/// `/etc/pve/firewall/cluster.fw`: the declared part merged into `existing` (`None`: no file).
pub fn cluster_file(fw: &HostFirewall, existing: Option<&str>) -> Result<String, FirewallFileError> {
    let declared = cluster_declared(fw)?;
    merge(existing, &declared).map_err(|source| FirewallFileError::Existing { path: CLUSTER_PATH.into(), source })
}

pub const CLUSTER_PATH: &str = "/etc/pve/firewall/cluster.fw";

pub fn guest_path(id: u32) -> String {
    format!("/etc/pve/firewall/{id}.fw")
}

/// The firewall rules of one stack deployed on a guest (its environment's `firewall_rules`).
pub struct StackRules<'a> {
    pub stack: &'a str,
    pub rules: &'a [FirewallRule],
}

/// What phoenix declares in `<id>.fw`: `enable` when the guest declares a firewall (the option
/// the original never set), its rules, then each deployed stack's rules, every one tagged as
/// phoenix's (`phoenix: <comment>`; `phoenix: <stack>: <comment>` for a stack's).
pub fn guest_declared(id: u32, fw: Option<&GuestFirewall>, stacks: &[StackRules]) -> Result<Declared, GenerateError> {
    let file = format!("{id}.fw");
    let mut options = Vec::new();
    let mut lines = Vec::new();
    let mut add = |at: String, r: &FirewallRule, prefix: Option<&str>| -> Result<(), GenerateError> {
        let mut built = rule(&at, r)?;
        let text = match (prefix, built.comment.as_deref()) {
            (Some(p), Some(c)) => Some(format!("{p}: {c}")),
            (Some(p), None) => Some(p.to_string()),
            (None, c) => c.map(str::to_string),
        };
        built.comment = Some(tagged_comment(text.as_deref()));
        // The comment was checked; the tag and a stack name (a simple name) keep it one line.
        comment(&format!("{at} comment"), &built.comment)?;
        lines.push(render_rule(&built));
        Ok(())
    };
    if let Some(fw) = fw {
        options.push(("enable".to_string(), if fw.enabled { "1" } else { "0" }.to_string()));
        for (i, r) in fw.rules.iter().enumerate() {
            add(format!("{file} rule {}", i + 1), r, None)?;
        }
    }
    for s in stacks {
        for (i, r) in s.rules.iter().enumerate() {
            add(format!("{file} stack {} rule {}", s.stack, i + 1), r, Some(s.stack))?;
        }
    }
    Ok(Declared { options, part: Part::Tagged { rules: lines } })
}

/// `/etc/pve/firewall/<id>.fw`: the declared part merged into `existing`; `None` when the guest
/// declares nothing and has no file (with a file, phoenix's old rules are taken out of it).
pub fn guest_file(
    id: u32,
    fw: Option<&GuestFirewall>,
    stacks: &[StackRules],
    existing: Option<&str>,
) -> Result<Option<String>, FirewallFileError> {
    let declared = guest_declared(id, fw, stacks)?;
    let nothing = declared.options.is_empty() && matches!(&declared.part, Part::Tagged { rules } if rules.is_empty());
    if nothing && existing.is_none() {
        return Ok(None);
    }
    merge(existing, &declared).map(Some).map_err(|source| FirewallFileError::Existing { path: guest_path(id), source })
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

    fn cluster(fw: &HostFirewall) -> Result<String, FirewallFileError> {
        cluster_file(fw, None)
    }

    fn refusal(e: FirewallFileError) -> GenerateError {
        match e {
            FirewallFileError::Refused(g) => g,
            other => panic!("not a refusal: {other}"),
        }
    }

    #[test]
    fn a_comment_is_data_and_parses_back() {
        let text = cluster(&host(vec![r("ssh # from lan (admins)")])).unwrap();
        let back = parse_firewall(&text).unwrap();
        let group = &back.groups[CLUSTER_GROUP];
        assert_eq!(group.rules.len(), 1);
        assert_eq!(group.rules[0].comment.as_deref(), Some("ssh # from lan (admins)"));
        assert_eq!(back.options["policy_in"], "DROP");
        assert_eq!(back.rules[0].direction, Some(Direction::Group));
        assert_eq!(back.rules[0].action, CLUSTER_GROUP);
    }

    #[test]
    fn a_newline_in_a_comment_cannot_add_a_rule() {
        let e = refusal(cluster(&host(vec![r("x\nIN ACCEPT -p tcp")])).unwrap_err());
        assert_eq!(e.field, "cluster.fw rule 1 comment");
        assert_eq!(e.reason, Refusal::ControlChar);
        assert!(e.to_string().contains("\"x\\nIN ACCEPT -p tcp\""), "{e}");
    }

    #[test]
    fn fields_are_single_tokens() {
        let mut bad = r("ok");
        bad.dport = Some("22 -source 0.0.0.0/0".into());
        assert_eq!(refusal(cluster(&host(vec![bad])).unwrap_err()).reason, Refusal::Whitespace);
        let mut bad = r("ok");
        bad.source = Some("1.2.3.4#x".into());
        assert_eq!(refusal(cluster(&host(vec![bad])).unwrap_err()).reason, Refusal::Hash);
        let mut bad = r("ok");
        bad.action = "ACCEPT -p tcp".into();
        assert_eq!(refusal(cluster(&host(vec![bad])).unwrap_err()).reason, Refusal::NotAllowedWord);
        let mut h = host(vec![]);
        h.default_output_policy = Some("ACCEPT\n[RULES]".into());
        assert_eq!(refusal(cluster(&h).unwrap_err()).field, "cluster.fw policy_out");
        assert_eq!(refusal(cluster(&host(vec![r(" padded")])).unwrap_err()).reason, Refusal::LeadingOrTrailingSpace);
        // pve-firewall refuses `-i` inside a security group.
        let mut bad = r("ok");
        bad.iface = Some("vmbr0".into());
        assert_eq!(refusal(cluster(&host(vec![bad])).unwrap_err()).field, "cluster.fw rule 1 iface");
    }

    #[test]
    fn hostile_values_are_refused_before_any_merge() {
        // Even with an existing file, a refused value never reaches it.
        let existing = "[RULES]\n\nIN DROP -source 10.0.0.66\n";
        let e = cluster_file(&host(vec![r("a\n[group x]")]), Some(existing)).unwrap_err();
        assert!(matches!(e, FirewallFileError::Refused(_)), "{e}");
        let fw = GuestFirewall { enabled: true, rules: vec![r("a\rb")] };
        let e = refusal(guest_file(101, Some(&fw), &[], Some(existing)).unwrap_err());
        assert_eq!(e.field, "101.fw rule 1 comment");
    }

    #[test]
    fn guest_file_tags_guest_and_stack_rules() {
        let fw = GuestFirewall { enabled: true, rules: vec![r("web")] };
        let stack = [r("grpc")];
        let stacks = [StackRules { stack: "qdrant_service", rules: &stack }];
        let text = guest_file(1002, Some(&fw), &stacks, None).unwrap().unwrap();
        assert_eq!(
            text,
            "[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -source 10.0.0.0/24 -p tcp -dport 22 # phoenix: web\nIN ACCEPT -source 10.0.0.0/24 -p tcp -dport 22 # phoenix: qdrant_service: grpc\n\n"
        );
        // Stack rules alone (no firewall block): the rules, no `enable` of phoenix's.
        let text = guest_file(1002, None, &stacks, None).unwrap().unwrap();
        assert!(!text.contains("enable"), "{text}");
        assert!(text.contains("# phoenix: qdrant_service: grpc"), "{text}");
        // Nothing declared and no file: nothing to write; with a file, phoenix's rules leave it.
        assert_eq!(guest_file(1002, None, &[], None).unwrap(), None);
        let admin = "[RULES]\n\nIN DROP -source 10.0.0.66\nIN ACCEPT -p tcp -dport 22 # phoenix: web\n";
        assert_eq!(
            guest_file(1002, None, &[], Some(admin)).unwrap().unwrap(),
            "[RULES]\n\nIN DROP -source 10.0.0.66\n"
        );
        // A stack's rule is checked like a guest's and named by its stack.
        let bad = [r("x\ny")];
        let e = refusal(guest_file(1002, None, &[StackRules { stack: "notes_app", rules: &bad }], None).unwrap_err());
        assert_eq!(e.field, "1002.fw stack notes_app rule 1 comment");
    }

    #[test]
    fn an_unreadable_existing_file_names_its_path() {
        let e = cluster_file(&host(vec![]), Some("[RULES]\nIN ALLOW\n")).unwrap_err();
        assert!(e.to_string().starts_with("/etc/pve/firewall/cluster.fw: line 2: unknown action"), "{e}");
        let e = guest_file(7, None, &[], Some("garbage\n")).unwrap_err();
        assert!(e.to_string().starts_with("/etc/pve/firewall/7.fw: line 1"), "{e}");
    }
}
