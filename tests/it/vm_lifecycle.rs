//! The VM lifecycle end to end, through the binary on the simulator: a template built from a
//! cloud image and never started, full clones configured and started, a second run that changes
//! nothing, an exact dry-run, and drift repair.
//!
//! The configuration is the example's with the VMs cut loose from the containers (no
//! dependency on 103) and without features or NFS volumes: those belong to other modules (and
//! the simulator has no `mount`/`mountpoint` in guests yet), this file tests the VM state machine.

use crate::support::phoenix::{actions, copy_dir, stderr, summary, without_clone_mac, Sandbox};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The example configuration with VMs 9000 → 1001 → 1002 standing alone.
fn vm_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&crate::support::phoenix::root().join("etc"), &dir);
    let path = dir.join("phoenix_vm_configs.json");
    let mut vms: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for vm in vms["vms"].as_array_mut().unwrap() {
        let vm = vm.as_object_mut().unwrap();
        let deps: Vec<Value> = vm.get("dependencies").and_then(Value::as_array).cloned().unwrap_or_default();
        let deps: Vec<Value> = deps.into_iter().filter(|d| d.as_u64().is_some_and(|d| d >= 1000)).collect();
        vm.insert("dependencies".into(), Value::Array(deps));
        vm.insert("features".into(), Value::Array(Vec::new()));
        vm.insert("volumes".into(), Value::Array(Vec::new()));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&vms).unwrap()).unwrap();
    dir
}

/// A host after `setup` (pools and storages exist, no guests), with a quick guest agent.
fn prepared(sb: &Sandbox, config: &Path) {
    let out = sb.run(config, &["setup", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "setup failed: {}", stderr(&out));
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).unwrap()).unwrap();
    state["agent_ready_after_ms"] = Value::from(50);
    std::fs::write(sb.sim_state(), serde_json::to_string(&state).unwrap()).unwrap();
    sb.clear_sim_log();
}

fn sim_guest(sb: &Sandbox, id: u32) -> Value {
    let state: Value = serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).unwrap()).unwrap();
    state["guests"][id.to_string()].clone()
}

fn create(sb: &Sandbox, config: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["create", "1002", "--output", "json"];
    args.extend_from_slice(extra);
    sb.run(config, &args)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn create_builds_the_template_and_clones_then_changes_nothing() {
    let sb = Sandbox::new();
    let config = vm_config(&sb);
    prepared(&sb, &config);
    let out = create(&sb, &config, &[]);
    assert_eq!(out.status.code(), Some(0), "create failed: {}", stderr(&out));
    let done = actions(&out);

    let t = sim_guest(&sb, 9000);
    assert_eq!(t["config"]["template"], "1", "{t}");
    assert_eq!(t["status"], "stopped");
    assert_eq!(t["config"]["scsi0"], "tank-vm-disks:base-9000-disk-0,size=32G");
    assert_eq!(t["config"]["cicustom"], "vendor=local:snippets/phoenix-agent-9000.yaml");
    assert!(!done.iter().any(|a| a.contains("qm start 9000")), "a template is never started: {done:?}");

    for (id, cores, memory, disk, ip) in
        [(1001, "4", "8192", "64G", "10.20.0.50/24"), (1002, "4", "16384", "128G", "10.20.0.51/24")]
    {
        let g = sim_guest(&sb, id);
        assert_eq!(g["status"], "running", "{id}: {g}");
        let c = &g["config"];
        assert_eq!((c["cores"].as_str(), c["memory"].as_str()), (Some(cores), Some(memory)), "{id}");
        assert!(c["scsi0"].as_str().unwrap().ends_with(&format!(",size={disk}")), "{id}: {c}");
        assert_eq!(c["ipconfig0"], format!("ip={ip},gw=10.20.0.1").as_str());
        assert_eq!(c["nameserver"], "10.20.0.2");
        assert_eq!(c["searchdomain"], "lab.example.internal");
        assert_eq!(c["onboot"], "1");
        assert!(c["net0"].as_str().unwrap().ends_with(",bridge=vmbr0,firewall=1"), "{c}");
        assert!(c["sshkeys"].as_str().unwrap().starts_with("ssh-ed25519%20"), "{c}");
        assert!(c.get("template").is_none());
        // cloud-init ran the agent snippet at first boot: the agent is installed and answers.
        assert!(g["os"]["packages"].to_string().contains("qemu-guest-agent"), "{id}: agent not installed");
    }
    // The image was downloaded exactly once.
    let downloads =
        sb.sim_commands().into_iter().filter(|(argv, _)| argv.first().map(String::as_str) == Some("curl")).count();
    assert_eq!(downloads, 1);

    // A second run: nothing to do, and no mutating command reaches the host.
    sb.clear_sim_log();
    let again = create(&sb, &config, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(actions(&again), Vec::<String>::new());
    assert!(summary(&again)["unchanged"].as_u64().unwrap_or(0) > 5, "{}", summary(&again));
    let writes: Vec<_> = sb.sim_commands().into_iter().filter(|(_, m)| *m).collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[test]
fn dry_run_lists_exactly_what_apply_executes() {
    let sb = Sandbox::new();
    let config = vm_config(&sb);
    prepared(&sb, &config);
    let dry = create(&sb, &config, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "dry-run failed: {}", stderr(&dry));
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "a dry-run sent mutating commands: {:?}", sb.sim_commands());
    assert!(sim_guest(&sb, 9000).is_null(), "a dry-run created a VM");
    let planned = actions(&dry);
    assert!(planned.len() >= 15, "{planned:?}");

    let apply = create(&sb, &config, &[]);
    assert_eq!(apply.status.code(), Some(0), "apply failed: {}", stderr(&apply));
    let applied = actions(&apply).iter().map(|a| without_clone_mac(a)).collect();
    assert_eq!(sorted(planned), sorted(applied));
}

#[test]
fn drifted_cores_are_set_back_and_nothing_else() {
    let sb = Sandbox::new();
    let config = vm_config(&sb);
    prepared(&sb, &config);
    let out = create(&sb, &config, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).unwrap()).unwrap();
    state["guests"]["1001"]["config"]["cores"] = Value::from("2");
    std::fs::write(sb.sim_state(), serde_json::to_string(&state).unwrap()).unwrap();

    let dry = sb.run(&config, &["create", "1001", "--dry-run", "--output", "json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let planned = actions(&dry);
    let fix = sb.run(&config, &["create", "1001", "--output", "json"]);
    assert_eq!(fix.status.code(), Some(0), "{}", stderr(&fix));
    let done = actions(&fix);
    assert_eq!(planned, done);
    // The running VM gets the new core count in one `qm set`, then a reboot to apply it.
    assert_eq!(
        done,
        vec![
            "update vm 1001 (cores: 2 → 4) [1001] :: qm set 1001 --cores 4".to_string(),
            "run vm 1001 restart (configuration changed) [1001] :: qm reboot 1001".to_string(),
        ]
    );
    assert_eq!(sim_guest(&sb, 1001)["config"]["cores"], "4");
}
