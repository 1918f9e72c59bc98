//! Scale benchmark: how `phoenix` behaves with 10 … 5 000 guests.
//!
//! It generates synthetic inventories, runs the release binary as a subprocess (so the numbers
//! include everything an operator waits for: process start, config load, validation, graph,
//! engine and plan compilation, the plan run), and prints a markdown table that is also written
//! to `target/bench-scale.md`. See `benches/README.md` for what each number means.
//!
//! No benchmark crate on purpose: the unit of work is a whole process, measured as wall time
//! plus peak resident memory, which criterion-style in-process timing cannot see.

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Inventory sizes to measure.
const SIZES: [usize; 4] = [10, 100, 1_000, 5_000];
/// Runs per measurement; min and median are reported.
const REPS: usize = 5;
/// Loop length for the API call overhead plan.
const API_LOOP: u64 = 200_000;
/// A single run slower than this is killed and reported as a failure instead of hanging the bench.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Seed for the generated inventories, so every run measures the same input.
const SEED: u64 = 0x5eed_0f_b0a7;

/// The binary under test. Cargo builds it (bench profile = release) before running the bench.
const PHOENIX: &str = env!("CARGO_BIN_EXE_phoenix");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

type Res<T> = Result<T, String>;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/// xorshift64*: tiny, seeded, good enough to shape a dependency graph.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // A zero state would stay zero forever.
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in 0..n (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability pct/100.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

// ---------------------------------------------------------------------------------------------
// Inventory generation

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Lxc,
    Vm,
}

struct Guest {
    id: u32,
    kind: Kind,
    deps: Vec<u32>,
    clone_from: Option<u32>,
    firewall: bool,
}

/// What a generated inventory holds, to check the binary saw the same thing.
#[derive(Default, Clone, Copy)]
struct InvStats {
    lxc: usize,
    vm: usize,
    edges: usize,
    clones: usize,
    firewalled: usize,
}

fn plan_guests(n: usize, rng: &mut Rng) -> Vec<Guest> {
    let mut guests: Vec<Guest> = Vec::with_capacity(n);
    for i in 0..n {
        // Ids are shared by containers and VMs in Proxmox; one sequence keeps them unique.
        let id = 100 + i as u32;
        let kind = if rng.chance(80) { Kind::Lxc } else { Kind::Vm };
        let mut deps = Vec::new();
        if i > 0 {
            for _ in 0..rng.below(4) {
                let d = guests[rng.below(i)].id;
                if !deps.contains(&d) {
                    deps.push(d);
                }
            }
        }
        // Clone sources are earlier guests of the same kind, so the graph stays acyclic.
        let clone_from = if rng.chance(10) {
            let same: Vec<u32> = guests.iter().filter(|g| g.kind == kind).map(|g| g.id).collect();
            (!same.is_empty()).then(|| same[rng.below(same.len())])
        } else {
            None
        };
        let firewall = rng.chance(50);
        guests.push(Guest { id, kind, deps, clone_from, firewall });
    }
    guests
}

/// Unique host address in 10.42.0.0/16 for guest number `i` (skipping .0, .1 and .255).
fn ip_of(i: usize) -> String {
    let third = 1 + i / 250;
    let fourth = 2 + i % 250;
    format!("10.42.{third}.{fourth}")
}

fn mac_of(i: usize) -> String {
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
}

fn pick(rng: &mut Rng, from: &[u32]) -> u32 {
    from[rng.below(from.len())]
}

fn fw_rules(rng: &mut Rng) -> serde_json::Value {
    let port = pick(rng, &[80, 443, 5432, 6379, 8080, 9000]);
    serde_json::json!({
        "enabled": true,
        "rules": [
            { "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22",
              "source": "10.42.0.0/16", "comment": "SSH from the lab" },
            { "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": port.to_string(),
              "source": "10.42.0.0/16", "comment": "service port" }
        ]
    })
}

