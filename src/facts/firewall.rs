//! Proxmox firewall files (`cluster.fw`, `host.fw`, `<vmid>.fw`; contracts §E): parser and
//! a canonical writer shaped like pve-firewall's (`save_*`: ALIASES sorted, IPSETs sorted with
//! entries sorted by cidr, RULES in order, groups sorted; a blank line after every header and
//! every section). pve-firewall writes OPTIONS in Perl hash order (`keys %$options`, not
//! stable); this writer sorts them. For canonical input `render(parse(x)) == x`. phoenix does
//! not write files with it: it merges its part into the text on the host
//! (`generate::firewall_merge`), so an administrator's file keeps its bytes.
//!
//! pve-firewall only warns about lines it cannot read and drops them; phoenix reports them as
//! errors with the line number (a caller may downgrade to a warning), because rewriting a file
//! after silently dropping a rule would delete that rule on the host.

use indexmap::IndexMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FwParseError {
    #[error("line {line}: {reason}: '{text}'")]
    Line { line: usize, text: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Direction {
    In,
    Out,
    Forward,
    /// `GROUP <name>`: use a security group; the action is the group name.
    Group,
}

impl Direction {
    fn parse(s: &str) -> Option<Direction> {
        match s.to_ascii_uppercase().as_str() {
            "IN" => Some(Direction::In),
            "OUT" => Some(Direction::Out),
            "FORWARD" => Some(Direction::Forward),
            "GROUP" => Some(Direction::Group),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "IN",
            Direction::Out => "OUT",
            Direction::Forward => "FORWARD",
            Direction::Group => "GROUP",
        }
    }
}

/// One rule line: `[|]DIRECTION ACTION [options] [# comment]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// `false` when the line starts with `|`.
    pub enabled: bool,
    pub direction: Option<Direction>,
    /// `ACCEPT`/`DROP`/`REJECT`, or the group name for `GROUP` rules.
    pub action: String,
    /// Macro name for `Macro(ACTION)` rules (`SSH(ACCEPT)` → `SSH`).
    pub r#macro: Option<String>,
    pub iface: Option<String>,
    pub source: Option<String>,
    pub dest: Option<String>,
    pub proto: Option<String>,
    pub dport: Option<String>,
    pub sport: Option<String>,
    pub log: Option<String>,
    pub icmp_type: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alias {
    pub name: String,
    pub cidr: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IpSetEntry {
    /// `!` prefix: excluded from the set.
    pub nomatch: bool,
    pub cidr: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IpSet {
    pub comment: Option<String>,
    pub entries: Vec<IpSetEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub comment: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FirewallFile {
    pub options: IndexMap<String, String>,
    pub aliases: Vec<Alias>,
    pub ipsets: IndexMap<String, IpSet>,
    pub rules: Vec<Rule>,
    pub groups: IndexMap<String, Group>,
}

enum Section {
    None,
    Options,
    Aliases,
    Rules,
    IpSet(String),
    Group(String),
}

/// Parse a `.fw` file. Section headers are case-insensitive; `#` lines and blank lines are
/// skipped; anything else that does not parse is an error naming the line.
pub fn parse_firewall(text: &str) -> Result<FirewallFile, FwParseError> {
    let mut fw = FirewallFile::default();
    let mut section = Section::None;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
        let err =
            |reason: &str| FwParseError::Line { line: line_no, text: line.to_string(), reason: reason.to_string() };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let (head, comment) = split_comment(line);
            let inner = head
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .ok_or_else(|| err("malformed section header"))?;
            let mut words = inner.split_whitespace();
            let kind = words.next().unwrap_or_default().to_ascii_lowercase();
            let name = words.next();
            if words.next().is_some() {
                return Err(err("malformed section header"));
            }
            section = match (kind.as_str(), name) {
                ("options", None) => Section::Options,
                ("aliases", None) => Section::Aliases,
                ("rules", None) => Section::Rules,
                ("ipset", Some(n)) => {
                    if fw.ipsets.contains_key(n) {
                        return Err(err("duplicate ipset"));
                    }
                    fw.ipsets.insert(n.to_string(), IpSet { comment, entries: Vec::new() });
                    Section::IpSet(n.to_string())
                }
                ("group", Some(n)) => {
                    if fw.groups.contains_key(n) {
                        return Err(err("duplicate group"));
                    }
                    fw.groups.insert(n.to_string(), Group { comment, rules: Vec::new() });
                    Section::Group(n.to_string())
                }
                _ => return Err(err("unknown section")),
            };
            continue;
        }
        match &section {
            Section::None => return Err(err("skip line - no section")),
            Section::Options => {
                let (k, v) = line.split_once(':').ok_or_else(|| err("can't parse option"))?;
                let (k, v) = (k.trim(), v.trim());
                let key_ok = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                // An empty value is valid: the GUI writes `log_level_in: ` for "no logging"
                // (pve-firewall's `parse_vmfw_option`: `(($loglevels)\s*)?`).
                if !key_ok || v.contains(char::is_whitespace) {
                    return Err(err("can't parse option"));
                }
                if fw.options.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(err("duplicate option"));
                }
            }
            Section::Aliases => {
                let (body, comment) = split_comment(line);
                let mut w = body.split_whitespace();
                let (Some(name), Some(cidr), None) = (w.next(), w.next(), w.next()) else {
                    return Err(err("can't parse alias"));
                };
                fw.aliases.push(Alias { name: name.to_string(), cidr: cidr.to_string(), comment });
            }
            Section::IpSet(name) => {
                let (body, comment) = split_comment(line);
                let (nomatch, cidr) = match body.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, body),
                };
                if cidr.is_empty() || cidr.contains(char::is_whitespace) {
                    return Err(err("can't parse ipset entry"));
                }
                if let Some(set) = fw.ipsets.get_mut(name) {
                    set.entries.push(IpSetEntry { nomatch, cidr: cidr.to_string(), comment });
                }
            }
            Section::Rules => fw.rules.push(parse_rule(line).map_err(|r| err(&r))?),
            Section::Group(name) => {
                let rule = parse_rule(line).map_err(|r| err(&r))?;
                if let Some(g) = fw.groups.get_mut(name) {
                    g.rules.push(rule);
                }
            }
        }
    }
    Ok(fw)
}

