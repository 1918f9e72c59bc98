//! Merge phoenix's part into a Proxmox firewall file that administrators edit too, keeping
//! every other byte as it was.
//!
//! `cluster.fw` is shared by the whole cluster and `<id>.fw` is the guest's own file; both are
//! edited in the GUI (aliases, IP sets, security groups, options, rules). phoenix owns only:
//! - the option keys it declares (`enable`, `policy_in`, `policy_out` — a key it does not
//!   declare is never touched, even one it wrote in an earlier run);
//! - in `cluster.fw`, the security group `[group phoenix-host]` (whole: header and rules) and the
//!   one `GROUP phoenix-host` line in `[RULES]` that applies it to the host;
//! - in `<id>.fw`, the `[RULES]` lines whose comment is `phoenix` or starts with `phoenix:`.
//!
//! Why two mechanisms (pve-firewall `src/PVE/Firewall.pm`): security groups exist only in
//! `cluster.fw` (`load_clusterfw_conf`'s empty config has `groups`, `load_vmfw_conf`'s has not,
//! so `generic_fw_config_parser` never reads a `[group …]` header in a guest file). Per-guest
//! groups in `cluster.fw` would make every guest change a write to the cluster-wide file (and
//! the guest walk writes guest files in parallel), and rules with `-i netN` cannot live in a group
//! at all (`verify_rule`: `-i` is not allowed in rule_env `group`). So a guest's rules stay in
//! its own file, marked per rule by their comment: the GUI's writer (`save_vmfw_conf`,
//! `$format_rules`) drops `#` comment lines, so a `# BEGIN phoenix` marker would vanish on the
//! first GUI edit, but it keeps every rule's comment.
//!
//! Where phoenix's rules go: at the end of `[RULES]` (the GROUP line, or the tagged lines), after
//! the administrator's rules. pve-firewall applies rules in order, first match wins: an
//! administrator's `DROP` for an address must not be overtaken by a broader phoenix `ACCEPT`.
//! The GUI adds new rules at the top, so its rules stay ahead of phoenix's. Where phoenix's lines
//! already are (an administrator moved them) is where they stay.
//!
//! A file phoenix cannot read is refused, never rewritten: pve-firewall skips such lines with a
//! warning, and a rewrite around a line phoenix misunderstood could change what it means.

use crate::facts::firewall::{parse_firewall, parse_rule, Direction};

/// The comment word that marks a guest rule as phoenix's.
pub const TAG: &str = "phoenix";

/// What phoenix declares in one firewall file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Option keys (lowercase) and values phoenix sets, in the order to write new ones.
    pub options: Vec<(String, String)>,
    pub part: Part,
}

/// Where phoenix's rules live in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// `cluster.fw`: a security group holding the rules (rendered lines), applied by one
    /// `GROUP <name>` line in `[RULES]`.
    Group { name: String, comment: String, rules: Vec<String> },
    /// `<id>.fw`: rendered rule lines, each with a [`TAG`] comment, kept in `[RULES]`.
    Tagged { rules: Vec<String> },
}

/// Why an existing file was not merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error(
        "line {line}: {reason}: '{text}'; phoenix does not rewrite a firewall file it cannot read \
         (pve-firewall skips the line with a warning): fix or remove the line, then run again"
    )]
    Unreadable { line: usize, text: String, reason: String },
    #[error("{0}; phoenix does not guess which one is its own: merge them into one, then run again")]
    Ambiguous(String),
}

/// Whether a rule's comment marks it as phoenix's.
pub fn is_tagged(comment: Option<&str>) -> bool {
    match comment {
        Some(c) => c == TAG || c.strip_prefix(TAG).is_some_and(|rest| rest.starts_with(':')),
        None => false,
    }
}

