//! Guest configuration as a real Proxmox host applies it, proven through the binary on the
//! simulator (issue 7, defects 4, 5, 7, 8, 10): the simulator does what qemu-server and
//! pve-container do — a new MAC for a NIC value without one, `cicustom user=` replacing the
//! generated user-data, hostname and nameserver applied at the next start, `lxc.*` lines taken
//! verbatim, the per-guest config lock — and each test shows phoenix coping with it.

use crate::support::phoenix::{actions, copy_dir, ok, root, run, sim, stderr, Sandbox};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn edit_sim(sb: &Sandbox, f: impl FnOnce(&mut Value)) {
    let mut s = sim(sb);
    f(&mut s);
    std::fs::write(sb.sim_state(), serde_json::to_string_pretty(&s).unwrap()).unwrap();
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// The example's VMs 9000 → 1001 standing alone (no features, volumes, containers).
fn vm_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    edit_json(&dir.join("phoenix_vm_configs.json"), |vms| {
        let list = vms["vms"].as_array_mut().unwrap();
        list.retain(|vm| [9000, 1001].contains(&vm["vmid"].as_u64().unwrap()));
        for vm in list {
            vm["dependencies"] = json!([]);
            vm["features"] = json!([]);
            vm["volumes"] = json!([]);
        }
    });
    edit_json(&dir.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"] = json!({});
    });
    dir
}

/// The example's containers 900 → 103 alone, without features or scripts.
fn ct_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    edit_json(&dir.join("phoenix_lxc_configs.json"), |lxc| {
        let guests = lxc["lxc_configs"].as_object_mut().unwrap();
        guests.retain(|id, _| id == "900" || id == "103");
        for g in guests.values_mut() {
            let g = g.as_object_mut().unwrap();
            g.remove("application_script");
            g.remove("health_checks");
            g.insert("features".into(), json!([]));
            g.insert("dependencies".into(), json!([]));
        }
    });
    edit_json(&dir.join("phoenix_vm_configs.json"), |vm| vm["vms"] = json!([]));
    dir
}

/// `setup`, then a quick guest agent.
fn prepared(sb: &Sandbox, config: &Path) {
    ok(&run(sb, config, &["setup", "-q"]));
    edit_sim(sb, |s| s["agent_ready_after_ms"] = json!(50));
}

fn guest(sb: &Sandbox, id: u32) -> Value {
    sim(sb)["guests"][id.to_string()].clone()
}

/// The text of a file inside a simulated guest.
fn guest_file(sb: &Sandbox, id: u32, path: &str) -> Option<String> {
    guest(sb, id)["files"][path]["content"].as_str().map(str::to_string)
}

fn mac_of(net: &str) -> String {
    net.split(',')
        .find_map(|p| p.split_once('=').filter(|(_, v)| v.len() == 17 && v.contains(':')).map(|(_, v)| v.to_string()))
        .unwrap_or_else(|| panic!("no MAC in {net}"))
}

/// Defect 4: `qm set --net0 virtio,bridge=…` without the MAC makes a new NIC on a real host.
/// A drifted bridge is repaired and the VM keeps its MAC.
#[test]
fn a_vm_nic_update_keeps_its_mac() {
    let sb = Sandbox::new();
    let config = vm_config(&sb);
    prepared(&sb, &config);
    ok(&run(&sb, &config, &["create", "1001", "-q"]));
    let net = guest(&sb, 1001)["config"]["net0"].as_str().unwrap().to_string();
    let mac = mac_of(&net);
    edit_sim(&sb, |s| {
        s["guests"]["1001"]["config"]["net0"] = json!(net.replace("bridge=vmbr0", "bridge=vmbr9"));
    });
    let out = run(&sb, &config, &["create", "1001", "--output", "json"]);
    ok(&out);
    let after = guest(&sb, 1001)["config"]["net0"].as_str().unwrap().to_string();
    assert!(after.contains("bridge=vmbr0"), "bridge repaired: {after}\n{:#?}", actions(&out));
    assert_eq!(mac_of(&after), mac, "the NIC keeps its MAC: {after}");
}

/// Defect 5: `cicustom user=` would replace the generated user-data; the declared user and the
/// host user's SSH key must reach the VM's cloud-init, next to the guest-agent snippet.
#[test]
fn the_declared_user_and_key_reach_the_vms_user_data() {
    let sb = Sandbox::new();
    let config = vm_config(&sb);
    prepared(&sb, &config);
    ok(&run(&sb, &config, &["create", "1001", "-q"]));
    let user_data = guest_file(&sb, 1001, "/var/lib/cloud/instance/user-data.txt").expect("cloud-init ran");
    assert!(user_data.contains("\nuser: phoenix\n"), "{user_data}");
    assert!(user_data.contains("ssh_authorized_keys:\n  - ssh-"), "{user_data}");
    assert!(user_data.contains("hostname: portainer\n"), "{user_data}");
    let key = guest_file(&sb, 1001, "/home/phoenix/.ssh/authorized_keys").expect("key installed");
    assert!(key.starts_with("ssh-"), "{key}");
    // The guest agent still comes from phoenix's snippet (vendor-data), and answers.
    let vendor = guest_file(&sb, 1001, "/var/lib/cloud/instance/vendor-data.txt").expect("vendor-data");
    assert!(vendor.contains("qemu-guest-agent"), "{vendor}");
    assert_eq!(guest(&sb, 1001)["status"], "running");
}

