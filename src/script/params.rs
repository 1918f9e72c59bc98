//! A plan's command line. Each plan declares its parameters in its `//!` header, and phoenix
//! reads that declaration without running the plan, so the words after a plan verb are checked
//! the way clap checks a built-in verb's: `--help` prints the usage and runs nothing, an unknown
//! flag is refused with a "did you mean", a missing guest list is a usage error (exit 2) rather
//! than a failure half-way through a plan.
//!
//! The declaration (documented in the README, "Writing and overriding plans"):
//!
//! ```text
//! //! Start guests: the named ones only, in boot order.      ← description; its first
//! //! More text…                                               sentence is the one-line summary
//! //!
//! //! usage: start <ids>... | --all                           ← the pattern
//! //!   <ids>...   the guests to start                         ← one line per parameter:
//! //!   --all      every declared guest                          spec, then its help
//! ```
//!
//! Pattern: `<name>` one positional word, `<name>...` one or more, `--flag` a switch,
//! `--flag=<value>` a flag with a value; `[…]` makes a part optional, `a | b` makes parts
//! alternatives (exactly one of them; inside `[…]` at most one). Everything else is required.
//! A plan without a `usage:` line declares nothing: it gets its positional words as `ARGS` and
//! any flag is refused (a flag nobody declared can only be a typo or a misunderstanding).

use crate::project::resolver::Resolver;
use std::collections::BTreeMap;
use std::fmt;

/// One parameter of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// `<name>` (one word) or `<name>...` (one or more).
    Positional { name: String, variadic: bool },
    /// `--name` (a switch) or `--name=<value>` (takes a value).
    Flag { name: String, value: Option<String> },
}

impl Element {
    /// The key in the plan's `OPTS` map: the name with dashes as underscores (`--no-start` →
    /// `no_start`), so plans can write `OPTS.no_start`.
    pub fn key(&self) -> String {
        let name = match self {
            Element::Positional { name, .. } => name.as_str(),
            Element::Flag { name, .. } => name.trim_start_matches('-'),
        };
        name.replace('-', "_")
    }

    fn is_positional(&self) -> bool {
        matches!(self, Element::Positional { .. })
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Positional { name, variadic: false } => write!(f, "<{name}>"),
            Element::Positional { name, variadic: true } => write!(f, "<{name}>..."),
            Element::Flag { name, value: None } => write!(f, "{name}"),
            Element::Flag { name, value: Some(v) } => write!(f, "{name}=<{v}>"),
        }
    }
}

/// One part of the pattern: a parameter, or alternatives of which exactly one (required) or at
/// most one (optional) may be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub alternatives: Vec<Element>,
    pub required: bool,
}

impl Item {
    fn render(&self, alone: bool) -> String {
        let alts: Vec<String> = self.alternatives.iter().map(Element::to_string).collect();
        let inner = alts.join(" | ");
        match (self.required, alts.len()) {
            (false, _) => format!("[{inner}]"),
            (true, 1) => inner,
            (true, _) if alone => inner,
            (true, _) => format!("({inner})"),
        }
    }
}

/// A parameter's help line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub element: Element,
    pub help: String,
}

/// What a plan accepts, read from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub items: Vec<Item>,
    pub params: Vec<Param>,
}

impl Declaration {
    /// The pattern as shown in usage lines: `<ids>... | --all`, `<ids>... [--force]`.
    pub fn pattern(&self) -> String {
        let alone = self.items.len() == 1;
        self.items.iter().map(|i| i.render(alone)).collect::<Vec<_>>().join(" ")
    }

    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.items.iter().flat_map(|i| i.alternatives.iter())
    }

    fn flag(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| matches!(e, Element::Flag { name: n, .. } if n == name))
    }
}

/// A declaration that cannot be read: where and why. 1-based line and column in the plan file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct DeclarationError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// A plan's `//!` header: the description and the parameter declaration.
#[derive(Debug, Clone)]
pub struct PlanHeader {
    /// Description lines (declaration lines removed), blank lines kept as paragraph breaks.
    pub description: Vec<String>,
    /// `Ok(None)`: the plan declares nothing.
    pub declaration: Result<Option<Declaration>, DeclarationError>,
}

