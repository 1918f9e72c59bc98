//! Running the real `phoenix` binary against the simulator, for end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_phoenix")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch area for one test: a simulator state file and a state dir.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn sim_state(&self) -> PathBuf {
        self.dir.path().join("sim.json")
    }

    pub fn sim_host(&self) -> String {
        format!("sim:{}", self.sim_state().display())
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Every command the simulator received so far, as (argv, mutating).
    pub fn sim_commands(&self) -> Vec<(Vec<String>, bool)> {
        let log = PathBuf::from(format!("{}.commands.jsonl", self.sim_state().display()));
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("command log line is JSON");
                let argv =
                    v["argv"].as_array().expect("argv").iter().map(|a| a.as_str().unwrap_or("").to_string()).collect();
                (argv, v["mutating"].as_bool().expect("mutating flag"))
            })
            .collect()
    }

    pub fn clear_sim_log(&self) {
        let _ = std::fs::remove_file(format!("{}.commands.jsonl", self.sim_state().display()));
    }

    /// `phoenix --host sim:<state> --state-dir <dir> --config-dir <config> <args>`.
    pub fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(root())
            .env("NO_COLOR", "1")
            .env_remove("PHOENIX_CONFIG_DIR")
            .env_remove("PHOENIX_HOME")
            .stdin(Stdio::null())
            .arg("--host")
            .arg(self.sim_host())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--config-dir")
            .arg(config)
            .args(args);
        c
    }

    pub fn run(&self, config: &Path, args: &[&str]) -> Output {
        self.command(config, args).output().expect("phoenix runs")
    }
}

/// The JSON events of a `--output json` run.
pub fn events(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON event: {l}: {e}")))
        .collect()
}

/// The actions of a run as comparable text: `change subject (reason) [guest] :: steps`.
pub fn actions(out: &Output) -> Vec<String> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "action")
        .map(|e| {
            format!(
                "{} {} ({}) [{}] :: {}",
                e["change"].as_str().unwrap_or(""),
                e["subject"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or(""),
                e["guest"],
                e["steps"]
                    .as_array()
                    .map(|s| s.iter().map(|x| x.as_str().unwrap_or("")).collect::<Vec<_>>().join(" ; "))
                    .unwrap_or_default()
            )
        })
        .collect()
}

pub fn summary(out: &Output) -> serde_json::Value {
    events(out).into_iter().find(|e| e["event"] == "run_finished").expect("run_finished event")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Copy a folder tree (a configuration to cut down for a test).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy file");
        }
    }
}

/// An action with a clone's MAC left out (`--net0 virtio=<MAC>,` → `--net0 virtio,`): the one
/// thing a dry-run cannot know is the MAC `qm clone` gives a VM, which its first `--net0` then
/// carries along (qemu-server would make a new NIC for a value without it).
pub fn without_clone_mac(action: &str) -> String {
    match action.split_once("--net0 virtio=") {
        Some((head, tail)) if tail.len() > 17 && tail.as_bytes()[17] == b',' => {
            format!("{head}--net0 virtio{}", without_clone_mac(&tail[17..]))
        }
        _ => action.to_string(),
    }
}

/// phoenix with the plans and stdlib of this checkout (`PHOENIX_HOME` = the crate root), for a
/// configuration folder that lives in a temp dir.
pub fn run(sb: &Sandbox, config: &Path, args: &[&str]) -> Output {
    sb.command(config, args).env("PHOENIX_HOME", root()).output().expect("phoenix runs")
}

/// Assert a run exited 0, showing both streams when it did not.
pub fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// The simulator's saved state.
pub fn sim(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).expect("sim state written"))
        .expect("sim state is JSON")
}

/// A command as the reads it stands for: a batch of reads (`sh -c "# phoenix read batch …"
/// NAME ITEM…`, see src/facts/batch.rs) is each of its items (`f PATH` → `file.read PATH`,
/// `c N ARGV…` → ARGV, an in-guest batch → `pct exec ID -- ARGV` for each of its items); any
/// other command is itself.
pub fn reads_of(argv: &[String]) -> Vec<Vec<String>> {
    let batch = |a: &[String]| a.len() >= 4 && a[1] == "-c" && a[2].starts_with("# phoenix read batch 1\n");
    if !batch(argv) {
        // `pct exec ID -- <batch>` / `qm guest exec ID … -- <batch>`
        if let Some(dd) = argv.iter().position(|a| a == "--") {
            if argv[0] != "sh" && batch(&argv[dd + 1..]) {
                let prefix = &argv[..=dd];
                return reads_of(&argv[dd + 1..])
                    .into_iter()
                    .map(|inner| prefix.iter().cloned().chain(inner).collect())
                    .collect();
            }
        }
        return vec![argv.to_vec()];
    }
    let mut out = Vec::new();
    let mut rest = &argv[4..];
    while let [tag, arg, more @ ..] = rest {
        if tag == "f" {
            out.push(vec!["file.read".to_string(), arg.clone()]);
            rest = more;
        } else {
            let n: usize = arg.parse().expect("a batch item count");
            out.extend(reads_of(&more[..n]));
            rest = &more[n..];
        }
    }
    assert!(rest.is_empty(), "a malformed batch: {argv:?}");
    out
}

/// A small test container on the example host's LAN (`10.20.0.<id - 100>`), from `template`,
/// with `extra` fields set over the defaults.
pub fn test_container(id: u32, template: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut c = serde_json::json!({
        "name": format!("ct{id}"),
        "memory_mb": 1024,
        "cores": 1,
        "template": template,
        "storage_pool": "tank-lxc-disks",
        "storage_size_gb": 8,
        "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": format!("10.20.0.{}/24", id - 100), "gw": "10.20.0.1"},
        "unprivileged": true,
        "features": []
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

/// The Ubuntu container template the tests use.
pub const UBUNTU_CT: &str = "/var/lib/vz/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst";
