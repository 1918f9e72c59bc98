//! QEMU virtual machines: the desired `qm` configuration derived from the inventory, and the ops
//! that bring a VM to it — build a template from a cloud image (never started), clone, configure
//! (only what differs), grow the disk, power, snapshots, destroy, and the readiness probes (guest
//! agent, cloud-init). The order of these steps is the plan's (`stdlib/vm.rhai`).

use super::file::{ensure_file, DesiredFile};
use super::{Action, Change, Diff, Effect, OpError, Plan, Step};
use crate::command::Command;
use crate::connector::{FileData, FileWrite};
use crate::facts::guest_config::ConfSection;
use crate::facts::guests::{GuestChange, GuestConf, Origin, Power};
use crate::facts::propstring::{self, PropString};
use crate::facts::Facts;
use crate::generate::{self, propstring::PropertyString, GenerateError};
use crate::graph::GuestKind;
use crate::inventory::{HypervisorConfig, VmGuest};

const KIND: GuestKind = GuestKind::Vm;

/// Where Proxmox keeps ISO and cloud images (the `local` storage's `iso` content).
pub const ISO_DIR: &str = "/var/lib/vz/template/iso";
/// The storage whose `snippets/` holds cloud-init user-data, and its directory on the host.
pub const SNIPPET_STORAGE: &str = "local";
pub const SNIPPET_DIR: &str = "/var/lib/vz/snippets";
/// `qm shutdown` grace period before the forced stop.
pub const SHUTDOWN_TIMEOUT_S: u32 = 120;
/// The disk phoenix boots VMs from and grows.
pub const BOOT_DISK: &str = "scsi0";

fn subject(id: u32) -> String {
    format!("vm {id}")
}

fn invalid(id: u32, message: impl Into<String>) -> OpError {
    OpError::Invalid { subject: subject(id), message: message.into() }
}

fn effect(id: u32, change: GuestChange) -> Effect {
    Effect::Guest { kind: KIND, id, change }
}

fn bool01(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// The cloud image a template is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudImage {
    /// File name, e.g. `noble-server-cloudimg-amd64.img`.
    pub file: String,
    /// Host path: `/var/lib/vz/template/iso/<file>`.
    pub path: String,
    pub url: String,
}

/// The VM as the inventory declares it, in `qm` terms. `None` = not declared: left as it is.
#[derive(Debug, Clone)]
pub struct DesiredVm {
    pub id: u32,
    pub name: String,
    pub cores: Option<u32>,
    pub memory: Option<u32>,
    pub disk_gb: Option<u32>,
    pub storage: Option<String>,
    pub bridge: String,
    /// `firewall=1` on net0 (the guest declares an enabled firewall).
    pub firewall: bool,
    pub onboot: Option<bool>,
    pub startup: Option<String>,
    pub ciuser: Option<String>,
    /// authorized_keys text (one key per line, newline-terminated).
    pub sshkeys: Option<String>,
    pub ipconfig0: Option<String>,
    pub nameserver: Option<String>,
    pub searchdomain: Option<String>,
    pub clone_from: Option<u32>,
    /// Set for a template (`is_template`), which is built from this image.
    pub image: Option<CloudImage>,
}

/// Derive the desired VM from its declaration and the host configuration (cloud image release,
/// SSH key, DNS, search domain).
pub fn desired(g: &VmGuest, hv: &HypervisorConfig) -> Result<DesiredVm, OpError> {
    let id = g.id;
    let image = if g.is_template {
        let Some(file) = &g.template_image else {
            return Err(invalid(id, "is_template needs `template_image` (the cloud image file name)"));
        };
        if file.contains('/') || file.starts_with('.') {
            return Err(invalid(id, format!("template_image `{file}` must be a plain file name")));
        }
        let release = hv.vm_defaults.as_ref().and_then(|d| d.ubuntu_release.clone()).ok_or_else(|| {
            invalid(id, "a template needs `vm_defaults.ubuntu_release` in phoenix_hypervisor_config.json (the cloud image release)")
        })?;
        Some(CloudImage {
            file: file.clone(),
            path: format!("{ISO_DIR}/{file}"),
            url: format!("https://cloud-images.ubuntu.com/{release}/current/{file}"),
        })
    } else {
        None
    };
    let startup = match g.boot_order {
        Some(o) if o < 0 => return Err(invalid(id, format!("boot_order {o} must not be negative"))),
        Some(o) => {
            let mut s = format!("order={o}");
            if let Some(d) = g.boot_delay {
                s.push_str(&format!(",up={d}"));
            }
            Some(s)
        }
        None => None,
    };
    let net = g.network_config.as_ref();
    let ipconfig0 = net
        .map(|n| {
            let gw = if n.ip == "dhcp" { None } else { n.gw.as_deref() };
            PropertyString::new("ipconfig0").pair("ip", &n.ip)?.pair_opt("gw", gw).map(PropertyString::build)
        })
        .transpose()
        .map_err(|e| invalid(id, e.to_string()))?;
    // The VM's own resolver, else the host's (the original hard-coded one).
    let host_dns = hv
        .network
        .as_ref()
        .and_then(|n| n.interfaces.as_ref())
        .map(|i| i.dns_nameservers.join(" "))
        .filter(|s| !s.is_empty());
    let nameserver = net.and_then(|n| n.nameserver.clone()).filter(|s| !s.trim().is_empty()).or(host_dns);
    let sshkeys = hv
        .users
        .as_ref()
        .and_then(|u| u.ssh_public_key.as_ref())
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .map(|k| format!("{k}\n"));
    let d = DesiredVm {
        id,
        name: g.name.clone(),
        cores: g.cores,
        memory: g.memory_mb,
        disk_gb: g.disk_size_gb,
        storage: g.storage_pool.clone(),
        bridge: g.network_bridge.clone().unwrap_or_else(|| "vmbr0".to_string()),
        firewall: g.firewall.as_ref().is_some_and(|f| f.enabled),
        onboot: g.start_at_boot,
        startup,
        ciuser: g.user_config.as_ref().and_then(|u| u.username.clone()),
        sshkeys,
        ipconfig0,
        nameserver,
        searchdomain: Some(hv.domain_name.clone()).filter(|d| !d.is_empty()),
        clone_from: g.clone_from_vmid,
        image,
    };
    d.check_generated().map_err(|e| invalid(id, e.to_string()))?;
    Ok(d)
}

impl DesiredVm {
    fn storage(&self) -> Result<&str, OpError> {
        self.storage.as_deref().ok_or_else(|| invalid(self.id, "needs `storage_pool` (or `vm_defaults.storage_pool`)"))
    }

    fn image(&self) -> Result<&CloudImage, OpError> {
        self.image.as_ref().ok_or_else(|| invalid(self.id, "is not a template (`is_template` with `template_image`)"))
    }

