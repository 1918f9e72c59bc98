//! Typed readings of `pct list`, `pct status`, `pct config`, `/etc/pve/lxc/<id>.conf` and
//! `pct listsnapshot` (contracts §A).

use super::guest_config::{parse_conf_file, parse_config_output, ConfFile, ConfParseError, ConfSection};
use super::propstring::{self, parse_bool, parse_size, PropString, PropStringError, Startup};
use indexmap::IndexMap;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PctParseError {
    #[error("line {line}: unexpected output '{text}' ({reason})")]
    Line { line: usize, text: String, reason: &'static str },
    #[error("unexpected status output '{text}'")]
    Status { text: String },
    #[error(transparent)]
    Conf(#[from] ConfParseError),
    #[error("{key}: {source}")]
    Prop { key: String, source: PropStringError },
    #[error("{key}: invalid value '{value}' (expected {expected})")]
    Value { key: String, value: String, expected: &'static str },
}

/// Run state as `pct status` / `qm status` report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestStatus {
    Running,
    Stopped,
    Paused,
    Prelaunch,
    Suspended,
    Unknown,
    /// A state this version of phoenix does not know by name (kept verbatim).
    Other(String),
}

impl GuestStatus {
    pub fn from_word(s: &str) -> GuestStatus {
        match s {
            "running" => GuestStatus::Running,
            "stopped" => GuestStatus::Stopped,
            "paused" => GuestStatus::Paused,
            "prelaunch" => GuestStatus::Prelaunch,
            "suspended" => GuestStatus::Suspended,
            "unknown" => GuestStatus::Unknown,
            other => GuestStatus::Other(other.to_string()),
        }
    }
}

/// `status: <s>\n` (first line; `--verbose` output also starts with other keys, so look for it).
pub fn parse_status(text: &str) -> Result<GuestStatus, PctParseError> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find_map(|l| l.strip_prefix("status: "))
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .map(GuestStatus::from_word)
        .ok_or_else(|| PctParseError::Status { text: text.trim_end().to_string() })
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PctListEntry {
    pub vmid: u32,
    pub status: GuestStatus,
    pub lock: Option<String>,
    pub name: String,
}

/// `pct list`: `"%-10s %-10s %-12s %-20s\n"` with header; nothing at all when there are no CTs.
/// Names are hostnames with whitespace stripped and locks are single words, so splitting on
/// whitespace is exact (3 fields = no lock, 4 = lock), also when a long value overflows its column.
pub fn parse_pct_list(text: &str) -> Result<Vec<PctListEntry>, PctParseError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim_end_matches('\r');
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || (fields.first() == Some(&"VMID") && fields.get(1) == Some(&"Status")) {
            continue;
        }
        let bad = |reason| PctParseError::Line { line: line_no, text: line.to_string(), reason };
        let (vmid, status, lock, name) = match fields.as_slice() {
            [v, s, n] => (v, s, None, n),
            [v, s, l, n] => (v, s, Some(l.to_string()), n),
            _ => return Err(bad("expected VMID Status [Lock] Name")),
        };
        let vmid = vmid.parse::<u32>().map_err(|_| bad("VMID is not a number"))?;
        out.push(PctListEntry { vmid, status: GuestStatus::from_word(status), lock, name: name.to_string() });
    }
    Ok(out)
}

/// Container `netN` (typed view of the property string, which is kept in `raw`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LxcNet {
    pub name: String,
    pub bridge: Option<String>,
    pub ip: Option<String>,
    pub gw: Option<String>,
    pub ip6: Option<String>,
    pub gw6: Option<String>,
    pub hwaddr: Option<String>,
    pub firewall: bool,
    pub tag: Option<u16>,
    pub mtu: Option<u32>,
    pub r#type: Option<String>,
    pub raw: PropString,
}

