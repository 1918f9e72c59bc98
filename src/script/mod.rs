//! The Rhai engine: built once per process, API registered as static modules, stdlib imports
//! resolved from disk first then from the embedded copies, hardened with limits, `print` routed
//! to tracing, errors mapped to miette diagnostics with spans in the `.rhai` file.

pub mod check;
pub mod diagnostic;
pub mod params;
pub mod position;
pub mod registry;
pub mod sources;

use crate::api::{self, Ctx};
use crate::project::resolver::{self, Found, Resolver};
use crate::types::suggest;
use diagnostic::{ScriptDiagnostic, ScriptErrorKind};
use rhai::module_resolvers::ModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Scope, Shared, AST};

type SharedModule = Shared<Module>;
use sources::Sources;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Limits that keep a plan from running away. Large enough for a 5 000-guest plan.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
}

impl Limits {
    /// Defaults, with `PHOENIX_MAX_OPERATIONS` overriding the operation limit.
    pub fn from_env() -> Self {
        let max_operations =
            std::env::var("PHOENIX_MAX_OPERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000_000);
        Limits { max_operations }
    }
}

/// The script host: engine, resolver and the sources compiled so far.
pub struct Scripts {
    pub engine: Engine,
    pub ctx: Ctx,
    pub resolver: Resolver,
    pub sources: Sources,
    /// namespace → function name → overloads, for the pre-flight call check and suggestions.
    api_index: HashMap<String, FnTable>,
    /// Names callable without a namespace (Rhai's standard library).
    global_fns: Vec<String>,
}

/// Which plan to run.
#[derive(Debug, Clone)]
pub enum PlanRef {
    /// `phoenix <verb>` → `plans/<verb>.rhai`
    Verb(String),
    /// `phoenix run <file>`
    File(PathBuf),
}

struct StdlibResolver {
    resolver: Resolver,
    sources: Sources,
    cache: Mutex<HashMap<String, SharedModule>>,
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(m) = lock(&self.cache).get(path) {
            return Ok(m.clone());
        }
        // Modules importing each other in a cycle would recurse until the stack overflows.
        let cycle = RESOLVING.with(|r| {
            let r = r.borrow();
            r.iter().position(|p| p == path).map(|i| {
                let mut chain: Vec<String> = r[i..].to_vec();
                chain.push(path.to_string());
                chain.join(" → ")
            })
        });
        if let Some(chain) = cycle {
            return Err(EvalAltResult::ErrorSystem(
                format!("import cycle: {chain}"),
                "modules cannot import each other in a cycle; move what both need into a third module".into(),
            )
            .into());
        }
        RESOLVING.with(|r| r.borrow_mut().push(path.to_string()));
        let result = self.load(engine, path, pos);
        RESOLVING.with(|r| {
            r.borrow_mut().pop();
        });
        result
    }
}