fn lxc_json(i: usize, g: &Guest, rng: &mut Rng) -> serde_json::Value {
    let mut o = serde_json::json!({
        "name": format!("ct-{}", g.id),
        "memory_mb": pick(rng, &[512, 1024, 2048, 4096]),
        "cores": 1 + rng.below(4),
        "storage_pool": "tank-lxc-disks",
        "storage_size_gb": pick(rng, &[8, 16, 32]),
        "network_config": {
            "name": "eth0",
            "bridge": "vmbr0",
            "ip": format!("{}/16", ip_of(i)),
            "gw": "10.42.0.1",
            "nameservers": "10.42.0.2"
        },
        "mac_address": mac_of(i),
        "start_at_boot": rng.chance(70),
        "boot_order": i,
        "boot_delay": 0,
        "unprivileged": true,
        "features": ["base_setup"]
    });
    match g.clone_from {
        Some(src) => o["clone_from_ctid"] = src.to_string().into(),
        None => o["template"] = "/var/lib/vz/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst".into(),
    }
    if !g.deps.is_empty() {
        o["dependencies"] = g.deps.clone().into();
    }
    if g.firewall {
        o["firewall"] = fw_rules(rng);
    }
    o
}

fn vm_json(i: usize, g: &Guest, rng: &mut Rng) -> serde_json::Value {
    let mut o = serde_json::json!({
        "vmid": g.id,
        "name": format!("vm-{}", g.id),
        "cores": 2 + rng.below(3),
        "memory_mb": pick(rng, &[2048, 4096, 8192]),
        "disk_size_gb": pick(rng, &[32, 64]),
        "start_at_boot": true,
        "boot_order": i,
        "features": ["base_setup", "docker"],
        "user_config": { "username": "phoenix" },
        "network_config": { "ip": format!("{}/16", ip_of(i)), "gw": "10.42.0.1", "nameserver": "10.42.0.2" }
    });
    match g.clone_from {
        Some(src) => o["clone_from_vmid"] = src.into(),
        None => o["template_image"] = "noble-server-cloudimg-amd64.img".into(),
    }
    if !g.deps.is_empty() {
        o["dependencies"] = g.deps.clone().into();
    }
    if g.firewall {
        o["firewall"] = fw_rules(rng);
    }
    o
}

fn hypervisor_json() -> serde_json::Value {
    serde_json::json!({
        "version": "1.0.0",
        "domain_name": "bench.example.internal",
        "timezone": "UTC",
        "network": {
            "interfaces": {
                "name": "vmbr0",
                "address": "10.42.0.2/16",
                "gateway": "10.42.0.1",
                "dns_nameservers": ["10.42.0.2"]
            },
            "hostname": "pve-bench"
        },
        "firewall": {
            "enabled": true,
            "default_input_policy": "DROP",
            "default_output_policy": "ACCEPT",
            "global_firewall_rules": [
                { "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "source": "10.42.0.0/16" },
                { "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "10.42.0.0/16" }
            ]
        }
    })
}

fn write_json(path: &Path, v: &serde_json::Value) -> Res<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| format!("{}: {e}", path.display()))?;
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Write a config folder with `n` guests into `dir`.
fn generate(n: usize, dir: &Path) -> Res<InvStats> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut rng = Rng::new(SEED ^ n as u64);
    let guests = plan_guests(n, &mut rng);
    let mut stats = InvStats::default();
    let mut lxc = serde_json::Map::new();
    let mut vms = Vec::new();
    for (i, g) in guests.iter().enumerate() {
        stats.edges += g.deps.len() + usize::from(g.clone_from.is_some());
        stats.clones += usize::from(g.clone_from.is_some());
        stats.firewalled += usize::from(g.firewall);
        match g.kind {
            Kind::Lxc => {
                stats.lxc += 1;
                lxc.insert(g.id.to_string(), lxc_json(i, g, &mut rng));
            }
            Kind::Vm => {
                stats.vm += 1;
                vms.push(vm_json(i, g, &mut rng));
            }
        }
    }
    write_json(&dir.join("phoenix_hypervisor_config.json"), &hypervisor_json())?;
    write_json(&dir.join("phoenix_lxc_configs.json"), &serde_json::json!({ "lxc_configs": lxc }))?;
    write_json(
        &dir.join("phoenix_vm_configs.json"),
        &serde_json::json!({
            "vm_defaults": { "storage_pool": "tank-vm-disks", "network_bridge": "vmbr0" },
            "vms": vms
        }),
    )?;
    Ok(stats)
}

