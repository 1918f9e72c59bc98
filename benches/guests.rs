//! Guest lifecycle benchmark: a generated 50-guest inventory on the simulator with a latency per
//! command. Measures `create --all` wall time with `--parallel 8` against the critical-path bound
//! and against `--parallel 1`, and the host commands each guest costs on a converged host.
//!
//! The critical-path bound is computed from the `--parallel 1` run: each guest's own time (its
//! `guest_finished.elapsed_ms`), the longest chain of prerequisites through the graph, and the
//! total divided by 8 (eight workers cannot beat that). See benches/README.md.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PHOENIX: &str = env!("CARGO_BIN_EXE_phoenix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

type Res<T> = Result<T, String>;

/// Latency per command kind (milliseconds) on the simulated host.
fn latency() -> serde_json::Value {
    serde_json::json!({
        "pct create": 600, "pct clone": 400, "pct start": 150, "pct shutdown": 150, "pct reboot": 200,
        "pct set": 60, "pct snapshot": 100, "pct resize": 80, "pct exec": 25, "pct list": 30,
        "qm create": 400, "qm clone": 400, "qm start": 150, "qm set": 60, "qm template": 100,
        "qm disk": 200, "qm guest exec": 40, "qm agent": 20, "qm list": 30,
        "*": 5
    })
}

