//! Loading whole config folders: the original's quirks load, problems are all reported.

use super::*;
use crate::graph::{EdgeReason, GuestKind};
use std::fs;

const HV: &str = r#"{
  "$schema": "./phoenix_hypervisor_config.schema.json",
  "version": "1.0",
  "domain_name": "internal.example",
  "users": {"username": "phoenix_admin", "password_hash": "NOT_SET", "sudo_access": true, "ssh_public_key": ""},
  "core_paths": {"lxc_config_file": "/x"},
  "network": {"interfaces": {"name": "vmbr0", "address": "10.0.0.13/24", "gateway": "10.0.0.1", "dns_nameservers": ["10.0.0.153"]},
              "nfs_server": "10.0.0.13", "portainer_agent_port": 9001, "portainer_server_ip": "10.0.0.111"},
  "zfs": {"arc_max_gb": 32, "pools": [{"name": "quickOS", "raid_level": "mirror", "disks": ["a", "b"]}],
          "settings": {"allow_destructive_operations": "true"},
          "datasets": [{"name": "vm-disks", "pool": "quickOS", "properties": "compression=lz4", "proxmox_storage_type": "zfspool"}]},
  "vm_defaults": {"ubuntu_release": "noble", "anything": 1},
  "proxmox_defaults": {"x": 1}, "behavior": {}, "tests": [], "step_ca": {},
  "shared_volumes": {
    "firewall": {"enabled": true, "default_input_policy": "DROP", "default_output_policy": "ACCEPT",
                 "global_firewall_rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": 443, "comment": "https"}]},
    "ssl_certs": {"host_path": "/x", "mounts": {"101": "/y"}}
  },
  "portainer_api": {"admin_user": "admin", "admin_password": {"env": "PORTAINER_PW"}, "portainer_hostname": "portainer.internal.example"}
}"#;

const LXC: &str = r#"{
  "$schema": "x",
  "nvidia_driver_version": "580.76.05",
  "lxc_configs": {
    "900": {"name": "Copy-Base", "memory_mb": 2048, "cores": 2, "template": "/t.tar.zst", "storage_pool": "lxc-disks",
            "storage_size_gb": 32, "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.200/24", "gw": "10.0.0.1"},
            "mac_address": "52:54:00:67:89:B0", "boot_order": 0, "features": ["base_setup"], "template_snapshot_name": "final-form",
            "lxc_options": ["lxc.apparmor.profile=unconfined"], "gpu_assignment": "none"},
    "103": {"name": "Step-CA", "memory_mb": 1024, "cores": 1, "clone_from_ctid": "900", "storage_pool": "lxc-disks",
            "storage_size_gb": 16, "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.10/24", "gw": "10.0.0.1"},
            "dependencies": ["900"], "gpu_assignment": "0, 1", "unprivileged": "true"}
  }
}"#;

const VM: &str = r#"{
  "vm_defaults": {"template": "ubuntu", "cores": 2, "memory_mb": 4096, "disk_size_gb": 50, "storage_pool": "quickOS-vm-disks", "network_bridge": "vmbr0"},
  "vms": [
    {"vmid": 9000, "name": "ubuntu-template", "is_template": true, "network_config": {"ip": "dhcp"}},
    {"vmid": "1001", "name": "Portainer", "clone_from_vmid": 9000, "cores": 4, "dependencies": ["103", 900],
     "network_config": {"ip": "10.0.0.111/24", "gw": "10.0.0.1"}, "docker_stacks": ["web", {"name": "db", "environment": "production"}]}
  ]
}"#;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn folder(hv: &str, lxc: &str, vm: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    write(&etc, HYPERVISOR_FILE, hv);
    write(&etc, LXC_FILE, lxc);
    write(&etc, VM_FILE, vm);
    for name in ["web", "db"] {
        write(&etc, &format!("stacks/{name}/docker-compose.yml"), "services: {}\n");
        write(
            &etc,
            &format!("stacks/{name}/phoenix.json"),
            r#"{"description": "d", "environments": {"production": {"variables": [{"name": "DB_PASS", "value": {"env": "DBP"}}, {"name": "PORT", "value": 80}]}}}"#,
        );
    }
    dir
}

fn messages(e: &ConfigErrors) -> Vec<String> {
    e.problems.iter().filter(|p| p.is_error()).map(|p| p.message.clone()).collect()
}