    /// `net0` as declared: the model and bridge, `firewall=1` when the firewall is enabled.
    fn net0(&self) -> Result<String, GenerateError> {
        Ok(PropertyString::new("net0")
            .bare("virtio")?
            .pair("bridge", &self.bridge)?
            .pair_opt("firewall", self.firewall.then_some("1"))?
            .build())
    }

    /// Every value that becomes a property string, a conf line or the VM's name, put through its
    /// builder once, so a hostile value stops the op before any action is planned.
    fn check_generated(&self) -> Result<(), GenerateError> {
        generate::hostname::check("name", &self.name)?;
        self.net0()?;
        if let Some(st) = &self.storage {
            generate::propstring::volume("storage", st, "0")?;
        }
        if let Some(u) = &self.ciuser {
            generate::error::token("ciuser", u, &[(',', generate::Refusal::Comma)])?;
        }
        if let Some(ns) = &self.nameserver {
            generate::error::no_control("nameserver", ns)?;
        }
        if let Some(sd) = &self.searchdomain {
            generate::error::token("searchdomain", sd, &[])?;
        }
        if let Some(keys) = &self.sshkeys {
            // One key: a newline inside it would authorise a second one.
            generate::error::no_control("users.ssh_public_key", keys.trim_end_matches('\n'))?;
        }
        Ok(())
    }

    /// The cloud-init vendor-data snippet that installs the guest agent at first boot.
    pub fn snippet_name(&self) -> String {
        format!("phoenix-agent-{}.yaml", self.id)
    }

    pub fn snippet_path(&self) -> String {
        format!("{SNIPPET_DIR}/{}", self.snippet_name())
    }

    /// The snippet goes in as vendor-data: a `user=` snippet would replace the user-data
    /// qemu-server generates (`ciuser`, `sshkeys`, hostname), so the declared user and key
    /// would never reach the VM. Vendor-data runs alongside it.
    fn cicustom(&self) -> String {
        format!("vendor={SNIPPET_STORAGE}:snippets/{}", self.snippet_name())
    }
}

/// The cloud-config that makes a cloud image answer the guest agent: cloud images ship without
/// qemu-guest-agent, and every readiness check phoenix makes goes through it.
pub fn agent_user_data() -> String {
    "#cloud-config\npackages:\n  - qemu-guest-agent\nruncmd:\n  - [systemctl, enable, --now, qemu-guest-agent]\n"
        .to_string()
}

/// The config text a modelled guest gets: sorted `key: value` lines, as qemu-server writes them.
fn render_conf(entries: &indexmap::IndexMap<String, String>) -> String {
    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    keys.iter().map(|k| format!("{k}: {}\n", entries[*k])).collect()
}

fn existing_conf(facts: &Facts, id: u32) -> Result<std::sync::Arc<Option<GuestConf>>, OpError> {
    Ok(facts.guest_conf(KIND, id)?)
}

/// The storages a template build writes to, checked before its first command (the download
/// included), like a container's storage: a missing one would otherwise stop the build half-way,
/// after the image download and `qm create`. The disk storage holds the imported disk and the
/// cloud-init drive, so it must take VM images; the snippet storage holds the agent user-data.
/// (Proxmox accepts `cicustom` on a storage without the `snippets` content type, so only its
/// existence is required.) A VM that is already a template uses none of them again.
pub fn check_template_storages(facts: &Facts, d: &DesiredVm) -> Result<(), OpError> {
    let id = d.id;
    if existing_conf(facts, id)?.as_ref().as_ref().is_some_and(|c| c.is_template()) {
        return Ok(());
    }
    let storages = facts.storages()?;
    let disk = d.storage()?;
    let uses = [
        (disk, "its disk and cloud-init drive", Some("images")),
        (SNIPPET_STORAGE, "the cloud-init snippet that installs the guest agent", None),
    ];
    for (sid, purpose, content) in uses {
        let Some(def) = storages.get(sid) else {
            return Err(invalid(
                id,
                format!(
                    "storage `{sid}` (for {purpose}) does not exist on the host: declare it (a zfs dataset with \
                 proxmox_storage_type) and run `phoenix setup` first"
                ),
            ));
        };
        // No `content` line: the storage type's default, which includes images for disk storages.
        let listed = def.options.get("content");
        if let (Some(want), Some(listed)) = (content, listed) {
            if !listed.split(',').any(|c| c.trim() == want) {
                return Err(invalid(
                    id,
                    format!(
                    "storage `{sid}` (for {purpose}) does not take `{want}` (its content: {listed}): add `{want}` to \
                     its proxmox_content_type and run `phoenix setup` first"
                ),
                ));
            }
        }
    }
    Ok(())
}

/// Download the template's cloud image once: nothing to do when it is on the host, or when the
/// VM already has its disk (a template, or one whose import is done).
pub fn ensure_image(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let img = d.image()?;
    let subj = format!("file {}", img.path);
    if let Some(conf) = existing_conf(facts, d.id)?.as_ref() {
        if conf.is_template() || conf.get(BOOT_DISK).is_some() {
            return Ok(Plan::noop(subj, format!("not needed: vm {} has its disk", d.id)));
        }
    }
    if facts.file(&img.path)?.is_some() {
        return Ok(Plan::noop(subj, "present (never downloaded twice)"));
    }
    let cmd = Command::new(["curl", "-fsSL", "-o"]).arg(img.path.as_str()).arg(img.url.as_str());
    // The content is not read back: only its presence matters.
    let data = FileData { content: Vec::new(), mode: 0o644, owner: "root".into(), group: "root".into() };
    let action = Action::new(Change::Create, subj.clone(), format!("absent; cloud image for template {}", d.id))
        .exec(cmd)
        .effect(Effect::File { path: img.path.clone(), data: Some(data) })
        .for_guest(Some(d.id));
    Ok(Plan::with(subj, vec![action]))
}

/// Create the template VM (hardware only; the disk and cloud-init come next). An existing VM
/// is left alone, so an interrupted template build is completed rather than recreated.
pub fn ensure_template_defined(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    d.image()?;
    if let Some(conf) = existing_conf(facts, id)?.as_ref() {
        return Ok(Plan::noop(subject(id), if conf.is_template() { "exists (a template)" } else { "exists" }));
    }
    if let Some(other) = facts.guest(id)? {
        return Err(invalid(id, format!("id {id} is taken by a {} on the host", other.kind)));
    }
    let net0 = d.net0().map_err(|e| invalid(id, e.to_string()))?;
    generate::hostname::check("name", &d.name).map_err(|e| invalid(id, e.to_string()))?;
    let mut cmd = Command::new(["qm", "create"]).arg(id.to_string()).arg("--name").arg(d.name.as_str());
    let mut entries = indexmap::IndexMap::new();
    entries.insert("name".to_string(), d.name.clone());
    if let Some(m) = d.memory {
        cmd = cmd.arg("--memory").arg(m.to_string());
        entries.insert("memory".into(), m.to_string());
    }
    if let Some(c) = d.cores {
        cmd = cmd.arg("--cores").arg(c.to_string());
        entries.insert("cores".into(), c.to_string());
    }
    cmd = cmd.arg("--net0").arg(net0.as_str()).args([
        "--scsihw",
        "virtio-scsi-pci",
        "--serial0",
        "socket",
        "--vga",
        "serial0",
        "--agent",
        "enabled=1",
        "--ostype",
        "l26",
    ]);
    entries.insert("net0".into(), net0.clone());
    for (k, v) in [
        ("scsihw", "virtio-scsi-pci"),
        ("serial0", "socket"),
        ("vga", "serial0"),
        ("agent", "enabled=1"),
        ("ostype", "l26"),
    ] {
        entries.insert(k.into(), v.into());
    }
    let action = Action::new(Change::Create, subject(id), "absent; template VM")
        .exec(cmd)
        .effect(effect(
            id,
            GuestChange::Created {
                name: d.name.clone(),
                conf: render_conf(&entries),
                origin: Origin::Image(d.image()?.path.clone()),
            },
        ))
        .for_guest(Some(id));
    Ok(Plan::with(subject(id), vec![action]))
}

