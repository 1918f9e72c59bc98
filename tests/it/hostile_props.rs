//! Property: a hostile string put into any configuration field that reaches a command or a
//! generated file is EITHER refused before phoenix touches the host (the configuration check:
//! exit 2, not one simulator command) OR it arrives exactly as data — the argv element or the
//! field of the generated file parses back to the value, and the file has exactly the lines,
//! rules and properties it has without the hostile value.
//!
//! "Refused by check" is decided twice and the two must agree: in process by
//! `phoenix::inventory::load` (what `phoenix check` runs on the configuration), and end to end
//! by the binary refusing the run with exit 2 before its first simulator command. A field that
//! check accepts and a builder then refuses at run time fails the property: configuration
//! validation must refuse such a value up front.
//!
//! One small configuration (the example host, one container 200 with a mount point, a firewall
//! rule and an AppArmor profile); host fields run `setup`, guest fields `create 200` on a
//! simulator state that `setup` already built.

use crate::support::phoenix::{copy_dir, root, Sandbox};
use phoenix::facts::firewall::parse_firewall;
use phoenix::facts::guest_config::percent_decode;
use phoenix::facts::propstring::{lxc_mount, lxc_net, vm_net};
use phoenix::generate::exports::parse_exports_line;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const CT: &str = "200";
const VM: &str = "300";

/// Every field under test: where it is in the configuration, and where it must come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Hostname,
    Bridge,
    Nameserver,
    Storage,
    MountHost,
    MountContainer,
    ApparmorProfile,
    LxcOption,
    GuestFwComment,
    GuestFwSource,
    HostFwComment,
    HostFwDport,
    HostFwProto,
    NfsPath,
    NfsClient,
    NfsOption,
    VmName,
    VmUser,
    VmBridge,
    VmNameserver,
    VmNfsPath,
    VmNfsMountPoint,
    SshKey,
}

const FIELDS: [Field; 23] = [
    Field::Hostname,
    Field::Bridge,
    Field::Nameserver,
    Field::Storage,
    Field::MountHost,
    Field::MountContainer,
    Field::ApparmorProfile,
    Field::LxcOption,
    Field::GuestFwComment,
    Field::GuestFwSource,
    Field::HostFwComment,
    Field::HostFwDport,
    Field::HostFwProto,
    Field::NfsPath,
    Field::NfsClient,
    Field::NfsOption,
    Field::VmName,
    Field::VmUser,
    Field::VmBridge,
    Field::VmNameserver,
    Field::VmNfsPath,
    Field::VmNfsMountPoint,
    Field::SshKey,
];

impl Field {
    fn on_vm(self) -> bool {
        matches!(
            self,
            Field::VmName
                | Field::VmUser
                | Field::VmBridge
                | Field::VmNameserver
                | Field::VmNfsPath
                | Field::VmNfsMountPoint
                | Field::SshKey
        )
    }

    fn on_host(self) -> bool {
        matches!(
            self,
            Field::HostFwComment
                | Field::HostFwDport
                | Field::HostFwProto
                | Field::NfsPath
                | Field::NfsClient
                | Field::NfsOption
        )
    }

