//! The module layers of the phoenix crate run one way, top to bottom: a module may name only
//! modules of a lower layer. Every `crate::<module>` reference in `src/**/*.rs` (a `use` line, a
//! path in code, each name of a `use crate::{a, b::c}` group, a `pub use` re-export) is an edge
//! from the file's top-level module to `<module>`; an edge to the same or a higher layer fails
//! with the file, the line and the edge, unless it is listed in [`EXCEPTIONS`] with its reason.
//!
//! A new top-level module must be placed in [`RANKS`] deliberately: an unranked module fails.
//! Comment lines are skipped (a doc link is no dependency). `super::` paths are not scanned: in
//! this crate they stay inside their top-level module (the one `super::super::` is within
//! `connector`), and the compiler resolves them; a path that leaves its module names `crate::`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules and their layer (higher runs above lower), with what the layer is for.
const RANKS: &[(&str, u8, &str)] = &[
    ("app", 16, "the entry point: argv to exit code, one function per built-in verb"),
    ("rehearse", 15, "runs one compiled plan: the rehearsal, then the apply"),
    ("host_session", 15, "connects to and locks the host a verb drives"),
    ("signals", 15, "Ctrl-C during a verb"),
    ("cli", 14, "the command line's definitions (clap), exit codes, --host"),
    ("stderr", 14, "errors as the operator reads them on stderr"),
    ("script", 13, "the Rhai engine: plans, stdlib, parameters, diagnostics"),
    ("api", 12, "the functions plans call (one file per namespace)"),
    ("executor", 11, "the only place that knows the mode: apply, or model into the overlay"),
    ("run", 10, "one run's shared state: facts, reporter, journal, graph"),
    ("ops", 9, "idempotent operations: facts compared with the desired state give actions"),
    ("generate", 8, "builders of the files phoenix writes"),
    ("inventory", 7, "the declared state, read and validated"),
    ("graph", 6, "the guest graph: order, waves, closure, cycles"),
    ("facts", 5, "typed readers of host state, cached per run, with the dry-run overlay"),
    ("connector", 4, "local | ssh | sim: runs argv vectors and file transfers"),
    ("http", 3, "the HTTP client: timeouts, retries, lab-CA TLS, masked request summaries"),
    ("lock", 3, "the host lock every connector takes"),
    ("report", 2, "events, human output, journal, progress"),
    ("command", 2, "the argv vector of one host command"),
    ("state_dir", 1, "where the journal and locks live"),
    ("secret", 1, "a value that prints as ***"),
    ("shell", 1, "shell quoting"),
    ("project", 1, "where plans and stdlib are found: the project folder, then the binary"),
    ("types", 0, "value types shared by several layers (one concept per file)"),
];

/// Edges that go against [`RANKS`] on purpose: (from, to, why). Each must still occur.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// One `crate::<module>` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub file: PathBuf,
    pub line: usize,
    pub from: String,
    pub to: String,
}

