//! Parallel equals serial: the example configuration plus 50 generated guests (random, seeded
//! dependencies; containers cloned from the base template; VMs shaped like the Portainer VM, so
//! they use `trusted_ca`, half of them without declaring a dependency on the CA guest) is set up
//! and created at `--parallel 1` and at `--parallel 8` on two simulators. The final simulator
//! states must be equal (generated MACs, clocks and start times masked), and every guest with
//! `trusted_ca` holds the CA guest's root certificate.
//!
//! What this guards: the CA guest always runs first (a feature's need is a graph edge), and a
//! read of another guest's file is never served stale from the facts cache of a run.

use crate::support::phoenix::{copy_dir, root, stderr, Sandbox};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// xorshift64: a seeded generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

const CA_GUEST: &str = "103";
const ROOT: &str = "/etc/step-ca/certs/root_ca.crt";
const TRUSTED: &str = "/usr/local/share/ca-certificates/phoenix-root-ca.crt";
/// Example guests generated guests may depend on (the CA, Traefik, the Docker host, the base).
const EXAMPLE_DEPS: [u32; 4] = [103, 102, 110, 900];

/// Up to two earlier guests, sometimes none: a random DAG (edges only point backwards).
fn random_deps(rng: &mut Rng, earlier: &[u32]) -> Vec<u32> {
    let mut deps = Vec::new();
    if !earlier.is_empty() && rng.chance(2) {
        for _ in 0..=rng.below(2) {
            let d = earlier[rng.below(earlier.len() as u64) as usize];
            if !deps.contains(&d) {
                deps.push(d);
            }
        }
    }
    if rng.chance(4) {
        let d = EXAMPLE_DEPS[rng.below(EXAMPLE_DEPS.len() as u64) as usize];
        if !deps.contains(&d) {
            deps.push(d);
        }
    }
    deps
}

/// The example configuration (etc/ with its scripts and stacks) plus 40 containers and 10 VMs.
fn generate(config: &Path, seed: u64) {
    copy_dir(&root().join("etc"), config);
    let mut rng = Rng(seed);
    let mut earlier: Vec<u32> = Vec::new();

    let lxc_path = config.join("phoenix_lxc_configs.json");
    let mut lxc: Value = serde_json::from_str(&std::fs::read_to_string(&lxc_path).expect("lxc file")).expect("json");
    let optional = ["trusted_ca", "step_cli", "docker"];
    for i in 0..40u32 {
        let id = 200 + i;
        let mut features = vec!["base_setup"];
        features.extend(optional.iter().copied().filter(|_| rng.chance(2)));
        let deps = random_deps(&mut rng, &earlier);
        lxc["lxc_configs"][id.to_string()] = json!({
            "name": format!("gen-ct{id}"),
            "memory_mb": 512,
            "cores": 1,
            "clone_from_ctid": "900",
            "storage_pool": "tank-lxc-disks",
            "storage_size_gb": 8,
            "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": format!("10.20.0.{}/24", 60 + i), "gw": "10.20.0.1"},
            "mac_address": format!("BC:24:11:30:00:{:02X}", i),
            "unprivileged": true,
            "features": features,
            "dependencies": deps.iter().map(u32::to_string).collect::<Vec<_>>(),
        });
        earlier.push(id);
    }
    std::fs::write(&lxc_path, serde_json::to_string_pretty(&lxc).expect("json")).expect("write lxc");

    let vm_path = config.join("phoenix_vm_configs.json");
    let mut vms: Value = serde_json::from_str(&std::fs::read_to_string(&vm_path).expect("vm file")).expect("json");
    for i in 0..10u32 {
        let id = 2000 + i;
        // Like the Portainer VM (1001), without its stack and NFS volume; half of them do not
        // declare the CA guest at all.
        let mut deps = random_deps(&mut rng, &earlier);
        if i % 2 == 0 {
            deps.retain(|d| *d != 103);
        } else if !deps.contains(&103) {
            deps.push(103);
        }
        let vm = json!({
            "vmid": id,
            "name": format!("gen-vm{id}"),
            "clone_from_vmid": 9000,
            "cores": 2,
            "memory_mb": 2048,
            "disk_size_gb": 32,
            "start_at_boot": true,
            "boot_order": 5,
            "dependencies": deps,
            "features": ["base_setup", "trusted_ca", "step_cli", "docker"],
            "user_config": {"username": "phoenix"},
            "network_config": {"ip": format!("10.20.0.{}/24", 100 + i), "gw": "10.20.0.1", "nameserver": "10.20.0.2"},
        });
        vms["vms"].as_array_mut().expect("vms array").push(vm);
        earlier.push(id);
    }
    std::fs::write(&vm_path, serde_json::to_string_pretty(&vms).expect("json")).expect("write vms");
}

fn state(sb: &Sandbox) -> Value {
    serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).expect("sim state")).expect("sim state JSON")
}

