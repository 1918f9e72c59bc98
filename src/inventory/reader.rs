//! Decoding JSON values into typed config while *collecting* problems instead of stopping at
//! the first one. Each struct's decode function asks an [`Obj`] for its fields by name; the
//! keys asked for are the object's schema, so `finish` can report every other key as unknown
//! (with a suggestion) without a second schema table.

use super::diagnostic::{shown, ConfigProblem};
use super::rules::{control_char, control_name, Format};
use super::secret_ref::SecretRef;
use super::source::{child_pointer, SourceFile};
use super::suggest::did_you_mean;
use crate::secret::Secret;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::path::PathBuf;

/// One file being decoded and the problems found in it so far.
pub(crate) struct Ctx<'f> {
    pub file: &'f SourceFile,
    problems: RefCell<Vec<ConfigProblem>>,
    /// Where literal secrets sit in the file: masked in every snippet a diagnostic shows.
    secrets: RefCell<Vec<std::ops::Range<usize>>>,
}

impl<'f> Ctx<'f> {
    pub fn new(file: &'f SourceFile) -> Self {
        Ctx { file, problems: RefCell::new(Vec::new()), secrets: RefCell::new(Vec::new()) }
    }

    pub fn report(&self, problem: ConfigProblem) {
        self.problems.borrow_mut().push(problem);
    }

    /// The problems found, with literal secrets masked in their snippets.
    pub fn into_problems(self) -> Vec<ConfigProblem> {
        let mut problems = self.problems.into_inner();
        mask_secrets(&mut problems, self.file, &self.secrets.borrow());
        problems
    }

    /// The spans of the literal secrets found so far.
    pub fn secret_spans(&self) -> Vec<std::ops::Range<usize>> {
        self.secrets.borrow().clone()
    }

    /// A problem pointing at the value at `ptr`.
    pub fn at_value(&self, ptr: &str, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem::at(self.file, self.file.value_span(ptr), message)
    }

    /// A problem pointing at the key at `ptr`.
    pub fn at_key(&self, ptr: &str, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem::at(self.file, self.file.key_span(ptr), message)
    }

    /// The dotted path users see for a pointer: `lxc_configs.101.cores`, `vms[0].name`.
    pub fn path(&self, ptr: &str) -> String {
        display_path(self.file, ptr)
    }

    pub fn type_error(&self, ptr: &str, expected: &str, found: &Value) {
        let mut p = self
            .at_value(ptr, format!("`{}` must be {expected}", self.path(ptr)))
            .label(format!("this is {}", describe(found)));
        // The common slip: a number or boolean written in quotes.
        if let Value::String(s) = found {
            if expected.contains("number") && s.trim().parse::<f64>().is_ok() {
                p = p.help(format!("write the number without quotes: {}", s.trim()));
            } else if expected.contains("number") {
                p = p.help("write a number, e.g. 4");
            }
        }
        self.report(p);
    }
}

/// Replaces, in the source each problem shows, the text of every literal secret by `*` (byte
/// for byte, so every span stays where it was): a warning about a plain-text password, or any
/// problem on a neighbouring line, must not print the password.
pub(crate) fn mask_secrets(problems: &mut [ConfigProblem], file: &SourceFile, secrets: &[std::ops::Range<usize>]) {
    if secrets.is_empty() {
        return;
    }
    let mut masked = file.text.clone().into_bytes();
    for r in secrets {
        // Inside the quotes only.
        for b in masked.iter_mut().take(r.end.saturating_sub(1)).skip(r.start + 1) {
            *b = b'*';
        }
    }
    let masked = String::from_utf8_lossy(&masked).into_owned();
    let secret_texts: Vec<&str> =
        secrets.iter().filter_map(|r| file.text.get(r.start + 1..r.end.saturating_sub(1))).collect();
    for p in problems.iter_mut() {
        let Some(source) = &p.source else { continue };
        if source.name() != file.name {
            continue;
        }
        if source.inner().len() == file.text.len() {
            p.source = Some(miette::NamedSource::new(file.name.clone(), masked.clone()).with_language("json"));
        } else if secret_texts.iter().any(|t| !t.is_empty() && source.inner().contains(&t[..t.len().min(8)])) {
            // An excerpt around a secret: show no source rather than part of the secret.
            p.source = None;
            p.span = None;
        }
    }
}