/// The top-level module a source file belongs to (`src/ops/qm.rs` → `ops`); `None` for the
/// crate root and the binary.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The source with comment lines blanked (doc links are not dependencies), newlines kept.
fn without_comment_lines(text: &str) -> String {
    text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// Every module named after `crate::` in `text`, with its 1-based line: `crate::a::b` gives `a`,
/// `crate::{a, b::c, self}` gives `a` and `b` (the group may span lines).
pub fn crate_references(text: &str) -> Vec<(usize, String)> {
    let text = without_comment_lines(text);
    let line_of = |byte: usize| text[..byte].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("crate::") {
        let at = from + found;
        from = at + "crate::".len();
        if text[..at].chars().next_back().is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let rest = &text[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && is_ident(c) => {
                        let name: String = group[i..].chars().take_while(|&c| is_ident(c)).collect();
                        if name != "self" {
                            out.push((line_of(from + 1 + i), name));
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                out.push((line_of(at), name));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every edge between two different top-level modules of the crate in `src`.
pub fn references(src: &Path) -> (BTreeSet<String>, Vec<Reference>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(src, f)).collect();
    let mut refs = Vec::new();
    for file in &files {
        let Some(from) = top_module(src, file) else { continue };
        let text = std::fs::read_to_string(file).expect("read source");
        for (line, to) in crate_references(&text) {
            if to != from && modules.contains(&to) {
                let file = file.strip_prefix(src.parent().unwrap_or(src)).unwrap_or(file).to_path_buf();
                refs.push(Reference { file, line, from: from.clone(), to });
            }
        }
    }
    (modules, refs)
}

/// Every breach of the layering, one line each: unranked modules, edges that go up or sideways
/// without an exception, and exceptions no longer needed.
pub fn check(
    modules: &BTreeSet<String>,
    refs: &[Reference],
    ranks: &[(&str, u8, &str)],
    exceptions: &[(&str, &str, &str)],
) -> Vec<String> {
    let rank: BTreeMap<&str, u8> = ranks.iter().map(|(m, r, _)| (*m, *r)).collect();
    let mut problems = Vec::new();
    for m in modules {
        if !rank.contains_key(m.as_str()) {
            problems.push(format!("src/{m}: module `{m}` has no layer: add it to RANKS in tests/it/layers.rs"));
        }
    }
    let mut used_exceptions = BTreeSet::new();
    for r in refs {
        let (Some(&rf), Some(&rt)) = (rank.get(r.from.as_str()), rank.get(r.to.as_str())) else { continue };
        if rf > rt {
            continue;
        }
        if let Some(e) = exceptions.iter().find(|(f, t, _)| *f == r.from && *t == r.to) {
            used_exceptions.insert((e.0, e.1));
            continue;
        }
        let way = if rf == rt { "the same layer" } else { "a higher layer" };
        problems.push(format!(
            "{}:{}: `{}` (layer {rf}) uses `crate::{}` (layer {rt}), {way}: a module may use only lower layers \
             (move the shared type into `types`, or pass a callback down)",
            r.file.display(),
            r.line,
            r.from,
            r.to
        ));
    }
    for (f, t, why) in exceptions {
        if !used_exceptions.contains(&(*f, *t)) {
            problems.push(format!("exception {f} -> {t} ({why}) is no longer needed: remove it from EXCEPTIONS"));
        }
    }
    problems
}

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn module_layers_run_one_way() {
    let (modules, refs) = references(&src_dir());
    assert!(refs.len() > 50, "the scan found only {} edges: is it reading src/?", refs.len());
    let problems = check(&modules, &refs, RANKS, EXCEPTIONS);
    assert!(problems.is_empty(), "module layering broken:\n{}", problems.join("\n"));
}

/// The module graph as `from -> to to …` lines, printed with `--nocapture` for the issue note.
#[test]
fn module_graph_is_printable() {
    let (_, refs) = references(&src_dir());
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &refs {
        graph.entry(&r.from).or_default().insert(&r.to);
    }
    for (from, to) in &graph {
        println!("{from} -> {}", to.iter().copied().collect::<Vec<_>>().join(" "));
    }
    assert!(!graph.is_empty());
}

#[test]
fn an_upward_edge_is_reported_with_file_line_and_edge() {
    let modules: BTreeSet<String> = ["facts", "ops"].iter().map(|s| s.to_string()).collect();
    let ranks = &[("ops", 2, ""), ("facts", 1, "")];
    let up = Reference { file: "src/facts/mod.rs".into(), line: 268, from: "facts".into(), to: "ops".into() };
    let down = Reference { file: "src/ops/mod.rs".into(), line: 3, from: "ops".into(), to: "facts".into() };
    assert!(check(&modules, std::slice::from_ref(&down), ranks, &[]).is_empty());
    let problems = check(&modules, &[down.clone(), up.clone()], ranks, &[]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("src/facts/mod.rs:268: `facts` (layer 1) uses `crate::ops`"), "{}", problems[0]);
    // A listed exception lets it pass; an exception nothing needs fails.
    assert!(check(&modules, &[down.clone(), up], ranks, &[("facts", "ops", "why")]).is_empty());
    let stale = check(&modules, &[down], ranks, &[("facts", "ops", "why")]);
    assert!(stale[0].contains("no longer needed"), "{stale:?}");
}

#[test]
fn same_layer_and_unranked_modules_fail() {
    let modules: BTreeSet<String> = ["run", "executor", "newmod"].iter().map(|s| s.to_string()).collect();
    let ranks = &[("run", 1, ""), ("executor", 1, "")];
    let side = Reference { file: "src/run.rs".into(), line: 9, from: "run".into(), to: "executor".into() };
    let problems = check(&modules, &[side], ranks, &[]);
    assert!(problems.iter().any(|p| p.contains("module `newmod` has no layer")), "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("src/run.rs:9:") && p.contains("the same layer")), "{problems:?}");
}

#[test]
fn references_are_found_in_paths_and_use_groups() {
    let text = "use crate::ops::Effect;\n// crate::app in a comment\nfn f() { crate::report::x(); }\n\
                use crate::{\n    facts::Facts,\n    graph::{GuestKind, self},\n    self,\n};\nuse other_crate::y;\n";
    let got = crate_references(text);
    assert_eq!(
        got,
        vec![(1, "ops".to_string()), (3, "report".to_string()), (5, "facts".to_string()), (6, "graph".to_string())]
    );
}
