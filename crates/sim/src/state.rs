//! The simulated host's typed state. Everything the simulator knows lives here, serialisable as
//! one JSON document so a rehearsal can be resumed (`--host sim:state.json`) and so tests and
//! benchmarks configure latency and faults by writing the file.

use crate::file::FileData;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A whole simulated PVE node. `Default` is a freshly installed PVE 9 node named `pve`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimState {
    /// Node name, as used in `nodes/<node>/...` paths and "already exists on node" errors.
    pub node: String,
    pub pools: BTreeMap<String, Pool>,
    /// Every dataset (filesystems and volumes), keyed by full name.
    pub datasets: BTreeMap<String, Dataset>,
    /// Storage definitions in `storage.cfg` order.
    pub storages: IndexMap<String, Storage>,
    /// Not written when empty: the per-command save writes the guests separately (see
    /// `connector::sim_save`), and an absent map reads back as empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub guests: BTreeMap<u32, Guest>,
    /// Host files (the virtual `/etc/pve/...` files are rendered from the model, not stored).
    pub files: BTreeMap<String, FileData>,
    /// Host directories made with `mkdir` (dataset mount points and the parents of files exist
    /// without an entry; see `host_dirs`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dirs: BTreeMap<String, HostDir>,
    /// Simulated latency: "program subcommand" prefix → milliseconds; longest prefix wins.
    pub latency_ms: IndexMap<String, u64>,
    pub faults: Vec<Fault>,
    /// Seeded counter for generated MAC addresses, so runs are reproducible.
    pub mac_counter: u64,
    /// Simulated wall clock (epoch seconds) used for snapshot times; advances by one per use so
    /// snapshots are ordered and runs reproducible. It is also "now" inside every guest:
    /// step-ca issues certificates from it and `openssl x509 -checkend` compares with it, so a
    /// test moves through a renewal window by setting it.
    pub clock: u64,
    /// How long after `qm start` a VM's guest agent answers, unless the VM overrides it. Real
    /// elapsed time, so tests and benchmarks can wait for it.
    pub agent_ready_after_ms: u64,
    /// Scripts run on the host (`bash -s` with the script on stdin), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub script_runs: Vec<ScriptRun>,
    /// Lock files another process holds (`flock`): the GUI, vzdump or an operator's `pct set`
    /// in the middle of its own read-modify-write. Seeded by tests; see `sim::flock`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub held_locks: BTreeSet<String>,
    /// Files another writer (the GUI) saves just before a matching command runs; see
    /// `sim::interleave`. Seeded by tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interleaved_edits: Vec<InterleavedEdit>,
    /// Debian packages installed on the node beyond Proxmox itself (`host_services`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub host_packages: BTreeSet<String>,
    /// systemd units those packages brought, by unit name (`dnsmasq.service`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub host_units: BTreeMap<String, Unit>,
}

