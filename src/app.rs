//! What `phoenix` does from argv to exit code. `main.rs` only calls [`run`].

use crate::api::Ctx;
use crate::cli::{self, Cli, GraphFormatArg, HostSpec, Verb, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK};
use crate::connector::{local::LocalConnector, sim::SimConnector, ssh::SshConnector, Connector};
use crate::graph::{GraphFormat, GuestGraph};
use crate::inventory::{self, Inventory};
use crate::lock::HostLock;
use crate::report::Verbosity;
use crate::script::{Limits, PlanRef, Scripts};
use clap::Parser;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Print a diagnostic to stderr: colour on a TTY, plain unicode otherwise (pinned in tests).
pub fn report_diagnostic(diag: &dyn miette::Diagnostic) {
    let text = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode()).with_width(100);
        let mut s = String::new();
        match handler.render_report(&mut s, diag) {
            Ok(()) => s,
            Err(_) => inventory::render(diag),
        }
    } else {
        inventory::render(diag)
    };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

pub(crate) fn plain_error(message: &str, help: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {message}");
    if let Some(h) = help {
        let _ = writeln!(err, "  help: {h}");
    }
}

fn init_tracing(verbosity: Verbosity) {
    let default = match verbosity {
        Verbosity::Quiet => "warn",
        Verbosity::Normal => "info",
        Verbosity::Verbose => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PHOENIX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn,plan={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}

fn load_inventory(dir: &Path) -> Result<Inventory, i32> {
    match inventory::load(dir) {
        Ok(inv) => {
            for w in &inv.warnings {
                report_diagnostic(w);
            }
            Ok(inv)
        }
        Err(errors) => {
            report_diagnostic(&errors);
            Err(EXIT_INVALID)
        }
    }
}

fn build_graph(inv: &Inventory) -> Result<GuestGraph, i32> {
    GuestGraph::build(inv.graph_nodes()).map_err(|e| {
        plain_error(&format!("guest graph: {e}"), None);
        EXIT_INVALID
    })
}

/// The folder holding `plans/` and `stdlib/`: PHOENIX_HOME, else the config folder's parent
/// (kept relative, so messages name files the way the operator typed them).
fn project_root(config_dir: &Path) -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("PHOENIX_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    config_dir.parent().map(|p| p.to_path_buf())
}

fn connect(spec: &HostSpec, state_dir: &Path) -> Result<Arc<dyn Connector>, String> {
    Ok(match spec {
        HostSpec::Local => Arc::new(LocalConnector::new()),
        HostSpec::Sim(path) => {
            // The state is saved at the end of the run: a folder that is not there would lose it.
            if let Some(dir) = path.as_deref().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
                if !dir.is_dir() {
                    return Err(format!(
                        "sim:{}: the folder {} does not exist",
                        path.as_deref().unwrap_or(dir).display(),
                        dir.display()
                    ));
                }
            }
            Arc::new(SimConnector::open(path.as_deref()).map_err(|e| e.to_string())?)
        }
        HostSpec::Ssh(target) => {
            let target = crate::connector::ssh::SshTarget::parse(target).map_err(|e| e.to_string())?;
            let control = state_dir.join("ssh");
            std::fs::create_dir_all(&control).map_err(|e| format!("cannot create {}: {e}", control.display()))?;
            Arc::new(SshConnector::new(&target, &control))
        }
    })
}

/// Ctrl-C: the first stops the run after the command in flight; the second exits at once.
/// Returns once the handler is registered, so no interrupt can slip past it.
fn install_interrupt_handler(cancel: Arc<AtomicBool>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
        rt.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut interrupts) = signal(SignalKind::interrupt()) else { return };
            let _ = ready_tx.send(());
            if interrupts.recv().await.is_none() {
                return;
            }
            cancel.store(true, Ordering::SeqCst);
            eprintln!("\ninterrupted: finishing the command in flight, then stopping (Ctrl-C again to abort now)");
            if interrupts.recv().await.is_some() {
                std::process::exit(EXIT_INTERRUPTED);
            }
        });
    });
    if spawned.is_err() || ready_rx.recv_timeout(std::time::Duration::from_secs(5)).is_err() {
        tracing::warn!("could not install the Ctrl-C handler");
    }
}