pub(crate) fn display_path(file: &SourceFile, ptr: &str) -> String {
    let mut out = String::new();
    let mut prefix = String::new();
    for token in ptr.split('/').skip(1) {
        prefix.push('/');
        prefix.push_str(token);
        let name = shown(&token.replace("~1", "/").replace("~0", "~"));
        let is_index = file.location(&prefix).is_some_and(|l| l.key.is_none());
        if is_index {
            out.push_str(&format!("[{name}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&name);
        }
    }
    if out.is_empty() {
        out.push_str("(top level)");
    }
    out
}

/// "a string \"four\"", "an array", … for messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{}\"", shown(s)),
        Value::String(s) => format!("a string of {} bytes", s.len()),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

// ---- value decoders: (ctx, value, pointer) -> Option<T>, reporting on failure ----

/// Any string. None may hold a control character: every value ends up as a command
/// argument, inside a property string or as (part of) a line of a file phoenix writes, where
/// a line break or an escape sequence would change what the text means.
pub(crate) fn string(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    match v {
        Value::String(s) => {
            if no_control_chars(ctx, s, ptr) {
                Some(s.clone())
            } else {
                None
            }
        }
        other => {
            ctx.type_error(ptr, "a string", other);
            None
        }
    }
}

/// Reports (and returns false for) a string holding a control character.
pub(crate) fn no_control_chars(ctx: &Ctx, s: &str, ptr: &str) -> bool {
    let Some((at, c)) = control_char(s) else {
        return true;
    };
    ctx.report(
        ctx.at_value(ptr, format!("`{}` contains {}", ctx.path(ptr), control_name(c)))
            .label(format!("at character {}", at + 1))
            .help(
                "remove it: config values become command arguments, property strings and lines of \
                 generated files, where a control character would change their meaning",
            ),
    );
    false
}

/// Reports every control character in the strings (and keys) of an opaque value.
fn no_control_chars_in(ctx: &Ctx, v: &Value, ptr: &str) {
    match v {
        Value::String(s) => {
            no_control_chars(ctx, s, ptr);
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                no_control_chars_in(ctx, x, &child_pointer(ptr, &i.to_string()));
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let p = child_pointer(ptr, k);
                if let Some((at, c)) = control_char(k) {
                    ctx.report(
                        ctx.at_key(&p, format!("a key in `{}` contains {}", ctx.path(ptr), control_name(c)))
                            .label(format!("at character {}", at + 1))
                            .help("remove it from the key"),
                    );
                }
                no_control_chars_in(ctx, x, &p);
            }
        }
        _ => {}
    }
}

/// A non-empty string in `format` (Proxmox's own rules, see [`super::rules`]).
pub(crate) fn formatted(format: &'static Format) -> impl Fn(&Ctx, &Value, &str) -> Option<String> {
    move |ctx, v, ptr| {
        let s = nonempty_string(ctx, v, ptr)?;
        match (format.check)(&s) {
            Ok(()) => Some(s),
            Err(label) => {
                ctx.report(
                    ctx.at_value(ptr, format!("`{}` is not {}", ctx.path(ptr), format.what))
                        .label(label)
                        .help(format.help),
                );
                None
            }
        }
    }
}

/// A whole number in `min..=max`; `why` explains the limit (who refuses what).
pub(crate) fn u32_in(min: u32, max: u32, why: &'static str) -> impl Fn(&Ctx, &Value, &str) -> Option<u32> {
    move |ctx, v, ptr| {
        let n = u32_(ctx, v, ptr)?;
        if (min..=max).contains(&n) {
            return Some(n);
        }
        let bound = if n < min { format!("at least {min}") } else { format!("at most {max}") };
        ctx.report(
            ctx.at_value(ptr, format!("`{}` must be {bound}", ctx.path(ptr))).label(format!("this is {n}")).help(why),
        );
        None
    }
}

/// A string that must not be empty (names, paths).
pub(crate) fn nonempty_string(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let s = string(ctx, v, ptr)?;
    if s.trim().is_empty() {
        ctx.report(ctx.at_value(ptr, format!("`{}` must not be empty", ctx.path(ptr))));
        return None;
    }
    Some(s)
}

pub(crate) fn u32_(ctx: &Ctx, v: &Value, ptr: &str) -> Option<u32> {
    match v.as_u64().map(u32::try_from) {
        Some(Ok(n)) => Some(n),
        _ => {
            ctx.type_error(ptr, "a whole number from 0 to 4294967295", v);
            None
        }
    }
}

pub(crate) fn i64_(ctx: &Ctx, v: &Value, ptr: &str) -> Option<i64> {
    match v.as_i64() {
        Some(n) => Some(n),
        None => {
            ctx.type_error(ptr, "a whole number", v);
            None
        }
    }
}

/// A TCP/UDP port.
pub(crate) fn port(ctx: &Ctx, v: &Value, ptr: &str) -> Option<u16> {
    match v.as_u64().map(u16::try_from) {
        Some(Ok(n)) if n > 0 => Some(n),
        _ => {
            ctx.type_error(ptr, "a port number from 1 to 65535", v);
            None
        }
    }
}

/// Booleans; the original tool wrote some as strings ("true"), which are accepted with a
/// warning so existing files keep loading.
pub(crate) fn bool_(ctx: &Ctx, v: &Value, ptr: &str) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" || s == "false" => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is a string, not a boolean", ctx.path(ptr)))
                    .label("quoted boolean")
                    .help(format!("write {s} without quotes"))
                    .warning(),
            );
            Some(s == "true")
        }
        other => {
            ctx.type_error(ptr, "true or false", other);
            None
        }
    }
}