impl PlanHeader {
    /// Read the header of a plan's text. Never fails: a bad declaration is kept as its error,
    /// so a listing can still show the plan's summary.
    pub fn read(text: &str) -> PlanHeader {
        let mut description = Vec::new();
        let mut usage: Option<(usize, usize, String)> = None;
        let mut param_lines: Vec<(usize, usize, String)> = Vec::new();
        let mut in_block = false;
        let mut error = None;
        for (n, raw) in text.lines().enumerate() {
            let Some(content) = raw.strip_prefix("//!") else { break };
            let line = n + 1;
            let content = content.strip_prefix(' ').unwrap_or(content);
            let trimmed = content.trim_start();
            let col = raw.len() - trimmed.len() + 1;
            if let Some(rest) = strip_usage_prefix(trimmed) {
                if usage.is_some() {
                    error.get_or_insert(DeclarationError {
                        line,
                        col,
                        message: "a second `usage:` line: a plan declares its parameters once".into(),
                    });
                }
                usage = Some((line, col + (trimmed.len() - rest.len()), rest.to_string()));
                in_block = true;
                continue;
            }
            if in_block {
                if trimmed.starts_with('<') || trimmed.starts_with('-') {
                    param_lines.push((line, col, trimmed.to_string()));
                    continue;
                }
                // An indented line continues the previous parameter's help.
                if !trimmed.is_empty() && content.starts_with(char::is_whitespace) {
                    if let Some(last) = param_lines.last_mut() {
                        last.2.push(' ');
                        last.2.push_str(trimmed);
                        continue;
                    }
                }
                in_block = false;
            }
            description.push(content.trim_end().to_string());
        }
        while description.last().is_some_and(|l| l.is_empty()) {
            description.pop();
        }
        let declaration = match (error, usage) {
            (Some(e), _) => Err(e),
            (None, None) => Ok(None),
            (None, Some((line, col, pattern))) => parse_declaration(line, col, &pattern, &param_lines).map(Some),
        };
        PlanHeader { description, declaration }
    }

    /// The first sentence of the description, on one line: what `phoenix --help` lists.
    pub fn summary(&self) -> String {
        let first: Vec<&str> = self
            .description
            .iter()
            .map(|l| l.trim())
            .skip_while(|l| l.is_empty())
            .take_while(|l| !l.is_empty())
            .collect();
        let para = first.join(" ");
        let sentence = match para.find(". ") {
            Some(i) => &para[..=i],
            None => para.as_str(),
        };
        // Printed to a terminal: no control characters from the file.
        sentence.chars().filter(|c| !c.is_control()).collect()
    }
}

fn strip_usage_prefix(line: &str) -> Option<&str> {
    let head = line.get(..6)?;
    head.eq_ignore_ascii_case("usage:").then(|| line[6..].trim_start())
}