/// `rootfs` / `mpN`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MountPoint {
    pub volume: String,
    /// Mount path inside the CT; `/` for rootfs.
    pub mp: String,
    /// Size in bytes, when given.
    pub size: Option<u64>,
    pub ro: bool,
    /// `backup` flag; `None` = not set (Proxmox default: rootfs yes, volumes yes, bind mounts no).
    pub backup: Option<bool>,
    pub acl: Option<bool>,
    pub mountoptions: Option<String>,
    pub raw: PropString,
}

impl MountPoint {
    pub fn size_gib(&self) -> Option<f64> {
        self.size.map(|b| b as f64 / (1u64 << 30) as f64)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LxcFeatures {
    pub nesting: bool,
    pub keyctl: bool,
    pub fuse: bool,
    pub mknod: bool,
    pub force_rw_sys: bool,
    /// Allowed filesystem types (`mount=nfs;cifs`).
    pub mount: Vec<String>,
}

/// A container configuration with typed fields for what phoenix manages; every key is also in
/// `raw`, and keys without a typed field are in `other`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PctConfig {
    pub hostname: Option<String>,
    pub cores: Option<u32>,
    pub memory: Option<u64>,
    pub swap: Option<u64>,
    pub onboot: Option<bool>,
    pub startup: Option<Startup>,
    pub unprivileged: Option<bool>,
    pub template: bool,
    pub lock: Option<String>,
    pub features: Option<LxcFeatures>,
    pub nameserver: Option<String>,
    pub searchdomain: Option<String>,
    pub rootfs: Option<MountPoint>,
    pub nets: BTreeMap<u8, LxcNet>,
    pub mount_points: BTreeMap<u8, MountPoint>,
    pub lxc: Vec<(String, String)>,
    pub description: Option<String>,
    pub other: IndexMap<String, String>,
    pub raw: IndexMap<String, String>,
}

/// `pct config <id>` output (sorted `key: value`, then `lxc.*` lines).
pub fn parse_pct_config(text: &str) -> Result<PctConfig, PctParseError> {
    pct_config_from_section(&parse_config_output(text)?)
}

/// A parsed `/etc/pve/lxc/<id>.conf`, its main section and snapshots typed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PctConfFile {
    pub current: PctConfig,
    pub pending: Option<ConfSection>,
    pub snapshots: IndexMap<String, PctConfig>,
    pub file: ConfFile,
}

/// `/etc/pve/lxc/<id>.conf` with `[pve:pending]` and snapshot sections.
pub fn parse_pct_conf_file(text: &str) -> Result<PctConfFile, PctParseError> {
    let file = parse_conf_file(text)?;
    let current = pct_config_from_section(&file.main)?;
    let mut snapshots = IndexMap::new();
    for (name, sec) in &file.snapshots {
        snapshots.insert(name.clone(), pct_config_from_section(sec)?);
    }
    Ok(PctConfFile { current, pending: file.pending.clone(), snapshots, file })
}

