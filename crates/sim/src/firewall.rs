//! `pve-firewall` (contracts §E) and the firewall files as Proxmox keeps them, written from
//! pve-firewall's `src/PVE/Firewall.pm` (never from phoenix's code):
//! - `status` from `cluster.fw`'s `enable` option;
//! - `compile` reads `cluster.fw` and every guest's `<vmid>.fw` like `generic_fw_config_parser`
//!   and prints on stderr the warnings the real one prints for lines it skips or rules it
//!   ignores (exit 0: pve-firewall never refuses a file, it drops what it cannot read);
//! - [`gui_text`] writes a file the way the GUI (the API's `save_clusterfw_conf` /
//!   `save_vmfw_conf`) leaves it, so tests can seed an administrator's edits.

use super::reply::{fail, ok};
use super::state::SimState;
use crate::file::FileData;
use crate::output::Output;
use std::collections::BTreeSet;

const CLUSTER_FW: &str = "/etc/pve/firewall/cluster.fw";
const FW_DIR: &str = "/etc/pve/firewall/";
/// `$security_group_name_pattern` / `$max_group_name_length`.
const MAX_GROUP_NAME: usize = 18;
const LOG_LEVELS: [&str; 9] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"];

/// `enable: 1` inside `[OPTIONS]` of cluster.fw (section headers are case-insensitive).
pub(crate) fn cluster_enabled(st: &SimState) -> bool {
    let Some(f) = st.files.get(CLUSTER_FW) else {
        return false;
    };
    let text = String::from_utf8_lossy(&f.content);
    let mut in_options = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_options = l.eq_ignore_ascii_case("[options]");
            continue;
        }
        if in_options {
            if let Some((k, v)) = l.split_once(':') {
                if k.trim() == "enable" {
                    return v.trim().parse::<i64>().is_ok_and(|n| n != 0);
                }
            }
        }
    }
    false
}

pub(crate) fn run(st: &mut SimState, argv: &[String]) -> Output {
    match argv.first().map(String::as_str) {
        Some("status") => {
            if cluster_enabled(st) {
                ok("Status: enabled/running\n")
            } else {
                ok("Status: disabled/stopped\n")
            }
        }
        Some("compile") => {
            let mut out = ok("");
            out.stderr = compile_warnings(st).concat().into_bytes();
            out
        }
        Some("restart" | "start" | "stop" | "localnet" | "simulate") => ok(""),
        _ => fail("USAGE: pve-firewall <COMMAND> [ARGS] [OPTIONS]"),
    }
}

/// Which file is read: what sections and rule types it may hold (`$rule_env`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Env {
    Cluster,
    Guest,
    /// A rule inside a `[group …]` of cluster.fw.
    Group,
}

/// What the real parser kept of one file.
#[derive(Default)]
struct Parsed {
    groups: BTreeSet<String>,
    /// (where, group name) of every `GROUP` rule.
    group_refs: Vec<(String, String)>,
}

/// The warnings `pve-firewall compile` prints for the files on the host, each a line.
pub fn compile_warnings(st: &SimState) -> Vec<String> {
    let mut warnings = Vec::new();
    let text = |path: &str| st.files.get(path).map(|f| String::from_utf8_lossy(&f.content).into_owned());
    let cluster = match text(CLUSTER_FW) {
        Some(t) => parse(CLUSTER_FW, &t, Env::Cluster, &mut warnings),
        None => Parsed::default(),
    };
    let mut refs = cluster.group_refs.clone();
    for (path, _) in st.files.range(FW_DIR.to_string()..) {
        let Some(name) = path.strip_prefix(FW_DIR) else { break };
        let is_guest_file =
            name.strip_suffix(".fw").is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        if !is_guest_file {
            continue;
        }
        // Containers and VMs read their files with the same rules (rule_env `ct`/`vm`).
        if let Some(t) = text(path) {
            refs.extend(parse(path, &t, Env::Guest, &mut warnings).group_refs);
        }
    }
    for (at, group) in refs {
        if !cluster.groups.contains(&group) {
            warnings.push(format!("{at}: no such security group '{group}'\n"));
        }
    }
    warnings
}