impl Default for SimState {
    fn default() -> Self {
        let mut s = SimState {
            node: "pve".into(),
            pools: BTreeMap::new(),
            datasets: BTreeMap::new(),
            storages: IndexMap::new(),
            guests: BTreeMap::new(),
            files: BTreeMap::new(),
            dirs: BTreeMap::new(),
            latency_ms: IndexMap::new(),
            faults: Vec::new(),
            mac_counter: 0,
            clock: 1_735_689_600, // 2025-01-01 00:00:00 UTC
            agent_ready_after_ms: 1500,
            script_runs: Vec::new(),
            held_locks: BTreeSet::new(),
            interleaved_edits: Vec::new(),
            host_packages: BTreeSet::new(),
            host_units: BTreeMap::new(),
        };
        s.pools.insert(
            "rpool".into(),
            Pool {
                layout: "mirror".into(),
                devices: vec![
                    "/dev/disk/by-id/nvme-SAMSUNG_MZ7L33T8-part3".into(),
                    "/dev/disk/by-id/nvme-SAMSUNG_MZ7L33T8_2-part3".into(),
                ],
                size: 3_985_729_650_688,
                health: "ONLINE".into(),
                props: IndexMap::from([("ashift".to_string(), "12".to_string())]),
            },
        );
        let fs = |referenced: u64, props: &[(&str, &str)]| Dataset {
            kind: DatasetKind::Filesystem,
            referenced,
            volsize: None,
            props: props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        // What the PVE 9 installer creates on a ZFS root.
        s.datasets.insert(
            "rpool".into(),
            fs(
                98_304,
                &[
                    ("mountpoint", "/rpool"),
                    ("compression", "on"),
                    ("acltype", "posix"),
                    ("xattr", "sa"),
                    ("relatime", "on"),
                ],
            ),
        );
        s.datasets.insert("rpool/ROOT".into(), fs(98_304, &[("mountpoint", "/rpool/ROOT")]));
        s.datasets.insert("rpool/ROOT/pve-1".into(), fs(2_254_857_830, &[("mountpoint", "/")]));
        s.datasets.insert("rpool/data".into(), fs(98_304, &[("mountpoint", "/rpool/data")]));
        s.datasets.insert("rpool/var-lib-vz".into(), fs(402_653_184, &[("mountpoint", "/var/lib/vz")]));
        let mut local = Storage { kind: "dir".into(), options: IndexMap::new() };
        local.options.insert("path".into(), "/var/lib/vz".into());
        local.options.insert("content".into(), "iso,vztmpl,backup".into());
        s.storages.insert("local".into(), local);
        let mut zfs = Storage { kind: "zfspool".into(), options: IndexMap::new() };
        zfs.options.insert("pool".into(), "rpool/data".into());
        zfs.options.insert("content".into(), "images,rootdir".into());
        zfs.options.insert("sparse".into(), "1".into());
        s.storages.insert("local-zfs".into(), zfs);
        s.files.insert("/etc/hostname".into(), text_file("pve\n"));
        // A GPU node with the NVIDIA driver loaded: the character-device majors that GPU
        // passthrough reads (nvidia-uvm and nvidia-caps get dynamic majors on real hosts).
        s.files.insert(
            "/proc/devices".into(),
            text_file("Character devices:\n  1 mem\n  4 tty\n  5 /dev/tty\n195 nvidia\n195 nvidiactl\n234 nvidia-caps\n510 nvidia-uvm\n\nBlock devices:\n  8 sd\n259 blkext\n"),
        );
        for t in ["ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "debian-12-standard_12.7-1_amd64.tar.zst"] {
            // Template archives are placeholders: the simulator never extracts them.
            s.files.insert(format!("/var/lib/vz/template/cache/{t}"), text_file(""));
        }
        s
    }
}

pub(crate) fn text_file(content: &str) -> FileData {
    FileData { content: content.as_bytes().to_vec(), mode: 0o644, owner: "root".into(), group: "root".into() }
}

/// Write `bytes` to `path` atomically: a temp file in the same folder, then a rename, so a
/// reader (or the next run after a crash) sees the old state or the new one, never half of one.
/// No fsync: this protects against a dying process, not a dying machine, and stays cheap.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A zpool. Devices are whatever was given to `zpool create`: the simulator has no disk
/// inventory, so any device path not already in a pool counts as a blank disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// `mirror`, `raidz1`, `raidz2`, `raidz3` or `stripe`.
    pub layout: String,
    pub devices: Vec<String>,
    /// Usable size in bytes.
    pub size: u64,
    pub health: String,
    /// Pool properties given with `-o` (ashift, …).
    #[serde(default)]
    pub props: IndexMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    Filesystem,
    Volume,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub kind: DatasetKind,
    /// Bytes referenced by this dataset alone (`used` adds the children).
    pub referenced: u64,
    /// Size of a volume (`-V`).
    #[serde(default)]
    pub volsize: Option<u64>,
    /// Locally set properties (source `local`), native and user (`x:y`).
    #[serde(default)]
    pub props: IndexMap<String, String>,
}

/// One `storage.cfg` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    /// Plugin type: dir, zfspool, nfs, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Options in file order (booleans as `1`/`0`).
    pub options: IndexMap<String, String>,
}

impl Storage {
    pub fn content(&self) -> &str {
        self.options.get("content").map(String::as_str).unwrap_or("")
    }
    pub fn disabled(&self) -> bool {
        self.options.get("disable").is_some_and(|v| v == "1")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    Lxc,
    Qemu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    Running,
    #[default]
    Stopped,
}

impl PowerState {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::Running => "running",
            PowerState::Stopped => "stopped",
        }
    }
}