#[test]
fn minimal_config_with_quirks_loads() {
    let dir = folder(HV, LXC, VM);
    let inv = load(&dir.path().join("etc")).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(inv.guest_ids(), vec![900, 103, 9000, 1001]);
    let ct = &inv.lxc.guests[&103];
    assert_eq!(ct.clone_from_ctid, Some(900));
    assert_eq!(ct.dependencies, vec![900]);
    assert_eq!(ct.gpu_assignment, vec![0, 1]);
    assert_eq!(ct.unprivileged, Some(true));
    assert!(ct.template.is_none());
    assert_eq!(inv.lxc.guests[&900].lxc_options, vec!["lxc.apparmor.profile=unconfined"]);
    let vm = &inv.vm.guests[&1001];
    assert_eq!(vm.dependencies, vec![103, 900]);
    assert_eq!((vm.cores, vm.memory_mb), (Some(4), Some(4096)), "VM defaults fill gaps");
    assert_eq!(vm.docker_stacks[0].name, "web");
    assert_eq!(vm.docker_stacks[1].environment.as_deref(), Some("production"));
    assert_eq!(inv.vm.guests[&9000].network_config.as_ref().unwrap().ip, "dhcp");
    let fw = inv.hypervisor.firewall.as_ref().unwrap();
    assert_eq!(fw.global_firewall_rules[0].dport.as_deref(), Some("443"));
    assert_eq!(inv.stacks.keys().collect::<Vec<_>>(), vec!["db", "web"]);
    // Two quoted booleans, nothing else.
    assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);

    let g = inv.guest(1001).unwrap();
    assert_eq!(g.kind(), GuestKind::Vm);
    assert_eq!(g.clone_source(), Some(9000));
    assert!(inv.guest(9000).unwrap().is_template());
    let nodes = inv.graph_nodes();
    let n = nodes.iter().find(|n| n.id == 1001).unwrap();
    assert_eq!(
        n.edges,
        vec![(9000, EdgeReason::CloneSource), (103, EdgeReason::Dependency), (900, EdgeReason::Dependency)]
    );

    // Serialized with the original names and masked secrets.
    let json = serde_json::to_value(&inv).unwrap();
    assert_eq!(json["lxc"]["lxc_configs"]["103"]["name"], "Step-CA");
    assert_eq!(json["hypervisor"]["portainer_api"]["admin_password"]["env"], "PORTAINER_PW");
}