/// `generic_fw_config_parser` for one file: the warnings it prints, the groups it defines and
/// the groups its rules use.
fn parse(path: &str, text: &str, env: Env, warnings: &mut Vec<String>) -> Parsed {
    #[derive(PartialEq)]
    enum Sec {
        None,
        Options,
        Aliases,
        Rules,
        Group,
        IpSet,
    }
    let mut parsed = Parsed::default();
    let mut section = Sec::None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        let prefix = format!("{path} (line {})", i + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if lower == "[options]" {
            section = Sec::Options;
            continue;
        }
        if lower == "[aliases]" {
            section = Sec::Aliases;
            continue;
        }
        if lower == "[rules]" {
            section = Sec::Rules;
            continue;
        }
        let named = |kind: &str| -> Option<String> {
            let rest = lower.strip_prefix('[')?.strip_prefix(kind)?;
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            let (inner, after) = rest.split_once(']')?;
            let after = after.trim();
            if !(after.is_empty() || after.starts_with('#')) {
                return None;
            }
            let mut words = inner.split_whitespace();
            let name = words.next()?;
            words.next().is_none().then(|| name.to_string())
        };
        if env == Env::Cluster {
            if let Some(name) = named("group") {
                if name.len() > MAX_GROUP_NAME {
                    warnings.push(format!("{prefix}: security group name too long\n"));
                    section = Sec::None;
                } else if !valid_name(&name) {
                    warnings.push(format!("{prefix}: invalid security group name '{name}'\n"));
                    section = Sec::None;
                } else {
                    parsed.groups.insert(name);
                    section = Sec::Group;
                }
                continue;
            }
        }
        if let Some(name) = named("ipset") {
            section = if valid_name(&name) { Sec::IpSet } else { Sec::None };
            if section == Sec::None {
                warnings.push(format!("{prefix}: invalid ipset name '{name}'\n"));
            }
            continue;
        }
        match section {
            Sec::None => warnings.push(format!("{prefix}: skip line - no section\n")),
            Sec::Options => {
                if !option_ok(line, env) {
                    warnings.push(format!("{prefix}: can't parse option '{line}'\n"));
                }
            }
            Sec::Aliases => {
                let body = line.split('#').next().unwrap_or_default().trim();
                if body.split_whitespace().count() != 2 {
                    warnings.push(format!("{prefix}: can't parse alias '{line}'\n"));
                }
            }
            Sec::IpSet => {}
            Sec::Rules | Sec::Group => {
                let rule_env = if section == Sec::Group { Env::Group } else { env };
                match rule(line, rule_env) {
                    Ok(Some(group)) => parsed.group_refs.push((prefix, group)),
                    Ok(None) => {}
                    // `verify_rule`'s findings are printed as `<prefix> - errors …`, a parse
                    // failure as `<prefix>: …`.
                    Err(e) if e.starts_with("errors in") => warnings.push(format!("{prefix} - {e}\n")),
                    Err(e) => warnings.push(format!("{prefix}: {e}\n")),
                }
            }
        }
    }
    parsed
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `parse_clusterfw_option` / `parse_vmfw_option`.
fn option_ok(line: &str, env: Env) -> bool {
    let Some((key, value)) = line.split_once(':') else { return false };
    let (key, value) = (key.to_ascii_lowercase(), value.trim());
    let bit = value == "0" || value == "1";
    let policy = ["ACCEPT", "DROP", "REJECT"].iter().any(|p| p.eq_ignore_ascii_case(value));
    match env {
        Env::Cluster => match key.as_str() {
            "enable" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            "ebtables" => bit,
            "policy_in" | "policy_out" | "policy_forward" => policy,
            "log_ratelimit" => !value.is_empty() && !value.contains(char::is_whitespace),
            _ => false,
        },
        _ => match key.as_str() {
            "enable" | "dhcp" | "ndp" | "radv" | "macfilter" | "ipfilter" | "ips" => bit,
            "log_level_in" | "log_level_out" => {
                value.is_empty() || LOG_LEVELS.contains(&value.to_ascii_lowercase().as_str())
            }
            "policy_in" | "policy_out" => policy,
            "ips_queues" | "layer2_protocols" => !value.is_empty(),
            _ => false,
        },
    }
}

/// `parse_fw_rule` then the checks of `verify_rule` that decide whether the rule is used:
/// `Ok(Some(group))` for a `GROUP` rule, `Err` with the warning for a rule pve-firewall skips.
fn rule(line: &str, env: Env) -> Result<Option<String>, String> {
    let body = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    let body = body.strip_prefix('|').unwrap_or(body).trim();
    let mut words = body.split_whitespace();
    let (Some(kind), Some(action)) = (words.next(), words.next()) else {
        return Err(format!("unable to parse rule: {body}"));
    };
    let kind = kind.to_ascii_lowercase();
    let rest: Vec<&str> = words.collect();
    let mut iface = None;
    let mut i = 0;
    while i + 1 < rest.len() {
        let (flag, value) = (rest[i], rest[i + 1]);
        let known = match flag {
            "-i" => {
                iface = Some(value);
                true
            }
            _ if kind == "group" => false,
            "-p" | "-proto" | "--proto" | "-dport" | "--dport" | "-sport" | "--sport" | "-source" | "--source"
            | "-dest" | "--dest" | "-icmp-type" | "--icmp-type" => true,
            "-log" | "--log" => LOG_LEVELS.contains(&value),
            _ => false,
        };
        if !known {
            break;
        }
        i += 2;
    }
    if i < rest.len() {
        return Err(format!("unable to parse rule parameters: {}", rest[i..].join(" ")));
    }
    let types: &[&str] = match env {
        Env::Cluster => &["in", "out", "forward", "group"],
        Env::Guest => &["in", "out", "group"],
        Env::Group => &["in", "out", "forward"],
    };
    if !types.contains(&kind.as_str()) {
        return Err(format!("errors in rule parameters: {line}\n  type: invalid rule type '{kind}'"));
    }
    if iface.is_some() && env == Env::Group {
        return Err(format!("errors in rule parameters: {line}\n  type: parameter -i not allowed for this rule type"));
    }
    if let (Some(i), Env::Guest) = (iface, env) {
        if !(i.len() > 3 && i.starts_with("net") && i[3..].bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!(
                "errors in rule parameters: {line}\n  iface: value does not match the regex pattern 'net\\d+'"
            ));
        }
    }
    if kind == "group" {
        if !valid_name(action) {
            return Err(format!(
                "errors in rule parameters: {line}\n  action: invalid characters in security group name"
            ));
        }
        return Ok(Some(action.to_string()));
    }
    let verdict = match action.split_once('(') {
        Some((_, v)) => v.strip_suffix(')').unwrap_or(""),
        None => action,
    };
    if !["ACCEPT", "DROP", "REJECT"].contains(&verdict) {
        return Err(format!("errors in rule parameters: {line}\n  action: unknown action '{action}'"));
    }
    Ok(None)
}