thread_local! {
    /// Modules being resolved on this thread, innermost last (for import-cycle detection).
    static RESOLVING: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl StdlibResolver {
    fn load(&self, engine: &Engine, path: &str, pos: Position) -> Result<SharedModule, Box<EvalAltResult>> {
        let found = match self.resolver.module(path) {
            Ok(Some(f)) => f,
            Ok(None) => return Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into()),
            Err(e) => return Err(EvalAltResult::ErrorSystem(format!("importing `{path}`"), Box::new(e)).into()),
        };
        self.sources.add(&found.name, found.text.clone());
        self.sources.add_module(path, &found.name);
        let mut ast = engine
            .compile(&*found.text)
            .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), Box::new(e.into()), pos))?;
        ast.set_source(found.name.as_str());
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(path.to_string(), e, pos))?;
        let shared: SharedModule = module.into();
        lock(&self.cache).insert(path.to_string(), shared.clone());
        Ok(shared)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Scripts {
    /// Build the engine. `root` holds `plans/` and `stdlib/` on disk (may be absent: embedded
    /// copies are used). `cancel` stops a running plan at its next operation (Ctrl-C).
    pub fn new(root: Option<PathBuf>, ctx: Ctx, limits: Limits, cancel: Arc<AtomicBool>) -> Scripts {
        let mut engine = Engine::new();
        engine.set_strict_variables(true);
        engine.set_max_operations(limits.max_operations);
        engine.set_max_call_levels(64);
        engine.set_max_expr_depths(64, 32);
        engine.set_max_string_size(16 << 20);
        engine.set_max_array_size(1 << 20);
        engine.set_max_map_size(1 << 20);
        // Rhai counts every `import` a run executes (never down), and the feature registry imports
        // each feature's module by name whenever it is applied: the limit is sized for plans over
        // thousands of guests, not for a handful of static imports.
        engine.set_max_modules(1 << 20);
        engine.disable_symbol("eval");
        engine.on_print(|s| tracing::info!(target: "plan", "{s}"));
        engine.on_debug(|s, src, pos| tracing::debug!(target: "plan", "{}:{pos}: {s}", src.unwrap_or("plan")));
        engine.on_progress(
            move |_| {
                if cancel.load(Ordering::Relaxed) {
                    Some(Dynamic::from("interrupted"))
                } else {
                    None
                }
            },
        );

        let resolver = Resolver::new(root);
        let sources = Sources::default();
        engine.set_module_resolver(StdlibResolver {
            resolver: resolver.clone(),
            sources: sources.clone(),
            cache: Mutex::new(HashMap::new()),
        });

        crate::api::operator::register(&mut engine);
        crate::api::error::register(&mut engine);
        let mut api_index: HashMap<String, FnTable> = HashMap::new();
        for ns in api::namespaces(&ctx) {
            let fns = api_index.entry(ns.name.to_string()).or_default();
            collect_module_fns(ns.name, &ns.module, fns);
            engine.register_static_module(ns.name, ns.module.into());
        }
        let global_fns = engine
            .gen_fn_signatures(true)
            .into_iter()
            .filter_map(|sig| {
                let name = sig.split('(').next()?.trim();
                (!name.contains("::")).then(|| name.to_string())
            })
            .collect();

        Scripts { engine, ctx, resolver, sources, api_index, global_fns }
    }

    /// Find a plan's text.
    pub fn load_plan(&self, plan: &PlanRef) -> Result<Found, ScriptDiagnostic> {
        let found = match plan {
            PlanRef::Verb(verb) => self
                .resolver
                .plan(verb)
                .map_err(|e| ScriptDiagnostic::plain(ScriptErrorKind::Compile, e.to_string(), None))?,
            PlanRef::File(path) => Some(
                resolver::read(path)
                    .map_err(|e| ScriptDiagnostic::plain(ScriptErrorKind::Compile, e.to_string(), None))?,
            ),
        };
        found.ok_or_else(|| {
            let PlanRef::Verb(verb) = plan else {
                return ScriptDiagnostic::plain(ScriptErrorKind::Compile, "plan not found", None);
            };
            let names = self.resolver.plan_names();
            let mut help = format!("available: {}", names.join(", "));
            if let Some(s) = suggest::closest(verb, names.iter().map(String::as_str)) {
                help = format!("did you mean `{s}`? {help}");
            }
            ScriptDiagnostic::plain(
                ScriptErrorKind::Compile,
                format!("unknown verb `{verb}`: there is no plans/{verb}.rhai"),
                Some(help),
            )
        })
    }

    /// The names a plan sees in scope before it starts: `ARGS` (the words after the verb),
    /// `OPTS` (its declared parameters by name, see [`params`]), `DRY_RUN`, `HOST`.
    pub fn plan_scope(args: &params::PlanArgs, dry_run: bool, host: &str) -> Scope<'static> {
        let mut scope = Scope::new();
        let arr: rhai::Array = args.args.iter().map(|a| Dynamic::from(a.clone())).collect();
        scope.push_constant("ARGS", arr);
        scope.push_constant("OPTS", params::opts_map(&args.opts));
        scope.push_constant("DRY_RUN", dry_run);
        scope.push_constant("HOST", host.to_string());
        scope
    }

    /// Compile a plan and check every call it (and the modules it imports) makes, so a typo
    /// stops the run before the first command.
    pub fn compile(&self, found: &Found) -> Result<AST, ScriptDiagnostic> {
        self.sources.add(&found.name, found.text.clone());
        // The names a plan sees, declared for strict-variable checking. Pushed as plain
        // variables here: constants would be folded into the AST with these placeholder values.
        let mut scope = Scope::new();
        scope.push("ARGS", rhai::Array::new());
        scope.push("OPTS", rhai::Map::new());
        scope.push("DRY_RUN", false);
        scope.push("HOST", String::new());
        let mut ast = self.engine.compile_with_scope(&scope, &*found.text).map_err(|e| {
            let candidates = check::identifiers(&found.text);
            let mut namespaces: Vec<String> = self.api_index.keys().cloned().collect();
            namespaces.sort();
            diagnostic::from_parse_error(&self.sources, &found.name, &e, &candidates, &namespaces)
        })?;
        ast.set_source(found.name.as_str());
        check::check_calls(self, &ast, &found.name)?;
        Ok(ast)
    }

    /// Run a compiled plan.
    pub fn run(&self, ast: &AST, source: &str, scope: &mut Scope) -> Result<(), ScriptDiagnostic> {
        self.engine.run_ast_with_scope(scope, ast).map_err(|e| self.diagnose(source, &e))
    }

    pub fn diagnose(&self, source: &str, err: &EvalAltResult) -> ScriptDiagnostic {
        diagnostic::from_eval_error(&self.sources, source, err, &|name| self.function_help(name))
    }

    /// Help for a call Rhai could not match: the signatures when the function exists (wrong
    /// argument types), else the closest known name (`zfs::ensure_datset` → `zfs::ensure_dataset`).
    pub fn function_help(&self, name: &str) -> String {
        if let Some((ns, f)) = name.rsplit_once("::") {
            if let Some(overloads) = self.api_index.get(ns).and_then(|t| t.get(f)) {
                let sigs: Vec<&str> = overloads.iter().map(|o| o.signature.as_str()).collect();
                return format!("the arguments do not match: {}", sigs.join(" | "));
            }
        }
        match self.suggest_function(name) {
            Some(s) => format!("did you mean `{s}`? `phoenix api` lists every function"),
            None => "`phoenix api` lists every function with its parameters".to_string(),
        }
    }

    /// The closest known function to `name` (`zfs::ensure_datset` → `zfs::ensure_dataset`).
    pub fn suggest_function(&self, name: &str) -> Option<String> {
        match name.rsplit_once("::") {
            Some((ns, f)) => {
                if let Some(fns) = self.api_index.get(ns) {
                    suggest::closest(f, fns.keys().map(String::as_str)).map(|s| format!("{ns}::{s}"))
                } else {
                    let ns_s = suggest::closest(ns, self.api_index.keys().map(String::as_str))?;
                    Some(format!("{ns_s}::{f}"))
                }
            }
            None => suggest::closest(name, self.global_fns.iter().map(String::as_str)),
        }
    }

    pub(crate) fn api_index(&self) -> &HashMap<String, FnTable> {
        &self.api_index
    }

    pub(crate) fn global_fns(&self) -> &[String] {
        &self.global_fns
    }

    /// Compile a stdlib module for checking (not evaluated). `Err(Ok(reason))`: not found or
    /// unreadable; `Err(Err(diagnostic))`: it does not compile.
    pub(crate) fn compile_module(&self, import_path: &str) -> Result<(String, AST), Result<String, ScriptDiagnostic>> {
        let found = match self.resolver.module(import_path) {
            Ok(Some(f)) => f,
            Ok(None) => return Err(Ok("no such module".to_string())),
            Err(e) => return Err(Ok(e.to_string())),
        };
        self.sources.add(&found.name, found.text.clone());
        self.sources.add_module(import_path, &found.name);
        let mut ast = self.engine.compile(&*found.text).map_err(|e| {
            let candidates = check::identifiers(&found.text);
            let mut namespaces: Vec<String> = self.api_index.keys().cloned().collect();
            namespaces.sort();
            Err(diagnostic::from_parse_error(&self.sources, &found.name, &e, &candidates, &namespaces))
        })?;
        ast.set_source(found.name.as_str());
        Ok((found.name, ast))
    }

    /// Every registered function as JSON metadata (for `phoenix api`).
    pub fn api_metadata_json(&self) -> Result<String, serde_json::Error> {
        self.engine.gen_fn_metadata_to_json(false)
    }
}