/// The ids Proxmox accepts (pve-common `pve-vmid`: `[1-9][0-9]{2,8}`).
pub(crate) const GUEST_IDS: std::ops::RangeInclusive<u32> = 100..=999_999_999;

/// A guest id, written as a number or (as the original did) a string of digits.
pub(crate) fn guest_id(ctx: &Ctx, v: &Value, ptr: &str) -> Option<u32> {
    let parsed = match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => parse_guest_id(s),
        _ => None,
    };
    match parsed {
        Some(id) if GUEST_IDS.contains(&id) => Some(id),
        _ => {
            report_bad_id(ctx, ptr, v, false);
            None
        }
    }
}

/// Digits only, as Proxmox writes ids (no sign, no spaces).
pub(crate) fn parse_guest_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(crate) fn report_bad_id(ctx: &Ctx, ptr: &str, v: &Value, at_key: bool) {
    let message = format!("`{}` is not a valid guest id", ctx.path(ptr));
    let p = if at_key { ctx.at_key(ptr, message) } else { ctx.at_value(ptr, message) };
    ctx.report(
        p.label(format!("this is {}", describe(v)))
            .help("guest ids are whole numbers from 100 to 999999999 (as Proxmox requires), such as 101 or \"101\""),
    );
}

/// A list of strings; a single string is not accepted (it is almost always a forgotten `[]`).
pub(crate) fn str_list(ctx: &Ctx, v: &Value, ptr: &str) -> Option<Vec<String>> {
    array(ctx, v, ptr, string)
}

pub(crate) fn array<T>(
    ctx: &Ctx,
    v: &Value,
    ptr: &str,
    mut item: impl FnMut(&Ctx, &Value, &str) -> Option<T>,
) -> Option<Vec<T>> {
    match v {
        Value::Array(items) => Some(
            items.iter().enumerate().filter_map(|(i, x)| item(ctx, x, &child_pointer(ptr, &i.to_string()))).collect(),
        ),
        other => {
            ctx.type_error(ptr, "an array", other);
            None
        }
    }
}