/// A firewall file's content as an administrator left it in the GUI.
#[derive(Clone, Debug, Default)]
pub struct GuiFirewall {
    /// Option lines as (key, value), in the order the API's hash gave them.
    pub options: Vec<(String, String)>,
    /// (name, cidr, comment).
    pub aliases: Vec<(String, String, Option<String>)>,
    pub ipsets: Vec<GuiSet>,
    /// Rule lines as the GUI writes them (`IN ACCEPT -source … -p tcp -dport 22 # comment`).
    pub rules: Vec<String>,
    pub groups: Vec<GuiSet>,
}

/// An IP set (entries: cidrs, `!` for nomatch) or a security group (entries: rule lines).
#[derive(Clone, Debug, Default)]
pub struct GuiSet {
    pub name: String,
    pub comment: Option<String>,
    pub entries: Vec<String>,
}

fn with_comment(body: &str, comment: &Option<String>) -> String {
    match comment {
        Some(c) if !c.trim().is_empty() => format!("{body} # {c}\n"),
        _ => format!("{body}\n"),
    }
}

/// The text `save_clusterfw_conf` (and, without groups, `save_vmfw_conf`) writes: `[OPTIONS]`,
/// `[ALIASES]` sorted by name, `[IPSET …]` sorted by name with entries sorted by cidr,
/// `[RULES]` in order, `[group …]` sorted by name; a blank line after each header and each
/// section; empty sections left out.
pub fn gui_text(fw: &GuiFirewall) -> String {
    let mut raw = String::new();
    if !fw.options.is_empty() {
        raw.push_str("[OPTIONS]\n\n");
        for (k, v) in &fw.options {
            raw.push_str(&format!("{k}: {v}\n"));
        }
        raw.push('\n');
    }
    if !fw.aliases.is_empty() {
        raw.push_str("[ALIASES]\n\n");
        let mut aliases = fw.aliases.clone();
        aliases.sort_by_key(|a| a.0.to_ascii_lowercase());
        for (name, cidr, comment) in &aliases {
            raw.push_str(&with_comment(&format!("{name} {cidr}"), comment));
        }
        raw.push('\n');
    }
    let mut sets = fw.ipsets.clone();
    sets.sort_by(|a, b| a.name.cmp(&b.name));
    for set in &sets {
        raw.push_str(&with_comment(&format!("[IPSET {}]", set.name), &set.comment));
        raw.push('\n');
        let mut entries = set.entries.clone();
        entries.sort_by(|a, b| a.trim_start_matches('!').cmp(b.trim_start_matches('!')));
        for e in &entries {
            raw.push_str(&format!("{e}\n"));
        }
        raw.push('\n');
    }
    if !fw.rules.is_empty() {
        raw.push_str("[RULES]\n\n");
        for r in &fw.rules {
            raw.push_str(&format!("{r}\n"));
        }
        raw.push('\n');
    }
    let mut groups = fw.groups.clone();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    for g in &groups {
        raw.push_str(&with_comment(&format!("[group {}]", g.name), &g.comment));
        raw.push('\n');
        for r in &g.entries {
            raw.push_str(&format!("{r}\n"));
        }
        raw.push('\n');
    }
    raw
}