/// Words of a pattern with their column: brackets and `|` are words of their own.
fn tokenize(pattern: &str, col0: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, c) in pattern.char_indices() {
        if c.is_whitespace() || "[]()|".contains(c) {
            if !cur.is_empty() {
                out.push((col0 + start, std::mem::take(&mut cur)));
            }
            if !c.is_whitespace() {
                out.push((col0 + i, c.to_string()));
            }
        } else {
            if cur.is_empty() {
                start = i;
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push((col0 + start, cur));
    }
    out
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `<ids>...`, `<id>`, `--all`, `--snapshot=<name>` → the element, or why not.
fn element(spec: &str) -> Result<Element, String> {
    if let Some(inner) = spec.strip_prefix('<') {
        let (inner, variadic) = match inner.strip_suffix("...") {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let name =
            inner.strip_suffix('>').ok_or_else(|| format!("`{spec}`: a positional is `<name>` or `<name>...`"))?;
        if !valid_name(name) {
            return Err(format!("`{spec}`: names are letters, digits, `-` and `_`, starting with a letter"));
        }
        return Ok(Element::Positional { name: name.to_string(), variadic });
    }
    if let Some(body) = spec.strip_prefix("--") {
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => {
                let v = v
                    .strip_prefix('<')
                    .and_then(|v| v.strip_suffix('>'))
                    .filter(|v| valid_name(v))
                    .ok_or_else(|| format!("`{spec}`: a flag's value is written `--{n}=<name>`"))?;
                (n, Some(v.to_string()))
            }
            None => (body, None),
        };
        if !valid_name(name) {
            return Err(format!("`{spec}`: a flag is `--` and a name of letters, digits, `-` and `_`"));
        }
        let name = format!("--{name}");
        if name == "--help" || crate::types::global_flags::global_flag_names().any(|g| g == name) {
            return Err(format!("`{name}` is phoenix's own option: a plan cannot declare it"));
        }
        return Ok(Element::Flag { name, value });
    }
    Err(format!("`{spec}` is not a parameter: write `<name>`, `<name>...`, `--flag` or `--flag=<value>`"))
}

fn parse_declaration(
    line: usize,
    col: usize,
    pattern: &str,
    param_lines: &[(usize, usize, String)],
) -> Result<Declaration, DeclarationError> {
    let err = |col: usize, message: String| DeclarationError { line, col, message };
    let mut tokens = tokenize(pattern, col);
    // The verb's own name may open the pattern (`usage: create <ids>...`); it is for the reader.
    if tokens.first().is_some_and(|(_, t)| valid_name(t)) {
        tokens.remove(0);
    }
    let mut items: Vec<Item> = Vec::new();
    let mut i = 0;
    // Whether the previous item may take a `| alternative` (a bare element or a `|` chain).
    let mut joinable = false;
    while i < tokens.len() {
        let (c, t) = &tokens[i];
        match t.as_str() {
            "[" | "(" => {
                let close = if t == "[" { "]" } else { ")" };
                let mut alts = Vec::new();
                let mut expect_element = true;
                i += 1;
                loop {
                    let Some((c2, t2)) = tokens.get(i) else {
                        return Err(err(*c, format!("`{t}` is never closed with `{close}`")));
                    };
                    match t2.as_str() {
                        x if x == close && !expect_element => break,
                        "|" if !expect_element => expect_element = true,
                        "[" | "(" | "]" | ")" | "|" => {
                            return Err(err(
                                *c2,
                                format!("unexpected `{t2}`: brackets hold one parameter or `a | b` alternatives"),
                            ))
                        }
                        _ if expect_element => {
                            alts.push(element(t2).map_err(|m| err(*c2, m))?);
                            expect_element = false;
                        }
                        _ => {
                            return Err(err(*c2, format!("`{t2}`: write alternatives as `a | b`, one parameter each")))
                        }
                    }
                    i += 1;
                }
                items.push(Item { alternatives: alts, required: t == "(" });
                joinable = false;
            }
            "|" => {
                let Some(next) = tokens.get(i + 1).filter(|(_, n)| !"[]()|".contains(n.as_str())) else {
                    return Err(err(*c, "`|` needs a parameter on each side".into()));
                };
                let last = items.last_mut().filter(|_| joinable);
                let Some(last) = last else {
                    return Err(err(*c, "`|` needs a parameter on each side (or group with `( … )`)".into()));
                };
                last.alternatives.push(element(&next.1).map_err(|m| err(next.0, m))?);
                i += 1;
            }
            "]" | ")" => return Err(err(*c, format!("`{t}` closes nothing"))),
            _ => {
                items.push(Item { alternatives: vec![element(t).map_err(|m| err(*c, m))?], required: true });
                joinable = true;
            }
        }
        i += 1;
    }
    let decl = Declaration { items, params: Vec::new() };
    check_shape(&decl).map_err(|m| err(col, m))?;
    let params = parse_params(&decl, line, param_lines)?;
    Ok(Declaration { params, ..decl })
}

/// Shapes the parser could not match unambiguously are refused up front.
fn check_shape(decl: &Declaration) -> Result<(), String> {
    let mut keys: Vec<String> = Vec::new();
    for e in decl.elements() {
        let k = e.key();
        if keys.contains(&k) {
            return Err(format!("`{e}` is declared twice (or shares its name with another parameter)"));
        }
        keys.push(k);
    }
    // Positionals are filled in order: one list, last; no required word after an optional one.
    let mut seen_variadic = false;
    let mut seen_optional = false;
    for item in &decl.items {
        for e in &item.alternatives {
            let Element::Positional { variadic, .. } = e else { continue };
            if seen_variadic {
                return Err(format!("`{e}` comes after a `<…>...` list, which takes every remaining word"));
            }
            if item.required && seen_optional {
                return Err(format!("`{e}` is required but follows an optional positional: swap them"));
            }
            seen_variadic |= *variadic;
            seen_optional |= !item.required;
        }
        if item.alternatives.iter().filter(|e| e.is_positional()).count() > 1 {
            return Err("two positionals as alternatives cannot be told apart: use one `<name>...`".into());
        }
    }
    Ok(())
}

fn parse_params(
    decl: &Declaration,
    usage_line: usize,
    lines: &[(usize, usize, String)],
) -> Result<Vec<Param>, DeclarationError> {
    let mut params: Vec<Param> = Vec::new();
    for (line, col, text) in lines {
        let err = |message: String| DeclarationError { line: *line, col: *col, message };
        let (spec, help) = text.split_once(char::is_whitespace).unwrap_or((text.as_str(), ""));
        let described = element(spec).map_err(err)?;
        let Some(declared) = decl.elements().find(|e| e.key() == described.key()) else {
            return Err(err(format!("`{spec}` is described but not in the `usage:` line")));
        };
        if params.iter().any(|p| p.element.key() == declared.key()) {
            return Err(err(format!("`{spec}` is described twice")));
        }
        let help = help.trim();
        if help.is_empty() {
            return Err(err(format!("`{spec}` needs a description after it, e.g. `{spec}  the guests to act on`")));
        }
        params.push(Param { element: declared.clone(), help: help.to_string() });
    }
    // Every parameter is described, in the order of the pattern.
    let mut ordered = Vec::new();
    for e in decl.elements() {
        match params.iter().find(|p| &p.element == e) {
            Some(p) => ordered.push(p.clone()),
            None => {
                return Err(DeclarationError {
                    line: usage_line,
                    col: 1,
                    message: format!("`{e}` has no description: add a line `//!   {e}  what it is` below `usage:`"),
                })
            }
        }
    }
    Ok(ordered)
}

/// A parsed plan command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `--help` or `-h` was among the words: print the usage, run nothing.
    Help,
    Args(PlanArgs),
}

/// What a plan receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanArgs {
    /// The words as given (minus a `--` separator), the shape plans have always read (`ARGS`).
    pub args: Vec<String>,
    /// Every declared parameter by key: switches `true`/`false`, value flags and single
    /// positionals the text or none, lists an array (`OPTS`).
    pub opts: BTreeMap<String, OptValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptValue {
    Switch(bool),
    Text(Option<String>),
    Words(Vec<String>),
}

/// `OPTS` as the plan sees it: `OPTS.all` is `true`/`false`, `OPTS.ids` an array of words,
/// `OPTS.name` a string or `()`.
pub fn opts_map(opts: &BTreeMap<String, OptValue>) -> rhai::Map {
    opts.iter()
        .map(|(k, v)| {
            let value = match v {
                OptValue::Switch(b) => rhai::Dynamic::from(*b),
                OptValue::Text(Some(t)) => rhai::Dynamic::from(t.clone()),
                OptValue::Text(None) => rhai::Dynamic::UNIT,
                OptValue::Words(w) => {
                    rhai::Dynamic::from_array(w.iter().map(|x| rhai::Dynamic::from(x.clone())).collect())
                }
            };
            (k.as_str().into(), value)
        })
        .collect()
}

/// Why the words after a verb were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    UnknownFlag { flag: String, suggestion: Option<String>, declares_flags: bool },
    FlagTwice { flag: String },
    FlagNeedsValue { flag: String, value: String },
    FlagTakesNoValue { flag: String },
    Unexpected { word: String, takes_positionals: bool },
    Missing { what: String },
    Conflict { first: String, second: String },
}

