//! Pre-flight check of a plan: every `ns::f(…)` names a registered API function or a function
//! of an imported module, and every plain call names a script function or a standard one, with
//! a matching number of arguments. Rhai only finds these at run time; phoenix finds them before
//! the first command so a typo never leaves a host half-changed.

use super::diagnostic::{ScriptDiagnostic, ScriptErrorKind};
use super::{FnTable, Overload, Scripts};
use crate::types::suggest;
use rhai::{ASTNode, Expr, Stmt};
use rhai::{Position, AST};
use std::collections::{HashMap, HashSet};

/// Functions a plan may call that are keywords rather than registered functions.
const BUILTINS: &[&str] = &["print", "debug", "type_of", "Fn", "call", "curry", "is_shared", "is_def_var", "is_def_fn"];

struct Call {
    namespace: String,
    name: String,
    arity: usize,
    pos: Position,
    /// Inside a `try` block: the plan handles a function missing at run time (an optional
    /// function of a computed import, such as a sync stage's `needs()`).
    guarded: bool,
}

/// The folder of an import whose path is computed: `import "features/" + name as f` (or
/// `` `features/${name}` ``) imports one of the modules in `stdlib/features/`.
fn dynamic_folder(expr: &Expr) -> Option<String> {
    let prefix = match expr {
        Expr::FnCall(x, _) if x.name == "+" && x.args.len() == 2 => &x.args[0],
        Expr::InterpolatedString(parts, _) => parts.first()?,
        _ => return None,
    };
    match prefix {
        Expr::StringConstant(s, _) => s.strip_suffix('/').filter(|f| !f.is_empty()).map(str::to_string),
        _ => None,
    }
}

/// Imports (alias → path), imports from a folder chosen at run time (alias → folder) and calls
/// found in an AST.
type Imports = HashMap<String, (String, Position)>;

fn scan(ast: &AST) -> (Imports, Imports, Vec<Call>) {
    let mut imports = HashMap::new();
    let mut dynamic = HashMap::new();
    let mut calls = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Import(x, pos))) => {
                let (expr, alias) = &**x;
                if let Expr::StringConstant(s, _) = expr {
                    imports.insert(alias.as_str().to_string(), (s.to_string(), *pos));
                } else if let Some(folder) = dynamic_folder(expr) {
                    dynamic.insert(alias.as_str().to_string(), (folder, *pos));
                }
            }
            // A call used as a value is an expression; a call written as a statement
            // (`zfs::ensure_dataset("x");`, the usual form in plans) is a statement.
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) | Some(ASTNode::Stmt(Stmt::FnCall(x, pos)))
                if x.op_token.is_none() =>
            {
                calls.push(Call {
                    namespace: x.namespace.to_string(),
                    name: x.name.to_string(),
                    arity: x.args.len(),
                    pos: *pos,
                    guarded: path.iter().any(|n| matches!(n, ASTNode::Stmt(Stmt::TryCatch(..)))),
                });
            }
            _ => {}
        }
        true
    });
    (imports, dynamic, calls)
}

/// Script-defined functions of an AST (`prefix` is the import alias, or "").
fn script_fns(ast: &AST, prefix: &str) -> FnTable {
    let mut out = FnTable::new();
    for f in ast.iter_functions() {
        let name = if prefix.is_empty() { f.name.to_string() } else { format!("{prefix}::{}", f.name) };
        out.entry(f.name.to_string())
            .or_default()
            .push(Overload { arity: f.params.len(), signature: format!("{name}({})", f.params.join(", ")) });
    }
    out
}

pub fn check_calls(scripts: &Scripts, ast: &AST, source: &str) -> Result<(), ScriptDiagnostic> {
    let mut problems = Vec::new();
    let mut seen_modules = HashSet::new();
    let mut stack = Vec::new();
    check_ast(scripts, ast, source, &mut problems, &mut seen_modules, &mut stack);
    let mut problems = problems.into_iter();
    match problems.next() {
        None => Ok(()),
        Some(mut first) => {
            first.related.extend(problems);
            Err(first)
        }
    }
}