    /// Put `v` into the field of the parsed configuration files.
    fn set(self, hv: &mut Value, lxc: &mut Value, vms: &mut Value, v: &str) {
        let ct = &mut lxc["lxc_configs"][CT];
        let vm = &mut vms["vms"][1];
        match self {
            Field::VmName => vm["name"] = v.into(),
            Field::VmUser => vm["user_config"]["username"] = v.into(),
            Field::VmBridge => vm["network_bridge"] = v.into(),
            Field::VmNameserver => vm["network_config"]["nameserver"] = v.into(),
            Field::VmNfsPath => vm["volumes"][0]["path"] = v.into(),
            Field::VmNfsMountPoint => vm["volumes"][0]["mount_point"] = v.into(),
            Field::SshKey => hv["users"]["ssh_public_key"] = v.into(),
            Field::Hostname => ct["name"] = v.into(),
            Field::Bridge => ct["network_config"]["bridge"] = v.into(),
            Field::Nameserver => ct["network_config"]["nameservers"] = v.into(),
            Field::Storage => {
                // The storage is declared too (setup makes it from the lxc-disks dataset), so a
                // value check accepts can exist on the host.
                ct["storage_pool"] = v.into();
                hv["proxmox_storage_ids"] = json!({ "tank_lxc_disks": v });
            }
            Field::MountHost => ct["mount_points"][0]["host_path"] = v.into(),
            Field::MountContainer => ct["mount_points"][0]["container_path"] = v.into(),
            Field::ApparmorProfile => ct["apparmor_profile"] = v.into(),
            Field::LxcOption => ct["lxc_options"] = json!([format!("lxc.environment: {v}")]),
            Field::GuestFwComment => ct["firewall"]["rules"][0]["comment"] = v.into(),
            Field::GuestFwSource => ct["firewall"]["rules"][0]["source"] = v.into(),
            Field::HostFwComment => hv["firewall"]["global_firewall_rules"][0]["comment"] = v.into(),
            Field::HostFwDport => hv["firewall"]["global_firewall_rules"][0]["dport"] = v.into(),
            Field::HostFwProto => hv["firewall"]["global_firewall_rules"][0]["proto"] = v.into(),
            Field::NfsPath => hv["nfs"]["exports"][0]["path"] = v.into(),
            Field::NfsClient => hv["nfs"]["exports"][0]["clients"][0] = v.into(),
            Field::NfsOption => hv["nfs"]["exports"][0]["options"][0] = v.into(),
        }
    }
}

/// Pieces hostile strings are made of: the separators of every format phoenix writes, shell
/// syntax, traversal, control characters, a terminal escape, non-ASCII.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\n",
        "\r",
        ",",
        "=",
        ";",
        "#",
        "(",
        ")",
        " ",
        "$(id)",
        "`id`",
        "\"",
        "'",
        "..",
        "é",
        "\u{1b}[31m",
        "\t",
        ":",
        "/",
        "-",
        "a",
        "x1",
        "mp=/",
        "IN ACCEPT",
        "*",
        "\\",
        "[RULES]",
        "lxc.cap.drop: ",
    ])
}

fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..6).prop_map(|p| p.concat())
}

struct Fixture {
    dir: tempfile::TempDir,
    /// The simulator state after `setup` and the VM template 9000 of the clean configuration.
    after_setup: PathBuf,
    hv: Value,
    lxc: Value,
    vms: Value,
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write");
}

fn clean_config(dir: &Path) -> (Value, Value, Value) {
    copy_dir(&root().join("etc"), dir);
    let hv = read_json(&dir.join("phoenix_hypervisor_config.json"));
    let mut lxc = read_json(&dir.join("phoenix_lxc_configs.json"));
    lxc["lxc_configs"] = json!({ CT: {
        "name": "hostile",
        "memory_mb": 512,
        "cores": 1,
        "template": "/var/lib/vz/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        "storage_pool": "tank-lxc-disks",
        "storage_size_gb": 8,
        "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": "10.20.0.200/24", "gw": "10.20.0.1", "nameservers": "10.20.0.2"},
        "unprivileged": true,
        "features": [],
        "mount_points": [{"host_path": "/tank/lxc-persistent-data/200/data", "container_path": "/data"}],
        "apparmor_profile": "unconfined",
        "firewall": {"enabled": true, "rules": [
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "source": "10.20.0.0/24", "comment": "ssh"}
        ]}
    }});
    write_json(&dir.join("phoenix_lxc_configs.json"), &lxc);
    let mut vms = read_json(&dir.join("phoenix_vm_configs.json"));
    let template = vms["vms"][0].clone();
    assert_eq!(template["vmid"], 9000, "the example's first VM is the template");
    vms["vms"] = json!([template, {
        "vmid": 300,
        "name": "hostile-vm",
        "clone_from_vmid": 9000,
        "cores": 1,
        "memory_mb": 1024,
        "features": [],
        "user_config": {"username": "phoenix"},
        "network_bridge": "vmbr0",
        "network_config": {"ip": "10.20.0.230/24", "gw": "10.20.0.1", "nameserver": "10.20.0.2"},
        "volumes": [{"type": "nfs", "name": "data", "path": "/tank/vm-persistent-data/300", "mount_point": "/data", "server": "10.20.0.2"}]
    }]);
    write_json(&dir.join("phoenix_vm_configs.json"), &vms);
    (hv, lxc, vms)
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("etc");
        let (hv, lxc, vms) = clean_config(&cfg);
        let sb = Sandbox::new();
        for args in [&["setup"][..], &["create", "9000"][..]] {
            let out = sb.run(&cfg, args);
            assert_eq!(out.status.code(), Some(0), "clean {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        // The simulated guest agent answers at once: the tests wait for nothing.
        let mut state = read_json(&sb.sim_state());
        state["agent_ready_after_ms"] = 0.into();
        let after_setup = dir.path().join("after-setup.json");
        write_json(&after_setup, &state);
        Fixture { dir, after_setup, hv, lxc, vms }
    })
}