/// One `qm set` of a single key, as its own action (so an interrupted build resumes there).
fn set_action(id: u32, key: &str, value: &str, modelled: String, reason: impl Into<String>) -> Action {
    Action::new(Change::Update, format!("{} {key}", subject(id)), reason)
        .exec(Command::new(["qm", "set"]).arg(id.to_string()).arg(format!("--{key}")).arg(value))
        .effect(effect(id, GuestChange::Set { set: vec![(key.to_string(), modelled)], delete: Vec::new() }))
        .for_guest(Some(id))
}

/// Give the template its disk (the cloud image imported, grown to `disk_size_gb`), the
/// cloud-init drive, the boot order, the agent user-data snippet and the cloud-init user —
/// each only when missing.
pub fn ensure_template_setup(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    let img = d.image()?;
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; create it first"));
    };
    if conf.is_template() {
        return Ok(Plan::noop(subject(id), "is a template"));
    }
    let storage = d.storage()?;
    let have = conf.effective();
    let get = |k: &str| have.entries.get(k).map(String::as_str);
    let mut actions = Vec::new();
    let ids = id.to_string();

    if get(BOOT_DISK).is_none() {
        let mut a = Action::new(
            Change::Update,
            format!("{} {BOOT_DISK}", subject(id)),
            match d.disk_gb {
                Some(gb) => format!("absent; import {}, grow to {gb}G", img.file),
                None => format!("absent; import {}", img.file),
            },
        )
        .exec(
            Command::new(["qm", "set"]).arg(ids.as_str()).arg(format!("--{BOOT_DISK}")).arg(
                PropertyString::new(BOOT_DISK)
                    .bare(
                        &generate::propstring::volume(BOOT_DISK, storage, "0")
                            .map_err(|e| invalid(id, e.to_string()))?,
                    )
                    .and_then(|p| p.pair("import-from", &img.path))
                    .map_err(|e| invalid(id, e.to_string()))?
                    .build(),
            ),
        );
        // The imported size is the image's (unknown until apply), unless it is grown here.
        let mut value = format!("{storage}:vm-{id}-disk-0");
        if let Some(gb) = d.disk_gb {
            a = a.exec(Command::new(["qm", "disk", "resize"]).arg(ids.as_str()).arg(BOOT_DISK).arg(format!("{gb}G")));
            value.push_str(&format!(",size={gb}G"));
        }
        actions.push(
            a.effect(effect(id, GuestChange::Set { set: vec![(BOOT_DISK.into(), value)], delete: Vec::new() }))
                .for_guest(Some(id)),
        );
    }
    if get("ide2").is_none_or(|v| !v.contains("cloudinit")) {
        actions.push(set_action(
            id,
            "ide2",
            &generate::propstring::volume("ide2", storage, "cloudinit").map_err(|e| invalid(id, e.to_string()))?,
            format!("{storage}:vm-{id}-cloudinit,media=cdrom"),
            "no cloud-init drive",
        ));
    }
    let boot = format!("order={BOOT_DISK}");
    if get("boot") != Some(boot.as_str()) {
        actions.push(set_action(
            id,
            "boot",
            &boot,
            boot.clone(),
            format!("boot: {} → {boot}", get("boot").unwrap_or("(unset)")),
        ));
    }
    let snippet = DesiredFile {
        path: d.snippet_path(),
        content: agent_user_data().into_bytes(),
        mode: 0o644,
        owner: None,
        group: None,
    };
    actions.extend(ensure_file(facts, &snippet)?.actions.into_iter().map(|a| a.for_guest(Some(id))));
    let cicustom = d.cicustom();
    if get("cicustom") != Some(cicustom.as_str()) {
        actions.push(set_action(
            id,
            "cicustom",
            &cicustom,
            cicustom.clone(),
            format!(
                "cicustom: {} → {cicustom} (installs the guest agent at first boot)",
                get("cicustom").unwrap_or("(unset)")
            ),
        ));
    }
    if let Some(user) = &d.ciuser {
        if get("ciuser") != Some(user.as_str()) {
            actions.push(set_action(
                id,
                "ciuser",
                user,
                user.clone(),
                format!("ciuser: {} → {user}", get("ciuser").unwrap_or("(unset)")),
            ));
        }
    }
    Ok(if actions.is_empty() {
        Plan::noop(subject(id), "disk, cloud-init and boot order set")
    } else {
        Plan::with(subject(id), actions)
    })
}

/// A volume id with its owner renamed for a clone: `base-9000-disk-0` / `vm-9000-disk-0` →
/// `vm-<id>-disk-<n>`.
fn cloned_volume(value: &str, id: u32, n: &mut u32) -> String {
    let vol = value.split(',').next().unwrap_or(value);
    let Some((sid, _)) = vol.split_once(':') else {
        return value.to_string();
    };
    if value.contains("-cloudinit") {
        return format!("{sid}:vm-{id}-cloudinit,media=cdrom");
    }
    if value.contains("media=cdrom") {
        return value.to_string();
    }
    let new = format!("{sid}:vm-{id}-disk-{n}");
    *n += 1;
    value.replacen(vol, &new, 1)
}

const DISK_PREFIXES: [&str; 6] = ["scsi", "virtio", "sata", "ide", "efidisk", "tpmstate"];