#[test]
fn firewall_at_top_level_loads() {
    let hv = HV
        .replace(r#""shared_volumes": {"#, r#""firewall": {"enabled": false}, "shared_volumes": {"unused": 1,"#)
        .replace(r#""firewall": {"enabled": true"#, r#""ignored": {"enabled": true"#);
    let dir = folder(&hv, LXC, VM);
    let inv = load(&dir.path().join("etc")).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert!(!inv.hypervisor.firewall.as_ref().unwrap().enabled);
}

#[test]
fn literal_secrets_warn_and_stay_masked() {
    let hv = HV.replace(r#"{"env": "PORTAINER_PW"}"#, r#""Hunter2!""#);
    let dir = folder(&hv, LXC, VM);
    let inv = load(&dir.path().join("etc")).unwrap_or_else(|e| panic!("{}", render(&e)));
    let w: Vec<_> = inv.warnings.iter().filter(|w| w.message.contains("plain text")).collect();
    assert_eq!(w.len(), 1);
    let rendered = render(w[0]);
    assert!(rendered.contains("{\"env\": \"NAME\"}"), "{rendered}");
    let json = serde_json::to_string(&inv).unwrap();
    assert!(!json.contains("Hunter2!"));
    assert!(!format!("{inv:?}").contains("Hunter2!"));
}

#[test]
fn many_problems_in_one_run() {
    let lxc =
        LXC.replace(r#""cores": 1"#, r#""corse": 1"#).replace(r#""ip": "10.0.0.10/24""#, r#""ip": "10.0.0.200/24""#);
    let vm = VM.replace(r#""clone_from_vmid": 9000"#, r#""clone_from_vmid": 900"#).replace(r#""web""#, r#""wbe""#);
    let dir = folder(HV, &lxc, &vm);
    let err = load(&dir.path().join("etc")).unwrap_err();
    let m = messages(&err);
    let corse = err.problems.iter().find(|p| p.message.contains("unknown key `corse`")).unwrap();
    assert!(corse.help.as_deref().unwrap().contains("`cores` is required and missing"));
    assert!(m.iter().any(|m| m.contains("is cloned from 900, which is a container")), "{m:?}");
    assert!(m.iter().any(|m| m.contains("stack `wbe`")), "{m:?}");
    assert_eq!(err.error_count(), 3, "{m:?}");
}

#[test]
fn duplicate_ip_is_reported_when_guest_decodes() {
    let lxc = LXC.replace(r#""ip": "10.0.0.10/24""#, r#""ip": "10.0.0.200/24""#);
    let dir = folder(HV, &lxc, VM);
    let err = load(&dir.path().join("etc")).unwrap_err();
    let m = messages(&err);
    assert_eq!(m, vec!["IP address 10.0.0.200 of container 103 is already used by container 900"]);
}

#[test]
fn cycles_report_the_whole_path() {
    let lxc = LXC.replace(r#""dependencies": ["900"]"#, r#""dependencies": ["1001"]"#);
    let dir = folder(HV, &lxc, VM);
    let err = load(&dir.path().join("etc")).unwrap_err();
    assert_eq!(messages(&err), vec!["dependency cycle: 103 → 1001 → 103"]);
}

#[test]
fn missing_files_name_their_path_and_garbage_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path()).unwrap_err();
    assert_eq!(err.problems.len(), 3);
    assert!(err.problems[0].message.contains(HYPERVISOR_FILE));
    for junk in ["", "null", "[]", "{\"lxc_configs\": 5}", "{\"vms\": {}}", "\u{0}\u{1}", "1e400", "{\"a\":"] {
        let d = folder(junk, junk, junk);
        let e = load(&d.path().join("etc")).unwrap_err();
        assert!(e.error_count() > 0, "{junk:?}");
        let _ = render(&e);
    }
}

#[test]
fn a_guest_declared_twice_is_refused_with_both_places() {
    let lxc = LXC.replace(r#""103": {"#, r#""900": {"#);
    let dir = folder(HV, &lxc, VM);
    let err = load(&dir.path().join("etc")).unwrap_err();
    let dup = err.problems.iter().find(|p| p.message == "container 900 is declared twice").expect("duplicate reported");
    let text = fs::read_to_string(dir.path().join("etc").join(LXC_FILE)).unwrap();
    let second = dup.span.unwrap();
    let (first, label) = dup.also.clone().expect("the first declaration is shown too");
    assert_eq!(label, "first declaration");
    assert_eq!(&text[first.offset()..first.offset() + first.len()], "\"900\"");
    assert_eq!(&text[second.offset()..second.offset() + second.len()], "\"900\"");
    assert!(first.offset() < second.offset());
}

#[test]
fn literal_secrets_are_masked_in_every_snippet() {
    // A second problem on the line after the secret shows it as context: masked too.
    let hv = HV
        .replace(r#"{"env": "PORTAINER_PW"}"#, r#""Hunter2!""#)
        .replace(r#""portainer_hostname": "portainer.internal.example""#, r#""portainer_hostname": "bad host""#);
    let dir = folder(&hv, LXC, VM);
    let err = load(&dir.path().join("etc")).unwrap_err();
    let out = render(&err);
    assert!(out.contains("portainer_hostname"), "{out}");
    assert!(out.contains("********"), "{out}");
    assert!(!out.contains("Hunter2!"), "{out}");
}

#[test]
fn values_in_messages_are_named_escaped_and_cut() {
    let long = format!("{}\\u001b[2J", "x".repeat(100));
    let lxc = LXC.replace(r#""features": ["base_setup"]"#, &format!(r#""features": ["{long}"]"#));
    let dir = folder(HV, &lxc, VM);
    let err = load(&dir.path().join("etc")).unwrap_err();
    let out = render(&err);
    assert!(out.contains("escape character (\\x1b)"), "{out}");
    assert!(!out.contains('\u{1b}'), "no raw escape reaches the terminal: {out}");

    // Features are checked against the registry after loading (inventory::features); a long
    // host name is refused while loading.
    let lxc = LXC.replace(r#""name": "Step-CA""#, &format!(r#""name": "{}""#, "y".repeat(5000)));
    let dir = folder(HV, &lxc, VM);
    let err = load(&dir.path().join("etc")).unwrap_err();
    let out = render(&err);
    assert!(out.contains("`lxc_configs.103.name` is not a valid DNS name"), "{out}");
    assert!(!out.contains(&"y".repeat(200)), "the excerpt is cut: {out}");
    assert!(out.len() < 5000, "the value is never printed whole: {} bytes", out.len());
}