/// Defect 7: a changed hostname or nameserver of a running container applies at its next start,
/// so phoenix restarts it and says why.
#[test]
fn a_hostname_change_on_a_running_container_restarts_it() {
    let sb = Sandbox::new();
    let config = ct_config(&sb);
    prepared(&sb, &config);
    ok(&run(&sb, &config, &["create", "103", "-q"]));
    assert_eq!(guest(&sb, 103)["status"], "running");
    assert_eq!(guest_file(&sb, 103, "/etc/hostname").as_deref(), Some("step-ca\n"));
    edit_json(&config.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["103"]["name"] = json!("step-ca-2");
        lxc["lxc_configs"]["103"]["network_config"]["nameservers"] = json!("10.20.0.3");
    });
    let out = run(&sb, &config, &["create", "103", "--output", "json"]);
    ok(&out);
    let done = actions(&out);
    assert!(
        done.iter().any(|a| a.contains("restart") && a.contains("hostname") && a.contains("nameserver")),
        "a restart naming its reason: {done:#?}"
    );
    assert_eq!(guest_file(&sb, 103, "/etc/hostname").as_deref(), Some("step-ca-2\n"));
    let resolv = guest_file(&sb, 103, "/etc/resolv.conf").unwrap_or_default();
    assert!(resolv.contains("nameserver 10.20.0.3\n"), "{resolv}");
    // Converged: a second run changes nothing and restarts nothing.
    let again = run(&sb, &config, &["create", "103", "--output", "json"]);
    ok(&again);
    assert!(actions(&again).is_empty(), "{:#?}", actions(&again));
}

/// Defect 8: a raw `lxc.*` value holding `=` or `:` reaches the conf file verbatim.
#[test]
fn raw_lxc_lines_are_written_verbatim() {
    let sb = Sandbox::new();
    let config = ct_config(&sb);
    prepared(&sb, &config);
    edit_json(&config.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["103"]["lxc_options"] = json!([
            "lxc.mount.entry: /dev/x dev/x none bind,optional,create=dir",
            "lxc.mount.entry = /dev/y dev/y none bind,optional,create=file",
            "lxc.cgroup2.devices.allow: c 195:* rwm"
        ]);
    });
    ok(&run(&sb, &config, &["create", "103", "-q"]));
    let lines: Vec<(String, String)> = serde_json::from_value(guest(&sb, 103)["lxc"].clone()).unwrap();
    for want in [
        ("lxc.mount.entry", "/dev/x dev/x none bind,optional,create=dir"),
        ("lxc.mount.entry", "/dev/y dev/y none bind,optional,create=file"),
        ("lxc.cgroup2.devices.allow", "c 195:* rwm"),
    ] {
        assert!(lines.iter().any(|(k, v)| (k.as_str(), v.as_str()) == want), "{want:?} in {lines:?}");
    }
    let again = run(&sb, &config, &["create", "103", "--output", "json"]);
    ok(&again);
    assert!(actions(&again).is_empty(), "{:#?}", actions(&again));
}

/// Defect 10: raw lines go into the conf file under pve-container's config lock (the file is
/// re-read under it), and a lock another process holds stops phoenix cleanly, as it stops
/// `pct set`, instead of losing that process's change.
#[test]
fn conf_file_edits_take_proxmoxs_config_lock() {
    let sb = Sandbox::new();
    let config = ct_config(&sb);
    prepared(&sb, &config);
    ok(&run(&sb, &config, &["create", "103", "-q"]));
    edit_json(&config.join("phoenix_lxc_configs.json"), |lxc| {
        lxc["lxc_configs"]["103"]["lxc_options"] = json!(["lxc.mount.entry: /dev/x dev/x none bind,create=dir"]);
    });
    let lock = "/run/lock/lxc/pve-config-103.lock";

    // Another process (the GUI, vzdump) holds the lock: nothing is written, the run says why.
    edit_sim(&sb, |s| s["held_locks"] = json!([lock]));
    sb.clear_sim_log();
    let out = run(&sb, &config, &["create", "103", "--output", "json"]);
    assert_ne!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("timeout while waiting to get lock"), "{said}");
    let before: Vec<(String, String)> = serde_json::from_value(guest(&sb, 103)["lxc"].clone()).unwrap();
    assert!(!before.iter().any(|(k, _)| k == "lxc.mount.entry"), "written without the lock: {before:?}");

    // Released: the line goes in, through flock on Proxmox's lock file.
    edit_sim(&sb, |s| s.as_object_mut().unwrap().remove("held_locks").map(|_| ()).unwrap_or(()));
    sb.clear_sim_log();
    ok(&run(&sb, &config, &["create", "103", "-q"]));
    let cmds = sb.sim_commands();
    let write = cmds.iter().find(|(argv, _)| argv[0] == "flock").expect("a locked write");
    assert!(write.0.contains(&lock.to_string()), "{:?}", write.0);
    assert!(
        !cmds.iter().any(|(argv, _)| argv[0] == "file.write" && argv[1] == "/etc/pve/lxc/103.conf"),
        "no unlocked write of the conf: {cmds:?}"
    );
    let lines: Vec<(String, String)> = serde_json::from_value(guest(&sb, 103)["lxc"].clone()).unwrap();
    let mut want = before.clone();
    want.push(("lxc.mount.entry".to_string(), "/dev/x dev/x none bind,create=dir".to_string()));
    assert_eq!(lines, want, "the line added, every other kept");
}
