//! No two Rhai modules of the stdlib (or plans) define a function of the same name and arity that
//! one of them calls unqualified.
//!
//! Why: Rhai 1.27 caches where an unqualified call resolved (`Caches`, keyed by the call's name and
//! argument types) and does not start a fresh cache when it runs a function of another module
//! (`call_script_fn` merges the module's functions into the lookup but keeps the caller's cache).
//! So once module A's `helper()` has been called twice, module B's own `helper()` call can run A's
//! `helper` instead — with A's private functions out of reach ("Function not found"). This bit
//! `sync all`: the certs, portainer and stacks stages each had `fn run() { run_with(#{}) }`, and
//! the stacks stage ran the Portainer stage's `run_with`. Qualified calls (`m::f()`) and method
//! calls are not affected. Until Rhai isolates the cache per module, module-private helpers need
//! names unique across the stdlib: this test names the clash and where to rename.

use crate::support::phoenix::root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rhai_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rhai_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rhai") {
            out.push(path);
        }
    }
}

/// The code of a Rhai file without its comments (`//` to the end of a line, outside strings) and
/// the text of its "…" strings (blanked). Backtick strings are kept: their `${…}` may call.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut in_string: Option<char> = None;
        let mut prev = ' ';
        let mut kept = String::new();
        for c in line.chars() {
            match in_string {
                Some(q) if c == q && prev != '\\' => in_string = None,
                Some('"') => {
                    kept.push(' ');
                    prev = c;
                    continue;
                }
                Some(_) => {}
                None if c == '"' || c == '`' => in_string = Some(c),
                None if c == '/' && prev == '/' => {
                    kept.pop();
                    break;
                }
                None => {}
            }
            kept.push(c);
            prev = c;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `fn name(a, b)` definitions: (name, arity).
fn definitions(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for line in code.lines() {
        let t = line.trim_start().trim_start_matches("private ");
        let Some(rest) = t.strip_prefix("fn ") else { continue };
        let Some((name, args)) = rest.split_once('(') else { continue };
        let args = args.split(')').next().unwrap_or("");
        let arity = args.split(',').filter(|a| !a.trim().is_empty()).count();
        out.push((name.trim().to_string(), arity));
    }
    out
}

/// Whether `code` calls `name(` unqualified: not `m::name(`, not `x.name(`, not its definition.
fn calls_unqualified(code: &str, name: &str) -> Option<usize> {
    for (n, line) in code.lines().enumerate() {
        let mut from = 0;
        while let Some(i) = line[from..].find(name).map(|i| i + from) {
            from = i + name.len();
            let before = line[..i].chars().next_back().unwrap_or(' ');
            let after = line[from..].trim_start();
            if is_ident(before) || before == '.' || before == ':' || !after.starts_with('(') {
                continue;
            }
            if line[..i].trim_end().ends_with("fn") {
                continue;
            }
            return Some(n + 1);
        }
    }
    None
}

/// Every clash: a function defined in two files and called unqualified in one of them.
fn clashes(files: &[(String, String)]) -> Vec<String> {
    let mut defined: BTreeMap<(String, usize), Vec<&str>> = BTreeMap::new();
    for (path, code) in files {
        for d in definitions(code) {
            defined.entry(d).or_default().push(path);
        }
    }
    let mut found = Vec::new();
    for ((name, arity), paths) in &defined {
        if paths.len() < 2 {
            continue;
        }
        for (path, code) in files.iter().filter(|(p, _)| paths.contains(&p.as_str())) {
            if let Some(line) = calls_unqualified(code, name) {
                found.push(format!(
                    "{path}:{line}: calls `{name}` ({arity} args) unqualified, and {} define one too: give the \
                     helper a name of its own",
                    paths.iter().filter(|p| **p != path.as_str()).cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    found
}

#[test]
fn module_helpers_called_unqualified_have_names_of_their_own() {
    let mut paths = Vec::new();
    rhai_files(&root().join("stdlib"), &mut paths);
    rhai_files(&root().join("plans"), &mut paths);
    paths.sort();
    assert!(paths.len() > 20, "the stdlib is there: {paths:?}");
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(root()).unwrap().display().to_string();
            (rel, code_of(&std::fs::read_to_string(p).unwrap()))
        })
        .collect();
    let found = clashes(&files);
    assert!(
        found.is_empty(),
        "Rhai resolves these to another module's function (see this file's doc):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_clash_and_ignores_qualified_calls_comments_and_strings() {
    let file = |p: &str, t: &str| (p.to_string(), code_of(t));
    let a = file("a.rhai", "fn run_with(o) { 1 }\nfn run() { run_with(#{}) } // run_with(x)\n");
    let b =
        file("b.rhai", "fn run_with(o) { 2 }\nfn run() { let s = \"run_with(1)\"; m::run_with(#{}); o.run_with(1) }\n");
    let found = clashes(&[a.clone(), b.clone()]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("a.rhai:2: calls `run_with` (1 args) unqualified, and b.rhai define"), "{}", found[0]);
    // Another arity is another function.
    let c = file("c.rhai", "fn run_with(o, p) { 3 }\nfn go() { run_with(1, 2) }\n");
    assert_eq!(clashes(&[b, c]), Vec::<String>::new());
    assert_eq!(code_of("let u = \"https://x\"; // note\n"), "let u = \"         \"; \n");
}