/// A word from the command line as printed in a message: control characters escaped (no
/// terminal escapes from argv), and cut short when long.
pub fn shown(word: &str) -> String {
    let mut out: String = word.chars().take(60).flat_map(char::escape_debug).collect();
    if word.chars().count() > 60 {
        out.push('…');
    }
    out
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown_self;
        let this = match self {
            UsageError::UnknownFlag { flag, suggestion, declares_flags } => {
                shown_self = UsageError::UnknownFlag {
                    flag: shown(flag),
                    suggestion: suggestion.clone(),
                    declares_flags: *declares_flags,
                };
                &shown_self
            }
            UsageError::Unexpected { word, takes_positionals } => {
                shown_self = UsageError::Unexpected { word: shown(word), takes_positionals: *takes_positionals };
                &shown_self
            }
            other => other,
        };
        match this {
            UsageError::UnknownFlag { flag, declares_flags: true, .. } => write!(f, "unknown flag `{flag}`"),
            UsageError::UnknownFlag { flag, declares_flags: false, .. } => {
                write!(f, "unknown flag `{flag}`: this plan takes no flags")
            }
            UsageError::FlagTwice { flag } => write!(f, "`{flag}` is given twice"),
            UsageError::FlagNeedsValue { flag, value } => write!(f, "`{flag}` needs a value: `{flag}=<{value}>`"),
            UsageError::FlagTakesNoValue { flag } => write!(f, "`{flag}` takes no value"),
            UsageError::Unexpected { word, takes_positionals: false } => {
                write!(f, "unexpected argument `{word}`: this plan takes no arguments")
            }
            UsageError::Unexpected { word, .. } => write!(f, "unexpected argument `{word}`"),
            UsageError::Missing { what } => write!(f, "missing {what}"),
            UsageError::Conflict { first, second } => write!(f, "`{first}` and `{second}` cannot be used together"),
        }
    }
}

