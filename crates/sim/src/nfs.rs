//! `exportfs`: the NFS server's export table, re-read from /etc/exports.

use super::reply::{die, ok};
use super::state::SimState;
use crate::output::Output;

/// `exportfs -ra` (re-export everything from /etc/exports) and `exportfs -v` (list). Lines of
/// /etc/exports must be `<path> <client>(<options>)…`; a malformed line fails like the real tool.
pub(crate) fn run(st: &mut SimState, args: &[String]) -> Output {
    let text =
        st.files.get("/etc/exports").map(|f| String::from_utf8_lossy(&f.content).into_owned()).unwrap_or_default();
    let mut listing = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let path = words.next().unwrap_or("");
        if !path.starts_with('/') {
            return die(format!("exportfs: /etc/exports:{}: bad export path '{path}'", n + 1), 1);
        }
        for client in words {
            listing.push_str(&format!("{path}\t{client}\n"));
        }
    }
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["-ra"] | ["-r"] | ["-a"] | ["-r", "-a"] | ["-a", "-r"] => ok(""),
        ["-v"] | [] => ok(listing),
        _ => die(format!("exportfs: unsupported arguments in the simulator: {}", args.join(" ")), 1),
    }
}