// ---------------------------------------------------------------------------------------------
// Measuring one process

struct Sample {
    wall: Duration,
    /// Peak resident set, KiB; None when it could not be measured.
    peak_kib: Option<u64>,
    stdout: String,
}

/// Where the peak RSS comes from: GNU time's report, or polling /proc when time is missing.
#[derive(Clone, Copy, PartialEq)]
enum RssProbe {
    GnuTime,
    ProcPoll,
}

fn rss_probe() -> RssProbe {
    let ok = Command::new("/usr/bin/time")
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        RssProbe::GnuTime
    } else {
        RssProbe::ProcPoll
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run phoenix with `args`; fail unless it exits 0. Stdout is kept (for sanity checks), stderr
/// only shown on failure.
fn run_phoenix(args: &[&str], work: &Path, probe: RssProbe) -> Res<Sample> {
    let rss_file = work.join("rss.txt");
    let out_file = work.join("stdout.txt");
    let err_file = work.join("stderr.txt");
    let open = |p: &Path| fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()));
    let mut cmd = if probe == RssProbe::GnuTime {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(PHOENIX);
        c
    } else {
        Command::new(PHOENIX)
    };
    cmd.args(args)
        .env("PHOENIX_HOME", ROOT)
        .env("NO_COLOR", "1")
        .env_remove("PHOENIX_LOG")
        .stdin(Stdio::null())
        .stdout(open(&out_file)?)
        .stderr(open(&err_file)?);
    // Own process group, so a timeout kills phoenix and not only the `time` wrapper.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let shown = format!("phoenix {}", args.join(" "));
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {shown}: {e}"))?;
    let pid = child.id();
    let mut polled: Option<u64> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
        if probe == RssProbe::ProcPoll {
            if let Some(k) = vm_hwm_kib(pid) {
                polled = Some(polled.map_or(k, |p| p.max(k)));
            }
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
            let _ = child.wait();
            return Err(format!("{shown}: killed after {}s", RUN_TIMEOUT.as_secs()));
        }
        // Short sleeps: the small runs last a few milliseconds.
        std::thread::sleep(Duration::from_micros(500));
    };
    let wall = start.elapsed();
    let mut stdout = String::new();
    fs::File::open(&out_file)
        .and_then(|mut f| f.read_to_string(&mut stdout))
        .map_err(|e| format!("cannot read {}: {e}", out_file.display()))?;
    if !status.success() {
        let stderr = fs::read_to_string(&err_file).unwrap_or_default();
        let tail: String = stderr.lines().take(30).collect::<Vec<_>>().join("\n");
        return Err(format!("{shown} failed ({status}):\n{tail}"));
    }
    let peak_kib = match probe {
        RssProbe::GnuTime => {
            fs::read_to_string(&rss_file).ok().and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        }
        RssProbe::ProcPoll => polled,
    };
    Ok(Sample { wall, peak_kib, stdout })
}

/// Min / median wall and the largest peak over `reps` runs.
#[derive(Clone, Copy)]
struct Summary {
    min: Duration,
    median: Duration,
    peak_kib: Option<u64>,
}

fn summarize(samples: &[Sample]) -> Summary {
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    let median = walls[walls.len() / 2];
    Summary { min: walls[0], median, peak_kib: samples.iter().filter_map(|s| s.peak_kib).max() }
}

fn repeat(reps: usize, args: &[&str], work: &Path, probe: RssProbe) -> Res<(Summary, Sample)> {
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        samples.push(run_phoenix(args, work, probe)?);
    }
    let summary = summarize(&samples);
    let last = samples.pop().ok_or("no runs")?;
    Ok((summary, last))
}