/// A map whose keys are names chosen by the operator (shares, volumes, stack services).
pub(crate) fn map<T>(
    ctx: &Ctx,
    v: &Value,
    ptr: &str,
    mut item: impl FnMut(&Ctx, &str, &Value, &str) -> Option<T>,
) -> Option<IndexMap<String, T>> {
    match v {
        Value::Object(m) => Some(
            m.iter().filter_map(|(k, x)| item(ctx, k, x, &child_pointer(ptr, k)).map(|t| (k.clone(), t))).collect(),
        ),
        other => {
            ctx.type_error(ptr, "an object", other);
            None
        }
    }
}

/// `"literal"` (warned about), `{"env": "NAME"}` or `{"file": "/path"}`.
pub(crate) fn secret(ctx: &Ctx, v: &Value, ptr: &str) -> Option<SecretRef> {
    match v {
        Value::String(s) => {
            // Recorded first: even a refused secret is masked in the snippets.
            if let Some(l) = ctx.file.location(ptr) {
                ctx.secrets.borrow_mut().push(l.value.clone());
            }
            if !no_control_chars(ctx, s, ptr) {
                return None;
            }
            ctx.report(
                ConfigProblem::at(
                    ctx.file,
                    ctx.file.value_span(ptr),
                    format!("`{}` holds a secret in plain text", ctx.path(ptr)),
                )
                .label("literal secret")
                .help(
                    "keep secrets out of config files: write {\"env\": \"NAME\"} to read it \
                     from an environment variable or {\"file\": \"/path\"} to read it from a file",
                )
                .warning(),
            );
            Some(SecretRef::Literal(Secret::new(s.clone())))
        }
        Value::Object(_) => {
            let mut o = Obj::new(ctx, v, ptr)?;
            let env = o.opt("env", nonempty_string);
            let file = o.opt("file", nonempty_string);
            o.finish();
            match (env, file) {
                (Some(e), None) => Some(SecretRef::Env(e)),
                (None, Some(f)) => Some(SecretRef::File(PathBuf::from(f))),
                _ => {
                    ctx.report(
                        ctx.at_value(ptr, format!("`{}` must name exactly one source", ctx.path(ptr)))
                            .help("write {\"env\": \"NAME\"} or {\"file\": \"/path\"}"),
                    );
                    None
                }
            }
        }
        other => {
            ctx.type_error(ptr, "a secret: {\"env\": \"NAME\"}, {\"file\": \"/path\"} or a string", other);
            None
        }
    }
}

/// An object being decoded field by field.
pub(crate) struct Obj<'c, 'f, 'v> {
    pub ctx: &'c Ctx<'f>,
    map: &'v Map<String, Value>,
    pub ptr: String,
    asked: Vec<&'static str>,
    missing: Vec<(&'static str, Option<&'static str>)>,
    accept_rest: bool,
}

impl<'c, 'f, 'v> Obj<'c, 'f, 'v> {
    /// Reports a type error (and returns `None`) when `v` is not an object.
    pub fn new(ctx: &'c Ctx<'f>, v: &'v Value, ptr: &str) -> Option<Self> {
        match v {
            Value::Object(map) => {
                Some(Obj { ctx, map, ptr: ptr.to_string(), asked: Vec::new(), missing: Vec::new(), accept_rest: false })
            }
            other => {
                ctx.type_error(ptr, "an object", other);
                None
            }
        }
    }

    pub fn field_ptr(&self, key: &str) -> String {
        child_pointer(&self.ptr, key)
    }