/// What the simulator holds after a run: its files and guests.
fn sim_state(sb: &Sandbox) -> Value {
    read_json(&sb.sim_state())
}

fn sim_file(state: &Value, path: &str) -> Option<String> {
    state["files"][path]["content"].as_str().map(str::to_string)
}

/// The argv element right after `flag` in any command of the run.
fn arg_after(cmds: &[(Vec<String>, bool)], flag: &str) -> Option<String> {
    cmds.iter().find_map(|(argv, _)| argv.iter().position(|a| a == flag).and_then(|i| argv.get(i + 1)).cloned())
}

fn mount_arg(cmds: &[(Vec<String>, bool)]) -> Option<String> {
    cmds.iter().find_map(|(argv, _)| {
        let i = argv.iter().position(|a| a.len() > 3 && a.starts_with("--mp") && a[4..].parse::<u8>().is_ok())?;
        argv.get(i + 1).cloned()
    })
}

/// The lines of phoenix's block in /etc/exports.
fn export_lines(state: &Value) -> Vec<String> {
    let text = sim_file(state, "/etc/exports").unwrap_or_default();
    text.lines()
        .skip_while(|l| !l.starts_with("# BEGIN phoenix"))
        .skip(1)
        .take_while(|l| !l.starts_with("# END phoenix"))
        .map(str::to_string)
        .collect()
}