/// Put a GUI-written firewall file on the host (`cluster.fw` or `<vmid>.fw`), as pmxcfs holds
/// it (root:www-data, 0640).
pub fn seed_firewall_file(st: &mut SimState, name: &str, text: &str) {
    st.files.insert(
        format!("{FW_DIR}{name}"),
        FileData { content: text.as_bytes().to_vec(), mode: 0o640, owner: "root".into(), group: "www-data".into() },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::text_file;

    #[test]
    fn status_follows_cluster_fw() {
        let mut st = SimState::default();
        assert_eq!(run(&mut st, &["status".into()]).stdout_str(), "Status: disabled/stopped\n");
        st.files
            .insert(CLUSTER_FW.into(), text_file("[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22\n"));
        assert_eq!(run(&mut st, &["status".into()]).stdout_str(), "Status: enabled/running\n");
        st.files.insert(CLUSTER_FW.into(), text_file("[options]\nenable: 0\n"));
        assert_eq!(run(&mut st, &["status".into()]).stdout_str(), "Status: disabled/stopped\n");
        assert_eq!(run(&mut st, &["compile".into()]).code, 0);
        assert_eq!(run(&mut st, &["bogus".into()]).code, 255);
    }

    #[test]
    fn gui_text_is_the_api_writer_layout() {
        let fw = GuiFirewall {
            options: vec![("enable".into(), "1".into()), ("ebtables".into(), "0".into())],
            aliases: vec![
                ("web".into(), "192.0.2.80".into(), None),
                ("Backup".into(), "192.0.2.10".into(), Some("offsite".into())),
            ],
            ipsets: vec![GuiSet {
                name: "admins".into(),
                comment: Some("jump hosts".into()),
                entries: vec!["192.0.2.9".into(), "!192.0.2.5".into()],
            }],
            rules: vec!["IN DROP -source 198.51.100.7 # scanner".into()],
            groups: vec![GuiSet {
                name: "web".into(),
                comment: None,
                entries: vec!["IN ACCEPT -p tcp -dport 443".into()],
            }],
        };
        assert_eq!(
            gui_text(&fw),
            "[OPTIONS]\n\nenable: 1\nebtables: 0\n\n[ALIASES]\n\nBackup 192.0.2.10 # offsite\nweb 192.0.2.80\n\n[IPSET admins] # jump hosts\n\n!192.0.2.5\n192.0.2.9\n\n[RULES]\n\nIN DROP -source 198.51.100.7 # scanner\n\n[group web]\n\nIN ACCEPT -p tcp -dport 443\n\n"
        );
        assert_eq!(gui_text(&GuiFirewall::default()), "");
    }

    #[test]
    fn compile_warns_like_pve_firewall_and_still_succeeds() {
        let mut st = SimState::default();
        seed_firewall_file(
            &mut st,
            "cluster.fw",
            "[OPTIONS]\nenable: 1\nbogus: 1\n[RULES]\nGROUP web\nGROUP missing -i vmbr0\nIN ALLOW\n[group web]\nIN ACCEPT -i vmbr0 -p tcp -dport 443\nIN ACCEPT -p tcp -dport 80\n[group a-name-longer-than-18]\n",
        );
        seed_firewall_file(
            &mut st,
            "101.fw",
            "[RULES]\nGROUP web -i net0\nGROUP nowhere\nIN ACCEPT -i vmbr0\n[group own]\n",
        );
        seed_firewall_file(
            &mut st,
            "102.fw",
            "[OPTIONS]\nenable: 1\nlog_level_in: \n[RULES]\nGROUP web\nIN SSH(ACCEPT) -i net0 -log nolog\n",
        );
        let w = compile_warnings(&st);
        let has = |needle: &str| w.iter().any(|l| l.contains(needle));
        assert!(has("cluster.fw (line 3): can't parse option 'bogus: 1'"), "{w:?}");
        assert!(has("cluster.fw (line 7) - errors in rule parameters: IN ALLOW"), "{w:?}");
        assert!(has("cluster.fw (line 9) - errors in rule parameters: IN ACCEPT -i vmbr0 -p tcp -dport 443\n  type: parameter -i not allowed"), "{w:?}");
        assert!(has("cluster.fw (line 11): security group name too long"), "{w:?}");
        assert!(has("cluster.fw (line 6): no such security group 'missing'"), "{w:?}");
        assert!(has("101.fw (line 3): no such security group 'nowhere'"), "{w:?}");
        assert!(has("101.fw (line 4) - errors in rule parameters: IN ACCEPT -i vmbr0\n  iface"), "{w:?}");
        // Groups exist only in cluster.fw: a guest file's header is read as a (bad) rule.
        assert!(has("101.fw (line 5) - errors in rule parameters: [group own]"), "{w:?}");
        assert!(!w.iter().any(|l| l.contains("102.fw")), "{w:?}");
        assert_eq!(w.len(), 8, "{w:?}");
        let out = run(&mut st, &["compile".into()]);
        assert_eq!(out.code, 0);
        assert_eq!(out.stderr_str(), w.concat());
    }
}
