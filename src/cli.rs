//! The command line: global flags, built-in verbs, and plan verbs (`phoenix <verb>` runs
//! `plans/<verb>.rhai`). Global flags may come before or after the verb.

use crate::report::OutputFormat;
use crate::types::global_flags::GLOBAL_FLAGS;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

/// The part of `--help` after the options; the plan verbs are listed above it at run time
/// ([`command_with_plans`]), from the plans found on disk and built in.
const AFTER_HELP: &str = "\
Exit codes:
  0    success
  1    an action on the host failed (or another run holds the host's lock)
  2    invalid input: usage, configuration or plan errors (nothing was run)
  130  interrupted (Ctrl-C): the command in flight finished, nothing after it ran

Environment: PHOENIX_CONFIG_DIR (config folder), PHOENIX_HOME (folder holding plans/ and
stdlib/; default: the config folder's parent), PHOENIX_STATE_DIR, PHOENIX_SSH_OPTS (extra ssh
options), PHOENIX_MAX_OPERATIONS (plan operation limit), NO_COLOR.";

#[derive(Debug, Parser)]
#[command(
    name = "phoenix",
    version,
    about = "Bring a Proxmox VE host to the state declared in JSON; the order of work is written as Rhai plans."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Verb,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Configuration folder [default: $PHOENIX_CONFIG_DIR, ./etc, /usr/local/phoenix_hypervisor/etc]
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// The host to drive: local | ssh://user@host[:port] | sim | sim:state.json
    #[arg(long, global = true, default_value = "local", value_name = "HOST")]
    pub host: String,
    /// Show exactly what would be done; change nothing (only read commands reach the host)
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Guests converged at once
    #[arg(long, global = true, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Stop every guest at the first failure (default: only the failed guest's dependents)
    #[arg(long, global = true)]
    pub fail_fast: bool,
    /// Output format
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// Where the journal and locks live [default: $PHOENIX_STATE_DIR, /var/lib/phoenix as root, else ~/.local/state/phoenix]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// More output: unchanged items, debug lines
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output: only changes that fail, warnings and the summary
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Answer yes to confirmations (required for destructive verbs without a TTY)
    #[arg(long, global = true)]
    pub yes: bool,
    /// Show the plan (the rehearsal), then ask before applying it (needs a TTY, or --yes)
    #[arg(long, global = true)]
    pub confirm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormatArg {
    Text,
    Mermaid,
    Dot,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Validate the configuration and compile every plan; change nothing
    Check,
    /// Print the guest graph (all guests, or the closure of the given ids)
    Graph {
        ids: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: GraphFormatArg,
    },
    /// Every function plans can call, with its signature and documentation
    Api,
    /// Run any plan file
    Run {
        file: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run plans/<verb>.rhai
    #[command(external_subcommand)]
    Plan(Vec<String>),
}

/// The built-in verbs (clap parses their arguments; every other verb is a plan).
const BUILTIN_VERBS: &[&str] = &["check", "graph", "api", "run", "help"];

/// The index of the verb in argv: the first word that is not a flag or a flag's value.
fn verb_index(args: &[String]) -> usize {
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if let Some((_, takes)) = GLOBAL_FLAGS.iter().find(|(f, _)| a == f) {
            i += if *takes { 2 } else { 1 };
        } else if a.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// argv as clap should see it: global flags moved in front of a plan verb
/// ([`hoist_global_flags`]), `help <plan verb>` turned into `<plan verb> --help`, bare `help`
/// into `--help`, and `run <file>`'s words kept whole for the plan (a `--` after the file, so
/// clap does not take the plan's own `--help` for `run`'s).
pub fn normalize_argv(args: Vec<String>) -> Vec<String> {
    let mut args = hoist_global_flags(args);
    let i = verb_index(&args);
    match args.get(i).map(String::as_str) {
        Some("help") => match args.get(i + 1) {
            Some(verb) if !verb.starts_with('-') && !BUILTIN_VERBS.contains(&verb.as_str()) => {
                let verb = verb.clone();
                args.truncate(i);
                args.push(verb);
                args.push("--help".into());
            }
            Some(_) => {}
            None => {
                args.truncate(i);
                args.push("--help".into());
            }
        },
        Some("run") if args.get(i + 1).is_some_and(|f| !f.starts_with('-')) => {
            args.insert(i + 2, "--".into());
        }
        _ => {}
    }
    args
}

/// Reorder argv so global flags that follow a plan verb come before it. Arguments after `--`
/// are left alone (they belong to the plan).
pub fn hoist_global_flags(args: Vec<String>) -> Vec<String> {
    let builtin = ["check", "graph", "api", "help"];
    let i = verb_index(&args);
    if i >= args.len() || builtin.contains(&args[i].as_str()) {
        return args;
    }
    // `run <file> [args]`: the file is part of the verb.
    let verb_len = if args[i] == "run" { 2.min(args.len() - i) } else { 1 };
    let (head, tail) = args.split_at(i + verb_len);
    let mut front: Vec<String> = head[..i].to_vec();
    let verb_words = head[i..].to_vec();
    let mut rest = Vec::new();
    let mut j = 0;
    while j < tail.len() {
        let a = &tail[j];
        if a == "--" {
            rest.extend_from_slice(&tail[j..]);
            break;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, _)) if n.starts_with("--") => (n, true),
            _ => (a.as_str(), false),
        };
        match GLOBAL_FLAGS.iter().find(|(f, _)| *f == name) {
            Some((_, true)) if !inline && j + 1 < tail.len() => {
                front.push(a.clone());
                front.push(tail[j + 1].clone());
                j += 2;
            }
            Some(_) => {
                front.push(a.clone());
                j += 1;
            }
            None => {
                rest.push(a.clone());
                j += 1;
            }
        }
    }
    front.extend(verb_words);
    front.extend(rest);
    front
}

/// argv as text. The program name may be anything; any other argument that is not UTF-8 is
/// refused (its position and bytes, escaped), since nothing downstream could match it exactly.
pub fn utf8_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Vec<String>, String> {
    args.into_iter()
        .enumerate()
        .map(|(n, a)| match a.into_string() {
            Ok(s) => Ok(s),
            Err(a) if n == 0 => Ok(a.to_string_lossy().into_owned()),
            Err(a) => {
                let bytes = std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str()).escape_ascii().to_string();
                Err(format!("argument {n} (`{bytes}`) is not valid UTF-8: phoenix takes UTF-8 arguments only"))
            }
        })
        .collect()
}