// ---------------------------------------------------------------------------------------------
// The scenarios

struct SizeRow {
    n: usize,
    stats: InvStats,
    check: Res<Summary>,
    dry: Res<Summary>,
}

/// The dry-run must have written a firewall file for each guest that declares one; otherwise
/// a fast number would mean nothing.
fn check_dry_run_output(stdout: &str, stats: &InvStats) -> Res<()> {
    let guest_files = stdout.lines().filter(|l| l.contains("/etc/pve/firewall/") && !l.contains("cluster.fw")).count();
    if guest_files < stats.firewalled {
        return Err(format!(
            "dry-run output mentions {guest_files} guest firewall files, expected at least {}",
            stats.firewalled
        ));
    }
    Ok(())
}

fn measure_size(n: usize, tmp: &Path, probe: RssProbe) -> Res<SizeRow> {
    let dir = tmp.join(format!("guests-{n}"));
    let stats = generate(n, &dir)?;
    let work = tmp.join(format!("work-{n}"));
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let d = dir.to_string_lossy().into_owned();
    let state = work.join("state").to_string_lossy().into_owned();

    let check = repeat(REPS, &["check", "--config-dir", &d], &work, probe).and_then(|(s, last)| {
        let want = format!("ok: {} LXC, {} VM", stats.lxc, stats.vm);
        if last.stdout.contains(&want) {
            Ok(s)
        } else {
            Err(format!("check printed {:?}, expected it to contain {want:?}", last.stdout.trim()))
        }
    });
    let dry_args = [
        "firewall",
        "--all",
        "--dry-run",
        "--host",
        "sim",
        "--config-dir",
        &d,
        "--state-dir",
        &state,
        "--output",
        "json",
        "-q",
    ];
    let dry = repeat(REPS, &dry_args, &work, probe)
        .and_then(|(s, last)| check_dry_run_output(&last.stdout, &stats).map(|()| s));
    Ok(SizeRow { n, stats, check, dry })
}

/// Rhai loop calling `call` N times; the difference between an API call and a builtin is the
/// binding overhead (argument conversion, context lookup, error wrapping). The loop body is a
/// plain assignment so both loops do the same work apart from the call itself.
fn loop_plan(call: &str) -> String {
    format!("//! bench: call overhead\nfor i in 0..{API_LOOP} {{\n    let x = {call};\n}}\n")
}

struct ApiOverhead {
    api: Summary,
    builtin: Summary,
    empty: Summary,
}

/// µs per iteration that `a` costs over `b`, from the minima (the least disturbed runs).
fn per_iter_us(a: &Summary, b: &Summary) -> f64 {
    (a.min.as_secs_f64() - b.min.as_secs_f64()) * 1e6 / API_LOOP as f64
}

impl ApiOverhead {
    /// Whole cost of one API call: API loop minus the same loop with no call.
    fn api_call_us(&self) -> f64 {
        per_iter_us(&self.api, &self.empty)
    }
    /// Cost of one builtin call, for scale.
    fn builtin_call_us(&self) -> f64 {
        per_iter_us(&self.builtin, &self.empty)
    }
    /// What the phoenix binding adds over a builtin (negative: cheaper than the builtin).
    fn overhead_us(&self) -> f64 {
        per_iter_us(&self.api, &self.builtin)
    }
}

fn measure_api(tmp: &Path, probe: RssProbe) -> Res<ApiOverhead> {
    let dir = tmp.join("guests-10");
    let work = tmp.join("work-api");
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let d = dir.to_string_lossy().into_owned();
    let state = work.join("state").to_string_lossy().into_owned();
    let run = |name: &str, call: &str| -> Res<Summary> {
        let plan = work.join(name);
        fs::write(&plan, loop_plan(call)).map_err(|e| format!("cannot write {}: {e}", plan.display()))?;
        let p = plan.to_string_lossy().into_owned();
        let args = ["run", &p, "--dry-run", "--host", "sim", "--config-dir", &d, "--state-dir", &state, "-q"];
        repeat(REPS, &args, &work, probe).map(|(s, _)| s)
    };
    let empty = run("empty.rhai", "i")?;
    let builtin = run("builtin.rhai", "i.is_even()")?;
    let api = run("api.rhai", "host::dry_run()")?;
    Ok(ApiOverhead { api, builtin, empty })
}