/// A container or VM. The config maps hold the values as PVE stores them (booleans `1`/`0`,
/// canonical property strings); `lock` and `parent` are ordinary config keys, as in PVE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guest {
    pub kind: GuestKind,
    pub config: IndexMap<String, String>,
    /// Raw `lxc.*` lines in file order (containers only).
    #[serde(default)]
    pub lxc: Vec<(String, String)>,
    /// Pending changes (`[pve:pending]` / `[PENDING]`); a `delete` key lists deleted options.
    #[serde(default)]
    pub pending: IndexMap<String, String>,
    #[serde(default)]
    pub snapshots: BTreeMap<String, Snapshot>,
    #[serde(default)]
    pub status: PowerState,
    /// Files inside the guest (for `pct push`, `pct exec … cat`).
    #[serde(default)]
    pub files: IndexMap<String, FileData>,
    /// How long after start the QEMU guest agent answers; `None` = the node default.
    #[serde(default)]
    pub agent_ready_after_ms: Option<u64>,
    /// Unix milliseconds of the last start (wall clock, for agent readiness).
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    /// What is installed and configured inside the guest, besides its files.
    #[serde(default)]
    pub os: GuestOs,
}

impl Guest {
    /// Files and OS together (for snapshots and clones).
    pub fn image(&self) -> GuestImage {
        GuestImage { files: self.files.clone(), os: self.os.clone() }
    }
    pub fn set_image(&mut self, image: GuestImage) {
        self.files = image.files;
        self.os = image.os;
    }
    pub fn new(kind: GuestKind) -> Guest {
        Guest {
            kind,
            config: IndexMap::new(),
            lxc: Vec::new(),
            pending: IndexMap::new(),
            snapshots: BTreeMap::new(),
            status: PowerState::Stopped,
            files: IndexMap::new(),
            agent_ready_after_ms: None,
            started_at_ms: None,
            os: GuestOs::default(),
        }
    }
    pub fn lock(&self) -> Option<&str> {
        self.config.get("lock").map(String::as_str)
    }
    pub fn is_template(&self) -> bool {
        self.config.get("template").is_some_and(|v| v == "1")
    }
}

/// The inside of a guest apart from its files: packages, services, users. Empty for a guest
/// whose disk holds no modelled OS (a bare `qm create`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuestOs {
    /// Installed Debian packages.
    pub packages: BTreeSet<String>,
    /// Python distributions installed with pip, keyed by environment (`system` or a venv dir).
    pub pip: BTreeSet<String>,
    /// systemd units that have been installed, enabled or started (`docker.service`).
    pub units: BTreeMap<String, Unit>,
    /// Explicit directories (`mkdir -p`); directories holding files exist implicitly.
    pub dirs: BTreeSet<String>,
    /// passwd entries: name → uid.
    pub users: BTreeMap<String, u32>,
    pub groups: BTreeSet<String>,
    /// cloud-init has run its first boot (VMs from cloud images).
    pub cloud_init_done: bool,
    /// Home directory and login shell of users created with `--home-dir`/`--shell` (others get
    /// `/home/<name>` and `/bin/bash`, root `/root`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, Account>,
    /// Owner and mode of directories given them explicitly (`install -d -o -g -m`, `chown`);
    /// any other directory is root:root 0755.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dir_meta: BTreeMap<String, DirMeta>,
    /// Mounted mount points (from `/etc/fstab`); cleared at shutdown, fstab mounted at boot.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub mounts: BTreeSet<String>,
    /// Scripts the simulator ran without interpreting them, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub script_runs: Vec<ScriptRun>,
    /// Serial number of the last certificate (or CA) this guest's step made: every issuance
    /// makes a new key and certificate, as the real step-ca does, even twice in the same second.
    #[serde(skip_serializing_if = "is_zero")]
    pub certificate_serial: u64,
    /// Docker's volumes and containers (inside/docker.rs).
    #[serde(default, skip_serializing_if = "DockerState::is_empty")]
    pub docker: DockerState,
}

/// What the Docker daemon of a guest holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DockerState {
    /// Volume name → driver options.
    pub volumes: BTreeMap<String, BTreeMap<String, String>>,
    /// Container name → container.
    pub containers: IndexMap<String, DockerContainer>,
    /// Containers created so far (ids differ between a container and its re-creation).
    pub created: usize,
}

