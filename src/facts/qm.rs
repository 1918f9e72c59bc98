//! Typed readings of `qm list`, `qm config` / `/etc/pve/qemu-server/<id>.conf` and
//! `qm guest exec` JSON (contracts §B).

use super::guest_config::{parse_conf_file, parse_config_output, ConfFile, ConfParseError, ConfSection};
use super::pct::{indexed, GuestStatus};
use super::propstring::{self, parse_bool, parse_size, PropString, PropStringError, Startup};
use indexmap::IndexMap;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QmParseError {
    #[error("line {line}: unexpected output '{text}' ({reason})")]
    Line { line: usize, text: String, reason: &'static str },
    #[error(transparent)]
    Conf(#[from] ConfParseError),
    #[error("{key}: {source}")]
    Prop { key: String, source: PropStringError },
    #[error("{key}: invalid value '{value}' (expected {expected})")]
    Value { key: String, value: String, expected: &'static str },
    #[error("guest exec output is not the expected JSON: {reason}")]
    Json { reason: String },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QmListEntry {
    pub vmid: u32,
    pub name: String,
    pub status: GuestStatus,
    pub mem_mib: u64,
    pub bootdisk_gib: f64,
    pub pid: u32,
}

/// `qm list`: header `"%10s %-20s %-10s %-10s %12s %-10s\n"`, nothing when there are no VMs.
/// The name may contain spaces (`VM 123`) and may overflow its 20 columns, which shifts every
/// later column; the other fields never contain spaces, so the row is read as: first field =
/// VMID, last four = status, mem, bootdisk, pid, and the name is what lies between.
pub fn parse_qm_list(text: &str) -> Result<Vec<QmListEntry>, QmParseError> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim_end_matches('\r').trim_end();
        let bad = |reason| QmParseError::Line { line: line_no, text: line.to_string(), reason };
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with("VMID NAME") {
            continue;
        }
        let vmid_end = trimmed.find(' ').ok_or_else(|| bad("expected VMID NAME STATUS MEM BOOTDISK PID"))?;
        let vmid = trimmed[..vmid_end].parse::<u32>().map_err(|_| bad("VMID is not a number"))?;
        let mut rest = trimmed[vmid_end..].trim();
        let mut tail: Vec<&str> = Vec::with_capacity(4);
        for _ in 0..4 {
            let cut = rest.rfind(' ').ok_or_else(|| bad("expected VMID NAME STATUS MEM BOOTDISK PID"))?;
            tail.push(&rest[cut + 1..]);
            rest = rest[..cut].trim_end();
        }
        let name = rest.trim();
        if name.is_empty() {
            return Err(bad("missing NAME"));
        }
        let (pid, disk, mem, status) = (tail[0], tail[1], tail[2], tail[3]);
        out.push(QmListEntry {
            vmid,
            name: name.to_string(),
            status: GuestStatus::from_word(status),
            mem_mib: mem.parse().map_err(|_| bad("MEM(MB) is not a number"))?,
            bootdisk_gib: disk.parse().map_err(|_| bad("BOOTDISK(GB) is not a number"))?,
            pid: pid.parse().map_err(|_| bad("PID is not a number"))?,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VmNet {
    pub model: String,
    pub mac: Option<String>,
    pub bridge: Option<String>,
    pub firewall: bool,
    pub tag: Option<u16>,
    pub raw: PropString,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VmDisk {
    /// Volume id (`local-lvm:vm-9000-disk-0`), `none`, or a path.
    pub volume: String,
    pub size: Option<u64>,
    /// `cdrom` or `disk` (absent = disk).
    pub media: Option<String>,
    pub raw: PropString,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IpConfig {
    pub ip: Option<String>,
    pub gw: Option<String>,
    pub ip6: Option<String>,
    pub gw6: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QmConfig {
    pub name: Option<String>,
    pub cores: Option<u32>,
    pub sockets: Option<u32>,
    pub memory: Option<u64>,
    pub onboot: Option<bool>,
    pub startup: Option<Startup>,
    /// `agent` enabled (`agent: 1` or `agent: enabled=1,…`); `None` when not configured.
    pub agent: Option<bool>,
    /// `boot: order=scsi0;net0` → devices in order; empty when absent or legacy form (see raw).
    pub boot_order: Vec<String>,
    pub nets: BTreeMap<u8, VmNet>,
    /// `scsiN`, `virtioN`, `ideN`, `sataN`, keyed by the config key.
    pub disks: BTreeMap<String, VmDisk>,
    pub ciuser: Option<String>,
    /// URL-decoded authorized_keys text.
    pub sshkeys: Option<String>,
    pub ipconfigs: BTreeMap<u8, IpConfig>,
    pub nameserver: Option<String>,
    pub searchdomain: Option<String>,
    pub template: bool,
    pub lock: Option<String>,
    pub cicustom: Option<PropString>,
    pub description: Option<String>,
    pub other: IndexMap<String, String>,
    pub raw: IndexMap<String, String>,
}

/// `qm config <vmid>` output.
pub fn parse_qm_config(text: &str) -> Result<QmConfig, QmParseError> {
    qm_config_from_section(&parse_config_output(text)?)
}

/// `/etc/pve/qemu-server/<id>.conf`: main section typed, everything else kept as sections.
pub fn parse_qm_conf_file(text: &str) -> Result<(QmConfig, ConfFile), QmParseError> {
    let file = parse_conf_file(text)?;
    Ok((qm_config_from_section(&file.main)?, file))
}

const DISK_PREFIXES: [&str; 4] = ["scsi", "virtio", "ide", "sata"];

pub fn qm_config_from_section(sec: &ConfSection) -> Result<QmConfig, QmParseError> {
    let mut cfg = QmConfig { raw: sec.entries.clone(), description: sec.description(), ..QmConfig::default() };
    for (k, v) in &sec.entries {
        let (k, v) = (k.as_str(), v.as_str());
        match k {
            "name" => cfg.name = Some(v.to_string()),
            "cores" => cfg.cores = Some(num(k, v)?),
            "sockets" => cfg.sockets = Some(num(k, v)?),
            // `memory` may be a property string in new releases (`current=2048`).
            "memory" => {
                let ps = PropString::parse(v, Some("current")).map_err(|e| prop(k, e))?;
                cfg.memory = Some(num(k, ps.get("current").unwrap_or(v))?);
            }
            "onboot" => cfg.onboot = Some(boolean(k, v)?),
            "template" => cfg.template = boolean(k, v)?,
            "lock" => cfg.lock = Some(v.to_string()),
            "ciuser" => cfg.ciuser = Some(v.to_string()),
            "sshkeys" => cfg.sshkeys = Some(super::guest_config::percent_decode(v)),
            "nameserver" => cfg.nameserver = Some(v.to_string()),
            "searchdomain" => cfg.searchdomain = Some(v.to_string()),
            "description" => {}
            "startup" => cfg.startup = Some(propstring::startup(v).map_err(|e| prop(k, e))?),
            "cicustom" => cfg.cicustom = Some(PropString::parse(v, None).map_err(|e| prop(k, e))?),
            "agent" => {
                let ps = PropString::parse_format(v, &propstring::VM_AGENT).map_err(|e| prop(k, e))?;
                cfg.agent = Some(ps.get_bool("enabled").transpose().map_err(|e| prop(k, e))?.unwrap_or(false));
            }
            "boot" => {
                // Legacy `boot: cdn` has no `order=`; it stays in raw only.
                if let Some(order) = v.strip_prefix("order=") {
                    let order = order.split(',').next().unwrap_or_default();
                    cfg.boot_order = order.split(';').filter(|s| !s.is_empty()).map(str::to_string).collect();
                }
            }
            _ => {
                if let Some(n) = indexed(k, "net") {
                    cfg.nets.insert(n, parse_vm_net(v).map_err(|e| prop(k, e))?);
                } else if let Some(n) = indexed(k, "ipconfig") {
                    let ps = PropString::parse_host(v, &propstring::VM_IPCONFIG).map_err(|e| prop(k, e))?;
                    let s = |x: &str| ps.get(x).map(str::to_string);
                    cfg.ipconfigs.insert(n, IpConfig { ip: s("ip"), gw: s("gw"), ip6: s("ip6"), gw6: s("gw6") });
                } else if DISK_PREFIXES.iter().any(|p| indexed(k, p).is_some()) {
                    cfg.disks.insert(k.to_string(), parse_vm_disk(k, v)?);
                } else {
                    cfg.other.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    Ok(cfg)
}

/// A typed VM `netN` (`virtio=MAC,bridge=…`).
pub fn parse_vm_net(v: &str) -> Result<VmNet, PropStringError> {
    let raw = propstring::vm_net(v)?;
    let tag = match raw.get("tag") {
        Some(t) => Some(t.parse::<u16>().map_err(|_| PropStringError::InvalidValue {
            key: "tag".into(),
            value: t.to_string(),
            reason: "not a VLAN tag",
        })?),
        None => None,
    };
    Ok(VmNet {
        model: raw.get("model").unwrap_or_default().to_string(),
        mac: raw.get("macaddr").map(str::to_string),
        bridge: raw.get("bridge").map(str::to_string),
        firewall: raw.get_bool("firewall").transpose()?.unwrap_or(false),
        tag,
        raw,
    })
}

fn parse_vm_disk(key: &str, v: &str) -> Result<VmDisk, QmParseError> {
    let raw = PropString::parse_format(v, &propstring::VM_DISK).map_err(|e| prop(key, e))?;
    let size = match raw.get("size") {
        Some(s) => Some(parse_size(s).ok_or_else(|| QmParseError::Value {
            key: format!("{key}.size"),
            value: s.to_string(),
            expected: "a disk size like 32G",
        })?),
        None => None,
    };
    Ok(VmDisk {
        volume: raw.get("file").unwrap_or_default().to_string(),
        size,
        media: raw.get("media").map(str::to_string),
        raw,
    })
}

fn prop(key: &str, source: PropStringError) -> QmParseError {
    QmParseError::Prop { key: key.to_string(), source }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, QmParseError> {
    v.parse::<T>().map_err(|_| QmParseError::Value { key: key.into(), value: v.into(), expected: "an integer" })
}

fn boolean(key: &str, v: &str) -> Result<bool, QmParseError> {
    parse_bool(v).ok_or_else(|| QmParseError::Value { key: key.into(), value: v.into(), expected: "a boolean" })
}

/// `qm guest exec` / `exec-status` result. `pid` alone means the command is still running
/// (timeout or `--synchronous 0`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GuestExecResult {
    pub exited: bool,
    pub exitcode: Option<i64>,
    pub out_data: Option<String>,
    pub err_data: Option<String>,
    pub signal: Option<i64>,
    pub pid: Option<u64>,
    pub out_truncated: bool,
    pub err_truncated: bool,
}

/// Parse the pretty JSON `qm guest exec` prints (booleans already 1/0, but accept true/false).
pub fn parse_guest_exec_json(text: &str) -> Result<GuestExecResult, QmParseError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| QmParseError::Json { reason: e.to_string() })?;
    let obj = v.as_object().ok_or_else(|| QmParseError::Json { reason: "not a JSON object".into() })?;
    let flag = |k: &str| -> Result<bool, QmParseError> {
        match obj.get(k) {
            None => Ok(false),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(serde_json::Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(n.as_i64() == Some(1))
            }
            Some(other) => Err(QmParseError::Json { reason: format!("'{k}' is not a boolean: {other}") }),
        }
    };
    let int = |k: &str| -> Result<Option<i64>, QmParseError> {
        match obj.get(k) {
            None => Ok(None),
            Some(x) => x
                .as_i64()
                .map(Some)
                .ok_or_else(|| QmParseError::Json { reason: format!("'{k}' is not an integer: {x}") }),
        }
    };
    let text_field = |k: &str| -> Result<Option<String>, QmParseError> {
        match obj.get(k) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(x) => Err(QmParseError::Json { reason: format!("'{k}' is not a string: {x}") }),
        }
    };
    let pid = match int("pid")? {
        Some(p) => Some(u64::try_from(p).map_err(|_| QmParseError::Json { reason: format!("negative pid {p}") })?),
        None => None,
    };
    Ok(GuestExecResult {
        exited: flag("exited")?,
        exitcode: int("exitcode")?,
        out_data: text_field("out-data")?,
        err_data: text_field("err-data")?,
        signal: int("signal")?,
        pid,
        out_truncated: flag("out-truncated")?,
        err_truncated: flag("err-truncated")?,
    })
}

#[cfg(test)]
mod tests {

    /// `qm config` of a VM on a newer host: a net key, an ipconfig key and an option phoenix does
    /// not know, and a legacy `cdrom:` line, which qemu-server reads as `ide2`.
    #[test]
    fn newer_and_legacy_keys() {
        let text = "cdrom: local:iso/x.iso,media=cdrom\ncores: 2\nipconfig0: ip=dhcp,future=1\n\
                    net0: virtio=BC:24:11:12:34:56,bridge=vmbr0,host-tunnel=1\nname: a\nnew-thing: 1\n";
        let c = parse_qm_config(text).unwrap();
        assert_eq!(c.disks["ide2"].media.as_deref(), Some("cdrom"));
        assert_eq!(c.nets[&0].mac.as_deref(), Some("BC:24:11:12:34:56"));
        assert_eq!(c.ipconfigs[&0].ip.as_deref(), Some("dhcp"));
        assert_eq!(c.other.get("new-thing").map(String::as_str), Some("1"));
    }

    use super::*;

    const LIST: &str = "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n       123 vm123                running    4096              32.00 12345     \n      9000 ubuntu-tmpl          stopped    2048               3.50 0         \n";

    #[test]
    fn qm_list_contract_example() {
        let l = parse_qm_list(LIST).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].vmid, 123);
        assert_eq!(l[0].name, "vm123");
        assert_eq!(l[0].status, GuestStatus::Running);
        assert_eq!(l[0].mem_mib, 4096);
        assert_eq!(l[0].bootdisk_gib, 32.0);
        assert_eq!(l[0].pid, 12345);
        assert_eq!(l[1].name, "ubuntu-tmpl");
        assert_eq!(l[1].bootdisk_gib, 3.5);
        assert!(parse_qm_list("").unwrap().is_empty());
    }

    #[test]
    fn qm_list_name_with_space_and_overflow() {
        let text = format!(
            "{:>10} {:<20} {:<10} {:<10} {:>12.2} {:<10}\n{:>10} {:<20} {:<10} {:<10} {:>12.2} {:<10}\n",
            124, "VM 124", "stopped", 512, 0.0, 0, 125, "a-very-long-name-over-twenty", "running", 1024, 8.0, 77
        );
        let l = parse_qm_list(&text.replace('\n', "\r\n")).unwrap();
        assert_eq!(l[0].name, "VM 124");
        assert_eq!(l[0].mem_mib, 512);
        assert_eq!(l[1].name, "a-very-long-name-over-twenty");
        assert_eq!(l[1].pid, 77);
        let e = parse_qm_list(&format!("{LIST}       126 broken\n")).unwrap_err();
        assert!(matches!(e, QmParseError::Line { line: 4, .. }), "{e}");
    }

    const CONFIG: &str = "agent: enabled=1\nboot: order=scsi0\ncipassword: **********\nciuser: ubuntu\ncores: 2\nide2: local-lvm:vm-9000-cloudinit,media=cdrom\nipconfig0: ip=10.0.10.123/24,gw=10.0.10.1\nmemory: 2048\nmeta: creation-qemu=9.0.2,ctime=1714560000\nname: ubuntu-tmpl\nnet0: virtio=BC:24:11:12:34:56,bridge=vmbr0,firewall=1\nscsi0: local-lvm:vm-9000-disk-0,size=3584M\nscsihw: virtio-scsi-pci\nserial0: socket\nsmbios1: uuid=<uuid>\nsshkeys: ssh-ed25519%20AAAA...%20user%40host%0A\nvga: serial0\nvmgenid: <uuid>\n";

    #[test]
    fn qm_config_contract_example() {
        let c = parse_qm_config(CONFIG).unwrap();
        assert_eq!(c.agent, Some(true));
        assert_eq!(c.boot_order, vec!["scsi0".to_string()]);
        assert_eq!(c.ciuser.as_deref(), Some("ubuntu"));
        assert_eq!(c.cores, Some(2));
        assert_eq!(c.memory, Some(2048));
        assert_eq!(c.name.as_deref(), Some("ubuntu-tmpl"));
        let n = &c.nets[&0];
        assert_eq!((n.model.as_str(), n.mac.as_deref()), ("virtio", Some("BC:24:11:12:34:56")));
        assert_eq!(n.bridge.as_deref(), Some("vmbr0"));
        assert!(n.firewall);
        assert_eq!(c.disks["scsi0"].volume, "local-lvm:vm-9000-disk-0");
        assert_eq!(c.disks["scsi0"].size, Some(3584 << 20));
        assert_eq!(c.disks["ide2"].media.as_deref(), Some("cdrom"));
        assert_eq!(c.ipconfigs[&0].ip.as_deref(), Some("10.0.10.123/24"));
        assert_eq!(c.ipconfigs[&0].gw.as_deref(), Some("10.0.10.1"));
        assert_eq!(c.sshkeys.as_deref(), Some("ssh-ed25519 AAAA... user@host\n"));
        assert!(c.other.contains_key("cipassword") && c.other.contains_key("vmgenid"));
        assert!(!c.other.contains_key("scsi0"));
        assert_eq!(c.raw.len(), 18);
        assert!(!c.template);
    }

    #[test]
    fn qm_config_variants_and_errors() {
        let c = parse_qm_config("agent: 0\nboot: order=scsi0;ide2;net0\nmemory: current=4096\ntemplate: 1\nscsi1: local-lvm:base-9000-disk-0/vm-123-disk-0,size=32G\ndescription: my%20vm\n").unwrap();
        assert_eq!(c.agent, Some(false));
        assert_eq!(c.boot_order, vec!["scsi0", "ide2", "net0"]);
        assert_eq!(c.memory, Some(4096));
        assert!(c.template);
        assert_eq!(c.disks["scsi1"].size, Some(32 << 30));
        assert_eq!(c.description.as_deref(), Some("my vm"));
        assert!(parse_qm_config("net0: bridge=vmbr0\n").unwrap_err().to_string().starts_with("net0:"));
        assert!(parse_qm_config("cores: x\n").is_err());
        assert!(parse_qm_config("scsi0: local-lvm:x,size=big\n").is_err());
    }

    #[test]
    fn guest_exec_json() {
        let r =
            parse_guest_exec_json("{\n   \"exitcode\" : 0,\n   \"exited\" : 1,\n   \"out-data\" : \"hello\\n\"\n}\n")
                .unwrap();
        assert!(r.exited);
        assert_eq!(r.exitcode, Some(0));
        assert_eq!(r.out_data.as_deref(), Some("hello\n"));
        assert_eq!(r.err_data, None);
        let p = parse_guest_exec_json("{\n   \"pid\" : 1234\n}\n").unwrap();
        assert_eq!(p.pid, Some(1234));
        assert!(!p.exited);
        let f = parse_guest_exec_json(
            "{\"exited\":true,\"exitcode\":2,\"err-data\":\"x\",\"err-truncated\":1,\"signal\":9}",
        )
        .unwrap();
        assert!(f.exited && f.err_truncated);
        assert_eq!(f.signal, Some(9));
        assert!(parse_guest_exec_json("timeout reached").is_err());
        assert!(parse_guest_exec_json("{\"exited\":\"yes\"}").is_err());
    }
}