/// Check that `v` came out of the run in exactly its field, with the structure unchanged.
fn round_trips(field: Field, v: &str, sb: &Sandbox, hv: &Value) -> Result<(), String> {
    let cmds = sb.sim_commands();
    let state = sim_state(sb);
    // An lxc option is `key: value` text: blanks around the value are not part of it.
    let v = if field == Field::LxcOption { v.trim() } else { v };
    let eq = |what: &str, got: Option<&str>| -> Result<(), String> {
        if got == Some(v) {
            Ok(())
        } else {
            Err(format!("{what}: expected {v:?}, found {got:?}"))
        }
    };
    let vm_conf = |k: &str| state["guests"][VM]["config"][k].as_str().map(str::to_string);
    match field {
        Field::VmName => eq("--name", arg_after(&cmds, "--name").as_deref()),
        Field::VmUser => eq("ciuser", vm_conf("ciuser").as_deref()),
        // A blank nameserver is none: the host's resolvers are used instead.
        Field::VmNameserver if v.trim().is_empty() => match vm_conf("nameserver") {
            Some(ns) if ns != v && !ns.trim().is_empty() => Ok(()),
            other => Err(format!("a blank nameserver gave {other:?}, not the host's resolvers")),
        },
        Field::VmNameserver => eq("nameserver", vm_conf("nameserver").as_deref()),
        Field::VmBridge => {
            let net0 = vm_conf("net0").ok_or("the VM has no net0")?;
            let p = vm_net(&net0).map_err(|e| format!("net0 {net0:?} does not parse: {e}"))?;
            if p.len() != 3 {
                return Err(format!("net0 {net0:?} has {} properties, not 3", p.len()));
            }
            eq("net0 bridge", p.get("bridge"))
        }
        Field::SshKey => {
            // A blank key is no key: nothing is set.
            if v.trim().is_empty() {
                return match vm_conf("sshkeys") {
                    None => Ok(()),
                    Some(k) => Err(format!("a blank key set sshkeys {k:?}")),
                };
            }
            let keys = percent_decode(&vm_conf("sshkeys").ok_or("the VM has no sshkeys")?);
            if keys.lines().count() != 1 {
                return Err(format!("sshkeys holds {} lines: {keys:?}", keys.lines().count()));
            }
            // The key is stored trimmed, one per line.
            let v = v.trim();
            if keys.trim_end_matches('\n') == v {
                Ok(())
            } else {
                Err(format!("sshkeys: expected {v:?}, found {keys:?}"))
            }
        }
        Field::VmNfsPath | Field::VmNfsMountPoint => {
            let fstab = state["guests"][VM]["files"]["/etc/fstab"]["content"].as_str().unwrap_or_default();
            let lines: Vec<&str> = fstab.lines().collect();
            if lines.len() != 1 {
                return Err(format!("/etc/fstab has {} lines, not 1: {fstab:?}", lines.len()));
            }
            let words: Vec<&str> = lines[0].split_whitespace().collect();
            if words.len() != 6 {
                return Err(format!("the fstab line has {} fields, not 6: {:?}", words.len(), lines[0]));
            }
            if field == Field::VmNfsPath {
                eq("fstab device path", words[0].strip_prefix("10.20.0.2:"))
            } else {
                eq("fstab mount point", Some(words[1]))
            }
        }
        Field::Hostname => eq("--hostname", arg_after(&cmds, "--hostname").as_deref()),
        Field::Nameserver => eq("--nameserver", arg_after(&cmds, "--nameserver").as_deref()),
        Field::Storage => {
            let rootfs = arg_after(&cmds, "--rootfs").unwrap_or_default();
            eq("--rootfs storage", rootfs.strip_suffix(":8"))
        }
        Field::Bridge => {
            let net0 = arg_after(&cmds, "--net0").ok_or("no --net0")?;
            let p = lxc_net(&net0).map_err(|e| format!("--net0 {net0:?} does not parse: {e}"))?;
            if p.len() != 6 {
                return Err(format!("--net0 {net0:?} has {} properties, not 6", p.len()));
            }
            eq("net0 bridge", p.get("bridge"))
        }
        Field::MountHost | Field::MountContainer => {
            let mp = mount_arg(&cmds).ok_or("no --mpN")?;
            let p = lxc_mount(&mp, false).map_err(|e| format!("--mpN {mp:?} does not parse: {e}"))?;
            if p.len() != 2 {
                return Err(format!("--mpN {mp:?} has {} properties, not 2", p.len()));
            }
            if field == Field::MountHost {
                eq("mount volume", p.get("volume"))
            } else {
                eq("mount mp", p.get("mp"))
            }
        }
        Field::ApparmorProfile | Field::LxcOption => {
            let lines = state["guests"][CT]["lxc"].as_array().cloned().unwrap_or_default();
            let key = if field == Field::ApparmorProfile { "lxc.apparmor.profile" } else { "lxc.environment" };
            let expected_lines = if field == Field::ApparmorProfile { 1 } else { 2 };
            if lines.len() != expected_lines {
                return Err(format!("the conf has {} lxc lines, not {expected_lines}: {lines:?}", lines.len()));
            }
            let hit = lines.iter().find(|l| l[0] == key).and_then(|l| l[1].as_str());
            eq(key, hit)
        }
        Field::GuestFwComment | Field::GuestFwSource => {
            let text = sim_file(&state, &format!("/etc/pve/firewall/{CT}.fw")).ok_or("no guest .fw written")?;
            let fw = parse_firewall(&text).map_err(|e| format!("{CT}.fw does not parse: {e}\n{text}"))?;
            if fw.rules.len() != 1 || fw.options.len() != 1 {
                return Err(format!("{CT}.fw has {} rules and {} options:\n{text}", fw.rules.len(), fw.options.len()));
            }
            let r = &fw.rules[0];
            if field == Field::GuestFwComment {
                // phoenix marks its guest rules by their comment (`phoenix: <declared>`).
                eq("rule comment", r.comment.as_deref().and_then(|c| c.strip_prefix("phoenix: ")))
            } else {
                eq("rule source", r.source.as_deref())
            }
        }
        Field::HostFwComment | Field::HostFwDport | Field::HostFwProto => {
            let text = sim_file(&state, "/etc/pve/firewall/cluster.fw").ok_or("no cluster.fw written")?;
            let fw = parse_firewall(&text).map_err(|e| format!("cluster.fw does not parse: {e}\n{text}"))?;
            let want = hv["firewall"]["global_firewall_rules"].as_array().map_or(0, Vec::len);
            // The host rules live in phoenix's security group, applied by one GROUP line.
            let rules = fw.groups.get("phoenix-host").map(|g| g.rules.clone()).unwrap_or_default();
            if rules.len() != want || fw.rules.len() != 1 {
                return Err(format!(
                    "cluster.fw has {} group rules (not {want}), {} rules:\n{text}",
                    rules.len(),
                    fw.rules.len()
                ));
            }
            let r = &rules[0];
            match field {
                Field::HostFwComment => eq("rule comment", r.comment.as_deref()),
                Field::HostFwDport => eq("rule dport", r.dport.as_deref()),
                _ => eq("rule proto", r.proto.as_deref()),
            }
        }
        Field::NfsPath | Field::NfsClient | Field::NfsOption => {
            let lines = export_lines(&state);
            let want = hv["nfs"]["exports"].as_array().map_or(0, Vec::len);
            if lines.len() != want {
                return Err(format!("/etc/exports has {} phoenix lines, not {want}: {lines:?}", lines.len()));
            }
            let (path, clients) = parse_exports_line(&lines[0]).ok_or_else(|| format!("unreadable {:?}", lines[0]))?;
            if clients.len() != 1 {
                return Err(format!("{:?} has {} clients, not 1", lines[0], clients.len()));
            }
            let declared_opts = hv["nfs"]["exports"][0]["options"].as_array().map_or(0, Vec::len);
            if clients[0].1.len() != declared_opts {
                return Err(format!("{:?} has {} options, not {declared_opts}", lines[0], clients[0].1.len()));
            }
            match field {
                Field::NfsPath => eq("export path", Some(&path)),
                Field::NfsClient => eq("export client", Some(&clients[0].0)),
                _ => eq("export option", clients[0].1.first().map(String::as_str)),
            }
        }
    }
}