/// Split `body # comment` at the first `#` (as pve-firewall does); blank comments are none.
fn split_comment(line: &str) -> (&str, Option<String>) {
    match line.split_once('#') {
        Some((body, c)) => {
            let c = c.trim();
            (body.trim(), (!c.is_empty()).then(|| c.to_string()))
        }
        None => (line.trim(), None),
    }
}

/// One rule line (without the section context).
pub fn parse_rule(line: &str) -> Result<Rule, String> {
    let (body, comment) = split_comment(line);
    let (enabled, body) = match body.strip_prefix('|') {
        Some(rest) => (false, rest.trim_start()),
        None => (true, body),
    };
    let mut words = body.split_whitespace();
    let dir_word = words.next().ok_or("missing direction")?;
    let direction = Direction::parse(dir_word).ok_or_else(|| format!("unknown rule direction '{dir_word}'"))?;
    let action_word = words.next().ok_or("missing action")?;
    let mut rule = Rule { enabled, direction: Some(direction), comment, ..Rule::default() };
    if direction == Direction::Group {
        rule.action = action_word.to_string();
    } else if let Some((m, rest)) = action_word.split_once('(') {
        let act = rest.strip_suffix(')').ok_or_else(|| format!("unable to parse macro '{action_word}'"))?;
        check_action(act)?;
        rule.r#macro = Some(m.to_string());
        rule.action = act.to_string();
    } else {
        check_action(action_word)?;
        rule.action = action_word.to_string();
    }
    let rest: Vec<&str> = words.collect();
    let mut i = 0;
    while i < rest.len() {
        let opt = rest[i];
        let name = opt.strip_prefix("--").or_else(|| opt.strip_prefix('-'));
        let value = rest.get(i + 1).copied();
        let (Some(name), Some(value)) = (name, value) else {
            return Err(format!("unable to parse rule parameters: {}", rest[i..].join(" ")));
        };
        let slot = match name {
            "i" => &mut rule.iface,
            "source" => &mut rule.source,
            "dest" => &mut rule.dest,
            "p" | "proto" => &mut rule.proto,
            "dport" => &mut rule.dport,
            "sport" => &mut rule.sport,
            "log" => &mut rule.log,
            "icmp-type" => &mut rule.icmp_type,
            _ => return Err(format!("unable to parse rule parameters: {}", rest[i..].join(" "))),
        };
        if slot.is_some() {
            return Err(format!("duplicate rule parameter '-{name}'"));
        }
        *slot = Some(value.to_string());
        i += 2;
    }
    if direction == Direction::Group
        && [&rule.source, &rule.dest, &rule.proto, &rule.dport, &rule.sport, &rule.log, &rule.icmp_type]
            .iter()
            .any(|o| o.is_some())
    {
        return Err("group rules only allow '-i'".to_string());
    }
    Ok(rule)
}

