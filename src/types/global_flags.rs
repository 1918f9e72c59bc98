//! phoenix's own command-line flags, by name: the command line moves them in front of a plan
//! verb, and a plan may not declare one as its parameter. Kept in sync with `cli::Global` by
//! `cli`'s tests.

/// Global flags and whether each takes a value, for moving those written after a plan verb
/// in front of it (clap hands everything after an external verb to the verb).
pub const GLOBAL_FLAGS: &[(&str, bool)] = &[
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

/// The global flags' names (`--dry-run`, `-v`, …): a plan cannot declare them, and a typo of one
/// after a plan verb is answered with "did you mean".
pub fn global_flag_names() -> impl Iterator<Item = &'static str> {
    GLOBAL_FLAGS.iter().map(|(f, _)| *f)
}