/// How one hostile value fared.
#[derive(Debug)]
enum Outcome {
    /// Refused before phoenix touched the host (exit 2, not one simulator command).
    RefusedUpFront,
    /// Accepted, and it came out exactly as data in its field.
    RoundTrip,
    /// Accepted by check, refused at run time by a builder or an op, and nothing holding the
    /// value was sent or written. Safe, but validation should have refused it up front. The
    /// text (what the run said) is read through `Debug` in failure messages.
    #[allow(dead_code)]
    RefusedAtRunTime(String),
    /// Accepted and written wrongly, or a refusal that still let the value through.
    Broken(String),
}

/// Whether `v` is distinctive enough to look for in every command and file without matching
/// ordinary text by chance.
fn traceable(v: &str) -> bool {
    v.chars().count() >= 3 && v.chars().any(|c| c.is_control() || ",=;#()$`\"' \\*".contains(c))
}

fn leaked(v: &str, sb: &Sandbox) -> Option<String> {
    if !traceable(v) {
        return None;
    }
    if let Some((argv, _)) = sb.sim_commands().into_iter().find(|(argv, _)| argv.iter().any(|a| a.contains(v))) {
        return Some(format!("sent in {argv:?}"));
    }
    let state = std::fs::read_to_string(sb.sim_state()).unwrap_or_default();
    let as_json = serde_json::to_string(v).unwrap_or_default();
    let needle = as_json.trim_matches('"');
    state.contains(needle).then(|| "written into the simulator's state".to_string())
}