/// Parse argv, do the work, return the exit code.
pub fn run(argv: Vec<String>) -> i32 {
    let argv = cli::hoist_global_flags(argv);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INVALID } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let g = &cli.global;
    let verbosity = if g.quiet {
        Verbosity::Quiet
    } else if g.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    init_tracing(verbosity);
    let config_dir = cli::config_dir(g.config_dir.as_ref());
    let cancel = Arc::new(AtomicBool::new(false));

    match &cli.command {
        Verb::Api => {
            let scripts = Scripts::new(None, Ctx::default(), Limits::from_env(), cancel);
            return print_api(&scripts, g.output);
        }
        Verb::Check => return check(&config_dir, cancel),
        Verb::Graph { ids, format } => return graph(&config_dir, ids, *format),
        Verb::Run { .. } | Verb::Plan(_) => {}
    }

    let (plan_ref, plan_label, args) = match &cli.command {
        Verb::Run { file, args } => (PlanRef::File(file.clone()), file.display().to_string(), args.clone()),
        Verb::Plan(words) => {
            let verb = words.first().cloned().unwrap_or_default();
            // The original tool's capitalised verb.
            let verb = if verb == "LetsGo" { "letsgo".to_string() } else { verb };
            (PlanRef::Verb(verb.clone()), verb, words[1..].to_vec())
        }
        _ => return EXIT_INVALID,
    };

    let host = match HostSpec::parse(&g.host) {
        Ok(h) => h,
        Err(e) => {
            plain_error(&e, None);
            return EXIT_INVALID;
        }
    };
    let inventory = match load_inventory(&config_dir) {
        Ok(i) => Arc::new(i),
        Err(code) => return code,
    };
    let graph = match build_graph(&inventory) {
        Ok(g) => Arc::new(g),
        Err(code) => return code,
    };
    let ctx = Ctx::default();
    let scripts = Scripts::new(project_root(&config_dir), ctx.clone(), Limits::from_env(), cancel.clone());
    let found = match scripts.load_plan(&plan_ref) {
        Ok(f) => f,
        Err(d) => {
            report_diagnostic(&d);
            return EXIT_INVALID;
        }
    };
    let ast = match scripts.compile(&found) {
        Ok(a) => a,
        Err(d) => {
            report_diagnostic(&d);
            return EXIT_INVALID;
        }
    };

    // Input is valid: from here on the host is touched.
    let state_dir = cli::state_dir(g.state_dir.as_ref());
    let connector = match connect(&host, &state_dir) {
        Ok(c) => c,
        Err(e) => {
            plain_error(&format!("cannot reach the host: {e}"), None);
            return EXIT_FAILED;
        }
    };
    let host_name = connector.describe();
    install_interrupt_handler(cancel.clone());
    // An in-memory simulator is private to this process: nothing to lock.
    let _lock = if host == HostSpec::Sim(None) {
        None
    } else {
        match HostLock::acquire(&state_dir, &host_name, &format!("phoenix {plan_label}")) {
            Ok(l) => Some(l),
            Err(e) => {
                plain_error(
                    &e.to_string(),
                    Some("wait for it to finish; a crashed run's lock is released automatically"),
                );
                return EXIT_FAILED;
            }
        }
    };
    // Rehearse, then apply (src/rehearse.rs).
    let code = crate::rehearse::run_plan(crate::rehearse::PlanJob {
        global: g,
        verbosity,
        label: plan_label,
        args,
        project_root: project_root(&config_dir),
        inventory,
        graph,
        connector: connector.clone(),
        state_dir,
        cancel,
        scripts,
        ctx,
        found,
        ast,
    });
    if let Err(e) = connector.finish() {
        plain_error(&e.to_string(), None);
        return if code == EXIT_OK { EXIT_FAILED } else { code };
    }
    code
}

fn check(config_dir: &Path, cancel: Arc<AtomicBool>) -> i32 {
    let inventory = match load_inventory(config_dir) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if let Err(code) = build_graph(&inventory) {
        return code;
    }
    let scripts = Scripts::new(project_root(config_dir), Ctx::default(), Limits::from_env(), cancel);
    let names = scripts.resolver.plan_names();
    let mut failed = false;
    for name in &names {
        let compiled = scripts.load_plan(&PlanRef::Verb(name.clone())).and_then(|f| scripts.compile(&f));
        if let Err(d) = compiled {
            report_diagnostic(&d);
            failed = true;
        }
    }
    if failed {
        return EXIT_INVALID;
    }
    println!(
        "ok: {} LXC, {} VM, {} stack{} in {}; {} plans compiled ({})",
        inventory.lxc.guests.len(),
        inventory.vm.guests.len(),
        inventory.stacks.len(),
        if inventory.stacks.len() == 1 { "" } else { "s" },
        config_dir.display(),
        names.len(),
        names.join(", ")
    );
    EXIT_OK
}

fn graph(config_dir: &Path, ids: &[String], format: GraphFormatArg) -> i32 {
    let inventory = match load_inventory(config_dir) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let graph = match build_graph(&inventory) {
        Ok(g) => g,
        Err(code) => return code,
    };
    let mut targets = Vec::new();
    for id in ids {
        match id.parse::<u32>() {
            Ok(n) if inventory.guest(n).is_some() => targets.push(n),
            _ => {
                plain_error(
                    &format!("`{id}` is not a declared guest id"),
                    Some("`phoenix graph` with no ids shows every guest"),
                );
                return EXIT_INVALID;
            }
        }
    }
    if targets.is_empty() {
        targets = graph.ids();
    }
    let format = match format {
        GraphFormatArg::Text => GraphFormat::Text,
        GraphFormatArg::Mermaid => GraphFormat::Mermaid,
        GraphFormatArg::Dot => GraphFormat::Dot,
        GraphFormatArg::Json => GraphFormat::Json,
    };
    print!("{}", graph.render(&targets, format));
    EXIT_OK
}

fn print_api(scripts: &Scripts, output: crate::report::OutputFormat) -> i32 {
    let json = match scripts.api_metadata_json() {
        Ok(j) => j,
        Err(e) => {
            plain_error(&format!("cannot read the API metadata: {e}"), None);
            return EXIT_FAILED;
        }
    };
    if output == crate::report::OutputFormat::Json {
        println!("{json}");
        return EXIT_OK;
    }
    match crate::api::docs::render_text(&json) {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(e) => {
            plain_error(&e, None);
            EXIT_FAILED
        }
    }
}
