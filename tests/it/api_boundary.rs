//! What crosses the boundary between plans and the API: the template build's order lives in
//! `stdlib/vm.rhai` (an operator's copy changes it), probes are reads served once from the
//! rehearsal, and an API function's error keeps the file it is about.

use crate::support::phoenix::{copy_dir, root, stderr, Sandbox};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A project folder (`<sandbox>/project`): the example configuration with VM 9000 standing alone,
/// the checkout's stdlib copied (for the operator to edit) and `plans` given here.
fn project(sb: &Sandbox, plans: &[(&str, &str)]) -> PathBuf {
    let home = sb.dir.path().join("project");
    let etc = home.join("etc");
    copy_dir(&root().join("etc"), &etc);
    copy_dir(&root().join("stdlib"), &home.join("stdlib"));
    let path = etc.join("phoenix_vm_configs.json");
    let mut vms: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for vm in vms["vms"].as_array_mut().unwrap() {
        vm["dependencies"] = Value::Array(Vec::new());
        vm["features"] = Value::Array(Vec::new());
        vm["volumes"] = Value::Array(Vec::new());
    }
    std::fs::write(&path, serde_json::to_string_pretty(&vms).unwrap()).unwrap();
    std::fs::create_dir_all(home.join("plans")).unwrap();
    for (name, text) in plans {
        std::fs::write(home.join("plans").join(format!("{name}.rhai")), text).unwrap();
    }
    etc
}

/// The host after `setup`, with a clean command log.
fn prepared(sb: &Sandbox, etc: &Path) {
    let out = sb.run(etc, &["setup"]);
    assert_eq!(out.status.code(), Some(0), "setup: {}", stderr(&out));
    sb.clear_sim_log();
}

/// The `qm set 9000 --<key>` commands that reached the host, in order, by key.
fn template_sets(sb: &Sandbox) -> Vec<String> {
    sb.sim_commands()
        .into_iter()
        .filter(|(argv, mutating)| *mutating && argv.len() > 3 && argv[..3] == ["qm", "set", "9000"])
        .map(|(argv, _)| argv[3].trim_start_matches("--").to_string())
        .collect()
}

#[test]
fn the_template_build_runs_in_the_order_vm_rhai_gives() {
    // As shipped: disks, then cloud-init.
    let sb = Sandbox::new();
    let etc = project(&sb, &[]);
    prepared(&sb, &etc);
    let out = sb.run(&etc, &["create", "9000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(template_sets(&sb), ["scsi0", "boot", "ide2", "cicustom", "ciuser"]);

    // An operator swaps two steps in their copy of stdlib/vm.rhai: no recompiling.
    let sb = Sandbox::new();
    let etc = project(&sb, &[]);
    let vm = etc.parent().unwrap().join("stdlib/vm.rhai");
    let text = std::fs::read_to_string(&vm).unwrap();
    let (disks, cloud) = ("        qm::ensure_template_disks(id),\n", "        qm::ensure_template_cloud_init(id),\n");
    assert!(text.contains(&format!("{disks}{cloud}")), "vm.rhai lists the steps one per line");
    std::fs::write(&vm, text.replace(&format!("{disks}{cloud}"), &format!("{cloud}{disks}"))).unwrap();
    prepared(&sb, &etc);
    let out = sb.run(&etc, &["create", "9000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(template_sets(&sb), ["ide2", "cicustom", "ciuser", "scsi0", "boot"]);
    let state: Value = serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).unwrap()).unwrap();
    assert_eq!(state["guests"]["9000"]["config"]["template"], "1", "still a finished template");

    // And it is idempotent in the new order too: a second run changes nothing.
    sb.clear_sim_log();
    let again = sb.run(&etc, &["create", "9000"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "{:?}", sb.sim_commands());
}

const PROBE: &str = "//! Probe the host, change a file, probe again.\n//!\n//! usage: probe\n\
    let before = host::probe([\"zpool\", \"list\", \"-H\", \"-o\", \"name\"]);\n\
    file::ensure(\"/etc/phoenix-probe-test\", #{ content: \"x\\n\" });\n\
    let after = host::probe([\"zpool\", \"list\", \"-H\", \"-o\", \"name\"]);\n\
    log::info(`probe: ${before.code} ${after.code}`);\n";

#[test]
fn a_probe_is_a_read_served_once_from_the_rehearsal() {
    let sb = Sandbox::new();
    let etc = project(&sb, &[("probe", PROBE)]);
    prepared(&sb, &etc);
    let out = sb.run(&etc, &["probe"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let probes = sb.sim_commands().into_iter().filter(|(a, _)| a[..2] == ["zpool", "list"]).count();
    // Rehearsal: both probes ask the host (2). Apply: the first is the rehearsal's answer (the
    // host has not changed since), the second comes after an action, so it asks again (1).
    assert_eq!(probes, 3, "{:?}", sb.sim_commands());
}

const SCRIPT: &str = "//! Run a script of the configuration folder.\n//!\n//! usage: script\n\
    host::run_script(\"scripts/no-such-check.sh\", []);\n";

#[test]
fn a_missing_script_names_its_file_and_cause() {
    let sb = Sandbox::new();
    let etc = project(&sb, &[("script", SCRIPT)]);
    let out = sb.run(&etc, &["script"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let path = etc.join("scripts/no-such-check.sh");
    assert!(err.contains(&format!("host::run_script: cannot read {}", path.display())), "{err}");
    assert!(err.contains("caused by: No such file or directory"), "{err}");
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "nothing ran");
}
