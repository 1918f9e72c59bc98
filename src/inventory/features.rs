//! Guest features checked against the feature registry (the modules in `stdlib/features/`, each
//! declaring what it needs in `meta()`; see `script::registry`). The registry is the only list
//! of features: this file takes it as data, so the inventory never needs a rebuild to learn a
//! feature written in Rhai alone.
//!
//! Every problem points at the feature string in the configuration: an unknown feature, one
//! declared for a guest kind it does not support, a required guest setting it reads that is
//! missing, a need of another guest (`trusted_ca` needs the guest with `step_ca`) that no guest
//! provides or that would close a dependency cycle. The needs also become graph edges
//! ([`graph_nodes`]), so the providing guest always runs first.

use super::diagnostic::{ConfigErrors, ConfigProblem};
use super::read::read_json;
use super::source::{child_pointer, SourceFile};
use super::suggest::did_you_mean;
use super::{GuestRef, Inventory, LXC_FILE, VM_FILE};
use crate::graph::{EdgeReason, GuestGraph, GuestKind, GuestNode};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// What a feature declares about itself (its module's `meta()`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeatureSpec {
    /// The module's file name without `.rhai`.
    pub name: String,
    /// One line for listings.
    pub about: String,
    /// The guest kinds it can be declared on.
    pub kinds: Vec<GuestKind>,
    /// Container features it needs (`nesting=1`), set before the container starts.
    pub pct_features: Vec<String>,
    /// Another guest it needs, by the feature that guest has.
    pub needs: Option<FeatureNeed>,
    /// Guest configuration keys it reads.
    pub params: Vec<FeatureParam>,
}

/// A feature's need of another guest: the guest declaring `feature` runs first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeatureNeed {
    pub feature: String,
    /// What that guest provides, as a noun phrase ("the lab CA").
    pub why: String,
}

/// A guest configuration key a feature reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeatureParam {
    pub key: String,
    /// The feature cannot work without it.
    pub required: bool,
    pub about: String,
}

/// One declared feature string and where it is.
struct Declared {
    name: String,
    /// JSON pointer of the string.
    ptr: String,
}

/// One guest as written in its file, with its feature strings.
struct GuestEntry<'v> {
    id: Option<u32>,
    kind: GuestKind,
    file: usize,
    object: &'v Value,
    features: Vec<Declared>,
}

/// A config value as printed in a message: control characters escaped, at most 64 characters.
fn shown(value: &str) -> String {
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    match escaped.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

fn kind_name(kind: GuestKind) -> &'static str {
    match kind {
        GuestKind::Lxc => "container",
        GuestKind::Vm => "VM",
    }
}

fn id_of(v: Option<&Value>) -> Option<u32> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn features_of(object: &Value, at: &str) -> Vec<Declared> {
    let ptr = child_pointer(at, "features");
    let Some(Value::Array(items)) = object.get("features") else { return Vec::new() };
    items
        .iter()
        .enumerate()
        // Strings only: a wrong type is the loader's problem to report.
        .filter_map(|(i, v)| {
            v.as_str().map(|s| Declared { name: s.to_string(), ptr: child_pointer(&ptr, &i.to_string()) })
        })
        .collect()
}

/// Every guest of both files with its declared features (files that cannot be read are left to
/// the loader, which reports them).
fn entries<'v>(lxc: Option<&'v Value>, vm: Option<&'v Value>) -> Vec<GuestEntry<'v>> {
    let mut out = Vec::new();
    if let Some(Value::Object(guests)) = lxc.and_then(|v| v.get("lxc_configs")) {
        for (key, object) in guests {
            let at = child_pointer("/lxc_configs", key);
            let features = features_of(object, &at);
            out.push(GuestEntry { id: key.trim().parse().ok(), kind: GuestKind::Lxc, file: 0, object, features });
        }
    }
    if let Some(Value::Array(guests)) = vm.and_then(|v| v.get("vms")) {
        for (i, object) in guests.iter().enumerate() {
            let at = child_pointer("/vms", &i.to_string());
            let features = features_of(object, &at);
            out.push(GuestEntry { id: id_of(object.get("vmid")), kind: GuestKind::Vm, file: 1, object, features });
        }
    }
    out
}