fn check_action(a: &str) -> Result<(), String> {
    match a {
        "ACCEPT" | "DROP" | "REJECT" => Ok(()),
        other => Err(format!("unknown action '{other}'")),
    }
}

/// A rule line as pve-firewall writes it.
pub fn render_rule(r: &Rule) -> String {
    let mut s = String::new();
    if !r.enabled {
        s.push('|');
    }
    s.push_str(r.direction.map(Direction::as_str).unwrap_or("IN"));
    s.push(' ');
    match &r.r#macro {
        Some(m) => s.push_str(&format!("{m}({})", r.action)),
        None => s.push_str(&r.action),
    }
    let opts = [
        ("-i", &r.iface),
        ("-source", &r.source),
        ("-dest", &r.dest),
        ("-p", &r.proto),
        ("-dport", &r.dport),
        ("-sport", &r.sport),
        ("-log", &r.log),
        ("-icmp-type", &r.icmp_type),
    ];
    for (flag, v) in opts {
        if let Some(v) = v {
            s.push_str(&format!(" {flag} {v}"));
        }
    }
    if let Some(c) = &r.comment {
        s.push_str(&format!(" # {c}"));
    }
    s
}

fn header(kind: &str, name: &str, comment: &Option<String>) -> String {
    match comment {
        Some(c) => format!("[{kind} {name}] # {c}\n\n"),
        None => format!("[{kind} {name}]\n\n"),
    }
}

fn with_comment(body: String, comment: &Option<String>) -> String {
    match comment {
        Some(c) => format!("{body} # {c}\n"),
        None => format!("{body}\n"),
    }
}

