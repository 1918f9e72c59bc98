//! The original tool's configuration loads: `tests/fixtures/original_shape` is written in the
//! shape of the original bash Phoenix Hypervisor's `etc/` (with `bin/` and `stacks/` beside
//! it). `phoenix check` must report only its genuine problems — the two application scripts
//! it names but does not have, as the original itself — and nothing may run on it.

use crate::support::phoenix::{copy_dir, root, stderr, Sandbox};
use std::path::Path;

const FIXTURE: &str = "tests/fixtures/original_shape";

/// The headline of every problem in a rendered report (`× …` errors, `⚠ …` warnings).
fn headlines(text: &str, mark: char) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(mark))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.starts_with("the configuration has"))
        .collect()
}

#[test]
fn check_reports_only_the_two_missing_application_scripts() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&Path::new(FIXTURE).join("etc"), &["check"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        headlines(&err, '×'),
        vec![
            "application script `phoenix_hypervisor_lxc_960.sh` not found",
            "application script `phoenix_hypervisor_lxc_961.sh` not found",
        ],
        "{err}"
    );
    assert_eq!(headlines(&err, '⚠'), vec!["`portainer_api.admin_password` holds a secret in plain text"], "{err}");
    assert!(!err.contains("fixture-not-a-real-password"), "the literal secret is never echoed");

    // Refused before anything runs, also outside `check`.
    let out = sandbox.run(&Path::new(FIXTURE).join("etc"), &["create", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(sandbox.sim_commands().is_empty(), "{:?}", sandbox.sim_commands());
}

#[test]
fn with_its_scripts_it_loads_and_port_means_dport() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&root().join(FIXTURE), dir.path());
    for id in ["960", "961"] {
        std::fs::write(dir.path().join(format!("bin/phoenix_hypervisor_lxc_{id}.sh")), "#!/bin/bash\nexit 0\n")
            .expect("write script");
    }
    let etc = dir.path().join("etc");
    let sandbox = Sandbox::new();
    let out = sandbox.run(&etc, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let inv = phoenix::inventory::load(&etc).unwrap_or_else(|e| panic!("{}", phoenix::inventory::render(&e)));
    // The original's generate_rule_string writes `port` as `-dport`.
    let host = inv.hypervisor.firewall.as_ref().expect("host firewall under shared_volumes");
    let ports: Vec<_> = host.global_firewall_rules.iter().map(|r| r.dport.as_deref()).collect();
    assert_eq!(ports, vec![Some("80"), Some("443"), Some("53"), Some("2049"), Some("443")]);
    let gateway = &inv.lxc.guests[&120];
    assert_eq!(gateway.firewall.as_ref().unwrap().rules[2].dport.as_deref(), Some("9443"));
    assert_eq!(inv.vm.guests[&1002].firewall.as_ref().unwrap().rules[0].dport.as_deref(), Some("9001"));
    let stack = &inv.stacks["vector_db"].manifest.environments["production"];
    assert_eq!(stack.firewall_rules[1].dport.as_deref(), Some("6334"));
    // Application scripts are found in bin/ beside etc/.
    assert!(gateway.application_script_path.as_ref().unwrap().ends_with("bin/phoenix_hypervisor_lxc_120.sh"));
    assert_eq!(inv.guest_ids().len(), 10);
    // The original's `"type": "gid"` id map becomes LXC's `g`.
    let d = phoenix::ops::lxc::desired(gateway, &[], None).expect("desired container");
    let idmaps: Vec<_> = d.lxc_lines.iter().filter(|(k, _)| k == "lxc.idmap").map(|(_, v)| v.as_str()).collect();
    assert_eq!(idmaps, vec!["g 33 33 1"]);
}