/// `setup`, then `create --all` at this parallelism, on a fresh simulator. Returns its state.
fn converge(config: &Path, parallel: &str) -> Value {
    let sb = Sandbox::new();
    let setup = sb.run(config, &["setup"]);
    assert!(setup.status.success(), "setup: {}", stderr(&setup));
    // VMs' guest agents answer at once: the test measures ordering, not waiting.
    let mut s = state(&sb);
    s["agent_ready_after_ms"] = json!(0);
    s["latency_ms"] = json!({});
    std::fs::write(sb.sim_state(), serde_json::to_string(&s).expect("json")).expect("write sim state");
    let create = sb.run(config, &["--parallel", parallel, "create", "--all"]);
    let out = format!("{}{}", String::from_utf8_lossy(&create.stdout), stderr(&create));
    assert!(create.status.success(), "create --all --parallel {parallel} failed:\n{out}");
    assert!(!out.contains("later run"), "a step was put off to a later run:\n{out}");
    state(&sb)
}

/// Six hex pairs separated by colons.
fn is_mac(s: &str) -> bool {
    s.len() == 17
        && s.split(':').count() == 6
        && s.split(':').all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Replaces MAC addresses inside a string (`hwaddr=…`, `virtio=…`) with a placeholder.
fn mask_macs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s.is_char_boundary(i) && i + 17 <= s.len() && s.is_char_boundary(i + 17) && is_mac(&s[i..i + 17]) {
            out.push_str("<mac>");
            i += 17;
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// What may differ between two equivalent runs: generated MACs and VM ids (`smbios1` uuid,
/// `vmgenid`), the simulated clock and what it stamps (snapshot and creation times), real start
/// times, and the order host scripts ran in.
fn mask(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                match k.as_str() {
                    "clock" | "mac_counter" | "started_at_ms" | "snaptime" | "vmgenid" | "smbios1" => {
                        *val = json!("<masked>")
                    }
                    // `creation-qemu=9.2.0,ctime=<clock>`
                    "meta" if val.as_str().is_some_and(|m| m.contains("ctime=")) => *val = json!("<masked>"),
                    _ => mask(val),
                }
            }
            if let Some(Value::Array(runs)) = map.get_mut("script_runs") {
                runs.sort_by_key(|r| r.to_string());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::String(s) => *s = mask_macs(s),
        _ => {}
    }
}

/// Paths (JSON-pointer-like) where two values differ, at most `limit`.
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                differences(x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), &format!("{at}/{k}"), out, limit);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{at}/{i}"), out, limit);
            }
        }
        _ => {
            let short = |v: &Value| v.to_string().chars().take(160).collect::<String>();
            out.push(format!("{at}: {} ≠ {}", short(a), short(b)));
        }
    }
}

/// Every declared guest with `trusted_ca`, from the generated configuration.
fn trusted_ca_guests(config: &Path) -> Vec<String> {
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(config.join(f)).expect("config file")).expect("json")
    };
    let has = |g: &Value| g["features"].as_array().is_some_and(|f| f.iter().any(|x| x == "trusted_ca"));
    let mut ids: Vec<String> = Vec::new();
    if let Some(m) = read("phoenix_lxc_configs.json")["lxc_configs"].as_object() {
        ids.extend(m.iter().filter(|(_, g)| has(g)).map(|(id, _)| id.clone()));
    }
    if let Some(a) = read("phoenix_vm_configs.json")["vms"].as_array() {
        ids.extend(a.iter().filter(|g| has(g)).map(|g| g["vmid"].to_string()));
    }
    ids
}

fn assert_every_guest_trusts_the_ca(state: &Value, guests: &[String], label: &str) {
    let root = &state["guests"][CA_GUEST]["files"][ROOT]["content"];
    assert!(
        root.as_str().is_some_and(|r| r.contains("BEGIN CERTIFICATE")),
        "{label}: the CA guest has no root: {root}"
    );
    let missing: Vec<&String> =
        guests.iter().filter(|id| state["guests"][id.as_str()]["files"][TRUSTED]["content"] != *root).collect();
    assert!(missing.is_empty(), "{label}: guests without the lab root CA: {missing:?}");
}

#[test]
fn create_all_ends_the_same_at_parallel_1_and_8() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config: PathBuf = dir.path().join("etc");
    generate(&config, 0x5eed_0012);
    let trusted = trusted_ca_guests(&config);
    assert!(trusted.len() >= 20, "the generated inventory uses trusted_ca widely: {trusted:?}");

    let mut serial = converge(&config, "1");
    let mut parallel = converge(&config, "8");
    assert_every_guest_trusts_the_ca(&serial, &trusted, "--parallel 1");
    assert_every_guest_trusts_the_ca(&parallel, &trusted, "--parallel 8");
    assert_eq!(serial["guests"].as_object().map(|g| g.len()), Some(61), "every guest was created");

    mask(&mut serial);
    mask(&mut parallel);
    let mut diff = Vec::new();
    differences(&serial, &parallel, "", &mut diff, 40);
    assert!(diff.is_empty(), "the states differ (--parallel 1 ≠ --parallel 8):\n{}", diff.join("\n"));
}