fn is_disk_key(k: &str) -> bool {
    DISK_PREFIXES
        .iter()
        .any(|p| k.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// What `qm clone --full` gives: the source's config with the new name, no template flag, new
/// MACs (unknown until apply: left out) and disks of its own.
fn cloned_conf(base: &ConfSection, id: u32, name: &str) -> String {
    let mut entries = base.entries.clone();
    for k in ["lock", "parent", "snaptime", "template", "vmstate", "smbios1", "vmgenid", "meta"] {
        entries.shift_remove(k);
    }
    entries.insert("name".into(), name.to_string());
    let mut n = 0;
    for (k, v) in entries.iter_mut() {
        if k.starts_with("net") && k[3..].bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(mut p) = propstring::vm_net(v) {
                p.remove("macaddr");
                *v = propstring::print_vm_net(&p);
            }
        } else if is_disk_key(k) {
            *v = cloned_volume(v, id, &mut n);
        }
    }
    render_conf(&entries)
}

/// The storage of a config's boot disk.
fn disk_storage(sec: &ConfSection) -> Option<String> {
    sec.get(BOOT_DISK).and_then(|v| v.split_once(':')).map(|(s, _)| s.to_string())
}

/// Make the VM exist: a full clone of `clone_from_vmid` (clones of one source run one at a time).
/// An existing VM is left as it is.
pub fn ensure_defined(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    if existing_conf(facts, id)?.is_some() {
        return Ok(Plan::noop(subject(id), "exists"));
    }
    if let Some(other) = facts.guest(id)? {
        return Err(invalid(id, format!("id {id} is taken by a {} on the host", other.kind)));
    }
    let Some(src) = d.clone_from else {
        return Err(invalid(
            id,
            if d.image.is_some() {
                "is a template: it is built by qm::ensure_template"
            } else {
                "declares neither `clone_from_vmid` nor `is_template`"
            },
        ));
    };
    let src_conf = existing_conf(facts, src)?;
    let Some(src_conf) = src_conf.as_ref() else {
        return Err(invalid(id, format!("clone source {src} does not exist yet; converge it first")));
    };
    let base = src_conf.effective();
    let mut cmd = Command::new(["qm", "clone"])
        .arg(src.to_string())
        .arg(id.to_string())
        .arg("--name")
        .arg(d.name.as_str())
        .arg("--full")
        .arg("1");
    // A full clone lands on the source's storage unless the VM declares another one.
    let mut base_for_model = base.clone();
    if let (Some(want), Some(have)) = (d.storage.as_deref(), disk_storage(&base)) {
        if want != have {
            if !facts.storages()?.contains_key(want) {
                return Err(invalid(
                    id,
                    format!(
                        "storage `{want}` does not exist on the host: declare it (a zfs dataset with \
                     proxmox_storage_type) and run `phoenix setup` first"
                    ),
                ));
            }
            cmd = cmd.arg("--storage").arg(want);
            for (k, v) in base_for_model.entries.iter_mut() {
                if is_disk_key(k) && !v.contains("media=cdrom") {
                    *v = v.replacen(&format!("{have}:"), &format!("{want}:"), 1);
                }
            }
        }
    }
    let action = Action::new(Change::Create, subject(id), format!("absent; full clone of {src}"))
        .exec(cmd)
        .effect(effect(
            id,
            GuestChange::Created {
                name: d.name.clone(),
                conf: cloned_conf(&base_for_model, id, &d.name),
                origin: Origin::Clone(src),
            },
        ))
        .serialize_on(format!("clone source {src}"))
        .for_guest(Some(id));
    Ok(Plan::with(subject(id), vec![action]))
}

/// What `ensure_config` found: the plan, and whether the changes take effect only after a
/// restart of a running VM (hardware and cloud-init settings).
pub struct ConfigPlan {
    pub plan: Plan,
    pub diffs: Vec<Diff>,
    pub restart_needed: bool,
}

/// Where the SSH key file for `qm set --sshkeys` is staged (the CLI reads it, then it goes).
fn sshkeys_staging(id: u32) -> String {
    format!("/tmp/.phoenix-sshkeys-{id}")
}

/// Bring an existing VM's configuration to `d`, changing only what differs.
pub fn ensure_config(facts: &Facts, d: &DesiredVm) -> Result<ConfigPlan, OpError> {
    let id = d.id;
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; define it first"));
    };
    if conf.is_template() {
        return Err(invalid(id, "is a template: its configuration is fixed (ensure_template builds it)"));
    }
    let cfg = conf.qm()?;
    let have = conf.effective();
    let raw = |k: &str| have.entries.get(k).cloned();
    // (key, command value, modelled stored value, needs a restart)
    let mut set: Vec<(String, String, String, bool)> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut diffs: Vec<Diff> = Vec::new();
    let mut differ = |key: &str, cur: Option<String>, want: String, restart: bool| {
        if cur.as_deref() != Some(want.as_str()) {
            reasons.push(format!("{key}: {} → {want}", cur.as_deref().unwrap_or("(unset)")));
            diffs.push(Diff {
                field: key.into(),
                live: cur.clone().unwrap_or_else(|| "(unset)".into()),
                declared: want.clone(),
            });
            set.push((key.to_string(), want.clone(), want, restart));
        }
    };
    if let Some(c) = d.cores {
        differ("cores", cfg.cores.map(|v| v.to_string()), c.to_string(), true);
    }
    if let Some(m) = d.memory {
        differ("memory", cfg.memory.map(|v| v.to_string()), m.to_string(), true);
    }
    if let Some(b) = d.onboot {
        differ("onboot", cfg.onboot.map(|v| bool01(v).to_string()), bool01(b).into(), false);
    }
    if let Some(s) = &d.startup {
        let want = propstring::startup(s).map(|s| s.to_string()).unwrap_or_else(|_| s.clone());
        differ("startup", cfg.startup.map(|s| s.to_string()), want, false);
    }
    if let Some(u) = &d.ciuser {
        differ("ciuser", cfg.ciuser.clone(), u.clone(), true);
    }
    if let Some(ip) = &d.ipconfig0 {
        let cur = cfg.ipconfigs.get(&0).map(|c| {
            [("ip", &c.ip), ("gw", &c.gw), ("ip6", &c.ip6), ("gw6", &c.gw6)]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        });
        differ("ipconfig0", cur, ip.clone(), true);
    }
    if let Some(ns) = &d.nameserver {
        differ("nameserver", cfg.nameserver.clone(), ns.clone(), true);
    }
    if let Some(sd) = &d.searchdomain {
        differ("searchdomain", cfg.searchdomain.clone(), sd.clone(), true);
    }
    let mut sshkeys_file: Option<(String, String)> = None;
    if let Some(keys) = &d.sshkeys {
        let cur = cfg.sshkeys.as_deref().map(str::trim);
        if cur != Some(keys.trim()) {
            reasons
                .push(format!("sshkeys: {}", if cur.is_some() { "differ" } else { "(unset) → the host user's key" }));
            diffs.push(Diff {
                field: "sshkeys".into(),
                live: if cur.is_some() { "other keys".into() } else { "(unset)".into() },
                declared: "the host user's key".into(),
            });
            let path = sshkeys_staging(id);
            set.push(("sshkeys".into(), path.clone(), crate::facts::guest_config::uri_escape(keys), true));
            sshkeys_file = Some((path, keys.clone()));
        }
    }
    // net0: bridge and firewall only; the MAC stays (it is sent along, see below).
    {
        let cur = raw("net0").and_then(|v| propstring::vm_net(&v).ok());
        let mut merged = cur.clone().unwrap_or_else(|| {
            let mut p = PropString::new();
            p.set("model", "virtio");
            p
        });
        let mut changed = Vec::new();
        let get = |p: &Option<PropString>, k: &str| p.as_ref().and_then(|p| p.get(k).map(str::to_string));
        if get(&cur, "bridge").as_deref() != Some(d.bridge.as_str()) {
            changed.push(format!("bridge {}→{}", get(&cur, "bridge").unwrap_or_else(|| "(unset)".into()), d.bridge));
            merged.set("bridge", d.bridge.clone());
        }
        if d.firewall && get(&cur, "firewall").and_then(|f| propstring::parse_bool(&f)) != Some(true) {
            changed.push("firewall (unset)→1".to_string());
            merged.set("firewall", "1");
        }
        if !changed.is_empty() {
            reasons.push(format!("net0: {}", changed.join(", ")));
            diffs.push(Diff {
                field: "net0".into(),
                live: raw("net0").unwrap_or_else(|| "(unset)".into()),
                declared: changed.join(", "),
            });
            // Sent with the NIC's current MAC: a value without one makes qemu-server generate a
            // new MAC (`parse_net`), so the VM would see its NIC replaced and cloud-init a new
            // instance. (Only a dry-run's model of a clone made in the same run has no MAC yet:
            // qm clone picks it.)
            let value = propstring::print_vm_net(&merged);
            set.push(("net0".into(), value.clone(), value, false));
        }
    }
    if set.is_empty() {
        return Ok(ConfigPlan { plan: Plan::noop(subject(id), "configuration matches"), diffs, restart_needed: false });
    }
    let restart_needed = set.iter().any(|(_, _, _, r)| *r);
    let mut cmd = Command::new(["qm", "set"]).arg(id.to_string());
    for (k, v, _, _) in &set {
        cmd = cmd.arg(format!("--{k}")).arg(v.as_str());
    }
    let mut action = Action::new(Change::Update, subject(id), reasons.join("; "));
    if let Some((path, keys)) = &sshkeys_file {
        action = action.step(Step::WriteFile {
            path: path.clone(),
            file: FileWrite { content: keys.clone().into_bytes(), mode: 0o600, owner: None, group: None },
        });
    }
    action = action.exec(cmd);
    if let Some((path, _)) = sshkeys_file {
        action = action.step(Step::RemoveFile { path });
    }
    let modelled = set.into_iter().map(|(k, _, stored, _)| (k, stored)).collect();
    let action = action.effect(effect(id, GuestChange::Set { set: modelled, delete: Vec::new() })).for_guest(Some(id));
    Ok(ConfigPlan { plan: Plan::with(subject(id), vec![action]), diffs, restart_needed })
}