/// Whether a guest sets a key to something (absent, null, "", [], {} and "none" do not count).
fn is_set(object: &Value, key: &str) -> bool {
    match object.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty() && !s.trim().eq_ignore_ascii_case("none"),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

fn guest_label(e: &GuestEntry) -> String {
    match e.id {
        Some(id) => format!("{} {id}", kind_name(e.kind)),
        None => format!("this {}", kind_name(e.kind)),
    }
}

/// Problems of the declared features of the configuration in `config_dir`, against `specs`.
fn problems(config_dir: &Path, specs: &[FeatureSpec]) -> (Vec<ConfigProblem>, Vec<Option<SourceFile>>, Vec<Located>) {
    let read = |name: &str| read_json(&config_dir.join(name)).ok();
    let (lxc_file, lxc) = read(LXC_FILE).unzip();
    let (vm_file, vm) = read(VM_FILE).unzip();
    let all = entries(lxc.as_ref(), vm.as_ref());
    let files: Vec<Option<SourceFile>> = vec![lxc_file, vm_file];
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let at = |e: &GuestEntry, ptr: &str, message: String| -> Option<ConfigProblem> {
        let file = files[e.file].as_ref()?;
        Some(ConfigProblem::at(file, file.value_span(ptr), message))
    };
    let has = |e: &GuestEntry, feature: &str| e.features.iter().any(|d| d.name == feature);

    let mut out = Vec::new();
    let mut located = Vec::new();
    for e in &all {
        for d in &e.features {
            let Some(spec) = specs.iter().find(|s| s.name == d.name) else {
                let known = format!("features are: {} (one module each in stdlib/features/)", names.join(", "));
                // A typo is short; a long value is not worth comparing (nor printing whole).
                let suggestion = (d.name.len() <= 64).then(|| did_you_mean(&d.name, names.iter().copied())).flatten();
                let help = match suggestion {
                    Some(s) => format!("did you mean `{s}`? {known}"),
                    None => known,
                };
                out.extend(
                    at(e, &d.ptr, format!("unknown feature `{}`", shown(&d.name)))
                        .map(|p| p.label("no such feature").help(help)),
                );
                continue;
            };
            if let Some(id) = e.id {
                located.push(Located { guest: id, feature: d.name.clone(), file: e.file, ptr: d.ptr.clone() });
            }
            if !spec.kinds.contains(&e.kind) {
                let fitting: Vec<&str> =
                    specs.iter().filter(|s| s.kinds.contains(&e.kind)).map(|s| s.name.as_str()).collect();
                let only: Vec<&str> = spec.kinds.iter().map(|k| kind_name(*k)).collect();
                out.extend(
                    at(e, &d.ptr, format!("feature `{}` cannot be used on a {}", d.name, kind_name(e.kind))).map(|p| {
                        p.label(format!("{}s only", only.join(" and "))).help(format!(
                            "{} features are: {}",
                            kind_name(e.kind),
                            fitting.join(", ")
                        ))
                    }),
                );
                // What else it would need is moot on a guest it cannot run on.
                continue;
            }
            for param in spec.params.iter().filter(|p| p.required && !is_set(e.object, &p.key)) {
                out.extend(
                    at(e, &d.ptr, format!("feature `{}` needs `{}` in {}", d.name, param.key, guest_label(e))).map(
                        |p| {
                            p.label(format!("needs `{}`", param.key))
                                .help(format!("set `{}`: {}", param.key, param.about))
                        },
                    ),
                );
            }
            if let Some(need) = &spec.needs {
                // A guest that provides what it needs itself runs its features in list order.
                let mine = e.features.iter().position(|x| x.name == need.feature);
                let this = e.features.iter().position(|x| x.ptr == d.ptr);
                if let (Some(provider), Some(this)) = (mine, this) {
                    if provider > this {
                        out.extend(
                            at(
                                e,
                                &d.ptr,
                                format!(
                                    "feature `{}` needs `{}` ({}), which this guest lists after it",
                                    d.name, need.feature, need.why
                                ),
                            )
                            .map(|p| {
                                p.label("runs before what it needs")
                                    .help(format!("list \"{}\" before \"{}\"", need.feature, d.name))
                            }),
                        );
                    }
                }
                if !all.iter().any(|other| has(other, &need.feature)) {
                    out.extend(
                        at(
                            e,
                            &d.ptr,
                            format!(
                                "feature `{}` needs a guest with `{}` ({}), and no guest declares it",
                                d.name, need.feature, need.why
                            ),
                        )
                        .map(|p| {
                            p.label(format!("needs {}", need.why)).help(format!(
                                "add \"{}\" to the features of the guest that provides {}, or remove `{}`",
                                need.feature, need.why, d.name
                            ))
                        }),
                    );
                }
            }
        }
    }
    (out, files, located)
}

/// A known feature of a guest, and where it is written.
struct Located {
    guest: u32,
    feature: String,
    file: usize,
    ptr: String,
}

/// Checks the features of a configuration against the registry and merges what it finds with
/// the loader's result: one report with every problem, exit 2 when any is an error.
pub fn check(
    loaded: Result<Inventory, ConfigErrors>,
    config_dir: &Path,
    specs: &[FeatureSpec],
) -> Result<Inventory, ConfigErrors> {
    let (mut found, files, located) = problems(config_dir, specs);
    if let Ok(inv) = &loaded {
        found.extend(cycles(inv, specs, &files, &located));
    }
    if !found.iter().any(ConfigProblem::is_error) {
        return loaded;
    }
    match loaded {
        Ok(inv) => {
            let mut problems = inv.warnings;
            problems.extend(found);
            Err(ConfigErrors { problems })
        }
        Err(mut errors) => {
            errors.problems.extend(found);
            Err(errors)
        }
    }
}

/// A need of a feature that closes a cycle (the configuration's own edges are acyclic once it
/// loaded): reported at the feature string of the guest whose need is on the cycle.
fn cycles(
    inv: &Inventory,
    specs: &[FeatureSpec],
    files: &[Option<SourceFile>],
    located: &[Located],
) -> Vec<ConfigProblem> {
    let nodes = graph_nodes(inv, specs);
    let mut out = Vec::new();
    let mut reported = HashSet::new();
    for path in GuestGraph::find_cycles(&nodes) {
        for pair in path.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let Some(node) = nodes.iter().find(|n| n.id == from) else { continue };
            let needs = node
                .edges
                .iter()
                .filter_map(|(p, r)| match r {
                    EdgeReason::Feature(f) if *p == to => {
                        Some(f.feature.split(", ").map(str::to_string).collect::<Vec<_>>())
                    }
                    _ => None,
                })
                .flatten();
            for feature in needs {
                if !reported.insert((from, feature.clone())) {
                    continue;
                }
                let Some(l) = located.iter().find(|l| l.guest == from && l.feature == feature) else { continue };
                let Some(file) = files[l.file].as_ref() else { continue };
                let shown: Vec<String> = path.iter().map(u32::to_string).collect();
                out.push(
                    ConfigProblem::at(
                        file,
                        file.value_span(&l.ptr),
                        format!(
                            "feature `{feature}` of guest {from} needs guest {to} first, which makes a dependency cycle: {}",
                            shown.join(" → ")
                        ),
                    )
                    .label("closes the cycle")
                    .help(format!("guest {to} (directly or through its own needs) needs guest {from}; move `{feature}` or the feature it needs to another guest")),
                );
            }
        }
    }
    out
}

