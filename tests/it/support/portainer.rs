//! The simulated Portainer's files beside a `sim:FILE` state, as tests read them.

use std::path::{Path, PathBuf};

/// `<FILE><suffix>`: `.portainer.json` (its database), `.portainer.jsonl` (its request log),
/// `.portainer.faults.json` (faults a test injects).
pub fn beside(sim_state: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", sim_state.display()))
}

/// Every request the simulated Portainer answered so far: (method, path, status).
pub fn requests(sim_state: &Path) -> Vec<(String, String, u64)> {
    std::fs::read_to_string(beside(sim_state, ".portainer.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("journal line");
            (
                v["method"].as_str().expect("method").to_string(),
                v["path"].as_str().expect("path").to_string(),
                v["status"].as_u64().expect("status"),
            )
        })
        .collect()
}

/// The same as "METHOD path status" lines.
pub fn request_lines(sim_state: &Path) -> Vec<String> {
    requests(sim_state).into_iter().map(|(m, p, s)| format!("{m} {p} {s}")).collect()
}

/// Forget the requests so far (the next run's are counted alone).
pub fn clear_requests(sim_state: &Path) {
    let _ = std::fs::remove_file(beside(sim_state, ".portainer.jsonl"));
}
