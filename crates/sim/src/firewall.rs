//! `pve-firewall` (contracts §E): status from `cluster.fw`'s `enable` option.

use super::reply::{fail, ok};
use super::state::SimState;
use crate::output::Output;

const CLUSTER_FW: &str = "/etc/pve/firewall/cluster.fw";

/// `enable: 1` inside `[OPTIONS]` of cluster.fw (section headers are case-insensitive).
pub(crate) fn cluster_enabled(st: &SimState) -> bool {
    let Some(f) = st.files.get(CLUSTER_FW) else {
        return false;
    };
    let text = String::from_utf8_lossy(&f.content);
    let mut in_options = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_options = l.eq_ignore_ascii_case("[options]");
            continue;
        }
        if in_options {
            if let Some((k, v)) = l.split_once(':') {
                if k.trim() == "enable" {
                    return v.trim().parse::<i64>().is_ok_and(|n| n != 0);
                }
            }
        }
    }
    false
}

pub(crate) fn run(st: &mut SimState, argv: &[String]) -> Output {
    match argv.first().map(String::as_str) {
        Some("status") => {
            if cluster_enabled(st) {
                ok("Status: enabled/running\n")
            } else {
                ok("Status: disabled/stopped\n")
            }
        }
        Some("compile" | "restart" | "start" | "stop" | "localnet" | "simulate") => ok(""),
        _ => fail("USAGE: pve-firewall <COMMAND> [ARGS] [OPTIONS]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::text_file;

    #[test]
    fn status_follows_cluster_fw() {
        let mut st = SimState::default();
        assert_eq!(run(&mut st, &["status".into()]).stdout_str(), "Status: disabled/stopped\n");
        st.files
            .insert(CLUSTER_FW.into(), text_file("[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22\n"));
        assert_eq!(run(&mut st, &["status".into()]).stdout_str(), "Status: enabled/running\n");
        st.files.insert(CLUSTER_FW.into(), text_file("[options]\nenable: 0\n"));
        assert_eq!(run(&mut st, &["status".into()]).stdout_str(), "Status: disabled/stopped\n");
        assert_eq!(run(&mut st, &["compile".into()]).code, 0);
        assert_eq!(run(&mut st, &["bogus".into()]).code, 255);
    }
}