fn features<'a>(g: &GuestRef<'a>) -> &'a [String] {
    match g {
        GuestRef::Lxc(c) => &c.features,
        GuestRef::Vm(v) => &v.features,
    }
}

/// The inventory's graph nodes plus the needs of features: an edge from the guest to every other
/// guest declaring the feature it needs, one per provider and need, naming the features that
/// need it (`the lab CA for step_cli, trusted_ca`).
pub fn graph_nodes(inv: &Inventory, specs: &[FeatureSpec]) -> Vec<GuestNode> {
    let mut nodes = inv.graph_nodes();
    for node in &mut nodes {
        let Some(g) = inv.guest(node.id) else { continue };
        // (provider, why) → the features of this guest that need it, in declaration order.
        let mut needs: Vec<((u32, &str), Vec<&str>)> = Vec::new();
        for name in features(&g) {
            let Some(need) = specs.iter().find(|s| &s.name == name).and_then(|s| s.needs.as_ref()) else { continue };
            for provider in inv.guests().filter(|p| p.id() != node.id && features(p).contains(&need.feature)) {
                let key = (provider.id(), need.why.as_str());
                match needs.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, names)) => names.push(name),
                    None => needs.push((key, vec![name])),
                }
            }
        }
        for ((provider, why), mut names) in needs {
            names.sort_unstable();
            names.dedup();
            node.edges.push((provider, EdgeReason::feature(&names.join(", "), why)));
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_hostile_feature_name_is_printed_escaped_and_short() {
        assert_eq!(shown("dokcer"), "dokcer");
        assert_eq!(shown("x\n\u{1b}[2J"), "x\\n\\u{1b}[2J");
        let long = "a".repeat(10_000);
        assert_eq!(shown(&long), format!("{}…", "a".repeat(64)));
    }
}