/// Grow the boot disk to `disk_size_gb` (never shrinks: qm cannot).
pub fn ensure_disk_size(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    let subj = format!("{} {BOOT_DISK}", subject(id));
    let Some(gb) = d.disk_gb else {
        return Ok(Plan::noop(subj, "no disk_size_gb declared"));
    };
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; define it first"));
    };
    let Some(value) = conf.get(BOOT_DISK) else {
        return Err(invalid(id, format!("has no {BOOT_DISK} disk to grow")));
    };
    let mut p = PropString::parse(&value, Some("file")).map_err(|e| invalid(id, format!("{BOOT_DISK}: {e}")))?;
    let cur = p.get("size").map(str::to_string);
    let want = u64::from(gb) << 30;
    if let Some(bytes) = cur.as_deref().and_then(propstring::parse_size) {
        if bytes >= want {
            return Ok(Plan::noop(subj, format!("{} (≥ {gb}G; disks only grow)", cur.as_deref().unwrap_or("?"))));
        }
    }
    p.set("size", format!("{gb}G"));
    let vol = value.split(',').next().unwrap_or("").to_string();
    let rest: Vec<String> = p.iter().filter(|(k, _)| *k != "file").map(|(k, v)| format!("{k}={v}")).collect();
    let mut stored = vol;
    for r in rest {
        stored.push(',');
        stored.push_str(&r);
    }
    let action =
        Action::new(Change::Update, subj.clone(), format!("size {} → {gb}G", cur.as_deref().unwrap_or("unknown")))
            .exec(Command::new(["qm", "disk", "resize"]).arg(id.to_string()).arg(BOOT_DISK).arg(format!("{gb}G")))
            .effect(effect(id, GuestChange::Set { set: vec![(BOOT_DISK.into(), stored)], delete: Vec::new() }))
            .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}

/// Convert the finished build into a template. It was never started; should someone have
/// started it, it is shut down cleanly first (the original powered it off hard).
pub fn ensure_templated(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; create it first"));
    };
    if conf.is_template() {
        return Ok(Plan::noop(format!("{} template", subject(id)), "is a template"));
    }
    if !conf.file.snapshots.is_empty() {
        return Err(invalid(
            id,
            format!(
                "has snapshots ({}); Proxmox cannot turn it into a template until they are removed",
                conf.snapshot_names().join(", ")
            ),
        ));
    }
    let ids = id.to_string();
    let running = facts.guests(KIND)?.get(&id).is_some_and(|g| g.power == Power::Running);
    let mut action = Action::new(
        Change::Update,
        format!("{} template", subject(id)),
        if running { "running; shut down, then convert to a template" } else { "not yet a template" },
    );
    if running {
        action = action.exec(
            Command::new(["qm", "shutdown", ids.as_str(), "--timeout"])
                .arg(SHUTDOWN_TIMEOUT_S.to_string())
                .args(["--forceStop", "1"]),
        );
    }
    // Templated disks become base volumes.
    let mut set = vec![("template".to_string(), "1".to_string())];
    for (k, v) in conf.effective().entries.iter() {
        if is_disk_key(k) && !v.contains("media=cdrom") {
            set.push((k.clone(), v.replacen(&format!("vm-{id}-disk-"), &format!("base-{id}-disk-"), 1)));
        }
    }
    action = action
        .exec(Command::new(["qm", "template", ids.as_str()]))
        .effect(effect(id, GuestChange::Set { set, delete: Vec::new() }))
        .for_guest(Some(id));
    Ok(Plan::with(format!("{} template", subject(id)), vec![action]))
}

/// Start or shut down the VM. Templates are never started.
pub fn ensure_power(facts: &Facts, id: u32, running: bool) -> Result<Plan, OpError> {
    let Some(g) = facts.guests(KIND)?.get(&id).cloned() else {
        return Err(invalid(id, "does not exist"));
    };
    let subj = format!("{} power", subject(id));
    if running && existing_conf(facts, id)?.as_ref().as_ref().is_some_and(GuestConf::is_template) {
        return Err(invalid(id, "is a template; templates are never started"));
    }
    let want = if running { Power::Running } else { Power::Stopped };
    if g.power == want {
        return Ok(Plan::noop(subj, if running { "running" } else { "stopped" }));
    }
    let ids = id.to_string();
    let (cmd, from) = if running {
        (Command::new(["qm", "start", ids.as_str()]), "stopped")
    } else {
        (
            Command::new(["qm", "shutdown", ids.as_str(), "--timeout"])
                .arg(SHUTDOWN_TIMEOUT_S.to_string())
                .args(["--forceStop", "1"]),
            "running",
        )
    };
    let action =
        Action::new(Change::Update, subj.clone(), format!("{from} → {}", if running { "running" } else { "stopped" }))
            .exec(cmd)
            .effect(effect(id, GuestChange::Power(want)))
            .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}