/// Render in pve-firewall's writer order. An empty file renders as `""` (pve-firewall deletes
/// the file instead of writing it).
pub fn render_firewall(fw: &FirewallFile) -> String {
    let mut out = String::new();
    if !fw.options.is_empty() {
        out.push_str("[OPTIONS]\n\n");
        let mut opts: Vec<_> = fw.options.iter().collect();
        opts.sort();
        for (k, v) in opts {
            out.push_str(&format!("{k}: {v}\n"));
        }
        out.push('\n');
    }
    if !fw.aliases.is_empty() {
        out.push_str("[ALIASES]\n\n");
        let mut aliases: Vec<&Alias> = fw.aliases.iter().collect();
        aliases.sort_by_key(|a| a.name.to_ascii_lowercase());
        for a in aliases {
            out.push_str(&with_comment(format!("{} {}", a.name, a.cidr), &a.comment));
        }
        out.push('\n');
    }
    let mut sets: Vec<_> = fw.ipsets.iter().collect();
    sets.sort_by(|a, b| a.0.cmp(b.0));
    for (name, set) in sets {
        out.push_str(&header("IPSET", name, &set.comment));
        let mut entries: Vec<&IpSetEntry> = set.entries.iter().collect();
        entries.sort_by(|a, b| a.cidr.cmp(&b.cidr));
        for e in entries {
            let body = format!("{}{}", if e.nomatch { "!" } else { "" }, e.cidr);
            out.push_str(&with_comment(body, &e.comment));
        }
        out.push('\n');
    }
    if !fw.rules.is_empty() {
        out.push_str("[RULES]\n\n");
        for r in &fw.rules {
            out.push_str(&render_rule(r));
            out.push('\n');
        }
        out.push('\n');
    }
    let mut groups: Vec<_> = fw.groups.iter().collect();
    groups.sort_by(|a, b| a.0.cmp(b.0));
    for (name, g) in groups {
        out.push_str(&header("group", name, &g.comment));
        for r in &g.rules {
            out.push_str(&render_rule(r));
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The contract example plus the blank line the writer puts after the last section.
    const EXAMPLE: &str = "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\npolicy_out: ACCEPT\n\n[ALIASES]\n\ngw 10.0.0.1 # default gateway\n\n[IPSET management] # admin hosts\n\n10.0.0.0/24\n\n[RULES]\n\nIN ACCEPT -source +management -p tcp -dport 8006 -log nolog # web ui\nIN SSH(ACCEPT) -i net0\n|IN ACCEPT -p tcp -dport 80\n\n[group webserver]\n\nIN ACCEPT -p tcp -dport 80\nIN ACCEPT -p tcp -dport 443\n\n";

    #[test]
    fn contract_example_roundtrip() {
        let fw = parse_firewall(EXAMPLE).unwrap();
        assert_eq!(fw.options["enable"], "1");
        assert_eq!(
            fw.aliases[0],
            Alias { name: "gw".into(), cidr: "10.0.0.1".into(), comment: Some("default gateway".into()) }
        );
        assert_eq!(fw.ipsets["management"].comment.as_deref(), Some("admin hosts"));
        assert_eq!(fw.ipsets["management"].entries[0].cidr, "10.0.0.0/24");
        assert_eq!(fw.rules.len(), 3);
        let r0 = &fw.rules[0];
        assert_eq!(r0.direction, Some(Direction::In));
        assert_eq!(r0.action, "ACCEPT");
        assert_eq!(r0.source.as_deref(), Some("+management"));
        assert_eq!(r0.proto.as_deref(), Some("tcp"));
        assert_eq!(r0.dport.as_deref(), Some("8006"));
        assert_eq!(r0.log.as_deref(), Some("nolog"));
        assert_eq!(r0.comment.as_deref(), Some("web ui"));
        assert_eq!(fw.rules[1].r#macro.as_deref(), Some("SSH"));
        assert_eq!(fw.rules[1].iface.as_deref(), Some("net0"));
        assert!(!fw.rules[2].enabled);
        assert_eq!(fw.groups["webserver"].rules.len(), 2);
        assert_eq!(render_firewall(&fw), EXAMPLE);
    }

    #[test]
    fn lenient_spellings_render_canonically() {
        let text = "# managed\r\n[options]\r\npolicy_in: DROP\r\nenable: 1\r\n[rules]\r\nin ACCEPT --proto udp -dport 53 -source 10.0.0.0/8 #dns \r\nGROUP webserver -i net0\r\n[ipset Blk]\r\n!10.0.0.5 # not this\r\n10.0.0.0/24\r\n";
        let fw = parse_firewall(text).unwrap();
        assert_eq!(
            render_firewall(&fw),
            "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n[IPSET Blk]\n\n10.0.0.0/24\n!10.0.0.5 # not this\n\n[RULES]\n\nIN ACCEPT -source 10.0.0.0/8 -p udp -dport 53 # dns\nGROUP webserver -i net0\n\n"
        );
        assert_eq!(render_firewall(&FirewallFile::default()), "");
        assert_eq!(parse_firewall("[OPTIONS]\nlog_level_in: \n").unwrap().options["log_level_in"], "");
        assert_eq!(parse_firewall("").unwrap(), FirewallFile::default());
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("enable: 1\n", 1, "no section"),
            ("[OPTIONS]\nenable 1\n", 2, "can't parse option"),
            ("[RULES]\nIN ACCEPT -p tcp -bogus 1\n", 2, "unable to parse rule parameters: -bogus 1"),
            ("[RULES]\nIN ALLOW\n", 2, "unknown action"),
            ("[RULES]\nSIDEWAYS ACCEPT\n", 2, "unknown rule direction"),
            ("[RULES]\nIN ACCEPT -p\n", 2, "unable to parse rule parameters"),
            ("[RULES]\nGROUP g -p tcp\n", 2, "only allow"),
            ("[STUFF]\n", 1, "unknown section"),
            ("[ALIASES]\nonlyname\n", 2, "can't parse alias"),
        ];
        for (text, line, needle) in cases {
            let FwParseError::Line { line: l, reason, .. } = parse_firewall(text).unwrap_err();
            assert_eq!(l, line, "{text}");
            assert!(reason.contains(needle), "{text}: {reason}");
        }
    }

    fn opt_s(re: &'static str) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(proptest::string::string_regex(re).unwrap())
    }

    fn comment() -> impl Strategy<Value = Option<String>> {
        opt_s("[a-z0-9]([a-z0-9 #.é]{0,10}[a-z0-9])?")
    }

    fn rule(group_only: bool) -> impl Strategy<Value = Rule> {
        (
            any::<bool>(),
            prop_oneof![Just(Direction::In), Just(Direction::Out), Just(Direction::Forward), Just(Direction::Group)],
            prop_oneof![Just("ACCEPT"), Just("DROP"), Just("REJECT")],
            opt_s("(SSH|HTTP|Ping)"),
            opt_s("net[0-9]"),
            (opt_s("[0-9.]{1,8}(/[0-9]{1,2})?"), opt_s("\\+[a-z]{1,5}"), opt_s("(tcp|udp|icmp)")),
            (opt_s("[0-9]{1,5}(:[0-9]{1,5})?"), opt_s("[0-9]{1,5}"), opt_s("(nolog|info)"), opt_s("echo-request")),
            comment(),
        )
            .prop_map(
                move |(enabled, dir, act, mac, iface, (src, dst, p), (dport, sport, log, icmp), comment)| {
                    let dir = if group_only { Direction::Group } else { dir };
                    if dir == Direction::Group {
                        return Rule {
                            enabled,
                            direction: Some(dir),
                            action: "grp".into(),
                            iface,
                            comment,
                            ..Rule::default()
                        };
                    }
                    Rule {
                        enabled,
                        direction: Some(dir),
                        action: act.to_string(),
                        r#macro: mac,
                        iface,
                        source: src,
                        dest: dst,
                        proto: p,
                        dport,
                        sport,
                        log,
                        icmp_type: icmp,
                        comment,
                    }
                },
            )
    }

    fn firewall() -> impl Strategy<Value = FirewallFile> {
        (
            proptest::collection::btree_map("[a-z_]{1,10}", "[A-Z0-9]{1,5}", 0..4),
            proptest::collection::btree_map("[a-z][a-z0-9]{0,6}", ("[0-9.]{1,10}", comment()), 0..3),
            proptest::collection::btree_map(
                "[a-z][a-z0-9-]{0,6}",
                (comment(), proptest::collection::btree_map("[0-9a-f.:/]{1,10}", (any::<bool>(), comment()), 0..3)),
                0..3,
            ),
            proptest::collection::vec(rule(false), 0..5),
            proptest::collection::btree_map(
                "[a-z][a-z0-9]{0,6}",
                (comment(), proptest::collection::vec(rule(false), 0..3)),
                0..3,
            ),
        )
            .prop_map(|(options, aliases, ipsets, rules, groups)| FirewallFile {
                options: options.into_iter().collect(),
                aliases: aliases.into_iter().map(|(name, (cidr, comment))| Alias { name, cidr, comment }).collect(),
                ipsets: ipsets
                    .into_iter()
                    .map(|(n, (comment, entries))| {
                        let entries = entries
                            .into_iter()
                            .map(|(cidr, (nomatch, comment))| IpSetEntry { nomatch, cidr, comment })
                            .collect();
                        (n, IpSet { comment, entries })
                    })
                    .collect(),
                rules,
                groups: groups.into_iter().map(|(n, (comment, rules))| (n, Group { comment, rules })).collect(),
            })
    }

    proptest! {
        #[test]
        fn render_parse_identity(fw in firewall()) {
            let text = render_firewall(&fw);
            let back = parse_firewall(&text).unwrap();
            prop_assert_eq!(render_firewall(&back), text.clone());
            prop_assert_eq!(back, fw);
        }

        #[test]
        fn group_rules_roundtrip(r in rule(true)) {
            prop_assert_eq!(parse_rule(&render_rule(&r)).unwrap(), r);
        }
    }
}