impl UsageError {
    /// A hint for the operator, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            UsageError::UnknownFlag { suggestion: Some(s), .. } => Some(format!("did you mean `{s}`?")),
            UsageError::UnknownFlag { .. } => {
                Some("words after `--` reach the plan as they are (`phoenix <verb> -- --word`)".into())
            }
            _ => None,
        }
    }
}

fn is_flag_word(w: &str) -> bool {
    w.len() > 1 && w.starts_with('-')
}

/// Parse the words after a plan verb (global flags already moved out) against the plan's
/// declaration. `None`: the plan declares nothing (positional words only).
pub fn parse(decl: Option<&Declaration>, words: &[String]) -> Result<Parsed, UsageError> {
    let before_separator = words.iter().take_while(|w| *w != "--");
    // Help wins over everything else on the line: a tired operator asking is never refused.
    if before_separator.clone().any(|w| w == "--help" || w == "-h") {
        return Ok(Parsed::Help);
    }
    let mut args = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut flags: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut i = 0;
    let mut raw = false;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        if raw || !is_flag_word(w) {
            positionals.push(w.clone());
            args.push(w.clone());
            continue;
        }
        if w == "--" {
            raw = true;
            continue;
        }
        let (name, inline) = match w.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let Some(Element::Flag { value, .. }) = decl.and_then(|d| d.flag(name)) else {
            return Err(unknown_flag(decl, name));
        };
        args.push(w.clone());
        let given = match (value, inline) {
            (None, None) => None,
            (None, Some(_)) => return Err(UsageError::FlagTakesNoValue { flag: name.to_string() }),
            (Some(_), Some(v)) => Some(v),
            (Some(v), None) => match words.get(i) {
                // A value that looks like a flag is more likely a forgotten value: say so.
                Some(next) if !next.starts_with('-') => {
                    args.push(next.clone());
                    i += 1;
                    Some(next.clone())
                }
                _ => return Err(UsageError::FlagNeedsValue { flag: name.to_string(), value: v.clone() }),
            },
        };
        if flags.insert(name.to_string(), given).is_some() {
            return Err(UsageError::FlagTwice { flag: name.to_string() });
        }
    }
    let Some(decl) = decl else {
        // Nothing declared: positional words pass through, as they always have.
        let mut opts = BTreeMap::new();
        opts.insert("args".to_string(), OptValue::Words(positionals));
        return Ok(Parsed::Args(PlanArgs { args, opts }));
    };
    let opts = assign(decl, positionals, &flags)?;
    Ok(Parsed::Args(PlanArgs { args, opts }))
}

fn unknown_flag(decl: Option<&Declaration>, name: &str) -> UsageError {
    let declared: Vec<String> =
        decl.map(|d| d.elements().filter(|e| !e.is_positional()).map(|e| e.to_string()).collect()).unwrap_or_default();
    let mut candidates: Vec<String> = declared.iter().map(|d| d.split('=').next().unwrap_or(d).to_string()).collect();
    candidates.extend(crate::types::global_flags::global_flag_names().map(str::to_string));
    candidates.push("--help".into());
    // Edit distance is quadratic: a flag far longer than any real one is no typo of one.
    let suggestion = if name.len() <= 64 {
        crate::types::suggest::closest(name, candidates.iter().map(String::as_str))
    } else {
        None
    };
    UsageError::UnknownFlag { flag: name.to_string(), suggestion, declares_flags: !declared.is_empty() }
}