/// Reboot a running VM so pending changes apply (`qm reboot`); a stopped one picks them up at
/// its next start.
pub fn restart(facts: &Facts, id: u32, reason: &str) -> Result<Plan, OpError> {
    let subj = format!("{} restart", subject(id));
    match facts.guests(KIND)?.get(&id) {
        Some(g) if g.power == Power::Running => {
            let action = Action::new(Change::Run, subj.clone(), reason)
                .exec(Command::new(["qm", "reboot"]).arg(id.to_string()))
                .effect(effect(id, GuestChange::Power(Power::Running)))
                .for_guest(Some(id));
            Ok(Plan::with(subj, vec![action]))
        }
        Some(_) => Ok(Plan::noop(subj, "not running: changes apply at the next start")),
        None => Err(invalid(id, "does not exist")),
    }
}

/// Take snapshot `name` unless it exists (never recreated).
pub fn ensure_snapshot(facts: &Facts, id: u32, name: &str) -> Result<Plan, OpError> {
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist"));
    };
    let subj = format!("{} snapshot {name}", subject(id));
    if conf.file.snapshots.contains_key(name) {
        return Ok(Plan::noop(subj, "exists"));
    }
    if conf.is_template() {
        return Err(invalid(id, format!("is a template; templates take no snapshots (`{name}`)")));
    }
    let action = Action::new(Change::Create, subj.clone(), "absent")
        .exec(Command::new(["qm", "snapshot"]).arg(id.to_string()).arg(name))
        .effect(effect(id, GuestChange::Snapshot(name.to_string())))
        .for_guest(Some(id));
    Ok(Plan::with(subj, vec![action]))
}

/// Whether the VM has a snapshot of this name.
pub fn has_snapshot(facts: &Facts, id: u32, name: &str) -> Result<bool, OpError> {
    Ok(existing_conf(facts, id)?.as_ref().as_ref().is_some_and(|c| c.file.snapshots.contains_key(name)))
}

/// Stop and destroy the VM with purge (its firewall file and cloud-init drive go with it).
pub fn destroy(facts: &Facts, id: u32) -> Result<Plan, OpError> {
    super::guest::destroy(facts, KIND, id, subject(id))
}

/// Whether the guest agent answers (`qm agent <id> ping` exits 0). A read: it changes nothing.
pub fn agent_ready(facts: &Facts, id: u32) -> Result<bool, OpError> {
    let cmd = Command::new(["qm", "agent"]).arg(id.to_string()).arg("ping");
    let out = facts.connector().run(&cmd).map_err(crate::facts::FactError::from)?;
    Ok(out.success())
}

/// cloud-init's state inside the VM, from `cloud-init status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudInit {
    /// Still running (or not started yet).
    Running,
    /// Finished (`done`), or not in use (`disabled`, or no cloud-init at all).
    Finished(String),
    /// Finished with an error: the VM will not converge by waiting.
    Failed(String),
}

/// Read `status: <word>` from `cloud-init status` output (exit 1 = error, 2 = recoverable
/// errors — both still print the status line).
pub fn parse_cloud_init_status(code: i32, stdout: &str) -> CloudInit {
    if code == 127 {
        return CloudInit::Finished("absent".into());
    }
    let word =
        stdout.lines().find_map(|l| l.trim().strip_prefix("status:")).map(|s| s.trim().to_string()).unwrap_or_default();
    match word.as_str() {
        "done" | "disabled" => CloudInit::Finished(word),
        "error" => CloudInit::Failed(stdout.trim().to_string()),
        _ => CloudInit::Running,
    }
}