/// The `--config-dir` written on the command line, read before clap parses it: `--help` lists
/// the plan verbs of that configuration's project folder.
pub fn config_dir_in_argv(args: &[String]) -> Option<PathBuf> {
    let mut words = args.iter().skip(1).take_while(|a| *a != "--");
    let mut found = None;
    while let Some(a) = words.next() {
        if a == "--config-dir" {
            found = words.next().map(PathBuf::from);
        } else if let Some(v) = a.strip_prefix("--config-dir=") {
            found = Some(PathBuf::from(v));
        }
    }
    found
}

/// Whether clap may print the top-level help for this argv: `--help`/`-h` before any verb, or no
/// verb at all (clap then shows the help with its error).
pub fn may_show_top_level_help(args: &[String]) -> bool {
    let i = verb_index(args);
    i >= args.len() || args[1..i].iter().any(|a| a == "--help" || a == "-h")
}

/// The clap command with the plan verbs (name, one-line summary) listed in its `--help`.
pub fn command_with_plans(plans: &[(String, String)]) -> clap::Command {
    use clap::CommandFactory;
    let width = plans.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(8);
    let mut text = String::from(
        "Plan verbs: `phoenix <verb> [args]` runs plans/<verb>.rhai (on disk first, else built in);\n\
         `phoenix help <verb>` or `phoenix <verb> --help` shows its arguments and runs nothing.\n",
    );
    for (name, summary) in plans {
        let summary: String = if summary.chars().count() > 80 {
            summary.chars().take(79).chain(std::iter::once('…')).collect()
        } else {
            summary.clone()
        };
        text.push_str(&format!("  {name:width$}  {summary}\n"));
    }
    text.push('\n');
    text.push_str(AFTER_HELP);
    Cli::command().after_help(text)
}