fn run_case(field: Field, v: &str) -> Outcome {
    let fx = fixture();
    let sb = Sandbox::new();
    let cfg = sb.dir.path().join("etc");
    copy_dir(&fx.dir.path().join("etc"), &cfg);
    let (mut hv, mut lxc, mut vms) = (fx.hv.clone(), fx.lxc.clone(), fx.vms.clone());
    field.set(&mut hv, &mut lxc, &mut vms, v);
    write_json(&cfg.join("phoenix_hypervisor_config.json"), &hv);
    write_json(&cfg.join("phoenix_lxc_configs.json"), &lxc);
    write_json(&cfg.join("phoenix_vm_configs.json"), &vms);

    let checked = phoenix::inventory::load(&cfg);
    let setup: &[&str] = &["setup", "--output", "json"];
    let create: &[&str] = &["create", if field.on_vm() { VM } else { CT }, "--output", "json"];
    let runs: Vec<&[&str]> = if field.on_host() {
        vec![setup]
    } else if field == Field::Storage {
        vec![setup, create]
    } else {
        std::fs::copy(&fx.after_setup, sb.sim_state()).expect("copy sim state");
        vec![create]
    };
    let mut out = sb.run(&cfg, runs[0]);
    // Refused up front means: the first run sent nothing at all.
    let first_sent_nothing = sb.sim_commands().is_empty();
    for args in &runs[1..] {
        if out.status.code() != Some(0) {
            break;
        }
        out = sb.run(&cfg, args);
    }
    let code = out.status.code();
    let cmds = if first_sent_nothing { Vec::new() } else { sb.sim_commands() };
    // What the run said about it: stderr and the failure events.
    let said = || {
        let events: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"failed\"") || l.contains("\"error\""))
            .map(str::to_string)
            .collect();
        format!("{}{}", String::from_utf8_lossy(&out.stderr), events.join("\n"))
    };
    match checked {
        Err(_) if code == Some(2) && cmds.is_empty() => Outcome::RefusedUpFront,
        Err(_) => Outcome::Broken(format!("check refused it but the run exited {code:?} after {cmds:?}")),
        Ok(_) if code == Some(2) && cmds.is_empty() => Outcome::RefusedUpFront,
        Ok(_) if code == Some(0) => match round_trips(field, v, &sb, &hv) {
            Ok(()) => Outcome::RoundTrip,
            Err(e) => Outcome::Broken(e),
        },
        Ok(_) => match leaked(v, &sb) {
            Some(where_) => Outcome::Broken(format!("refused at run time, yet {where_}:\n{}", said())),
            None => Outcome::RefusedAtRunTime(said()),
        },
    }
}

/// The clean configuration's own values round-trip (the oracle is sound).
const CLEAN: [(Field, &str); 23] = [
    (Field::VmName, "hostile-vm"),
    (Field::VmUser, "phoenix"),
    (Field::VmBridge, "vmbr0"),
    (Field::VmNameserver, "10.20.0.2"),
    (Field::VmNfsPath, "/tank/vm-persistent-data/300"),
    (Field::VmNfsMountPoint, "/data"),
    (Field::SshKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx7mJ2l0cQk9P4nS3vE8aYtRz5wq1Bf6uDg0hLkMpN2 op@lab"),
    (Field::Hostname, "hostile"),
    (Field::Bridge, "vmbr0"),
    (Field::Nameserver, "10.20.0.2"),
    (Field::Storage, "tank-lxc-disks"),
    (Field::MountHost, "/tank/lxc-persistent-data/200/data"),
    (Field::MountContainer, "/data"),
    (Field::ApparmorProfile, "unconfined"),
    (Field::LxcOption, "FOO=bar"),
    (Field::GuestFwComment, "ssh"),
    (Field::GuestFwSource, "10.20.0.0/24"),
    (Field::HostFwComment, "SSH from the lab LAN"),
    (Field::HostFwDport, "22"),
    (Field::HostFwProto, "tcp"),
    (Field::NfsPath, "/tank/vm-persistent-data/1001"),
    (Field::NfsClient, "10.20.0.50"),
    (Field::NfsOption, "rw"),
];

fn cases() -> u32 {
    std::env::var("PHOENIX_HOSTILE_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48)
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, max_shrink_iters: 24, ..Config::default() })
}