/// The comment phoenix writes on a guest rule: `phoenix: <declared>` or `phoenix`.
pub fn tagged_comment(declared: Option<&str>) -> String {
    match declared {
        Some(c) => format!("{TAG}: {c}"),
        None => TAG.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Section {
    Preamble,
    Options,
    Aliases,
    Rules,
    IpSet,
    /// A security group, by its lowercase name (pve-firewall lowercases group names).
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Header,
    Content,
}

struct Line<'a> {
    /// The line with its terminator, as it is in the file.
    raw: &'a str,
    /// Without terminator and surrounding blanks.
    body: &'a str,
    kind: Kind,
    section: Section,
}

/// The lines of a file, classified. The file already parsed, so every header is well formed.
fn classify(text: &str) -> Vec<Line<'_>> {
    let mut section = Section::Preamble;
    let mut out = Vec::new();
    for raw in text.split_inclusive('\n') {
        let body = raw.trim_end_matches('\n').trim_end_matches('\r').trim();
        let kind = if body.is_empty() {
            Kind::Blank
        } else if body.starts_with('#') {
            Kind::Comment
        } else if body.starts_with('[') {
            section = header_section(body);
            Kind::Header
        } else {
            Kind::Content
        };
        out.push(Line { raw, body, kind, section: section.clone() });
    }
    out
}

fn header_section(body: &str) -> Section {
    let head = body.split('#').next().unwrap_or_default().trim();
    let inner = head.trim_start_matches('[').trim_end_matches(']');
    let mut words = inner.split_whitespace();
    let kind = words.next().unwrap_or_default().to_ascii_lowercase();
    let name = words.next().unwrap_or_default().to_ascii_lowercase();
    match kind.as_str() {
        "options" => Section::Options,
        "aliases" => Section::Aliases,
        "rules" => Section::Rules,
        "ipset" => Section::IpSet,
        _ => Section::Group(name),
    }
}

/// The output being built: each original line's replacement text, plus text inserted before
/// a line (index `len` = at the end).
struct Edit<'a> {
    lines: Vec<Line<'a>>,
    out: Vec<String>,
    before: Vec<String>,
}