    /// The raw value of `key`; `null` counts as absent (the original read fields with `// empty`).
    pub fn raw(&mut self, key: &'static str) -> Option<(&'v Value, String)> {
        self.asked.push(key);
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some((v, self.field_ptr(key))),
        }
    }

    /// The value of `key` without marking it as read (for cross-field checks).
    pub fn raw_value(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn opt<T>(&mut self, key: &'static str, decode: impl FnOnce(&Ctx, &Value, &str) -> Option<T>) -> Option<T> {
        let (v, ptr) = self.raw(key)?;
        decode(self.ctx, v, &ptr)
    }

    /// Like `opt`, but a missing field is reported.
    pub fn req<T>(&mut self, key: &'static str, decode: impl FnOnce(&Ctx, &Value, &str) -> Option<T>) -> Option<T> {
        if !self.has(key) {
            self.asked.push(key);
            self.missing(key, None);
            return None;
        }
        self.opt(key, decode)
    }

    /// Records that `key` is required here (with an optional extra hint). Reported by
    /// `finish`, which merges it with an unknown key that looks like a misspelling of it.
    pub fn missing(&mut self, key: &'static str, why: Option<&'static str>) {
        self.missing.push((key, why));
    }

    fn report_missing(&self, key: &str, why: Option<&str>) {
        let ctx = self.ctx;
        let span = ctx.file.object_span(&self.ptr);
        let help = match why {
            Some(w) => format!("add \"{key}\": … to this object; {w}"),
            None => format!("add \"{key}\": … to this object"),
        };
        ctx.report(
            ConfigProblem::at(ctx.file, span, format!("missing required field `{key}` in `{}`", ctx.path(&self.ptr)))
                .label(format!("`{key}` is missing here"))
                .help(help),
        );
    }

    /// A list that may be absent (empty).
    pub fn list<T>(&mut self, key: &'static str, item: impl FnMut(&Ctx, &Value, &str) -> Option<T>) -> Vec<T> {
        self.opt(key, |c, v, p| array(c, v, p, item)).unwrap_or_default()
    }

    /// A nested object decoded by `decode`.
    pub fn obj<T>(&mut self, key: &'static str, decode: impl FnOnce(&mut Obj<'_, 'f, '_>) -> T) -> Option<T> {
        let (v, ptr) = self.raw(key)?;
        let mut o = Obj::new(self.ctx, v, &ptr)?;
        let t = decode(&mut o);
        o.finish();
        Some(t)
    }

    /// Any JSON value, kept as is (informational sections the original never read).
    /// Its strings are still checked for control characters: opaque sections such as
    /// `vllm_engine_config` or `health_checks` become command arguments too.
    pub fn opaque(&mut self, key: &'static str) -> Option<Value> {
        let (v, ptr) = self.raw(key)?;
        no_control_chars_in(self.ctx, v, &ptr);
        Some(v.clone())
    }

    /// Marks keys as known without decoding them (`$schema`).
    pub fn accept(&mut self, key: &'static str) {
        self.asked.push(key);
    }

    /// Accepts every key not asked for so far, returning them as opaque values. For sections
    /// whose remaining keys the original ignored.
    pub fn rest(&mut self) -> IndexMap<String, Value> {
        self.accept_rest = true;
        self.map
            .iter()
            .filter(|(k, _)| !self.asked.contains(&k.as_str()))
            .map(|(k, v)| {
                no_control_chars_in(self.ctx, v, &self.field_ptr(k));
                (k.clone(), v.clone())
            })
            .collect()
    }

    /// Reports every key that was never asked for, and every missing required key (a missing
    /// key and an unknown key that looks like it are one typo, reported once).
    pub fn finish(self) {
        let ctx = self.ctx;
        let mut known: Vec<&str> = self.asked.clone();
        known.sort_unstable();
        known.dedup();
        let mut explained: Vec<&str> = Vec::new();
        if !self.accept_rest {
            for key in self.map.keys() {
                if self.asked.contains(&key.as_str()) {
                    continue;
                }
                let ptr = self.field_ptr(key);
                let help = match did_you_mean(key, known.iter().copied()) {
                    Some(s) if self.missing.iter().any(|(m, _)| *m == s) => {
                        explained.push(s);
                        format!("did you mean `{s}`? (`{s}` is required and missing)")
                    }
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("remove it; the keys known here are: {}", known.join(", ")),
                };
                ctx.report(
                    ctx.at_key(&ptr, format!("unknown key `{}` in `{}`", shown(key), ctx.path(&self.ptr)))
                        .label("not a known key")
                        .help(help),
                );
            }
        }
        for (key, why) in &self.missing {
            if !explained.contains(key) {
                self.report_missing(key, *why);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new("t.json", text.to_string())
    }

    #[test]
    fn collects_every_problem_and_unknown_keys() {
        let f = file(r#"{"cores": "four", "memroy_mb": 1, "name": "a", "on": "true", "zzz": 0}"#);
        let root: Value = serde_json::from_str(&f.text).unwrap();
        let ctx = Ctx::new(&f);
        let mut o = Obj::new(&ctx, &root, "").unwrap();
        assert_eq!(o.opt("cores", u32_), None);
        assert_eq!(o.req("memory_mb", u32_), None);
        assert_eq!(o.req("storage_pool", string), None);
        assert_eq!(o.req("name", string).as_deref(), Some("a"));
        assert_eq!(o.opt("on", bool_), Some(true));
        o.finish();
        let problems = ctx.into_problems();
        let msgs: Vec<_> = problems.iter().map(|p| p.message.clone()).collect();
        assert_eq!(problems.len(), 5, "{msgs:?}");
        assert!(msgs[0].contains("`cores` must be a whole number"));
        assert!(!problems[1].is_error(), "string boolean is a warning");
        // The misspelt key explains the missing one: one problem, not two.
        assert!(msgs[2].contains("unknown key `memroy_mb`"));
        assert_eq!(
            problems[2].help.as_deref(),
            Some("did you mean `memory_mb`? (`memory_mb` is required and missing)")
        );
        let span = problems[2].span.unwrap();
        assert_eq!(&f.text[span.offset()..span.offset() + span.len()], "\"memroy_mb\"");
        assert!(msgs[3].contains("unknown key `zzz`"));
        assert!(problems[3].help.as_deref().unwrap().contains("cores, memory_mb, name, on, storage_pool"));
        assert!(msgs[4].contains("missing required field `storage_pool`"));
    }

    #[test]
    fn guest_ids_accept_strings_and_numbers() {
        let f = file(r#"{"d": ["103", 900, "x", 0, -1, 99999999999]}"#);
        let root: Value = serde_json::from_str(&f.text).unwrap();
        let ctx = Ctx::new(&f);
        let mut o = Obj::new(&ctx, &root, "").unwrap();
        assert_eq!(o.list("d", guest_id), vec![103, 900]);
        o.finish();
        assert_eq!(ctx.into_problems().len(), 4);
    }

    #[test]
    fn secrets_literal_env_file() {
        let f = file(r#"{"a": "pw", "b": {"env": "X"}, "c": {"file": "/p"}, "d": {"env": "X", "file": "/p"}}"#);
        let root: Value = serde_json::from_str(&f.text).unwrap();
        let ctx = Ctx::new(&f);
        let mut o = Obj::new(&ctx, &root, "").unwrap();
        assert!(matches!(o.opt("a", secret), Some(SecretRef::Literal(_))));
        assert!(matches!(o.opt("b", secret), Some(SecretRef::Env(n)) if n == "X"));
        assert!(matches!(o.opt("c", secret), Some(SecretRef::File(p)) if p == std::path::Path::new("/p")));
        assert!(o.opt("d", secret).is_none());
        o.finish();
        let problems = ctx.into_problems();
        assert_eq!(problems.len(), 2);
        assert!(!problems[0].is_error());
        assert!(problems[0].message.contains("plain text"));
        assert!(problems[1].is_error());
    }

    #[test]
    fn display_paths_distinguish_indexes() {
        let f = file(r#"{"vms": [{"name": 1}], "lxc_configs": {"101": {}}}"#);
        assert_eq!(display_path(&f, "/vms/0/name"), "vms[0].name");
        assert_eq!(display_path(&f, "/lxc_configs/101/cores"), "lxc_configs.101.cores");
        assert_eq!(display_path(&f, ""), "(top level)");
    }
}