/// Give positional words to the declared positionals in order and check every item.
fn assign(
    decl: &Declaration,
    positionals: Vec<String>,
    flags: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, OptValue>, UsageError> {
    let mut words = positionals.into_iter();
    let mut opts = BTreeMap::new();
    for item in &decl.items {
        let mut present: Vec<&Element> = Vec::new();
        for e in &item.alternatives {
            let (value, given) = match e {
                Element::Positional { variadic: false, .. } => {
                    let w = words.next();
                    (OptValue::Text(w.clone()), w.is_some())
                }
                Element::Positional { variadic: true, .. } => {
                    let all: Vec<String> = words.by_ref().collect();
                    let given = !all.is_empty();
                    (OptValue::Words(all), given)
                }
                Element::Flag { name, value: None } => {
                    (OptValue::Switch(flags.contains_key(name)), flags.contains_key(name))
                }
                Element::Flag { name, value: Some(_) } => {
                    let v = flags.get(name).cloned().flatten();
                    let given = v.is_some();
                    (OptValue::Text(v), given)
                }
            };
            if given {
                present.push(e);
            }
            opts.insert(e.key(), value);
        }
        if let [first, second, ..] = present.as_slice() {
            return Err(UsageError::Conflict { first: first.to_string(), second: second.to_string() });
        }
        if item.required && present.is_empty() {
            let what: Vec<String> = item.alternatives.iter().map(Element::to_string).collect();
            return Err(UsageError::Missing { what: what.join(" or ") });
        }
    }
    if let Some(word) = words.next() {
        let takes_positionals = decl.elements().any(Element::is_positional);
        return Err(UsageError::Unexpected { word, takes_positionals });
    }
    Ok(opts)
}

/// `phoenix create <ids>... | --all`, or the generic form for a plan that declares nothing.
pub fn usage_line(invocation: &str, decl: Option<&Declaration>) -> String {
    match decl {
        Some(d) if d.items.is_empty() => format!("phoenix {invocation}"),
        Some(d) => format!("phoenix {invocation} {}", d.pattern()),
        None => format!("phoenix {invocation} [<words>...]"),
    }
}

/// The text `phoenix <verb> --help` prints.
pub fn help_text(invocation: &str, header: &PlanHeader, decl: Option<&Declaration>, source: &str) -> String {
    let mut out = String::new();
    for l in &header.description {
        out.push_str(l);
        out.push('\n');
    }
    if !header.description.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("Usage: {}\n", usage_line(invocation, decl)));
    match decl {
        Some(d) if !d.params.is_empty() => {
            out.push_str("\nArguments:\n");
            let width = d.params.iter().map(|p| p.element.to_string().len()).max().unwrap_or(0);
            for p in &d.params {
                out.push_str(&format!("  {:width$}  {}\n", p.element.to_string(), p.help));
            }
        }
        Some(_) => out.push_str("\nThis plan takes no arguments.\n"),
        None => out.push_str(
            "\nThis plan declares no parameters: its words reach it as ARGS and flags are refused.\n\
             Declare them in its header (README: \"Writing and overriding plans\").\n",
        ),
    }
    out.push_str(
        "\nGlobal options, before or after the verb: --config-dir, --host, --dry-run, --parallel,\n\
         --fail-fast, --output, --state-dir, -v, -q, --yes (`phoenix --help` explains them).\n",
    );
    out.push_str(&format!("Plan: {source}\n"));
    out
}