/// One callable form of a function: its number of parameters and its signature for messages.
#[derive(Debug, Clone)]
pub struct Overload {
    pub arity: usize,
    pub signature: String,
}

/// Function name → its overloads.
pub type FnTable = HashMap<String, Vec<Overload>>;

fn collect_module_fns(ns: &str, module: &Module, out: &mut FnTable) {
    // Read back what was registered: the same metadata `phoenix api` prints.
    #[allow(deprecated)] // the replacement needs a type mapper; plain signatures are enough here
    for sig in module.gen_fn_signatures() {
        if let Some((name, rest)) = sig.split_once('(') {
            let arity = arity_of(rest);
            let name = name.trim().to_string();
            out.entry(name).or_default().push(Overload { arity, signature: format!("{ns}::{sig}") });
        }
    }
}

/// The number of parameters in `a: Map, b: String or (), c: int) -> Map` (what follows a
/// signature's opening parenthesis): commas at the top level, up to the parenthesis that closes
/// the list — a `()` inside a parameter's type is part of that parameter.
fn arity_of(after_open: &str) -> usize {
    let (mut depth, mut commas, mut any) = (0usize, 0usize, false);
    for c in after_open.chars() {
        match c {
            '(' | '[' | '<' => depth += 1,
            ')' if depth == 0 => break,
            ')' | ']' | '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => commas += 1,
            c if !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    if any || commas > 0 {
        commas + 1
    } else {
        0
    }
}

#[cfg(test)]
mod arity_tests {
    use super::arity_of;

    #[test]
    fn parameters_are_counted_at_the_top_level_of_the_list() {
        assert_eq!(arity_of(") -> Map"), 0);
        assert_eq!(arity_of("opts: Map) -> Map"), 1);
        assert_eq!(arity_of("path: String, read: String or (), text: String) -> Map"), 3);
        assert_eq!(arity_of("a: Array<Map>, b: int)"), 2);
    }
}
