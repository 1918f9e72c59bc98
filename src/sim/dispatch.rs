//! Route an argv to the simulated program.

use super::reply::{die, Step};
use super::state::SimState;
use super::{firewall, nfs, pct, pvesh, pvesm, qm, zfs};

pub(crate) fn run(st: &mut SimState, argv: &[String], stdin: Option<&[u8]>) -> Step {
    let Some(program) = argv.first() else {
        return die("sim: empty command", 127).into();
    };
    let rest = &argv[1..];
    match program.as_str() {
        "pct" => pct::run(st, rest, stdin),
        "qm" => qm::run(st, rest, stdin),
        "zfs" => zfs::run_zfs(st, rest).into(),
        "zpool" => zfs::run_zpool(st, rest).into(),
        "pvesm" => pvesm::run(st, rest).into(),
        "pvesh" => pvesh::run(st, rest).into(),
        "pve-firewall" => firewall::run(st, rest).into(),
        "exportfs" => nfs::run(st, rest).into(),
        // Exit 127 like a shell that cannot find the program, so a plan relying on an
        // unsimulated command fails loudly instead of silently succeeding.
        other => die(format!("sim: command not simulated: {other}"), 127).into(),
    }
}