impl<'a> Edit<'a> {
    fn new(text: &'a str) -> Edit<'a> {
        let lines = classify(text);
        let out = lines.iter().map(|l| l.raw.to_string()).collect();
        let before = vec![String::new(); lines.len() + 1];
        Edit { lines, out, before }
    }

    /// Insert `text` (whole lines) right after line `i`; a last line without a terminator
    /// gets one first.
    fn insert_after(&mut self, i: usize, text: &str) {
        if !self.out[i].ends_with('\n') {
            self.out[i].push('\n');
        }
        self.before[i + 1].push_str(text);
    }

    /// Append whole lines at the end of the file, after a blank line.
    fn append_section(&mut self, text: &str) {
        let current = self.text();
        let end = self.lines.len();
        let mut prefix = String::new();
        if !current.is_empty() && !current.ends_with('\n') {
            prefix.push('\n');
        }
        if !current.is_empty() && !current.ends_with("\n\n") {
            prefix.push('\n');
        }
        self.before[end].push_str(&prefix);
        self.before[end].push_str(text);
    }

    fn first_header(&self) -> Option<usize> {
        self.lines.iter().position(|l| l.kind == Kind::Header)
    }

    /// The last content line in a section of `kind`, else that section's header.
    fn section_tail(&self, want: &Section) -> Option<usize> {
        let mut tail = None;
        for (i, l) in self.lines.iter().enumerate() {
            if &l.section == want && matches!(l.kind, Kind::Header | Kind::Content) {
                tail = Some(i);
            }
        }
        tail
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for (i, line) in self.out.iter().enumerate() {
            s.push_str(&self.before[i]);
            s.push_str(line);
        }
        s.push_str(&self.before[self.lines.len()]);
        s
    }
}

/// Merge `declared` into `existing` (`None`: the file does not exist yet). A second merge of the
/// result with the same declaration returns it unchanged.
pub fn merge(existing: Option<&str>, declared: &Declared) -> Result<String, MergeError> {
    let text = existing.unwrap_or("");
    parse_firewall(text).map_err(|e| {
        let crate::facts::firewall::FwParseError::Line { line, text, reason } = e;
        MergeError::Unreadable { line, text, reason }
    })?;
    let mut edit = Edit::new(text);
    merge_options(&mut edit, &declared.options)?;
    match &declared.part {
        Part::Tagged { rules } => {
            let owned = |r: &crate::facts::firewall::Rule| is_tagged(r.comment.as_deref());
            merge_owned_rules(&mut edit, &owned, rules, false);
        }
        Part::Group { name, comment, rules } => {
            let lname = name.to_ascii_lowercase();
            let owned = |r: &crate::facts::firewall::Rule| {
                r.direction == Some(Direction::Group) && r.action.eq_ignore_ascii_case(&lname)
            };
            merge_owned_rules(&mut edit, &owned, &[format!("GROUP {name}")], true);
            merge_group(&mut edit, &lname, name, comment, rules)?;
        }
    }
    let merged = edit.text();
    // The merge only ever writes lines the parser reads; a failure here is a bug, not the file's.
    if let Err(e) = parse_firewall(&merged) {
        return Err(MergeError::Ambiguous(format!("internal error: the merged file does not parse ({e})")));
    }
    Ok(merged)
}

/// Declared option keys: an existing line with the key (any case, as pve-firewall reads it) is
/// kept when its value is the declared one and replaced otherwise; missing keys are added at the
/// end of `[OPTIONS]` (a new `[OPTIONS]` goes first, where pve-firewall's writer puts it).
fn merge_options(edit: &mut Edit, options: &[(String, String)]) -> Result<(), MergeError> {
    let mut missing = String::new();
    for (key, value) in options {
        let hits: Vec<usize> = (0..edit.lines.len())
            .filter(|&i| {
                let l = &edit.lines[i];
                l.section == Section::Options
                    && l.kind == Kind::Content
                    && l.body.split_once(':').is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            })
            .collect();
        match hits.as_slice() {
            [] => missing.push_str(&format!("{key}: {value}\n")),
            [i] => {
                let current = edit.lines[*i].body.split_once(':').map(|(_, v)| v.trim()).unwrap_or_default();
                if current != value {
                    let terminator = if edit.lines[*i].raw.ends_with('\n') { "\n" } else { "" };
                    edit.out[*i] = format!("{key}: {value}{terminator}");
                }
            }
            _ => {
                return Err(MergeError::Ambiguous(format!(
                    "option `{key}` is set {} times in [OPTIONS] (lines {})",
                    hits.len(),
                    hits.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    match edit.section_tail(&Section::Options) {
        Some(i) if edit.lines[i].kind == Kind::Header => edit.insert_after(i, &format!("\n{missing}")),
        Some(i) => edit.insert_after(i, &missing),
        None => {
            let block = format!("[OPTIONS]\n\n{missing}\n");
            match edit.first_header() {
                Some(h) => edit.before[h].push_str(&block),
                None => edit.append_section(&block),
            }
        }
    }
    Ok(())
}

/// Rule lines in `[RULES]` that `owned` claims are made equal to `desired`: left alone when
/// they already read so (in order, wherever they are), else removed and `desired` written where
/// the first of them was — or at the end of `[RULES]` when there was none.
fn merge_owned_rules(
    edit: &mut Edit,
    owned: &dyn Fn(&crate::facts::firewall::Rule) -> bool,
    desired: &[String],
    before_groups: bool,
) {
    let mine: Vec<usize> = (0..edit.lines.len())
        .filter(|&i| {
            let l = &edit.lines[i];
            l.section == Section::Rules && l.kind == Kind::Content && parse_rule(l.body).is_ok_and(|r| owned(&r))
        })
        .collect();
    let current: Vec<&str> = mine.iter().map(|&i| edit.lines[i].body).collect();
    if current == desired.iter().map(String::as_str).collect::<Vec<_>>() {
        return;
    }
    let block: String = desired.iter().map(|r| format!("{r}\n")).collect();
    if let Some(&first) = mine.first() {
        for &i in &mine {
            edit.out[i] = String::new();
        }
        edit.out[first] = block;
        return;
    }
    match edit.section_tail(&Section::Rules) {
        Some(i) if edit.lines[i].kind == Kind::Header => edit.insert_after(i, &format!("\n{block}")),
        Some(i) => edit.insert_after(i, &block),
        None => {
            // pve-firewall's writer order: options, aliases, ipsets, rules, groups.
            let section = format!("[RULES]\n\n{block}\n");
            let group =
                edit.lines.iter().position(|l| l.kind == Kind::Header && matches!(l.section, Section::Group(_)));
            match group {
                Some(h) if before_groups => edit.before[h].push_str(&section),
                _ => edit.append_section(&section),
            }
        }
    }
}

/// phoenix's security group: replaced whole (header through its last rule; comment lines inside
/// it go too, blank lines and comments after its last rule stay), appended when missing.
fn merge_group(edit: &mut Edit, lname: &str, name: &str, comment: &str, rules: &[String]) -> Result<(), MergeError> {
    let want = Section::Group(lname.to_string());
    let headers: Vec<usize> = (0..edit.lines.len())
        .filter(|&i| edit.lines[i].kind == Kind::Header && edit.lines[i].section == want)
        .collect();
    // What phoenix owns of the file: the header and, when there are rules, a blank line and them.
    let body: String = rules.iter().map(|r| format!("{r}\n")).collect();
    let block = match rules.is_empty() {
        true => format!("[group {name}] # {comment}\n"),
        false => format!("[group {name}] # {comment}\n\n{body}"),
    };
    match headers.as_slice() {
        [] => edit.append_section(&format!("{block}\n")),
        [h] => {
            let mut last = *h;
            let mut i = h + 1;
            while i < edit.lines.len() && edit.lines[i].kind != Kind::Header {
                if edit.lines[i].kind == Kind::Content {
                    last = i;
                }
                i += 1;
            }
            let current: String = edit.lines[*h..=last].iter().map(|l| l.raw).collect();
            let current = if current.ends_with('\n') { current } else { format!("{current}\n") };
            if current != block {
                for k in *h..=last {
                    edit.out[k] = String::new();
                }
                edit.out[*h] = block;
            }
        }
        _ => {
            return Err(MergeError::Ambiguous(format!(
                "security group `{lname}` is defined {} times (lines {}; pve-firewall ignores case in group names)",
                headers.len(),
                headers.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", ")
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::firewall::parse_firewall;

    /// A cluster.fw as the GUI leaves it after an administrator's edits (pve-firewall's
    /// writer: options, aliases, ipsets, rules, groups; a blank line after each header and
    /// section), plus a hand-written comment line the GUI would have dropped.
    const ADMIN_CLUSTER: &str = "[OPTIONS]\n\nebtables: 0\nenable: 0\n\n[ALIASES]\n\nbackup 192.0.2.10 # offsite\n\n[IPSET admins] # jump hosts\n\n192.0.2.0/28\n!192.0.2.5\n\n[RULES]\n\nIN DROP -source 198.51.100.7 # blocked scanner\nGROUP webservers -i vmbr0\n# keep: monitoring\nIN ACCEPT -source +admins -p tcp -dport 8006\n\n[group webservers] # web\n\nIN ACCEPT -p tcp -dport 443\n\n";

    fn cluster(rules: &[&str]) -> Declared {
        Declared {
            options: vec![("enable".into(), "1".into()), ("policy_in".into(), "DROP".into())],
            part: Part::Group {
                name: "phoenix-host".into(),
                comment: "managed by phoenix".into(),
                rules: rules.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    fn guest(rules: &[&str]) -> Declared {
        Declared {
            options: vec![("enable".into(), "1".into())],
            part: Part::Tagged { rules: rules.iter().map(|s| s.to_string()).collect() },
        }
    }

    /// Every line of `admin` that is not phoenix's is in `merged`, in the same order.
    fn keeps_admin_lines(admin: &str, merged: &str, phoenix_option_keys: &[&str]) {
        let mut rest = merged.lines();
        for line in admin.lines() {
            let key = line.split(':').next().unwrap_or_default();
            if phoenix_option_keys.contains(&key) {
                continue;
            }
            assert!(rest.any(|m| m == line), "admin line {line:?} lost or moved in:\n{merged}");
        }
    }

    #[test]
    fn cluster_keeps_every_admin_byte_and_adds_phoenix_group_after_admin_rules() {
        let merged =
            merge(Some(ADMIN_CLUSTER), &cluster(&["IN ACCEPT -source 10.20.0.0/24 -p tcp -dport 22 # SSH"])).unwrap();
        assert_eq!(
            merged,
            "[OPTIONS]\n\nebtables: 0\nenable: 1\npolicy_in: DROP\n\n[ALIASES]\n\nbackup 192.0.2.10 # offsite\n\n[IPSET admins] # jump hosts\n\n192.0.2.0/28\n!192.0.2.5\n\n[RULES]\n\nIN DROP -source 198.51.100.7 # blocked scanner\nGROUP webservers -i vmbr0\n# keep: monitoring\nIN ACCEPT -source +admins -p tcp -dport 8006\nGROUP phoenix-host\n\n[group webservers] # web\n\nIN ACCEPT -p tcp -dport 443\n\n[group phoenix-host] # managed by phoenix\n\nIN ACCEPT -source 10.20.0.0/24 -p tcp -dport 22 # SSH\n\n"
        );
        keeps_admin_lines(ADMIN_CLUSTER, &merged, &["enable"]);
        let fw = parse_firewall(&merged).unwrap();
        assert_eq!(fw.aliases.len(), 1);
        assert_eq!(fw.ipsets["admins"].entries.len(), 2);
        assert_eq!(fw.groups["phoenix-host"].rules.len(), 1);
        // The admin's DROP stays ahead of phoenix's accepts.
        assert_eq!(fw.rules.first().unwrap().action, "DROP");
        assert_eq!(fw.rules.last().unwrap().action, "phoenix-host");
    }

    #[test]
    fn a_second_merge_is_a_no_op() {
        for (start, d) in [
            (Some(ADMIN_CLUSTER), cluster(&["IN ACCEPT -p tcp -dport 22", "OUT DROP -dest 10.0.0.9"])),
            (None, cluster(&["IN ACCEPT -p tcp -dport 22"])),
            (Some(""), cluster(&[])),
            (None, guest(&["IN ACCEPT -p tcp -dport 22 # phoenix: ssh"])),
            (Some("[RULES]\n\nIN DROP -source 1.2.3.4\n"), guest(&["IN ACCEPT -p tcp -dport 80 # phoenix"])),
            (Some("[OPTIONS]\nenable: 1"), guest(&[])),
        ] {
            let once = merge(start, &d).unwrap();
            assert_eq!(merge(Some(&once), &d).unwrap(), once, "from {start:?}");
        }
    }

    #[test]
    fn a_new_file_is_in_pve_firewall_writer_layout() {
        let text = merge(None, &cluster(&["IN ACCEPT -p tcp -dport 22"])).unwrap();
        assert_eq!(
            text,
            "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n[RULES]\n\nGROUP phoenix-host\n\n[group phoenix-host] # managed by phoenix\n\nIN ACCEPT -p tcp -dport 22\n\n"
        );
        let text = merge(None, &guest(&["IN ACCEPT -p tcp -dport 22 # phoenix: ssh"])).unwrap();
        assert_eq!(text, "[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22 # phoenix: ssh\n\n");
    }

    #[test]
    fn removing_a_declared_rule_touches_only_phoenix_part() {
        let two = cluster(&["IN ACCEPT -p tcp -dport 22 # ssh", "IN ACCEPT -p tcp -dport 80 # web"]);
        let with_two = merge(Some(ADMIN_CLUSTER), &two).unwrap();
        let with_one = merge(Some(&with_two), &cluster(&["IN ACCEPT -p tcp -dport 22 # ssh"])).unwrap();
        assert!(!with_one.contains("-dport 80 # web"), "{with_one}");
        assert!(with_two.contains("-dport 80 # web"), "{with_two}");
        assert!(with_one.contains("[group webservers] # web\n\nIN ACCEPT -p tcp -dport 443\n"));
        assert_eq!(with_one, merge(Some(ADMIN_CLUSTER), &cluster(&["IN ACCEPT -p tcp -dport 22 # ssh"])).unwrap());

        let admin_guest = "[OPTIONS]\n\nenable: 1\nmacfilter: 0\n\n[IPSET lan]\n\n10.0.0.0/24\n\n[RULES]\n\nIN DROP -source 10.0.0.66 # noisy\nIN ACCEPT -p tcp -dport 22 # phoenix: ssh\nIN ACCEPT -p tcp -dport 80 # phoenix: web\nOUT ACCEPT -dest +lan # admin\n\n";
        let merged = merge(Some(admin_guest), &guest(&["IN ACCEPT -p tcp -dport 22 # phoenix: ssh"])).unwrap();
        assert_eq!(merged, admin_guest.replace("IN ACCEPT -p tcp -dport 80 # phoenix: web\n", ""));
        // Nothing declared any more: phoenix's rules go, the admin's stay.
        let merged = merge(Some(admin_guest), &guest(&[])).unwrap();
        assert_eq!(
            merged,
            "[OPTIONS]\n\nenable: 1\nmacfilter: 0\n\n[IPSET lan]\n\n10.0.0.0/24\n\n[RULES]\n\nIN DROP -source 10.0.0.66 # noisy\nOUT ACCEPT -dest +lan # admin\n\n"
        );
    }

    #[test]
    fn phoenix_lines_stay_where_an_admin_moved_them() {
        let moved = "[RULES]\n\nIN ACCEPT -p tcp -dport 22 # phoenix: ssh\nIN DROP -source 10.0.0.66\nIN ACCEPT -p tcp -dport 80 # phoenix: web\n";
        // Already as declared (in order): untouched, wherever they are.
        let d = guest(&["IN ACCEPT -p tcp -dport 22 # phoenix: ssh", "IN ACCEPT -p tcp -dport 80 # phoenix: web"]);
        let merged = merge(Some(moved), &Declared { options: vec![], ..d }).unwrap();
        assert_eq!(merged, moved);
        // Changed: the new set goes where the first of them was.
        let d = Declared {
            options: vec![],
            part: Part::Tagged { rules: vec!["IN ACCEPT -p tcp -dport 443 # phoenix".into()] },
        };
        assert_eq!(
            merge(Some(moved), &d).unwrap(),
            "[RULES]\n\nIN ACCEPT -p tcp -dport 443 # phoenix\nIN DROP -source 10.0.0.66\n"
        );
    }

    #[test]
    fn drifted_phoenix_part_is_put_back() {
        let declared = cluster(&["IN ACCEPT -p tcp -dport 22 # ssh"]);
        let good = merge(Some(ADMIN_CLUSTER), &declared).unwrap();
        // Disabled GROUP line, an admin edit inside phoenix's group, a changed policy.
        let drifted = good
            .replace("GROUP phoenix-host\n", "|GROUP phoenix-host\n")
            .replace("-dport 22 # ssh\n", "-dport 2222 # ssh\nIN ACCEPT -p udp -dport 9\n")
            .replace("policy_in: DROP", "POLICY_IN:   ACCEPT");
        assert_ne!(drifted, good);
        assert_eq!(merge(Some(&drifted), &declared).unwrap(), good);
        // A group name in another case is the same group to pve-firewall.
        let upper = good.replace("[group phoenix-host]", "[group Phoenix-Host]");
        assert_eq!(merge(Some(&upper), &declared).unwrap(), good);
    }

    #[test]
    fn option_spelling_with_the_declared_value_is_left_alone() {
        let text = "[options]\r\nENABLE:1\r\n[rules]\r\nIN ACCEPT -p tcp -dport 22 # phoenix\r\n";
        let d = guest(&["IN ACCEPT -p tcp -dport 22 # phoenix"]);
        assert_eq!(merge(Some(text), &d).unwrap(), text);
    }

    #[test]
    fn unreadable_or_ambiguous_files_are_refused_not_rewritten() {
        let e = merge(Some("[RULES]\nIN ACCEPT -p tcp -bogus 1\n"), &guest(&[])).unwrap_err();
        assert!(matches!(e, MergeError::Unreadable { line: 2, .. }), "{e:?}");
        assert!(e.to_string().contains("line 2: unable to parse rule parameters"), "{e}");
        assert!(e.to_string().contains("does not rewrite"), "{e}");
        assert!(matches!(merge(Some("enable: 1\n"), &guest(&[])).unwrap_err(), MergeError::Unreadable { line: 1, .. }));
        let twice = "[group phoenix-host]\n\nIN ACCEPT\n\n[group PHOENIX-HOST]\n\nIN DROP\n";
        let e = merge(Some(twice), &cluster(&[])).unwrap_err();
        assert!(e.to_string().contains("defined 2 times (lines 1, 5"), "{e}");
        let e = merge(Some("[OPTIONS]\nenable: 1\nEnable: 0\n"), &guest(&[])).unwrap_err();
        assert!(e.to_string().contains("option `enable` is set 2 times"), "{e}");
    }

    #[test]
    fn a_last_line_without_newline_and_a_header_only_section() {
        let d = guest(&["IN ACCEPT -p tcp -dport 22 # phoenix"]);
        assert_eq!(
            merge(Some("[OPTIONS]\n\n[RULES]"), &d).unwrap(),
            "[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22 # phoenix\n"
        );
        assert_eq!(
            merge(Some("[ALIASES]\n\ngw 10.0.0.1"), &d).unwrap(),
            "[OPTIONS]\n\nenable: 1\n\n[ALIASES]\n\ngw 10.0.0.1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22 # phoenix\n\n"
        );
    }

    #[test]
    fn the_tag_is_a_whole_word() {
        assert!(is_tagged(Some("phoenix")));
        assert!(is_tagged(Some("phoenix: ssh")));
        assert!(!is_tagged(Some("phoenixes are birds")));
        assert!(!is_tagged(Some("not phoenix")));
        assert!(!is_tagged(None));
        assert_eq!(tagged_comment(Some("ssh")), "phoenix: ssh");
        assert_eq!(tagged_comment(None), "phoenix");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn admin_rule() -> impl Strategy<Value = String> {
            (
                prop_oneof![Just("IN"), Just("OUT"), Just("|IN")],
                prop_oneof![Just("ACCEPT"), Just("DROP"), Just("REJECT"), Just("SSH(ACCEPT)")],
                proptest::option::of("10\\.[0-9]{1,2}\\.0\\.[0-9]{1,2}"),
                proptest::option::of("[a-z][a-z ]{0,8}[a-z]"),
            )
                .prop_map(|(dir, act, src, comment)| {
                    let mut line = format!("{dir} {act}");
                    if let Some(s) = src {
                        line.push_str(&format!(" -source {s}"));
                    }
                    if let Some(c) = comment {
                        line.push_str(&format!(" # {c}"));
                    }
                    line
                })
        }

        /// An administrator's file: some options (maybe phoenix's keys with other values),
        /// an alias, an IP set, rules, a group, hand comments; sections in any order.
        fn admin_file() -> impl Strategy<Value = String> {
            (
                proptest::collection::vec(
                    prop_oneof![
                        Just("enable: 0"),
                        Just("ebtables: 1"),
                        Just("policy_in: ACCEPT"),
                        Just("log_ratelimit: enable=1")
                    ],
                    0..3,
                ),
                proptest::collection::vec(admin_rule(), 0..4),
                proptest::collection::vec(admin_rule(), 0..3),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(mut opts, rules, group, aliases_first, comments)| {
                    opts.sort();
                    opts.dedup_by_key(|o| o.split(':').next().unwrap_or_default().to_string());
                    let mut parts = Vec::new();
                    if !opts.is_empty() {
                        parts.push(format!(
                            "[OPTIONS]\n\n{}\n",
                            opts.iter().map(|o| format!("{o}\n")).collect::<String>()
                        ));
                    }
                    let aliases = "[ALIASES]\n\ngw 10.0.0.1 # gateway\n\n[IPSET mgmt]\n\n10.0.0.0/24\n\n".to_string();
                    if aliases_first {
                        parts.push(aliases.clone());
                    }
                    if !rules.is_empty() {
                        let note = if comments { "# admin rules below\n" } else { "" };
                        parts.push(format!(
                            "[RULES]\n\n{note}{}\n",
                            rules.iter().map(|r| format!("{r}\n")).collect::<String>()
                        ));
                    }
                    if !aliases_first {
                        parts.push(aliases);
                    }
                    parts.push(format!(
                        "[group web] # w\n\n{}\n",
                        group.iter().map(|r| format!("{r}\n")).collect::<String>()
                    ));
                    parts.concat()
                })
        }

        proptest! {
            #[test]
            fn merge_keeps_admin_lines_and_is_idempotent(
                admin in admin_file(),
                declared_rules in proptest::collection::vec(admin_rule(), 0..3),
                cluster_file in any::<bool>(),
            ) {
                let declared = if cluster_file {
                    let rules: Vec<&str> = declared_rules.iter().map(String::as_str).collect();
                    cluster(&rules)
                } else {
                    let tagged: Vec<String> = declared_rules
                        .iter()
                        .map(|r| format!("{} # {TAG}", r.split(" #").next().unwrap_or_default()))
                        .collect();
                    let rules: Vec<&str> = tagged.iter().map(String::as_str).collect();
                    guest(&rules)
                };
                let once = merge(Some(&admin), &declared).unwrap();
                prop_assert_eq!(merge(Some(&once), &declared).unwrap(), once.clone());
                keeps_admin_lines(&admin, &once, &["enable", "policy_in"]);
                let fw = parse_firewall(&once).unwrap();
                prop_assert_eq!(fw.options.get("enable").map(String::as_str), Some("1"));
                match &declared.part {
                    Part::Group { rules, .. } => {
                        prop_assert_eq!(fw.groups["phoenix-host"].rules.len(), rules.len());
                        prop_assert_eq!(fw.rules.iter().filter(|r| r.action == "phoenix-host").count(), 1);
                    }
                    Part::Tagged { rules } => {
                        let mine = fw.rules.iter().filter(|r| is_tagged(r.comment.as_deref())).count();
                        prop_assert_eq!(mine, rules.len());
                    }
                }
                // Taking every declared rule away leaves the admin's file plus phoenix's options.
                let none = Declared { options: declared.options.clone(), part: match &declared.part {
                    Part::Group { name, comment, .. } => Part::Group { name: name.clone(), comment: comment.clone(), rules: vec![] },
                    Part::Tagged { .. } => Part::Tagged { rules: vec![] },
                }};
                let emptied = merge(Some(&once), &none).unwrap();
                keeps_admin_lines(&admin, &emptied, &["enable", "policy_in"]);
            }
        }
    }
}
