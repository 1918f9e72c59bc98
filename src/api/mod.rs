//! The Rhai API: one static module per namespace, one file each. Bindings only: convert
//! arguments, call ops or facts, hand actions to the executor, convert results back.

pub mod certs;
pub mod compose;
pub mod config;
pub mod converged;
pub mod convert;
pub mod docs;
pub mod edge;
pub mod error;
pub mod file;
pub mod fw;
pub mod graph;
pub mod guest;
pub mod guest_read;
pub mod host;
pub mod log;
pub mod nfs;
pub mod operator;
pub mod pct;
pub mod portainer;
pub mod proxy;
pub mod pvesm;
pub mod qm;
pub mod text;
pub mod unit;
pub mod util;
pub mod zfs;

use crate::run::Run;
use rhai::{EvalAltResult, FnNamespace, FuncRegistration, Module, RhaiNativeFunc, Variant};
use std::sync::{Arc, OnceLock};

/// The run the API acts on. The engine is built once per process, before the run exists
/// (`phoenix check` and `phoenix api` never have one); the run is installed before the plan runs.
#[derive(Clone, Default)]
pub struct Ctx {
    run: Arc<OnceLock<Arc<Run>>>,
}

impl Ctx {
    pub fn install(&self, run: Arc<Run>) -> Result<(), String> {
        self.run.set(run).map_err(|_| "a run is already installed in this engine".to_string())
    }

    pub fn run(&self) -> Result<&Arc<Run>, Box<EvalAltResult>> {
        self.run.get().ok_or_else(|| "no host run is active (this function needs a host)".into())
    }
}

/// Result type of API functions.
pub type Res<T> = Result<T, Box<EvalAltResult>>;

/// Pin an API function's error to the position of the call in the script. Rhai does not do
/// this for calls through a namespace (`zfs::…`), and a diagnostic without a span would not
/// say which line of which plan or module failed.
pub fn at<T>(nc: &rhai::NativeCallContext, body: impl FnOnce() -> Res<T>) -> Res<T> {
    body().map_err(|mut e| {
        if e.position().is_none() {
            e.set_position(nc.call_position());
        }
        e
    })
}

/// A namespace under construction: the Rhai module plus its name.
pub struct Namespace {
    pub name: &'static str,
    pub doc: &'static str,
    pub module: Module,
}

impl Namespace {
    pub fn new(name: &'static str, doc: &'static str) -> Self {
        let mut module = Module::new();
        module.set_doc(doc);
        Namespace { name, doc, module }
    }

    /// Register `func` as `<namespace>::<name>`. `params` are `name: type` strings and the
    /// return type, shown by `phoenix api`; `doc` is the doc comment (one or more lines).
    /// Every API function is volatile: it talks to a host, so the optimiser must never fold it.
    pub fn add<A: 'static, const N: usize, const X: bool, R, const F: bool, FUNC>(
        &mut self,
        name: &str,
        params: &[&str],
        doc: &str,
        func: FUNC,
    ) where
        R: Variant + Clone,
        FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    {
        let comments: Vec<String> = doc.lines().map(|l| format!("/// {}", l.trim())).collect();
        // Rhai's convention: parameters as `name: type`, then the bare return type.
        let params: Vec<&str> = params.iter().map(|p| p.trim_start_matches("-> ")).collect();
        FuncRegistration::new(name)
            .with_namespace(FnNamespace::Internal)
            .with_volatility(true)
            .with_params_info(&params)
            .with_comments(comments)
            .set_into_module(&mut self.module, func);
    }
}

/// Every namespace, in the order `phoenix api` prints them.
pub fn namespaces(ctx: &Ctx) -> Vec<Namespace> {
    vec![
        config::namespace(ctx),
        edge::namespace(ctx),
        graph::namespace(ctx),
        log::namespace(ctx),
        host::namespace(ctx),
        certs::namespace(ctx),
        compose::namespace(ctx),
        file::namespace(ctx),
        fw::namespace(ctx),
        nfs::namespace(),
        zfs::namespace(ctx),
        pvesm::namespace(ctx),
        pct::namespace(ctx),
        guest::namespace(ctx),
        qm::namespace(ctx),
        portainer::namespace(ctx),
        proxy::namespace(),
        text::namespace(),
        unit::namespace(),
        util::namespace(),
    ]
}
