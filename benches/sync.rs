//! `phoenix sync all` on the shipped example (etc/) on the simulator, with a latency model: the
//! Proxmox commands as in benches/guests.rs, and every Portainer request answered after
//! `PORTAINER_MS`. After `setup` and `create --all` (without latency), it measures the first
//! `sync all` (everything to do) and the converged one: wall time, host commands (and how many
//! mutate), Portainer requests by method. Issue 9's target for the converged run: GETs only, one
//! list per resource kind (plus one read of each stack's file, the only way Portainer shows a
//! change made in its UI), and no mutating host command.
//!
//! Run with `cargo bench --locked --bench sync` (the table is also written to
//! target/bench-sync.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PHOENIX: &str = env!("CARGO_BIN_EXE_phoenix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// What one Portainer request costs on the lab's network (a LAN round trip plus Portainer's work).
const PORTAINER_MS: u64 = 20;

type Res<T> = Result<T, String>;

/// Latency per command kind (milliseconds) on the simulated host (see benches/guests.rs).
fn latency() -> serde_json::Value {
    serde_json::json!({
        "pct exec": 25, "pct push": 30, "pct pull": 30, "pct list": 30, "pct config": 20, "pct set": 60,
        "qm guest exec": 40, "qm guest exec-status": 20, "qm agent": 20, "qm list": 30, "qm config": 20,
        "pve-firewall": 200,
        "*": 5
    })
}

struct Measured {
    wall_ms: u128,
    actions: usize,
    commands: usize,
    mutating: usize,
    requests: BTreeMap<String, usize>,
}

fn sibling(state: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", state.display()))
}

fn phoenix(state: &Path, statedir: &Path, args: &[&str]) -> Res<(u128, Vec<serde_json::Value>)> {
    let secrets =
        std::fs::read_to_string(Path::new(ROOT).join("etc/example-secrets.env")).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(PHOENIX);
    for line in secrets.lines().filter(|l| !l.starts_with('#') && l.contains('=')) {
        let (k, v) = line.split_once('=').unwrap_or_default();
        cmd.env(k, v.trim_matches('\''));
    }
    let started = Instant::now();
    let out = cmd
        .env("PHOENIX_HOME", ROOT)
        .arg("--config-dir")
        .arg(Path::new(ROOT).join("etc"))
        .arg("--host")
        .arg(format!("sim:{}", state.display()))
        .arg("--state-dir")
        .arg(statedir)
        .args(args)
        .args(["--output", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed().as_millis();
    if !out.status.success() {
        return Err(format!("phoenix {args:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let events = String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    Ok((wall, events))
}

/// One `sync all`, counted from the simulator's logs (cleared first).
fn sync_all(state: &Path, statedir: &Path) -> Res<Measured> {
    let (commands_log, requests_log) = (sibling(state, ".commands.jsonl"), sibling(state, ".portainer.jsonl"));
    let _ = std::fs::remove_file(&commands_log);
    let _ = std::fs::remove_file(&requests_log);
    let (wall_ms, events) = phoenix(state, statedir, &["sync", "all"])?;
    let lines = |p: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    };
    let commands = lines(&commands_log);
    let mut requests = BTreeMap::new();
    for r in lines(&requests_log) {
        *requests.entry(r["method"].as_str().unwrap_or("?").to_string()).or_insert(0) += 1;
    }
    Ok(Measured {
        wall_ms,
        actions: events.iter().filter(|e| e["event"] == "action").count(),
        commands: commands.len(),
        mutating: commands.iter().filter(|c| c["mutating"] == true).count(),
        requests,
    })
}

fn main() -> Res<()> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state = tmp.path().join("lab.json");
    let statedir = tmp.path().join("state");
    phoenix(&state, &statedir, &["setup"])?;
    phoenix(&state, &statedir, &["create", "--all"])?;

    // The latency model, switched on for the sync runs only.
    let mut st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    st["latency_ms"] = latency();
    std::fs::write(&state, serde_json::to_string(&st).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let faults = serde_json::json!([{ "path": "/api/*", "delay_ms": PORTAINER_MS, "times": 0 }]);
    std::fs::write(sibling(&state, ".portainer.faults.json"), faults.to_string()).map_err(|e| e.to_string())?;

    let first = sync_all(&state, &statedir)?;
    let converged = sync_all(&state, &statedir)?;
    if converged.actions != 0 || converged.mutating != 0 || converged.requests.keys().any(|m| m != "GET") {
        return Err(format!(
            "the converged sync changed something: {} actions, {} mutating commands, requests {:?}",
            converged.actions, converged.mutating, converged.requests
        ));
    }

    let row = |name: &str, m: &Measured| {
        let reqs: Vec<String> = m.requests.iter().map(|(k, v)| format!("{v} {k}")).collect();
        format!(
            "| {name} | {:.2} s | {} | {} ({} mutating) | {} |\n",
            m.wall_ms as f64 / 1000.0,
            m.actions,
            m.commands,
            m.mutating,
            if reqs.is_empty() { "none".into() } else { reqs.join(", ") }
        )
    };
    let mut table = format!(
        "`sync all` on the example, simulated latency (Proxmox commands as benches/guests.rs, {PORTAINER_MS} ms per Portainer request)\n\n\
         | run | wall | actions | host commands | Portainer requests |\n|---|---|---|---|---|\n"
    );
    table.push_str(&row("first (from `create --all`)", &first));
    table.push_str(&row("converged", &converged));
    print!("{table}");
    let out = Path::new(ROOT).join("target/bench-sync.md");
    std::fs::write(&out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(())
}