fn measure_etc(tmp: &Path, probe: RssProbe) -> Res<Summary> {
    let work = tmp.join("work-etc");
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let etc = Path::new(ROOT).join("etc").to_string_lossy().into_owned();
    repeat(REPS, &["check", "--config-dir", &etc], &work, probe).map(|(s, _)| s)
}

// ---------------------------------------------------------------------------------------------
// Report

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mb(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn report(rows: &[SizeRow], api: &Res<ApiOverhead>, etc: &Res<Summary>, probe: RssProbe) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# phoenix scale benchmark\n");
    let _ = writeln!(
        s,
        "Release binary `{PHOENIX}`, {REPS} runs each, wall = min / median, peak = max RSS over the runs ({}).\n",
        if probe == RssProbe::GnuTime { "GNU time" } else { "polled /proc VmHWM" }
    );
    let _ = writeln!(
        s,
        "| guests | LXC / VM / edges / fw | check wall | check peak MB | dry-run wall | dry-run peak MB | median vs 1000 (check / dry-run) |"
    );
    let _ = writeln!(s, "|---:|---|---|---:|---|---:|---|");
    let base = rows.iter().find(|r| r.n == 1_000);
    let ratio = |a: &Res<Summary>, b: Option<&Res<Summary>>| match (a, b) {
        (Ok(a), Some(Ok(b))) => format!("{:.2}×", a.median.as_secs_f64() / b.median.as_secs_f64()),
        _ => "-".into(),
    };
    for r in rows {
        let cell = |x: &Res<Summary>| match x {
            Ok(x) => (format!("{} / {}", ms(x.min), ms(x.median)), mb(x.peak_kib)),
            Err(_) => ("error".into(), "-".into()),
        };
        let (cw, cm) = cell(&r.check);
        let (dw, dm) = cell(&r.dry);
        let _ = writeln!(
            s,
            "| {} | {} / {} / {} / {} | {cw} | {cm} | {dw} | {dm} | {} / {} |",
            r.n,
            r.stats.lxc,
            r.stats.vm,
            r.stats.edges,
            r.stats.firewalled,
            ratio(&r.check, base.map(|b| &b.check)),
            ratio(&r.dry, base.map(|b| &b.dry)),
        );
    }
    let errors: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            [("check", &r.check), ("dry-run", &r.dry)]
                .into_iter()
                .filter_map(move |(what, x)| x.as_ref().err().map(|e| format!("- {} guests, {what}: {e}", r.n)))
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "\nErrors:\n{}", errors.join("\n"));
    }

    let _ = writeln!(s, "\n## API call overhead\n");
    match api {
        Ok(a) => {
            let _ = writeln!(s, "| loop body ({API_LOOP} iterations) | wall min / median | per call |");
            let _ = writeln!(s, "|---|---|---:|");
            for (body, x, per) in [
                ("`let x = i;`", &a.empty, "-".to_string()),
                ("`let x = i.is_even();`", &a.builtin, format!("{:.3} µs", a.builtin_call_us())),
                ("`let x = host::dry_run();`", &a.api, format!("{:.3} µs", a.api_call_us())),
            ] {
                let _ = writeln!(s, "| {body} | {} / {} | {per} |", ms(x.min), ms(x.median));
            }
            let _ = writeln!(
                s,
                "\nAPI call **{:.3} µs** per call (over the empty loop); {:+.3} µs compared with a builtin.",
                a.api_call_us(),
                a.overhead_us()
            );
        }
        Err(e) => {
            let _ = writeln!(s, "error: {e}");
        }
    }
    let _ = writeln!(s, "\n## `phoenix check` on etc/\n");
    match etc {
        Ok(e) => {
            let _ = writeln!(s, "wall {} / {} (min / median), peak {} MB", ms(e.min), ms(e.median), mb(e.peak_kib));
        }
        Err(e) => {
            let _ = writeln!(s, "error: {e}");
        }
    }

    let _ = writeln!(s, "\n## Targets\n");
    if let Some(b) = base {
        for (what, x) in [("check", &b.check), ("dry-run", &b.dry)] {
            let line = match x {
                Ok(x) => {
                    let wall_ok = x.median < Duration::from_secs(1);
                    let mem_ok = x.peak_kib.is_some_and(|k| k < 200 * 1024);
                    format!(
                        "- {} 1 000 guests {what}: wall median {} < 1 s; {} peak {} MB < 200 MB",
                        verdict(wall_ok),
                        ms(x.median),
                        verdict(mem_ok),
                        mb(x.peak_kib)
                    )
                }
                Err(_) => format!("- FAIL 1 000 guests {what}: did not run"),
            };
            let _ = writeln!(s, "{line}");
        }
    }
    if let (Some(b), Some(t)) = (base, rows.iter().find(|r| r.n == 5_000)) {
        for (what, x, y) in [("check", &t.check, &b.check), ("dry-run", &t.dry, &b.dry)] {
            let line = match (x, y) {
                (Ok(x), Ok(y)) => {
                    let r = x.median.as_secs_f64() / y.median.as_secs_f64();
                    format!("- {} 5 000 / 1 000 {what}: {r:.2}× ≤ 6×", verdict(r <= 6.0))
                }
                _ => format!("- FAIL 5 000 / 1 000 {what}: did not run"),
            };
            let _ = writeln!(s, "{line}");
        }
    }
    match api {
        Ok(a) => {
            let us = a.api_call_us();
            let _ = writeln!(s, "- {} API call overhead {us:.2} µs < 20 µs", verdict(us < 20.0));
        }
        Err(_) => {
            let _ = writeln!(s, "- FAIL API call overhead: did not run");
        }
    }
    s
}