struct Xs(u64);
impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 45 containers (two templates: a base and a docker base cloned from it) and 5 VMs (a
/// cloud-image template and four clones), with a random dependency DAG.
fn generate(dir: &Path) -> Res<BTreeMap<u32, Vec<u32>>> {
    let w = |name: &str, v: &serde_json::Value| {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(v).unwrap_or_default()).map_err(|e| e.to_string())
    };
    let mut rng = Xs(0x5eed_2026);
    let mut edges: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut lxc = serde_json::Map::new();
    let ct = |id: u32, n: u32, clone: Option<u32>, feats: &[&str], deps: &[u32], snap: Option<&str>| {
        let mut g = serde_json::json!({
            "name": format!("ct{id}"), "memory_mb": 512, "cores": 1, "storage_pool": "tank-lxc", "storage_size_gb": 8,
            "network_config": { "name": "eth0", "bridge": "vmbr0", "ip": format!("10.30.{}.{}/16", n / 200, n % 200 + 10), "gw": "10.30.0.1" },
            "mac_address": format!("BC:24:11:30:{:02X}:{:02X}", n / 256, n % 256),
            "unprivileged": true, "start_at_boot": true, "boot_order": 5,
            "features": feats, "dependencies": deps.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        });
        match clone {
            Some(src) => g["clone_from_ctid"] = serde_json::json!(src.to_string()),
            None => {
                g["template"] =
                    serde_json::json!("/var/lib/vz/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst")
            }
        }
        if let Some(s) = snap {
            g["template_snapshot_name"] = serde_json::json!(s);
        }
        g
    };
    lxc.insert("200".into(), ct(200, 0, None, &["base_setup"], &[], Some("base")));
    lxc.insert("201".into(), ct(201, 1, Some(200), &["docker"], &[], Some("docker")));
    edges.insert(200, vec![]);
    edges.insert(201, vec![200]);
    let mut plain: Vec<u32> = Vec::new();
    for i in 0..43u32 {
        let id = 300 + i;
        let src = if rng.below(3) == 0 { 201 } else { 200 };
        let mut deps = Vec::new();
        for _ in 0..rng.below(3) {
            if !plain.is_empty() {
                let d = plain[rng.below(plain.len() as u64) as usize];
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
        }
        lxc.insert(id.to_string(), ct(id, 2 + i, Some(src), &[], &deps, None));
        let mut e = deps.clone();
        e.push(src);
        edges.insert(id, e);
        plain.push(id);
    }
    w("phoenix_lxc_configs.json", &serde_json::json!({ "lxc_configs": lxc }))?;
    let mut vms = vec![serde_json::json!({
        "vmid": 9000, "name": "tmpl", "is_template": true, "template_image": "noble-server-cloudimg-amd64.img",
        "user_config": { "username": "ops" }
    })];
    edges.insert(9000, vec![]);
    for i in 0..4u32 {
        let id = 9100 + i;
        vms.push(serde_json::json!({
            "vmid": id, "name": format!("vm{i}"), "clone_from_vmid": 9000, "cores": 2, "memory_mb": 2048,
            "start_at_boot": true, "boot_order": 8,
            "network_config": { "ip": format!("10.30.1.{}/16", 10 + i), "gw": "10.30.0.1" }
        }));
        edges.insert(id, vec![9000]);
    }
    w(
        "phoenix_vm_configs.json",
        &serde_json::json!({
            "vm_defaults": { "template": "ubuntu", "cores": 2, "memory_mb": 2048, "disk_size_gb": 16, "storage_pool": "tank-vm", "network_bridge": "vmbr0" },
            "vms": vms
        }),
    )?;
    w(
        "phoenix_hypervisor_config.json",
        &serde_json::json!({
            "domain_name": "bench.example.internal",
            "network": { "interfaces": { "name": "vmbr0", "address": "10.30.0.2/16", "gateway": "10.30.0.1", "dns_nameservers": ["10.30.0.2"] } },
            "vm_defaults": { "ubuntu_release": "noble" },
            "zfs": {
                "pools": [ { "name": "tank", "raid_level": "mirror", "disks": ["/dev/disk/by-id/nvme-a", "/dev/disk/by-id/nvme-b"] } ],
                "datasets": [
                    { "name": "lxc", "pool": "tank", "properties": "compression=lz4", "proxmox_storage_type": "zfspool", "proxmox_content_type": "rootdir" },
                    { "name": "vm", "pool": "tank", "properties": "compression=lz4", "proxmox_storage_type": "zfspool", "proxmox_content_type": "images" }
                ]
            },
            "proxmox_storage_ids": { "tank_lxc": "tank-lxc", "tank_vm": "tank-vm" }
        }),
    )?;
    Ok(edges)
}

struct Run {
    wall_ms: u128,
    elapsed: HashMap<u32, u64>,
    events: Vec<serde_json::Value>,
}

fn phoenix(cfg: &Path, state: &Path, statedir: &Path, args: &[&str]) -> Res<Run> {
    let start = Instant::now();
    let out = Command::new(PHOENIX)
        .env("PHOENIX_HOME", ROOT)
        .arg("--config-dir")
        .arg(cfg)
        .arg("--host")
        .arg(format!("sim:{}", state.display()))
        .arg("--state-dir")
        .arg(statedir)
        .args(args)
        .args(["--output", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    let wall_ms = start.elapsed().as_millis();
    if !out.status.success() {
        return Err(format!("phoenix {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let elapsed = events
        .iter()
        .filter(|e| e["event"] == "guest_finished")
        .filter_map(|e| Some((e["guest"].as_u64()? as u32, e["elapsed_ms"].as_u64()?)))
        .collect();
    Ok(Run { wall_ms, elapsed, events })
}

/// The earliest a guest can finish: its cost after the longest chain of its prerequisites.
fn finish(id: u32, e: &BTreeMap<u32, Vec<u32>>, c: &HashMap<u32, u64>, memo: &mut HashMap<u32, u64>) -> u64 {
    if let Some(v) = memo.get(&id) {
        return *v;
    }
    let before = e.get(&id).map(|ps| ps.iter().map(|p| finish(*p, e, c, memo)).max().unwrap_or(0)).unwrap_or(0);
    let v = before + c.get(&id).copied().unwrap_or(0);
    memo.insert(id, v);
    v
}

/// Longest chain of guest costs through the prerequisite graph.
fn critical_path(edges: &BTreeMap<u32, Vec<u32>>, cost: &HashMap<u32, u64>) -> u64 {
    let mut memo = HashMap::new();
    edges.keys().map(|id| finish(*id, edges, cost, &mut memo)).max().unwrap_or(0)
}

/// Time spent cloning, per clone source, from the journal-like action events of a serial run
/// (each action's share: the run is serial, so the gap between consecutive events is its cost).
fn clone_time_per_source(events: &[serde_json::Value]) -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    for e in events.iter().filter(|e| e["event"] == "action") {
        let steps = e["steps"].as_array().cloned().unwrap_or_default();
        for s in steps.iter().filter_map(|s| s.as_str()) {
            let w: Vec<&str> = s.split_whitespace().collect();
            if w.len() > 2 && (w[..2] == ["pct", "clone"] || w[..2] == ["qm", "clone"]) {
                if let Ok(src) = w[2].parse::<u32>() {
                    *out.entry(src).or_default() += clone_cost(w[0]);
                }
            }
        }
    }
    out
}

/// The simulated latency of one clone (ms), from the latency model above.
fn clone_cost(tool: &str) -> u64 {
    let key = format!("{tool} clone");
    latency()[key.as_str()].as_u64().unwrap_or(0)
}

/// Commands the simulator received, attributed to guests (by id in the argv) or to listings.
fn commands_per_guest(log: &Path, ids: &[u32]) -> Res<(BTreeMap<u32, usize>, usize, usize)> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut per: BTreeMap<u32, usize> = ids.iter().map(|i| (*i, 0)).collect();
    let (mut listings, mut other) = (0, 0);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let argv: Vec<String> = v["argv"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let joined = argv.join(" ");
        if joined == "pct list" || joined == "qm list" {
            listings += 1;
            continue;
        }
        let owner = ids.iter().find(|id| {
            let s = id.to_string();
            argv.iter().any(|a| *a == s || a.ends_with(&format!("/{s}.conf")) || a.ends_with(&format!("/{s}.fw")))
        });
        match owner {
            Some(id) => *per.entry(*id).or_default() += 1,
            None => other += 1,
        }
    }
    Ok((per, listings, other))
}

fn main() -> Res<()> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cfg = tmp.path().join("etc");
    std::fs::create_dir_all(&cfg).map_err(|e| e.to_string())?;
    let edges = generate(&cfg)?;
    let ids: Vec<u32> = edges.keys().copied().collect();

    // A host after `setup`, then the latency model switched on.
    let base = tmp.path().join("base.json");
    phoenix(&cfg, &base, &tmp.path().join("s0"), &["setup"])?;
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    state["latency_ms"] = latency();
    state["agent_ready_after_ms"] = serde_json::json!(800);
    let seeded = serde_json::to_string(&state).map_err(|e| e.to_string())?;
    let copy = |name: &str| -> Res<PathBuf> {
        let p = tmp.path().join(name);
        std::fs::write(&p, &seeded).map_err(|e| e.to_string())?;
        Ok(p)
    };

    let serial_state = copy("serial.json")?;
    let serial = phoenix(&cfg, &serial_state, &tmp.path().join("s1"), &["create", "--all", "--parallel", "1"])?;
    let par_state = copy("parallel.json")?;
    let parallel = phoenix(&cfg, &par_state, &tmp.path().join("s2"), &["create", "--all", "--parallel", "8"])?;

    let cp = critical_path(&edges, &serial.elapsed);
    let total: u64 = serial.elapsed.values().sum();
    // Clones of one source cannot overlap (Proxmox locks the source; phoenix serialises them):
    // the clone time of the busiest source is a floor for any schedule too.
    let clones = clone_time_per_source(&serial.events);
    let (busiest, clone_time) = clones.iter().max_by_key(|(_, t)| **t).map(|(s, t)| (*s, *t)).unwrap_or((0, 0));
    // After the last of those clones, that guest still needs its own work past the clone: at
    // least the smallest such tail among the source's clones.
    let min_tail = edges
        .iter()
        .filter(|(_, pre)| pre.last() == Some(&busiest))
        .filter_map(|(id, _)| serial.elapsed.get(id))
        .map(|e| e.saturating_sub(clone_cost("pct")))
        .min()
        .unwrap_or(0);
    // And none of them can start before the source itself is finished.
    let source_ready = finish(busiest, &edges, &serial.elapsed, &mut HashMap::new());
    let clone_floor = source_ready + clone_time + min_tail;
    let bound = cp.max(total / 8).max(clone_floor);
    let ratio = parallel.wall_ms as f64 / bound as f64;

    // The converged host: what does each guest cost when nothing needs doing?
    let log = PathBuf::from(format!("{}.commands.jsonl", par_state.display()));
    let _ = std::fs::remove_file(&log);
    let again = phoenix(&cfg, &par_state, &tmp.path().join("s2"), &["create", "--all", "--parallel", "8"])?;
    let changes = again.events.iter().filter(|e| e["event"] == "action").count();
    let (per, listings, other) = commands_per_guest(&log, &ids)?;
    let _ = std::fs::remove_file(&log);
    let full = phoenix(&cfg, &par_state, &tmp.path().join("s2"), &["converge", "--all", "--parallel", "8"])?;
    let full_changes = full.events.iter().filter(|e| e["event"] == "action").count();
    let (per_full, listings_full, _) = commands_per_guest(&log, &ids)?;

    let max = |m: &BTreeMap<u32, usize>| m.values().copied().max().unwrap_or(0);
    let avg = |m: &BTreeMap<u32, usize>| m.values().sum::<usize>() as f64 / m.len().max(1) as f64;
    let features = |id: u32| match id {
        200 | 201 => 1usize,
        _ => 0,
    };
    let over_budget: Vec<String> = per_full
        .iter()
        .filter(|(id, n)| **n > 1 + features(**id))
        .map(|(id, n)| format!("{id}: {n} (budget {})", 1 + features(*id)))
        .collect();

    let mut out = String::new();
    out.push_str("# guests benchmark: 50 guests (45 LXC incl. 2 templates, 5 VM incl. 1 template)\n\n");
    out.push_str("| measure | value |\n|---|---|\n");
    out.push_str(&format!("| create --all, --parallel 1 (wall) | {:.2} s |\n", serial.wall_ms as f64 / 1000.0));
    out.push_str(&format!("| create --all, --parallel 8 (wall) | {:.2} s |\n", parallel.wall_ms as f64 / 1000.0));
    out.push_str(&format!("| critical path (guest costs from the serial run) | {:.2} s |\n", cp as f64 / 1000.0));
    out.push_str(&format!("| total guest work / 8 | {:.2} s |\n", (total / 8) as f64 / 1000.0));
    out.push_str(&format!(
        "| busiest clone source ({busiest}): ready, then its clones back to back, then the shortest remaining guest work | {:.2} + {:.2} + {:.2} = {:.2} s |\n",
        source_ready as f64 / 1000.0,
        clone_time as f64 / 1000.0,
        min_tail as f64 / 1000.0,
        clone_floor as f64 / 1000.0
    ));
    out.push_str(&format!("| bound = max of the three | {:.2} s |\n", bound as f64 / 1000.0));
    out.push_str(&format!(
        "| parallel 8 / bound | {ratio:.2}× (target ≤ 1.15×: {}) |\n",
        if ratio <= 1.15 { "PASS" } else { "FAIL" }
    ));
    out.push_str(&format!(
        "| speed-up over --parallel 1 | {:.2}× |\n",
        serial.wall_ms as f64 / parallel.wall_ms as f64
    ));
    out.push_str(&format!("| second create --all: actions | {changes} |\n"));
    out.push_str(&format!(
        "| second create --all: commands per guest (max / mean) | {} / {:.2} |\n",
        max(&per),
        avg(&per)
    ));
    out.push_str(&format!("| second create --all: listings (pct list + qm list) | {listings} |\n"));
    out.push_str(&format!("| second create --all: other host commands | {other} |\n"));
    out.push_str(&format!("| converge --all on the converged host: actions | {full_changes} |\n"));
    out.push_str(&format!(
        "| converge --all: commands per guest (max / mean) | {} / {:.2} |\n",
        max(&per_full),
        avg(&per_full)
    ));
    out.push_str(&format!("| converge --all: listings | {listings_full} |\n"));
    out.push_str(&format!(
        "| converge --all: guests over 1 + features commands | {} |\n",
        if over_budget.is_empty() { "none (PASS)".to_string() } else { over_budget.join(", ") }
    ));
    print!("{out}");
    let _ = std::fs::write(Path::new(ROOT).join("target/bench-guests.md"), out);
    Ok(())
}