pub fn cloud_init_status(facts: &Facts, id: u32) -> Result<CloudInit, OpError> {
    let argv = vec!["cloud-init".to_string(), "status".to_string()];
    let (code, out) = facts.run_in_guest(KIND, id, &argv)?;
    Ok(parse_cloud_init_status(code, &String::from_utf8_lossy(&out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::sim::{to_sim, SimConnector};
    use crate::inventory::GuestRef;
    use phoenix_sim::{SimHost, SimState};
    use std::sync::Arc;

    fn inventory() -> crate::inventory::Inventory {
        crate::inventory::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("etc"))
            .expect("example config loads")
    }

    /// A declared VM of the example configuration, placed on the simulator's `local-zfs`.
    fn vm(inv: &crate::inventory::Inventory, id: u32) -> DesiredVm {
        let Some(GuestRef::Vm(g)) = inv.guest(id) else { panic!("{id} is a declared VM") };
        let mut d = desired(g, &inv.hypervisor).unwrap();
        d.storage = Some("local-zfs".into());
        d
    }

    fn host() -> Arc<SimHost> {
        Arc::new(SimHost::new(SimState::default()))
    }

    fn facts(h: &Arc<SimHost>, dry_run: bool) -> Facts {
        Facts::new(Arc::new(SimConnector::from_host(h.clone())), dry_run)
    }

    /// What a plan shows: subject, reason and steps of each action.
    fn shown(plan: &Plan) -> Vec<String> {
        plan.actions
            .iter()
            .map(|a| {
                format!(
                    "{} ({}) :: {}",
                    a.subject,
                    a.reason,
                    a.steps.iter().map(Step::describe).collect::<Vec<_>>().join(" ; ")
                )
            })
            .collect()
    }

    /// Carry a plan out like the executor: run every step on the simulator (apply) or nothing
    /// (dry-run), then apply each action's modelled effect. Returns what it showed.
    fn carry(h: &SimHost, f: &Facts, plan: Plan, dry_run: bool) -> Vec<String> {
        let out = shown(&plan);
        for a in plan.actions {
            if !dry_run {
                for s in &a.steps {
                    match s {
                        Step::Exec { command } | Step::Guest { command, .. } => {
                            let o = h.exec(&command.exposed_argv(), command.stdin.as_deref());
                            assert!(o.success(), "{command}: {}", o.stderr_str());
                        }
                        Step::WriteFile { path, file } => h.write_file(path, &to_sim(file)).unwrap(),
                        Step::RemoveFile { path } => {
                            h.remove_file(path);
                        }
                        Step::CopyFromGuest { .. } => panic!("VM ops never copy between guests"),
                    }
                }
            }
            f.apply(&a.effect).unwrap();
        }
        out
    }

    /// The whole template build, then 1001 cloned, configured and grown: what each step showed.
    fn build(h: &SimHost, f: &Facts, inv: &crate::inventory::Inventory, dry_run: bool) -> Vec<String> {
        let t = vm(inv, 9000);
        let v = vm(inv, 1001);
        let mut log = Vec::new();
        log.extend(carry(h, f, ensure_image(f, &t).unwrap(), dry_run));
        log.extend(carry(h, f, ensure_template_defined(f, &t).unwrap(), dry_run));
        log.extend(carry(h, f, ensure_template_setup(f, &t).unwrap(), dry_run));
        log.extend(carry(h, f, ensure_templated(f, &t).unwrap(), dry_run));
        log.extend(carry(h, f, ensure_defined(f, &v).unwrap(), dry_run));
        log.extend(carry(h, f, ensure_config(f, &v).unwrap().plan, dry_run));
        log.extend(carry(h, f, ensure_disk_size(f, &v).unwrap(), dry_run));
        log
    }

    #[test]
    fn template_is_built_step_by_step_and_never_started() {
        let inv = inventory();
        let h = host();
        let f = facts(&h, false);
        let t = vm(&inv, 9000);
        let img = carry(&h, &f, ensure_image(&f, &t).unwrap(), false);
        assert_eq!(img, vec![
            "file /var/lib/vz/template/iso/noble-server-cloudimg-amd64.img (absent; cloud image for template 9000) :: curl -fsSL -o /var/lib/vz/template/iso/noble-server-cloudimg-amd64.img https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img".to_string()
        ]);
        let created = carry(&h, &f, ensure_template_defined(&f, &t).unwrap(), false);
        assert_eq!(created, vec!["vm 9000 (absent; template VM) :: qm create 9000 --name ubuntu-noble-template --memory 2048 --cores 2 --net0 virtio,bridge=vmbr0 --scsihw virtio-scsi-pci --serial0 socket --vga serial0 --agent enabled=1 --ostype l26".to_string()]);
        let setup = carry(&h, &f, ensure_template_setup(&f, &t).unwrap(), false);
        let subjects: Vec<&str> = setup.iter().map(|s| s.split(" (").next().unwrap_or("")).collect();
        assert_eq!(
            subjects,
            [
                "vm 9000 scsi0",
                "vm 9000 ide2",
                "vm 9000 boot",
                "file /var/lib/vz/snippets/phoenix-agent-9000.yaml",
                "vm 9000 cicustom",
                "vm 9000 ciuser"
            ]
        );
        assert!(setup[0].ends_with(":: qm set 9000 --scsi0 local-zfs:0,import-from=/var/lib/vz/template/iso/noble-server-cloudimg-amd64.img ; qm disk resize 9000 scsi0 32G"), "{}", setup[0]);
        carry(&h, &f, ensure_templated(&f, &t).unwrap(), false);

        // A fresh run sees a finished template: nothing to do, nothing downloaded again.
        let f2 = facts(&h, false);
        for plan in [
            ensure_image(&f2, &t),
            ensure_template_defined(&f2, &t),
            ensure_template_setup(&f2, &t),
            ensure_templated(&f2, &t),
        ] {
            assert!(plan.unwrap().actions.is_empty());
        }
        let conf = f2.guest_conf(KIND, 9000).unwrap();
        let conf = conf.as_ref().as_ref().unwrap();
        assert!(conf.is_template());
        assert_eq!(conf.get("scsi0").as_deref(), Some("local-zfs:base-9000-disk-0,size=32G"));
        assert_eq!(conf.get("cicustom").as_deref(), Some("vendor=local:snippets/phoenix-agent-9000.yaml"));
        assert_eq!(f2.guests(KIND).unwrap()[&9000].power, Power::Stopped);
        let snippet = h.read_file("/var/lib/vz/snippets/phoenix-agent-9000.yaml").unwrap();
        assert_eq!(String::from_utf8_lossy(&snippet.content), agent_user_data());
        assert!(!h
            .log()
            .iter()
            .any(|c| c.argv.first().map(String::as_str) == Some("qm")
                && c.argv.get(1).map(String::as_str) == Some("start")));
        // A template is never started.
        assert!(ensure_power(&f2, 9000, true).is_err());
    }

    #[test]
    fn an_interrupted_template_build_is_completed_not_recreated() {
        let inv = inventory();
        let h = host();
        let f = facts(&h, false);
        let t = vm(&inv, 9000);
        carry(&h, &f, ensure_image(&f, &t).unwrap(), false);
        carry(&h, &f, ensure_template_defined(&f, &t).unwrap(), false);
        let mut setup = ensure_template_setup(&f, &t).unwrap();
        setup.actions.truncate(2); // scsi0 and ide2 done, then the run died
        carry(&h, &f, setup, false);
        // The image may be gone by now: the VM has its disk, so it is not fetched again.
        h.remove_file(&t.image().unwrap().path);

        let f2 = facts(&h, false);
        assert!(ensure_image(&f2, &t).unwrap().actions.is_empty());
        assert!(ensure_template_defined(&f2, &t).unwrap().actions.is_empty());
        let rest = carry(&h, &f2, ensure_template_setup(&f2, &t).unwrap(), false);
        let subjects: Vec<&str> = rest.iter().map(|s| s.split(" (").next().unwrap_or("")).collect();
        assert_eq!(
            subjects,
            ["vm 9000 boot", "file /var/lib/vz/snippets/phoenix-agent-9000.yaml", "vm 9000 cicustom", "vm 9000 ciuser"]
        );
        assert_eq!(carry(&h, &f2, ensure_templated(&f2, &t).unwrap(), false).len(), 1);
    }

    /// `--net0 virtio=<MAC>,` → `--net0 virtio,`.
    fn without_clone_mac(action: &str) -> String {
        match action.split_once("--net0 virtio=") {
            Some((head, tail)) if tail.len() > 17 && tail.as_bytes()[17] == b',' => {
                format!("{head}--net0 virtio{}", &tail[17..])
            }
            _ => action.to_string(),
        }
    }

    #[test]
    fn dry_run_models_exactly_what_apply_does() {
        let inv = inventory();
        let planned = {
            let h = host();
            let f = facts(&h, true);
            let log = build(&h, &f, &inv, true);
            // Nothing reached the host but reads.
            assert!(h.log().iter().all(|c| !c.mutating), "{:?}", h.log());
            log
        };
        let h = host();
        let f = facts(&h, false);
        let done = build(&h, &f, &inv, false);
        // The one thing a dry-run cannot know: the MAC `qm clone` gives the clone, which the
        // first `--net0` then carries along (`virtio=<MAC>,…`; the model has `virtio,…`).
        assert_eq!(planned, done.iter().map(|a| without_clone_mac(a)).collect::<Vec<_>>());
        assert!(
            done.iter().any(|a| a
                .starts_with("vm 1001 (absent; full clone of 9000) :: qm clone 9000 1001 --name portainer --full 1")),
            "{done:?}"
        );
        assert!(done.iter().any(|a| a.starts_with("vm 1001 scsi0 (size 32G → 64G)")), "{done:?}");
    }

    #[test]
    fn config_changes_only_what_drifted() {
        let inv = inventory();
        let h = host();
        let f = facts(&h, false);
        build(&h, &f, &inv, false);
        let v = vm(&inv, 1001);
        let f2 = facts(&h, false);
        let cp = ensure_config(&f2, &v).unwrap();
        assert!(cp.plan.actions.is_empty(), "{:?}", shown(&cp.plan));
        assert!(ensure_disk_size(&f2, &v).unwrap().actions.is_empty());

        h.with_state(|s| s.guests.get_mut(&1001).unwrap().config.insert("cores".into(), "2".into()));
        let f3 = facts(&h, false);
        let cp = ensure_config(&f3, &v).unwrap();
        assert_eq!(shown(&cp.plan), vec!["vm 1001 (cores: 2 → 4) :: qm set 1001 --cores 4".to_string()]);
        assert!(cp.restart_needed);
    }

    #[test]
    fn first_config_sets_cloud_init_and_keeps_the_mac() {
        let inv = inventory();
        let h = host();
        let f = facts(&h, false);
        let log = build(&h, &f, &inv, false);
        let set = log
            .iter()
            .find(|a| a.starts_with("vm 1001 (") && a.contains("qm set 1001"))
            .expect("a configuration action");
        for part in [
            "--onboot 1",
            "--startup order=5,up=30",
            "--ipconfig0 ip=10.20.0.50/24,gw=10.20.0.1",
            "--nameserver 10.20.0.2",
            "--searchdomain lab.example.internal",
            "--sshkeys /tmp/.phoenix-sshkeys-1001",
        ] {
            assert!(set.contains(part), "{part} missing from {set}");
        }
        assert!(set.starts_with("vm 1001 (cores: 2 → 4; memory: 2048 → 8192;"), "{set}");
        assert!(
            set.contains("write /tmp/.phoenix-sshkeys-1001") && set.ends_with("remove /tmp/.phoenix-sshkeys-1001"),
            "{set}"
        );
        let conf = facts(&h, false).guest_conf(KIND, 1001).unwrap();
        let cfg = conf.as_ref().as_ref().unwrap().qm().unwrap();
        let net = &cfg.nets[&0];
        assert!(net.mac.as_deref().is_some_and(|m| m.starts_with("BC:24:11:")), "{net:?}");
        // The clone's MAC went along with the new bridge/firewall values.
        let mac = net.mac.clone().unwrap_or_default();
        assert!(set.contains(&format!("--net0 virtio={mac},bridge=vmbr0,firewall=1")), "{set}");
        assert!(net.firewall);
        assert!(cfg.sshkeys.unwrap_or_default().starts_with("ssh-ed25519 "));
        assert!(h.read_file("/tmp/.phoenix-sshkeys-1001").is_none(), "the staged key file is removed");
    }

    #[test]
    fn disks_only_grow() {
        let inv = inventory();
        let h = host();
        let f = facts(&h, false);
        build(&h, &f, &inv, false);
        let mut v = vm(&inv, 1001);
        v.disk_gb = Some(16);
        let p = ensure_disk_size(&facts(&h, false), &v).unwrap();
        assert!(p.actions.is_empty());
        assert_eq!(p.noop_reason, "64G (≥ 16G; disks only grow)");
    }

    #[test]
    fn power_snapshot_and_destroy() {
        let inv = inventory();
        let h = host();
        build(&h, &facts(&h, false), &inv, false);
        let f = facts(&h, false);
        assert_eq!(
            carry(&h, &f, ensure_power(&f, 1001, true).unwrap(), false),
            vec!["vm 1001 power (stopped → running) :: qm start 1001".to_string()]
        );
        let f = facts(&h, false);
        assert!(ensure_power(&f, 1001, true).unwrap().actions.is_empty());
        assert_eq!(
            shown(&restart(&f, 1001, "cores changed").unwrap()),
            vec!["vm 1001 restart (cores changed) :: qm reboot 1001".to_string()]
        );
        carry(&h, &f, ensure_snapshot(&f, 1001, "clean").unwrap(), false);
        let f = facts(&h, false);
        assert!(has_snapshot(&f, 1001, "clean").unwrap());
        assert!(ensure_snapshot(&f, 1001, "clean").unwrap().actions.is_empty());
        assert_eq!(
            shown(&ensure_power(&f, 1001, false).unwrap()),
            vec!["vm 1001 power (running → stopped) :: qm shutdown 1001 --timeout 120 --forceStop 1".to_string()]
        );
        assert_eq!(
            carry(&h, &f, destroy(&f, 1001).unwrap(), false),
            vec!["vm 1001 (declared for deletion) :: qm stop 1001 ; qm destroy 1001 --purge 1".to_string()]
        );
        let f = facts(&h, false);
        assert!(destroy(&f, 1001).unwrap().actions.is_empty());
        assert!(!f.guests(KIND).unwrap().contains_key(&1001));
    }

    #[test]
    fn desired_values() {
        let inv = inventory();
        let t = vm(&inv, 9000);
        assert_eq!(
            t.image.as_ref().map(|i| i.url.as_str()),
            Some("https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img")
        );
        assert_eq!(t.ipconfig0.as_deref(), Some("ip=dhcp"));
        let v = vm(&inv, 1002);
        assert_eq!(v.startup.as_deref(), Some("order=8,up=10"));
        assert!(v.firewall && v.image.is_none());
        let Some(GuestRef::Vm(g)) = inv.guest(1002) else { panic!() };
        let mut g = g.clone();
        g.network_config.as_mut().unwrap().nameserver = None;
        assert_eq!(
            desired(&g, &inv.hypervisor).unwrap().nameserver.as_deref(),
            Some("10.20.0.2 10.20.0.1"),
            "falls back to the host's DNS"
        );
        g.is_template = true;
        g.template_image = None;
        assert!(desired(&g, &inv.hypervisor).unwrap_err().to_string().contains("template_image"));
    }

    #[test]
    fn cloud_init_status_words() {
        assert_eq!(parse_cloud_init_status(0, "status: done\n"), CloudInit::Finished("done".into()));
        assert_eq!(parse_cloud_init_status(0, "status: running\n"), CloudInit::Running);
        assert_eq!(parse_cloud_init_status(0, "status: disabled\n"), CloudInit::Finished("disabled".into()));
        assert_eq!(parse_cloud_init_status(127, ""), CloudInit::Finished("absent".into()));
        assert!(matches!(parse_cloud_init_status(1, "status: error\n"), CloudInit::Failed(_)));
    }

    #[test]
    fn sshkeys_are_escaped_like_the_cli() {
        assert_eq!(
            crate::facts::guest_config::uri_escape("ssh-ed25519 AAA+/= a@b\n"),
            "ssh-ed25519%20AAA%2B%2F%3D%20a%40b%0A"
        );
    }
}
