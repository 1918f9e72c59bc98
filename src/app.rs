//! What `phoenix` does from argv to exit code. `main.rs` only calls [`run`].

use crate::api::Ctx;
use crate::cli::{self, Cli, GraphFormatArg, HostSpec, Verb, EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::graph::{GraphFormat, GuestGraph};
use crate::inventory::{self, Inventory};
use crate::project::resolver::{Found, Resolver};
use crate::project::root::project_root;
use crate::report::Verbosity;
use crate::script::params::{self, Parsed, PlanArgs, PlanHeader};
use crate::script::registry::FeatureRegistry;
use crate::script::{Limits, PlanRef, Scripts};

use crate::stderr::{plain_error, report_diagnostic};
use clap::FromArgMatches;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Write to stdout, ignoring a closed pipe (`phoenix api | head`): the reader has what it wanted,
/// so a broken pipe is not an error worth a panic or a message.
fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
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

/// The feature registry (every `meta()` of stdlib/features/), read once per process before any
/// host is touched: configuration checks and the guest graph ask it.
/// `scripts` is the engine the run itself uses (no run is installed in it yet, so no `meta()`
/// can reach a host).
fn load_features(scripts: &Scripts) -> Result<FeatureRegistry, i32> {
    FeatureRegistry::load(scripts).map_err(|d| {
        report_diagnostic(&*d);
        EXIT_INVALID
    })
}

fn load_inventory(dir: &Path, features: &FeatureRegistry) -> Result<Inventory, i32> {
    match inventory::features::check(inventory::load(dir), dir, features.specs()) {
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

fn build_graph(inv: &Inventory, features: &FeatureRegistry) -> Result<GuestGraph, i32> {
    GuestGraph::build(inventory::features::graph_nodes(inv, features.specs())).map_err(|e| {
        plain_error(&format!("guest graph: {e}"), None);
        EXIT_INVALID
    })
}

/// Parse argv, do the work, return the exit code.
pub fn run(argv: Vec<String>) -> i32 {
    let argv = cli::normalize_argv(argv);
    // `--help` lists the plan verbs of the project folder the configuration belongs to (read
    // only when clap may print the top-level help).
    let plans = if cli::may_show_top_level_help(&argv) {
        let listing_root = project_root(&cli::config_dir(cli::config_dir_in_argv(&argv).as_ref()));
        params::verb_summaries(&Resolver::new(listing_root))
    } else {
        Vec::new()
    };
    let parsed = cli::command_with_plans(&plans).try_get_matches_from(&argv).and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
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

    let (plan_ref, plan_label, invocation, words) = match &cli.command {
        Verb::Run { file, args } => {
            let label = file.display().to_string();
            (PlanRef::File(file.clone()), label.clone(), format!("run {label}"), args.clone())
        }
        Verb::Plan(words) => {
            let verb = words.first().cloned().unwrap_or_default();
            // The original tool's capitalised verb.
            let verb = if verb == "LetsGo" { "letsgo".to_string() } else { verb };
            if !is_plain_verb(&verb) {
                plain_error(
                    &format!("`{}` is not a verb", params::shown(&verb)),
                    Some("plan verbs are plain names (plans/<verb>.rhai); run any file with `phoenix run <file>`"),
                );
                return EXIT_INVALID;
            }
            (PlanRef::Verb(verb.clone()), verb.clone(), verb, words[1..].to_vec())
        }
        _ => return EXIT_INVALID,
    };

    // The plan and its command line first: `--help` and usage errors need nothing else, and
    // touch nothing (no configuration, no host).
    let ctx = Ctx::default();
    let scripts = Scripts::new(project_root(&config_dir), ctx.clone(), Limits::from_env(), cancel.clone());
    let found = match scripts.load_plan(&plan_ref) {
        Ok(f) => f,
        Err(d) => {
            report_diagnostic(&d);
            return EXIT_INVALID;
        }
    };
    let args = match plan_command_line(&found, &invocation, &words) {
        Ok(a) => a,
        Err(code) => return code,
    };

    let host = match HostSpec::parse(&g.host) {
        Ok(h) => h,
        Err(e) => {
            plain_error(&e, None);
            return EXIT_INVALID;
        }
    };
    let features = match load_features(&scripts) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let inventory = match load_inventory(&config_dir, &features) {
        Ok(i) => Arc::new(i),
        Err(code) => return code,
    };
    let graph = match build_graph(&inventory, &features) {
        Ok(g) => Arc::new(g),
        Err(code) => return code,
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
    // Before the host is opened, so a signal while connecting is not lost either.
    crate::signals::install_stop_handler(cancel.clone());
    let opened = match crate::host_session::open(&host, &state_dir, &format!("phoenix {plan_label}")) {
        Ok(o) => o,
        Err(e) => {
            plain_error(&e.message, e.hint.as_deref());
            return e.code;
        }
    };
    let (connector, host_lock) = (opened.connector, opened.lock);
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
    // Release the host before closing the connection that may carry the lock.
    drop(host_lock);
    if let Err(e) = connector.finish() {
        plain_error(&e.to_string(), None);
        return if code == EXIT_OK { EXIT_FAILED } else { code };
    }
    code
}

/// A verb as typed is a plan's file name: no paths (`../x`), no hidden files.
fn is_plain_verb(verb: &str) -> bool {
    verb.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && verb.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The words after a plan verb, parsed against the plan's declared parameters. `Err(code)`:
/// the help was printed (0) or the words were refused (2); either way nothing may run.
fn plan_command_line(found: &Found, invocation: &str, words: &[String]) -> Result<PlanArgs, i32> {
    let header = PlanHeader::read(&found.text);
    let decl = match &header.declaration {
        Ok(d) => d.as_ref(),
        Err(e) => {
            plain_error(
                &format!("{}:{e}", found.name),
                Some("fix the plan's `//! usage:` declaration (README: \"Writing and overriding plans\")"),
            );
            return Err(EXIT_INVALID);
        }
    };
    match params::parse(decl, words) {
        Ok(Parsed::Args(a)) => Ok(a),
        Ok(Parsed::Help) => {
            print_stdout(&params::help_text(invocation, &header, decl, &found.name));
            Err(EXIT_OK)
        }
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: phoenix {invocation}: {e}");
            if let Some(h) = e.hint() {
                let _ = writeln!(err, "  help: {h}");
            }
            let _ = writeln!(err, "\nUsage: {}", params::usage_line(invocation, decl));
            let _ = writeln!(err, "`phoenix {invocation} --help` describes every argument; nothing was run.");
            Err(EXIT_INVALID)
        }
    }
}

fn check(config_dir: &Path, cancel: Arc<AtomicBool>) -> i32 {
    let scripts = Scripts::new(project_root(config_dir), Ctx::default(), Limits::from_env(), cancel);
    let features = match load_features(&scripts) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let inventory = match load_inventory(config_dir, &features) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if let Err(code) = build_graph(&inventory, &features) {
        return code;
    }
    let names = scripts.resolver.plan_names();
    let mut failed = false;
    for name in &names {
        let found = scripts.load_plan(&PlanRef::Verb(name.clone()));
        if let Ok(f) = &found {
            if let Err(e) = PlanHeader::read(&f.text).declaration {
                plain_error(&format!("{}:{e}", f.name), Some("fix the plan's `//! usage:` declaration"));
                failed = true;
            }
        }
        if let Err(d) = found.and_then(|f| scripts.compile(&f)) {
            report_diagnostic(&d);
            failed = true;
        }
    }
    if failed {
        return EXIT_INVALID;
    }
    print_stdout(&format!(
        "ok: {} LXC, {} VM, {} stack{} in {}; {} plans compiled ({})\n",
        inventory.lxc.guests.len(),
        inventory.vm.guests.len(),
        inventory.stacks.len(),
        if inventory.stacks.len() == 1 { "" } else { "s" },
        config_dir.display(),
        names.len(),
        names.join(", ")
    ));
    EXIT_OK
}

fn graph(config_dir: &Path, ids: &[String], format: GraphFormatArg) -> i32 {
    let scripts =
        Scripts::new(project_root(config_dir), Ctx::default(), Limits::from_env(), Arc::new(AtomicBool::new(false)));
    let features = match load_features(&scripts) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let inventory = match load_inventory(config_dir, &features) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let graph = match build_graph(&inventory, &features) {
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
    print_stdout(&graph.render(&targets, format));
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
        print_stdout(&format!("{json}\n"));
        return EXIT_OK;
    }
    match crate::api::docs::render_text(&json) {
        Ok(text) => {
            print_stdout(&text);
            EXIT_OK
        }
        Err(e) => {
            plain_error(&e, None);
            EXIT_FAILED
        }
    }
}