/// The issue's property: check refuses a hostile value, or it round-trips exactly as data. A
/// value check accepts and a builder refuses at run time fails here (validation must catch it).
#[test]
fn hostile_values_are_refused_or_round_trip_as_data() {
    for (f, v) in CLEAN {
        let o = run_case(f, v);
        assert!(matches!(o, Outcome::RoundTrip), "clean {f:?}={v:?}: {o:?}");
    }
    runner()
        .run(&(prop::sample::select(FIELDS.to_vec()), hostile()), |(field, v)| match run_case(field, &v) {
            Outcome::RefusedUpFront | Outcome::RoundTrip => Ok(()),
            other => Err(TestCaseError::fail(format!("check accepted {field:?}={v:?}: {other:?}"))),
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Defence in depth, whatever validation accepts: the builders never let a hostile value reach
/// a command or a file in a form that changes its structure — it is refused (up front or at
/// run time, with nothing holding it sent or written) or it round-trips. The one value per
/// field below is refused. Fields check accepted and only a builder refused are listed on
/// stderr (`--nocapture`): configuration validation should refuse those up front.
#[test]
fn builders_never_write_a_hostile_value_structurally() {
    let fixed: [(Field, &str); 12] = [
        (Field::VmName, "$(id)"),
        (Field::VmBridge, "vmbr0,firewall=0"),
        (Field::VmNfsMountPoint, "/data /etc nfs defaults 0 0\n10.0.0.9:/x"),
        (Field::SshKey, "ssh-ed25519 AAAA op\nssh-rsa BBBB intruder"),
        (Field::Hostname, "$(id)"),
        (Field::Bridge, "vmbr0,firewall=0"),
        (Field::MountHost, "/tank/x,mp=/"),
        (Field::MountContainer, "/data,ro=1"),
        (Field::LxcOption, "X\nlxc.cap.drop: "),
        (Field::GuestFwComment, "x\nIN ACCEPT -p tcp"),
        (Field::HostFwComment, "x\nIN ACCEPT -p tcp"),
        (Field::NfsOption, "rw\n/ *(rw,no_root_squash)"),
    ];
    for (f, v) in fixed {
        let o = run_case(f, v);
        assert!(
            matches!(o, Outcome::RefusedUpFront | Outcome::RefusedAtRunTime(_)),
            "{f:?}={v:?} must be refused: {o:?}"
        );
    }
    let late = std::sync::Mutex::new(std::collections::BTreeMap::<String, Vec<String>>::new());
    runner()
        .run(&(prop::sample::select(FIELDS.to_vec()), hostile()), |(field, v)| match run_case(field, &v) {
            Outcome::Broken(why) => Err(TestCaseError::fail(format!("{field:?}={v:?}: {why}"))),
            Outcome::RefusedAtRunTime(_) => {
                if let Ok(mut l) = late.lock() {
                    l.entry(format!("{field:?}")).or_default().push(format!("{v:?}"));
                }
                Ok(())
            }
            _ => Ok(()),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    for (field, values) in late.into_inner().unwrap_or_default() {
        eprintln!("accepted by check, refused by a builder at run time: {field}: {}", values.join(" "));
    }
}