fn check_ast(
    scripts: &Scripts,
    ast: &AST,
    source: &str,
    problems: &mut Vec<ScriptDiagnostic>,
    seen_modules: &mut HashSet<String>,
    stack: &mut Vec<String>,
) {
    let (mut imports, dynamic, calls) = scan(ast);
    let local = script_fns(ast, "");
    let mut module_fns: HashMap<String, FnTable> = HashMap::new();
    // A computed import may load any module of its folder: each is checked, and a call through
    // the alias must exist in every one of them.
    let mut folder_fns: HashMap<String, Vec<(String, FnTable)>> = HashMap::new();
    for (alias, (folder, pos)) in &dynamic {
        let names = scripts.resolver.module_names(folder);
        if names.is_empty() {
            problems.push(ScriptDiagnostic::at(
                &scripts.sources,
                ScriptErrorKind::Compile,
                source,
                *pos,
                format!("cannot import from `{folder}/`: there is no module in stdlib/{folder}/"),
                "imported here",
                None,
            ));
        }
        for name in names {
            let path = format!("{folder}/{name}");
            if let Ok((_, mast)) = scripts.compile_module(&path) {
                folder_fns.entry(alias.clone()).or_default().push((path.clone(), script_fns(&mast, alias)));
            }
            // Checked (and any compile error reported) like a static import.
            imports.insert(format!("{alias}\u{0}{name}"), (path, *pos));
        }
    }
    for (alias, (path, pos)) in &imports {
        if let Some(i) = stack.iter().position(|p| p == path) {
            let mut chain: Vec<String> = stack[i..].to_vec();
            chain.push(path.clone());
            problems.push(ScriptDiagnostic::at(
                &scripts.sources,
                ScriptErrorKind::Compile,
                source,
                *pos,
                format!("import cycle: {}", chain.join(" → ")),
                "imported here",
                Some("modules cannot import each other in a cycle; move what both need into a third module".into()),
            ));
            continue;
        }
        match scripts.compile_module(path) {
            Ok((name, mast)) => {
                module_fns.insert(alias.clone(), script_fns(&mast, alias));
                if seen_modules.insert(path.clone()) {
                    stack.push(path.clone());
                    check_ast(scripts, &mast, &name, problems, seen_modules, stack);
                    stack.pop();
                }
            }
            Err(Err(diagnostic)) => problems.push(diagnostic),
            Err(Ok(problem)) => problems.push(ScriptDiagnostic::at(
                &scripts.sources,
                ScriptErrorKind::Compile,
                source,
                *pos,
                format!("cannot import `{path}`: {problem}"),
                "imported here",
                Some(match scripts.resolver.root() {
                    Some(root) => format!(
                        "modules are read from {}, then from the copies built into phoenix",
                        root.join("stdlib/<name>.rhai").display()
                    ),
                    None => "modules are read from the copies built into phoenix".to_string(),
                }),
            )),
        }
    }
    let api = scripts.api_index();
    let globals: HashSet<&str> = scripts.global_fns().iter().map(String::as_str).collect();

    for call in calls {
        let problem = if let Some(modules) = folder_fns.get(&call.namespace) {
            let lacking: Vec<&str> = modules
                .iter()
                .filter(|(_, fns)| !fns.get(&call.name).is_some_and(|o| o.iter().any(|o| o.arity == call.arity)))
                .map(|(path, _)| path.as_str())
                .collect();
            // A guarded call (in `try`) is an optional function the plan handles when missing
            // (a module of the folder may not define it, or no module yet).
            (!call.guarded && !lacking.is_empty()).then(|| {
                (
                    format!(
                        "`{}::{}` with {} argument{} is not defined in every module it may name",
                        call.namespace,
                        call.name,
                        call.arity,
                        if call.arity == 1 { "" } else { "s" }
                    ),
                    format!("missing in: {}", lacking.join(", ")),
                )
            })
        } else if call.namespace.is_empty() {
            if BUILTINS.contains(&call.name.as_str()) || globals.contains(call.name.as_str()) {
                None
            } else {
                match local.get(&call.name) {
                    Some(overloads) => arity_problem(&call.name, overloads, call.arity),
                    None => {
                        let candidates = local.keys().map(String::as_str).chain(globals.iter().copied());
                        Some(unknown(&call.name, suggest::closest(&call.name, candidates)))
                    }
                }
            }
        } else {
            let table = api.get(&call.namespace).or_else(|| module_fns.get(&call.namespace));
            match table {
                Some(fns) => match fns.get(&call.name) {
                    Some(overloads) => {
                        arity_problem(&format!("{}::{}", call.namespace, call.name), overloads, call.arity)
                    }
                    None => {
                        let s = suggest::closest(&call.name, fns.keys().map(String::as_str));
                        Some(unknown(
                            &format!("{}::{}", call.namespace, call.name),
                            s.map(|s| format!("{}::{s}", call.namespace)),
                        ))
                    }
                },
                None if imports.contains_key(&call.namespace) => None,
                None => {
                    let names = api.keys().map(String::as_str).chain(module_fns.keys().map(String::as_str));
                    let s = suggest::closest(&call.namespace, names);
                    Some((
                        format!("unknown namespace `{}` in `{}::{}`", call.namespace, call.namespace, call.name),
                        match s {
                            Some(s) => format!("did you mean `{s}`? Namespaces are API modules or names bound with `import \"…\" as name`"),
                            None => "namespaces are API modules (see `phoenix api`) or names bound with `import \"…\" as name`".to_string(),
                        },
                    ))
                }
            }
        };
        if let Some((message, help)) = problem {
            problems.push(ScriptDiagnostic::at(
                &scripts.sources,
                ScriptErrorKind::Compile,
                source,
                call.pos,
                message,
                "called here",
                Some(help),
            ));
        }
    }
}

fn unknown(name: &str, suggestion: Option<String>) -> (String, String) {
    (
        format!("unknown function `{name}`"),
        match suggestion {
            Some(s) => format!("did you mean `{s}`? `phoenix api` lists every function"),
            None => "`phoenix api` lists every function with its parameters".to_string(),
        },
    )
}

fn arity_problem(name: &str, overloads: &[Overload], got: usize) -> Option<(String, String)> {
    if overloads.iter().any(|o| o.arity == got) {
        return None;
    }
    let mut arities: Vec<usize> = overloads.iter().map(|o| o.arity).collect();
    arities.sort_unstable();
    arities.dedup();
    let expected: Vec<String> = arities.iter().map(usize::to_string).collect();
    let sigs: Vec<&str> = overloads.iter().map(|o| o.signature.as_str()).collect();
    Some((
        format!(
            "`{name}` takes {} argument{}, called with {got}",
            expected.join(" or "),
            if arities == [1] { "" } else { "s" }
        ),
        format!("signature: {}", sigs.join(" | ")),
    ))
}

/// Identifiers in a script's text, for "did you mean" on undefined variables.
pub fn identifiers(text: &str) -> Vec<String> {
    let mut out = HashSet::new();
    let mut cur = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else {
            if !cur.is_empty() && !cur.starts_with(|c: char| c.is_ascii_digit()) {
                out.insert(std::mem::take(&mut cur));
            }
            cur.clear();
        }
    }
    for c in ["ARGS", "DRY_RUN", "HOST"] {
        out.insert(c.to_string());
    }
    let mut v: Vec<String> = out.into_iter().collect();
    v.sort();
    v
}
