//! The command line: global flags, built-in verbs, and plan verbs (`phoenix <verb>` runs
//! `plans/<verb>.rhai`). Global flags may come before or after the verb.

use crate::report::OutputFormat;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_INTERRUPTED: i32 = 130;

const AFTER_HELP: &str = "\
Plan verbs: `phoenix <verb> [args]` runs plans/<verb>.rhai with the arguments in scope as ARGS
(e.g. `phoenix setup`, `phoenix inspect`). `phoenix check` lists the plans it finds.

Exit codes:
  0    success
  1    an action on the host failed (or another run holds the host's lock)
  2    invalid input: usage, configuration or plan errors (nothing was run)
  130  interrupted (Ctrl-C): the command in flight finished, nothing after it ran

Environment: PHOENIX_CONFIG_DIR (config folder), PHOENIX_HOME (folder holding plans/ and
stdlib/; default: the config folder's parent), PHOENIX_STATE_DIR, PHOENIX_SSH_OPTS (extra ssh
options), PHOENIX_MAX_OPERATIONS (plan operation limit), NO_COLOR.";

#[derive(Debug, Parser)]
#[command(name = "phoenix", version, about = "Bring a Proxmox VE host to the state declared in JSON; the order of work is written as Rhai plans.", after_help = AFTER_HELP)]
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

/// Global flags and whether each takes a value, for moving those written after a plan verb
/// in front of it (clap hands everything after an external verb to the verb).
const GLOBAL_FLAGS: &[(&str, bool)] = &[
    ("--config-dir", true),
    ("--host", true),
    ("--dry-run", false),
    ("--parallel", true),
    ("--fail-fast", false),
    ("--output", true),
    ("--state-dir", true),
    ("--verbose", false),
    ("-v", false),
    ("-vv", false),
    ("--quiet", false),
    ("-q", false),
    ("--yes", false),
    ("--confirm", false),
];

/// Reorder argv so global flags that follow a plan verb come before it. Arguments after `--`
/// are left alone (they belong to the plan).
pub fn hoist_global_flags(args: Vec<String>) -> Vec<String> {
    let builtin = ["check", "graph", "api", "help"];
    // Find the verb: the first word that is not a flag or a flag's value.
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
    fn host_specs() {
        assert_eq!(HostSpec::parse("sim").unwrap(), HostSpec::Sim(None));
        assert_eq!(HostSpec::parse("sim:a.json").unwrap(), HostSpec::Sim(Some("a.json".into())));
        assert!(HostSpec::parse("pve").is_err());
    }
}