fn main() {
    // `scale --emit N DIR` only writes the generated N-guest configuration to DIR (to measure
    // one run by hand, e.g. the rehearsal's overhead on `create --all`), then exits.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--emit") {
        let (Some(n), Some(dir)) = (args.get(i + 1).and_then(|n| n.parse().ok()), args.get(i + 2)) else {
            eprintln!("usage: scale --emit <guests> <dir>");
            std::process::exit(2);
        };
        match generate(n, Path::new(dir)) {
            Ok(s) => eprintln!("{dir}: {} LXC, {} VM, {} edges", s.lxc, s.vm, s.edges),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        return;
    }
    // `cargo bench` passes `--bench` (and maybe a filter); nothing else is configurable.
    let probe = rss_probe();
    let tmp = match tempfile::Builder::new().prefix("phoenix-bench-").tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot create a temp folder: {e}");
            std::process::exit(1);
        }
    };
    let mut rows = Vec::new();
    for n in SIZES {
        eprintln!("bench: {n} guests …");
        match measure_size(n, tmp.path(), probe) {
            Ok(r) => rows.push(r),
            Err(e) => {
                eprintln!("bench: {n} guests: {e}");
                rows.push(SizeRow { n, stats: InvStats::default(), check: Err(e.clone()), dry: Err(e) });
            }
        }
    }
    eprintln!("bench: API call overhead …");
    let api = measure_api(tmp.path(), probe);
    eprintln!("bench: check on etc/ …");
    let etc = measure_etc(tmp.path(), probe);
    let text = report(&rows, &api, &etc, probe);
    println!("{text}");
    // Keep the generated configs for profiling a single run by hand.
    if std::env::var_os("PHOENIX_BENCH_KEEP").is_some() {
        eprintln!("bench: generated configs kept in {}", tmp.keep().display());
    }
    let out = PathBuf::from(ROOT).join("target").join("bench-scale.md");
    if let Err(e) = fs::write(&out, &text) {
        eprintln!("cannot write {}: {e}", out.display());
    }
}