/// Every plan verb with its one-line summary, for `phoenix --help`. Names that are not plain
/// words (a stray file in plans/) are left out: they could not be typed as a verb anyway.
pub fn verb_summaries(resolver: &Resolver) -> Vec<(String, String)> {
    resolver
        .plan_names()
        .into_iter()
        .filter(|n| valid_name(n))
        .map(|name| {
            let summary = match resolver.plan(&name) {
                Ok(Some(found)) => PlanHeader::read(&found.text).summary(),
                Ok(None) => String::new(),
                Err(e) => format!("(unreadable: {e})"),
            };
            (name, summary)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(text: &str) -> Declaration {
        match PlanHeader::read(text).declaration {
            Ok(Some(d)) => d,
            other => panic!("no declaration: {other:?}"),
        }
    }

    fn decl_err(text: &str) -> DeclarationError {
        match PlanHeader::read(text).declaration {
            Err(e) => e,
            other => panic!("expected an error: {other:?}"),
        }
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn args(d: Option<&Declaration>, s: &str) -> PlanArgs {
        match parse(d, &words(s)) {
            Ok(Parsed::Args(a)) => a,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn refused(d: Option<&Declaration>, s: &str) -> UsageError {
        match parse(d, &words(s)) {
            Err(e) => e,
            other => panic!("{s} was accepted: {other:?}"),
        }
    }

    const CREATE: &str = "//! Create guests. More text\n//! here.\n//!\n//! usage: create <ids>... | --all\n\
                          //!   <ids>...  guest ids\n//!             (declared ones)\n//!   --all     every guest\n\nlet x = 1;\n";

    #[test]
    fn reads_description_summary_and_declaration() {
        let h = PlanHeader::read(CREATE);
        assert_eq!(h.summary(), "Create guests.");
        assert_eq!(h.description, vec!["Create guests. More text", "here."]);
        let d = decl(CREATE);
        assert_eq!(d.pattern(), "<ids>... | --all");
        assert_eq!(d.params[0].help, "guest ids (declared ones)");
        assert_eq!(d.params[1].element, Element::Flag { name: "--all".into(), value: None });
    }

    #[test]
    fn no_usage_line_declares_nothing() {
        let h = PlanHeader::read("//! Just a plan.\nlet x = 1;\n");
        assert_eq!(h.declaration, Ok(None));
        assert_eq!(h.summary(), "Just a plan.");
        // The header ends at the first line that is not `//!`.
        assert_eq!(PlanHeader::read("let x;\n//! usage: x --all\n").declaration, Ok(None));
    }

    #[test]
    fn patterns_render_canonically() {
        let d = decl("//! usage: delete <ids>... [--force]\n//! <ids>... ids\n//! --force go\n");
        assert_eq!(d.pattern(), "<ids>... [--force]");
        let d = decl("//! usage: s [<ids>... | --all]\n//! <ids>... ids\n//! --all all\n");
        assert_eq!(d.pattern(), "[<ids>... | --all]");
        assert!(!d.items[0].required);
        let d =
            decl("//! usage: x (<ids>... | --all) --snap=<name>\n//! <ids>... i\n//! --all a\n//! --snap=<name> s\n");
        assert_eq!(d.pattern(), "(<ids>... | --all) --snap=<name>");
        assert_eq!(decl("//! usage: setup\n").pattern(), "");
    }

    #[test]
    fn bad_declarations_are_refused_with_their_place() {
        let e = decl_err("//! usage: x <ids>... <more>\n//! <ids>... a\n//! <more> b\n");
        assert!(e.message.contains("after a `<…>...` list"), "{e}");
        assert_eq!(e.line, 1);
        let e = decl_err("//! usage: x [--all\n");
        assert!(e.message.contains("never closed"), "{e}");
        let e = decl_err("//! usage: x --all\n");
        assert!(e.message.contains("`--all` has no description"), "{e}");
        let e = decl_err("//! usage: x --all\n//! --all every\n//! --force go\n");
        assert_eq!((e.line, e.message.contains("not in the `usage:` line")), (3, true), "{e}");
        let e = decl_err("//! usage: x --dry-run\n//! --dry-run d\n");
        assert!(e.message.contains("phoenix's own option"), "{e}");
        let e = decl_err("//! usage: x --all\n//!   --all\n");
        assert!(e.message.contains("needs a description"), "{e}");
        let e = decl_err("//! usage: x | --all\n");
        assert!(e.message.contains("`|` needs"), "{e}");
        let e = decl_err("//! usage: x --a_b --a-b\n//! --a_b x\n//! --a-b y\n");
        assert!(e.message.contains("declared twice"), "{e}");
        let e = decl_err("//! usage: x [<a>] <b>\n//! <a> a\n//! <b> b\n");
        assert!(e.message.contains("follows an optional"), "{e}");
        let e = decl_err("//! usage: x foo\n//! usage: y\n");
        assert!(e.message.contains("second `usage:`"), "{e}");
        let e = decl_err("//! usage: x $(id)\n");
        assert!(e.message.contains("not a parameter"), "{e}");
        assert_eq!(e.col, 14, "the column of `$`");
    }

    #[test]
    fn words_are_checked_against_the_declaration() {
        let d = decl(CREATE);
        let a = args(Some(&d), "101 102");
        assert_eq!(a.args, words("101 102"));
        assert_eq!(a.opts["ids"], OptValue::Words(words("101 102")));
        assert_eq!(a.opts["all"], OptValue::Switch(false));
        assert_eq!(args(Some(&d), "--all").opts["all"], OptValue::Switch(true));
        assert_eq!(args(Some(&d), "--all").args, words("--all"));

        assert_eq!(refused(Some(&d), "").to_string(), "missing <ids>... or --all");
        assert_eq!(
            refused(Some(&d), "101 --all"),
            UsageError::Conflict { first: "<ids>...".into(), second: "--all".into() }
        );
        let typo = refused(Some(&d), "101 --al");
        assert_eq!(typo.hint().as_deref(), Some("did you mean `--all`?"));
        let typo = refused(Some(&d), "--dryrun");
        assert_eq!(typo.hint().as_deref(), Some("did you mean `--dry-run`?"));
        let long = format!("--{}\u{1b}[31m", "a".repeat(100_000));
        let shown = refused(Some(&d), &long).to_string();
        assert!(shown.len() < 120 && shown.contains('…') && !shown.contains('\u{1b}'), "{shown}");
        let typo = refused(Some(&d), "103 --dry_run");
        assert_eq!(typo.hint().as_deref(), Some("did you mean `--dry-run`?"));
        assert!(matches!(refused(Some(&d), "101 -x"), UsageError::UnknownFlag { .. }));
        assert_eq!(refused(Some(&d), "--all --all"), UsageError::FlagTwice { flag: "--all".into() });
        assert_eq!(refused(Some(&d), "--all=yes"), UsageError::FlagTakesNoValue { flag: "--all".into() });
    }

    #[test]
    fn help_wins_anywhere_before_the_separator() {
        let d = decl(CREATE);
        for line in ["--help", "-h", "--all --help", "--dryrun -h", "101 --all --help"] {
            assert_eq!(parse(Some(&d), &words(line)), Ok(Parsed::Help), "{line}");
        }
        assert_eq!(parse(None, &words("x --help")), Ok(Parsed::Help));
        // After `--`, `--help` is a word for the plan.
        assert_eq!(args(Some(&d), "-- --help").args, words("--help"));
    }

    #[test]
    fn the_separator_passes_words_through() {
        let d = decl(CREATE);
        let a = args(Some(&d), "101 -- --weird -x");
        assert_eq!(a.args, words("101 --weird -x"));
        assert_eq!(a.opts["ids"], OptValue::Words(words("101 --weird -x")));
        assert_eq!(refused(Some(&d), "--").to_string(), "missing <ids>... or --all");
    }

    #[test]
    fn value_flags_and_single_positionals() {
        let d = decl("//! usage: snap <id> [--name=<snapshot>]\n//! <id> guest\n//! --name=<snapshot> its name\n");
        let a = args(Some(&d), "101 --name before-upgrade");
        assert_eq!(a.opts["id"], OptValue::Text(Some("101".into())));
        assert_eq!(a.opts["name"], OptValue::Text(Some("before-upgrade".into())));
        assert_eq!(args(Some(&d), "--name=x 101").opts["name"], OptValue::Text(Some("x".into())));
        assert_eq!(args(Some(&d), "101").opts["name"], OptValue::Text(None));
        assert!(matches!(refused(Some(&d), "101 --name"), UsageError::FlagNeedsValue { .. }));
        assert!(matches!(refused(Some(&d), "101 --name --x"), UsageError::FlagNeedsValue { .. }));
        assert_eq!(
            refused(Some(&d), "101 102"),
            UsageError::Unexpected { word: "102".into(), takes_positionals: true }
        );
        assert_eq!(refused(Some(&d), "").to_string(), "missing <id>");
    }

    #[test]
    fn a_plan_that_takes_nothing_refuses_everything() {
        let d = decl("//! usage: setup\n");
        assert_eq!(args(Some(&d), "").args, Vec::<String>::new());
        assert_eq!(refused(Some(&d), "101").to_string(), "unexpected argument `101`: this plan takes no arguments");
        assert_eq!(refused(Some(&d), "--al").to_string(), "unknown flag `--al`: this plan takes no flags");
    }

    #[test]
    fn an_undeclared_plan_gets_words_but_no_flags() {
        let a = args(None, "101 docker");
        assert_eq!(a.args, words("101 docker"));
        assert!(matches!(refused(None, "101 --force"), UsageError::UnknownFlag { declares_flags: false, .. }));
        assert_eq!(args(None, "-- --force").args, words("--force"));
    }

    #[test]
    fn help_text_shows_usage_and_every_parameter() {
        let h = PlanHeader::read(CREATE);
        let d = decl(CREATE);
        let text = help_text("create", &h, Some(&d), "plans/create.rhai");
        assert!(
            text.starts_with("Create guests. More text\nhere.\n\nUsage: phoenix create <ids>... | --all\n"),
            "{text}"
        );
        assert!(text.contains("  <ids>...  guest ids (declared ones)\n  --all     every guest\n"), "{text}");
        assert!(text.ends_with("Plan: plans/create.rhai\n"), "{text}");
    }

    #[test]
    fn every_shipped_plan_declares_its_parameters() {
        for name in crate::project::embedded::plan_names() {
            let text = crate::project::embedded::get(&format!("plans/{name}.rhai")).unwrap_or_default();
            let h = PlanHeader::read(text);
            assert!(matches!(h.declaration, Ok(Some(_))), "plans/{name}.rhai: {:?}", h.declaration);
            assert!(h.summary().ends_with('.') && h.summary().len() < 100, "plans/{name}.rhai: {}", h.summary());
        }
    }
}