impl DockerState {
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty() && self.containers.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DockerContainer {
    pub id: String,
    pub image: String,
    /// `running`, `exited`, `restarting` (a process that keeps dying under a restart policy).
    pub state: String,
    /// Published host ports.
    pub ports: Vec<u16>,
    /// The compose project that made it, if any.
    pub project: Option<String>,
    /// Names of the environment variables it was given (never their values); `@file` for an env file.
    pub env_keys: Vec<String>,
    #[serde(default)]
    pub restarts: u32,
    /// The command's arguments after the image's entrypoint (`command:` in compose, the words
    /// after the image in `docker run`): the Portainer simulator reads `--sslcert`/`--sslkey`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Volumes as given (`/etc/portainer/certs:/certs:ro`, `portainer_data_nfs:/data`): a source
    /// starting with `/` is a bind of the guest's own files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// The restart policy (`unless-stopped`, `always`, …; `None` = docker's `no`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    /// Why a container that should run does not (the last words of its log), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_reason: Option<String>,
}

/// A passwd entry's home and shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub home: String,
    pub shell: String,
}

/// A directory's owner, group and permission bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirMeta {
    pub owner: String,
    pub group: String,
    pub mode: u32,
}

/// A host directory's owner and permission bits (numeric, as `stat -c '%u %g %a'` prints them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDir {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// One run of a script the simulator does not interpret: which file (or `-` for stdin), the
/// SHA-256 of its content and the arguments it got. Tests count these to see a script ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRun {
    pub path: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub enabled: bool,
    pub active: bool,
}

/// A guest's whole inside (files and OS), as a snapshot captures it and a clone copies it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestImage {
    #[serde(default)]
    pub files: IndexMap<String, FileData>,
    #[serde(default)]
    pub os: GuestOs,
}

/// A snapshot section: its own config (with `snaptime`, optional `description` and `parent`)
/// and, for containers, its `lxc.*` lines. `image` is the guest's inside at snapshot time
/// (absent for snapshots read from a config file: they carry no disk state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub config: IndexMap<String, String>,
    #[serde(default)]
    pub lxc: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<GuestImage>,
}

impl Snapshot {
    pub fn snaptime(&self) -> Option<u64> {
        self.config.get("snaptime").and_then(|v| v.parse().ok())
    }
}

/// A file another writer saves (`content` at `path`) just before the first command whose argv,
/// joined with spaces, matches the glob `match`; it fires once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterleavedEdit {
    #[serde(rename = "match")]
    pub pattern: String,
    pub path: String,
    pub content: String,
}

/// An injected failure: the `nth`.. `nth+times-1`-th commands whose argv (joined with spaces)
/// matches the glob `match` return `stderr`/`code` instead of running. `times: 0` = forever.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(rename = "match")]
    pub pattern: String,
    #[serde(default = "one")]
    pub nth: u32,
    #[serde(default = "one")]
    pub times: u32,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default = "default_fault_code")]
    pub code: i32,
    /// How many matching commands have been seen so far (persisted, so nth spans runs).
    #[serde(default)]
    pub seen: u32,
}

fn one() -> u32 {
    1
}
fn default_fault_code() -> i32 {
    255
}

/// Wall-clock unix milliseconds; 0 if the clock is before 1970 (never fails).
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_fresh_pve_node() {
        let s = SimState::default();
        assert_eq!(s.node, "pve");
        assert!(s.datasets.contains_key("rpool/data"));
        assert_eq!(s.storages.get("local-zfs").map(|st| st.kind.as_str()), Some("zfspool"));
        assert!(s.guests.is_empty());
        assert_eq!(s.files.get("/etc/hostname").map(|f| f.content.clone()), Some(b"pve\n".to_vec()));
    }

    #[test]
    fn json_round_trip() {
        let s = SimState::default();
        let text = serde_json::to_string(&s).unwrap();
        let back: SimState = serde_json::from_str(&text).unwrap();
        assert_eq!(s, back);
    }

    #[test]
    fn fault_defaults() {
        let f: Fault = serde_json::from_str(r#"{"match":"pct *"}"#).unwrap();
        assert_eq!((f.nth, f.times, f.code), (1, 1, 255));
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