/// Build the typed view of one config section.
pub fn pct_config_from_section(sec: &ConfSection) -> Result<PctConfig, PctParseError> {
    let mut cfg = PctConfig {
        raw: sec.entries.clone(),
        lxc: sec.lxc.clone(),
        description: sec.description(),
        ..PctConfig::default()
    };
    for (k, v) in &sec.entries {
        let (k, v) = (k.as_str(), v.as_str());
        match k {
            "hostname" => cfg.hostname = Some(v.to_string()),
            "cores" => cfg.cores = Some(num(k, v)?),
            "memory" => cfg.memory = Some(num(k, v)?),
            "swap" => cfg.swap = Some(num(k, v)?),
            "onboot" => cfg.onboot = Some(boolean(k, v)?),
            "unprivileged" => cfg.unprivileged = Some(boolean(k, v)?),
            "template" => cfg.template = boolean(k, v)?,
            "lock" => cfg.lock = Some(v.to_string()),
            "nameserver" => cfg.nameserver = Some(v.to_string()),
            "searchdomain" => cfg.searchdomain = Some(v.to_string()),
            "description" => {}
            "startup" => cfg.startup = Some(propstring::startup(v).map_err(|e| prop(k, e))?),
            "features" => cfg.features = Some(parse_features(v).map_err(|e| prop(k, e))?),
            "rootfs" => cfg.rootfs = Some(parse_mount(k, v, true)?),
            _ => {
                if let Some(n) = indexed(k, "net") {
                    cfg.nets.insert(n, parse_lxc_net(v).map_err(|e| prop(k, e))?);
                } else if let Some(n) = indexed(k, "mp") {
                    cfg.mount_points.insert(n, parse_mount(k, v, false)?);
                } else {
                    cfg.other.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    Ok(cfg)
}

/// A typed `netN` value.
pub fn parse_lxc_net(v: &str) -> Result<LxcNet, PropStringError> {
    let raw = propstring::lxc_net(v)?;
    let s = |k: &str| raw.get(k).map(str::to_string);
    let firewall = raw.get_bool("firewall").transpose()?.unwrap_or(false);
    let int = |k: &'static str| -> Result<Option<u32>, PropStringError> {
        raw.get(k)
            .map(|x| {
                x.parse::<u32>().map_err(|_| PropStringError::InvalidValue {
                    key: k.to_string(),
                    value: x.to_string(),
                    reason: "not an integer",
                })
            })
            .transpose()
    };
    let tag = match int("tag")? {
        Some(t) => Some(u16::try_from(t).map_err(|_| PropStringError::InvalidValue {
            key: "tag".into(),
            value: t.to_string(),
            reason: "VLAN tag out of range",
        })?),
        None => None,
    };
    Ok(LxcNet {
        name: s("name").unwrap_or_default(),
        bridge: s("bridge"),
        ip: s("ip"),
        gw: s("gw"),
        ip6: s("ip6"),
        gw6: s("gw6"),
        hwaddr: s("hwaddr"),
        firewall,
        tag,
        mtu: int("mtu")?,
        r#type: s("type"),
        raw,
    })
}

fn parse_mount(key: &str, v: &str, rootfs: bool) -> Result<MountPoint, PctParseError> {
    let raw = propstring::lxc_mount(v, rootfs).map_err(|e| prop(key, e))?;
    let b = |k: &str| raw.get_bool(k).transpose().map_err(|e| prop(key, e));
    let size = match raw.get("size") {
        Some(s) => Some(parse_size(s).ok_or_else(|| PctParseError::Value {
            key: format!("{key}.size"),
            value: s.to_string(),
            expected: "a disk size like 8G",
        })?),
        None => None,
    };
    Ok(MountPoint {
        volume: raw.get("volume").unwrap_or_default().to_string(),
        mp: if rootfs { "/".to_string() } else { raw.get("mp").unwrap_or_default().to_string() },
        size,
        ro: b("ro")?.unwrap_or(false),
        backup: b("backup")?,
        acl: b("acl")?,
        mountoptions: raw.get("mountoptions").map(str::to_string),
        raw,
    })
}

fn parse_features(v: &str) -> Result<LxcFeatures, PropStringError> {
    let ps = propstring::features(v)?;
    let flag = |k: &str| ps.get(k) == Some("1");
    Ok(LxcFeatures {
        nesting: flag("nesting"),
        keyctl: flag("keyctl"),
        fuse: flag("fuse"),
        mknod: flag("mknod"),
        force_rw_sys: flag("force_rw_sys"),
        mount: ps.get("mount").map(|m| m.split(';').map(str::to_string).collect()).unwrap_or_default(),
    })
}

/// `net3` → 3 for prefix `net`; `None` for other keys (`netmask`, `net`).
pub(crate) fn indexed(key: &str, prefix: &str) -> Option<u8> {
    let rest = key.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

fn prop(key: &str, source: PropStringError) -> PctParseError {
    PctParseError::Prop { key: key.to_string(), source }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, PctParseError> {
    v.parse::<T>().map_err(|_| PctParseError::Value { key: key.into(), value: v.into(), expected: "an integer" })
}

fn boolean(key: &str, v: &str) -> Result<bool, PctParseError> {
    parse_bool(v).ok_or_else(|| PctParseError::Value { key: key.into(), value: v.into(), expected: "a boolean" })
}

/// One snapshot from `pct listsnapshot` / `qm listsnapshot` (the `current` row is left out).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub name: String,
    /// Tree depth (0 = root).
    pub depth: usize,
    /// The snapshot this one was taken after (the nearest shallower row above it).
    pub parent: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS` in the host's local time.
    pub time: Option<String>,
    /// First line of the description; `None` for the tool's `no-description` placeholder.
    pub description: Option<String>,
}

/// `pct listsnapshot`: rows `<depth spaces>` + `` `-> `` + name padded + time + description.
pub fn parse_listsnapshot(text: &str) -> Result<Vec<Snapshot>, PctParseError> {
    let mut out: Vec<Snapshot> = Vec::new();
    // Names of the rows on the path from the root to the previous row, by depth.
    let mut path: Vec<String> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| PctParseError::Line { line: line_no, text: line.to_string(), reason };
        let depth = line.len() - line.trim_start_matches(' ').len();
        let rest = line[depth..].strip_prefix("`-> ").ok_or_else(|| bad("expected a `-> tree row"))?;
        let rest = rest.trim_start();
        let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (name, rest) = rest.split_at(name_end);
        let rest = rest.trim_start();
        path.truncate(depth);
        if name == "current" {
            continue;
        }
        let (time, rest) =
            if is_timestamp(rest) { (Some(rest[..19].to_string()), rest[19..].trim()) } else { (None, rest.trim()) };
        let description = match rest {
            "" | "no-description" => None,
            d => Some(d.to_string()),
        };
        let parent = if depth == 0 { None } else { path.get(depth - 1).cloned() };
        if depth > 0 && parent.is_none() {
            return Err(bad("tree row deeper than its parent"));
        }
        path.push(name.to_string());
        out.push(Snapshot { name: name.to_string(), depth, parent, time, description });
    }
    Ok(out)
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {

    /// `pct config` of a PVE 9 container: mount `idmap`/`keepattrs`, a net key newer than
    /// phoenix, an option phoenix does not model, a pending deletion list with `!` and `;`.
    #[test]
    fn pve9_shaped_container_config() {
        let text = "arch: amd64\ncores: 2\nhostname: web01\nmemory: 1024\n\
                    mp0: /srv/data,mp=/data,idmap=u:0:100000:65536,keepattrs=1\n\
                    mp1: tank:subvol-120-disk-1,mp=/var/lib/x,backup=1,size=8G\n\
                    net0: name=eth0,bridge=vmbr0,host-tunnel=1,hwaddr=BC:24:11:5E:7A:01,ip=dhcp,type=veth\n\
                    ostype: debian\nrootfs: tank:subvol-120-disk-0,size=8G\nentrypoint: /sbin/init\nunprivileged: 1\n";
        let c = parse_pct_config(text).unwrap();
        assert_eq!(c.mount_points[&0].mp, "/data");
        assert_eq!(c.mount_points[&0].raw.get("keepattrs"), Some("1"));
        assert_eq!(c.mount_points[&1].size, Some(8 << 30));
        assert_eq!(c.nets[&0].bridge.as_deref(), Some("vmbr0"));
        assert_eq!(c.other.get("entrypoint").map(String::as_str), Some("/sbin/init"));

        let f =
            parse_pct_conf_file(&format!("{text}\n[pve:pending]\ncores: 4\ndelete: !swap;mp1 nameserver\n")).unwrap();
        let pending = f.file.pending.as_ref().unwrap();
        let deletes: Vec<String> = crate::facts::guest_config::pending_deletes(pending.get("delete").unwrap())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(deletes, ["swap", "mp1", "nameserver"]);
    }

    use super::*;

    const LIST: &str = "VMID       Status     Lock         Name                \n100        running                 web01               \n101        stopped    create       CT101               \n";

    #[test]
    fn pct_list_contract_example() {
        let l = parse_pct_list(LIST).unwrap();
        assert_eq!(
            l,
            vec![
                PctListEntry { vmid: 100, status: GuestStatus::Running, lock: None, name: "web01".into() },
                PctListEntry {
                    vmid: 101,
                    status: GuestStatus::Stopped,
                    lock: Some("create".into()),
                    name: "CT101".into()
                },
            ]
        );
        assert_eq!(parse_pct_list("").unwrap(), vec![]);
        assert_eq!(parse_pct_list(&LIST.replace('\n', "\r\n")).unwrap().len(), 2);
    }

    #[test]
    fn pct_list_overflowing_lock_and_garbage() {
        let l = parse_pct_list("102        stopped    snapshot-delete web02               \n").unwrap();
        assert_eq!(l[0].lock.as_deref(), Some("snapshot-delete"));
        assert_eq!(l[0].name, "web02");
        let e = parse_pct_list(&format!("{LIST}garbage\n")).unwrap_err();
        assert!(matches!(e, PctParseError::Line { line: 4, .. }), "{e}");
        assert!(matches!(parse_pct_list("abc running x\n"), Err(PctParseError::Line { line: 1, .. })));
    }

    #[test]
    fn status() {
        assert_eq!(parse_status("status: running\n").unwrap(), GuestStatus::Running);
        assert_eq!(parse_status("status: stopped\n").unwrap(), GuestStatus::Stopped);
        assert_eq!(parse_status("cpus: 2\nstatus: paused\n").unwrap(), GuestStatus::Paused);
        assert!(parse_status("").is_err());
        assert!(parse_status("Configuration file 'nodes/pve/lxc/1.conf' does not exist\n").is_err());
    }

    const CONFIG: &str = "arch: amd64\ncores: 2\nfeatures: keyctl=1,nesting=1\nhostname: web01\nmemory: 2048\nnet0: name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:5E:7A:01,ip=10.0.0.20/24,type=veth\nonboot: 1\nostype: debian\nrootfs: local-zfs:subvol-120-disk-0,size=8G\nstartup: order=2,up=30\nswap: 512\nunprivileged: 1\nlxc.cgroup2.devices.allow: c 10:200 rwm\nlxc.mount.entry: /dev/net dev/net none bind,create=dir\n";

    #[test]
    fn pct_config_contract_example() {
        let c = parse_pct_config(CONFIG).unwrap();
        assert_eq!(c.hostname.as_deref(), Some("web01"));
        assert_eq!(c.cores, Some(2));
        assert_eq!(c.memory, Some(2048));
        assert_eq!(c.swap, Some(512));
        assert_eq!(c.onboot, Some(true));
        assert_eq!(c.unprivileged, Some(true));
        assert_eq!(c.startup, Some(Startup { order: Some(2), up: Some(30), down: None }));
        let f = c.features.clone().unwrap();
        assert!(f.nesting && f.keyctl && !f.fuse);
        let root = c.rootfs.clone().unwrap();
        assert_eq!(root.volume, "local-zfs:subvol-120-disk-0");
        assert_eq!(root.size, Some(8 << 30));
        assert_eq!(root.size_gib(), Some(8.0));
        let n = &c.nets[&0];
        assert_eq!(n.name, "eth0");
        assert_eq!(n.bridge.as_deref(), Some("vmbr0"));
        assert_eq!(n.ip.as_deref(), Some("10.0.0.20/24"));
        assert_eq!(n.gw.as_deref(), Some("10.0.0.1"));
        assert_eq!(n.hwaddr.as_deref(), Some("BC:24:11:5E:7A:01"));
        assert!(n.firewall);
        assert_eq!(n.r#type.as_deref(), Some("veth"));
        assert_eq!(c.lxc.len(), 2);
        assert_eq!(c.lxc[0], ("lxc.cgroup2.devices.allow".to_string(), "c 10:200 rwm".to_string()));
        assert_eq!(c.other.keys().collect::<Vec<_>>(), vec!["arch", "ostype"]);
        assert_eq!(c.raw.len(), 12);
    }

    #[test]
    fn pct_config_old_net_order_mount_points_and_description() {
        let text = "description: caf%C3%A9%20%3A%20web\nmp0: local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=8G\nmp1: /mnt/bindmounts/shared,mp=/shared,ro=1\nnet0: bridge=vmbr0,hwaddr=66:64:66:64:64:36,ip=dhcp,name=eth0,type=veth,tag=20,mtu=1400\nlock: backup\ntemplate: 1\n";
        let c = parse_pct_config(text).unwrap();
        assert_eq!(c.description.as_deref(), Some("café : web"));
        assert_eq!(c.mount_points[&0].mp, "/data");
        assert_eq!(c.mount_points[&0].backup, Some(true));
        assert_eq!(c.mount_points[&1].volume, "/mnt/bindmounts/shared");
        assert!(c.mount_points[&1].ro);
        assert_eq!(c.mount_points[&1].size, None);
        assert_eq!(c.nets[&0].name, "eth0");
        assert_eq!(c.nets[&0].tag, Some(20));
        assert_eq!(c.nets[&0].mtu, Some(1400));
        assert_eq!(c.lock.as_deref(), Some("backup"));
        assert!(c.template);
        assert_eq!(c.hostname, None);
    }

    #[test]
    fn pct_config_bad_values_are_errors_naming_the_key() {
        let e = parse_pct_config("cores: two\n").unwrap_err();
        assert!(e.to_string().contains("cores"), "{e}");
        let e = parse_pct_config("net0: bridge=vmbr0\n").unwrap_err();
        assert!(e.to_string().starts_with("net0:"), "{e}");
        let e = parse_pct_config("onboot: maybe\n").unwrap_err();
        assert!(matches!(e, PctParseError::Value { .. }));
    }

    #[test]
    fn conf_file_with_snapshots() {
        let text = "#my%20ct\ncores: 2\nhostname: a\nparent: s1\nlxc.apparmor.profile = unconfined\n\n[pve:pending]\ncores: 4\n\n[s1]\ncores: 1\nhostname: a\nsnaptime: 1714560000\n";
        let f = parse_pct_conf_file(text).unwrap();
        assert_eq!(f.current.description.as_deref(), Some("my ct"));
        assert_eq!(f.current.cores, Some(2));
        assert_eq!(f.current.lxc, vec![("lxc.apparmor.profile".to_string(), "unconfined".to_string())]);
        assert_eq!(f.pending.unwrap().get("cores"), Some("4"));
        assert_eq!(f.snapshots["s1"].cores, Some(1));
        assert_eq!(f.snapshots["s1"].other.get("snaptime").map(String::as_str), Some("1714560000"));
    }

    #[test]
    fn listsnapshot() {
        let text = "`-> snap1                       2024-05-01 12:00:00     no-description\n `-> snap2                      2024-05-02 12:00:00     before upgrade\n  `-> current                                           You are here!\n";
        let s = parse_listsnapshot(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "snap1");
        assert_eq!(s[0].time.as_deref(), Some("2024-05-01 12:00:00"));
        assert_eq!(s[0].description, None);
        assert_eq!(s[0].parent, None);
        assert_eq!(s[1].depth, 1);
        assert_eq!(s[1].parent.as_deref(), Some("snap1"));
        assert_eq!(s[1].description.as_deref(), Some("before upgrade"));
        let none =
            parse_listsnapshot("`-> current                                              You are here!\n").unwrap();
        assert!(none.is_empty());
        assert!(parse_listsnapshot("snap1 2024\n").is_err());
    }
}
