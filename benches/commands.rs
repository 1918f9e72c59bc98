//! Host commands per guest on an already converged host, for the shipped example config (etc/).
//!
//! On the simulator: `setup`, `create --all` (converges), `create --all` twice more,
//! `converge --all` twice; each run after the converging one is counted from the
//! simulator's command log (`<state>.commands.jsonl`: one JSON line per command or file
//! operation, with `argv` and `mutating`). The first `converge --all` is counted too: it is the
//! first run of that plan in the state dir, so nothing is known yet about which reads each guest
//! needs (see src/facts/batch.rs), and its numbers show the cost without that knowledge.
//!
//! A command is attributed to a guest when its argv names the guest: its id as a word, its
//! config or firewall file, a batch of reads made for it (`phoenix-reads-<id>`), or a host
//! path the inventory declares as one of its bind-mount sources. Listings (`pct list`,
//! `qm list`) and everything else are counted apart. Targets (issue 7): `create --all` ≤ 1
//! command per guest plus the listings once per run; `converge --all` ≤ 1 + the guest's
//! number of features.
//!
//! Run with `scripts/measure-commands` (a dev build is enough: counts do not depend on speed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const PHOENIX: &str = env!("CARGO_BIN_EXE_phoenix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

type Res<T> = Result<T, String>;

/// What the inventory says about a guest, for attribution and the budget.
struct Guest {
    features: usize,
    mount_sources: Vec<String>,
}

fn read_json(path: &Path) -> Res<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn inventory(etc: &Path) -> Res<BTreeMap<u32, Guest>> {
    let mut out = BTreeMap::new();
    let lxc = read_json(&etc.join("phoenix_lxc_configs.json"))?;
    for (id, g) in lxc["lxc_configs"].as_object().into_iter().flatten() {
        let id: u32 = id.parse().map_err(|_| format!("container id `{id}`"))?;
        let mount_sources = g["mount_points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["host_path"].as_str().map(String::from))
            .collect();
        out.insert(id, Guest { features: g["features"].as_array().map_or(0, Vec::len), mount_sources });
    }
    let vms = read_json(&etc.join("phoenix_vm_configs.json"))?;
    for g in vms["vms"].as_array().into_iter().flatten() {
        let id = g["vmid"].as_u64().ok_or("a VM without vmid")? as u32;
        out.insert(id, Guest { features: g["features"].as_array().map_or(0, Vec::len), mount_sources: Vec::new() });
    }
    Ok(out)
}

fn phoenix(etc: &Path, state: &Path, statedir: &Path, args: &[&str]) -> Res<()> {
    let out = Command::new(PHOENIX)
        .env("PHOENIX_HOME", ROOT)
        .env("NO_COLOR", "1")
        .arg("--config-dir")
        .arg(etc)
        .arg("--host")
        .arg(format!("sim:{}", state.display()))
        .arg("--state-dir")
        .arg(statedir)
        .args(args)
        .arg("-q")
        .output()
        .map_err(|e| format!("{PHOENIX}: {e}"))?;
    if !out.status.success() {
        return Err(format!("phoenix {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// Commands of one run, per guest, from the simulator's log.
#[derive(Default)]
struct Count {
    per_guest: BTreeMap<u32, (usize, usize)>,
    listings: usize,
    other: Vec<String>,
    mutating: usize,
}

fn owner(argv: &[String], guests: &BTreeMap<u32, Guest>) -> Option<u32> {
    // A batch names the guest it reads for; it may also name others (a clone source's config).
    let label = argv.get(3).and_then(|a| a.strip_prefix("phoenix-reads-")).and_then(|id| id.parse().ok());
    if let Some(id) = label.filter(|id| guests.contains_key(id)) {
        return Some(id);
    }
    guests
        .iter()
        .find(|(id, g)| {
            let s = id.to_string();
            argv.iter().any(|a| {
                *a == s
                    || *a == format!("phoenix-reads-{s}")
                    || a.ends_with(&format!("/{s}.conf"))
                    || a.ends_with(&format!("/{s}.fw"))
                    || g.mount_sources.iter().any(|m| m == a)
            })
        })
        .map(|(id, _)| *id)
}

fn count(log: &Path, guests: &BTreeMap<u32, Guest>) -> Res<Count> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut c = Count { per_guest: guests.keys().map(|id| (*id, (0, 0))).collect(), ..Count::default() };
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{}: {e}", log.display()))?;
        let argv: Vec<String> =
            v["argv"].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect();
        let mutating = v["mutating"].as_bool().unwrap_or(true);
        if mutating {
            c.mutating += 1;
        }
        if matches!(argv.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), ["pct" | "qm", "list"]) {
            c.listings += 1;
            continue;
        }
        match owner(&argv, guests) {
            Some(id) => {
                let e = c.per_guest.entry(id).or_default();
                if mutating {
                    e.1 += 1;
                } else {
                    e.0 += 1;
                }
            }
            None => c.other.push(argv.join(" ")),
        }
    }
    Ok(c)
}

fn table(title: &str, c: &Count, guests: &BTreeMap<u32, Guest>, budget: impl Fn(&Guest) -> usize) -> String {
    let mut out =
        format!("## {title}\n\n| guest | features | reads | mutating | budget | |\n|---|---|---|---|---|---|\n");
    let mut total = 0;
    let mut over = 0;
    for (id, (reads, muts)) in &c.per_guest {
        let g = &guests[id];
        let b = budget(g);
        let n = reads + muts;
        total += n;
        let ok = n <= b;
        over += usize::from(!ok);
        out.push_str(&format!(
            "| {id} | {} | {reads} | {muts} | {b} | {} |\n",
            g.features,
            if ok { "ok" } else { "OVER" }
        ));
    }
    out.push_str(&format!(
        "\nguests: {total} commands; listings: {}; other: {} ({}); mutating: {}; total: {}; guests over budget: {over}\n\n",
        c.listings,
        c.other.len(),
        c.other.join("; "),
        c.mutating,
        total + c.listings + c.other.len()
    ));
    out
}

fn main() -> Res<()> {
    let etc = Path::new(ROOT).join("etc");
    let guests = inventory(&etc)?;
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let state = tmp.path().join("sim.json");
    let statedir = tmp.path().join("state");
    let log = PathBuf::from(format!("{}.commands.jsonl", state.display()));
    let measure = |args: &[&str]| -> Res<Count> {
        let _ = std::fs::remove_file(&log);
        phoenix(&etc, &state, &statedir, args)?;
        count(&log, &guests)
    };
    measure(&["setup"])?;
    measure(&["create", "--all"])?;
    // The first run on the converged host still batches what the converging run's rehearsal
    // read (guests that did not exist yet); the next one batches what a converged run reads.
    let create_first = measure(&["create", "--all"])?;
    let create = measure(&["create", "--all"])?;
    let converge_first = measure(&["converge", "--all"])?;
    let converge = measure(&["converge", "--all"])?;

    let mut out = String::from("# commands per guest on the converged example host (etc/, simulator)\n\n");
    out.push_str(&table("create --all (first run on the converged host)", &create_first, &guests, |_| 1));
    out.push_str(&table("create --all (steady state)", &create, &guests, |_| 1));
    out.push_str(&table("converge --all (first run of the plan: no read list yet)", &converge_first, &guests, |g| {
        1 + g.features
    }));
    out.push_str(&table("converge --all (steady state)", &converge, &guests, |g| 1 + g.features));
    print!("{out}");
    let _ = std::fs::write(Path::new(ROOT).join("target/bench-commands.md"), out);
    Ok(())
}