/// Where the configuration lives: the flag, then PHOENIX_CONFIG_DIR, then ./etc, then the
/// original tool's install path.
pub fn config_dir(flag: Option<&PathBuf>) -> PathBuf {
    if let Some(d) = flag {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("PHOENIX_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("etc");
    if local.join("phoenix_hypervisor_config.json").is_file() {
        return local;
    }
    PathBuf::from("/usr/local/phoenix_hypervisor/etc")
}

/// Where the journal and locks live.
pub fn state_dir(flag: Option<&PathBuf>) -> PathBuf {
    if let Some(d) = flag {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("PHOENIX_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let is_root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    if is_root {
        return PathBuf::from("/var/lib/phoenix");
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("phoenix");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/phoenix"),
        None => PathBuf::from(".phoenix-state"),
    }
}

/// The `--host` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSpec {
    Local,
    Ssh(String),
    Sim(Option<PathBuf>),
}

impl HostSpec {
    pub fn parse(s: &str) -> Result<HostSpec, String> {
        match s {
            "local" => Ok(HostSpec::Local),
            "sim" => Ok(HostSpec::Sim(None)),
            _ if s.starts_with("sim:") => {
                let p = &s[4..];
                if p.is_empty() {
                    return Err("`sim:` needs a state file path, e.g. sim:lab.json".into());
                }
                Ok(HostSpec::Sim(Some(PathBuf::from(p))))
            }
            _ if s.starts_with("ssh://") => Ok(HostSpec::Ssh(s.to_string())),
            _ => Err(format!("`{s}` is not a host: use local, ssh://user@host[:port], sim or sim:state.json")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_after_a_plan_verb_move_in_front() {
        assert_eq!(
            hoist_global_flags(v("phoenix create 101 --dry-run --host sim 102")),
            v("phoenix --dry-run --host sim create 101 102")
        );
        assert_eq!(hoist_global_flags(v("phoenix --host sim setup -v")), v("phoenix --host sim -v setup"));
        assert_eq!(hoist_global_flags(v("phoenix create 1 -- --dry-run")), v("phoenix create 1 -- --dry-run"));
        assert_eq!(hoist_global_flags(v("phoenix graph 101 --format dot")), v("phoenix graph 101 --format dot"));
        assert_eq!(hoist_global_flags(v("phoenix x --output=json")), v("phoenix --output=json x"));
        assert_eq!(hoist_global_flags(v("phoenix run p.rhai 101 --dry-run")), v("phoenix --dry-run run p.rhai 101"));
    }

    #[test]
    fn help_and_run_words_are_rewritten_for_clap() {
        assert_eq!(normalize_argv(v("phoenix help create")), v("phoenix create --help"));
        assert_eq!(normalize_argv(v("phoenix --host sim help stop 1")), v("phoenix --host sim stop --help"));
        assert_eq!(normalize_argv(v("phoenix help")), v("phoenix --help"));
        assert_eq!(normalize_argv(v("phoenix --config-dir etc help")), v("phoenix --config-dir etc --help"));
        // Built-in verbs keep clap's own help.
        assert_eq!(normalize_argv(v("phoenix help graph")), v("phoenix help graph"));
        assert_eq!(normalize_argv(v("phoenix run p.rhai --help")), v("phoenix run p.rhai -- --help"));
        assert_eq!(normalize_argv(v("phoenix run p.rhai 1 --dry-run")), v("phoenix --dry-run run p.rhai -- 1"));
        assert_eq!(normalize_argv(v("phoenix run --help")), v("phoenix run --help"));
        assert_eq!(normalize_argv(v("phoenix create 1 -- -x")), v("phoenix create 1 -- -x"));
    }

    #[test]
    fn non_utf8_arguments_are_refused_by_position() {
        use std::os::unix::ffi::OsStrExt;
        let bad = std::ffi::OsStr::from_bytes(b"10\xff1").to_os_string();
        let err = utf8_args(["phoenix".into(), "create".into(), bad]).unwrap_err();
        assert!(err.starts_with("argument 2 (`10\\xff1`) is not valid UTF-8"), "{err}");
        assert_eq!(utf8_args(["phoenix".into(), "create".into()]).unwrap(), v("phoenix create"));
    }

    #[test]
    fn the_plan_listing_is_read_only_for_top_level_help() {
        assert!(may_show_top_level_help(&v("phoenix --help")));
        assert!(may_show_top_level_help(&v("phoenix --config-dir etc -h")));
        assert!(may_show_top_level_help(&v("phoenix --host sim")));
        assert!(!may_show_top_level_help(&v("phoenix create --help")));
        assert!(!may_show_top_level_help(&v("phoenix --host sim create 101")));
    }

    #[test]
    fn config_dir_is_found_before_parsing() {
        assert_eq!(config_dir_in_argv(&v("phoenix --config-dir etc --help")), Some(PathBuf::from("etc")));
        assert_eq!(config_dir_in_argv(&v("phoenix --help --config-dir=x")), Some(PathBuf::from("x")));
        assert_eq!(config_dir_in_argv(&v("phoenix create -- --config-dir x")), None);
    }

    /// The flag table a plan verb's argv is sorted with names every global flag of [`Global`].
    #[test]
    fn every_global_flag_is_in_the_table() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let mut seen = 0;
        for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
            let long = arg.get_long().map(|l| format!("--{l}")).expect("global flags have a long name");
            let takes_value = arg.get_action().takes_values();
            assert!(
                GLOBAL_FLAGS.contains(&(long.as_str(), takes_value)),
                "{long} (value: {takes_value}) is not in GLOBAL_FLAGS"
            );
            seen += 1;
        }
        assert_eq!(seen, 11);
    }

    #[test]
    fn host_specs() {
        assert_eq!(HostSpec::parse("sim").unwrap(), HostSpec::Sim(None));
        assert_eq!(HostSpec::parse("sim:a.json").unwrap(), HostSpec::Sim(Some("a.json".into())));
        assert!(HostSpec::parse("pve").is_err());
    }
}
