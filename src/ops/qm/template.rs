//! A template VM built from a cloud image, one idempotent step at a time (image, hardware,
//! disk and cloud-init, `qm template`), so an interrupted build is completed, not recreated.
//! The order of the steps is `stdlib/vm.rhai`'s.

use super::clone::is_disk_key;
use super::desired::{agent_user_data, DesiredVm};
use super::{effect, existing_conf, invalid, render_conf, subject, BOOT_DISK, KIND, SNIPPET_STORAGE};
use crate::command::Command;
use crate::connector::FileData;
use crate::facts::guest_config::ConfSection;
use crate::facts::guests::{GuestChange, Origin, Power};
use crate::facts::Facts;
use crate::generate::{self, propstring::PropertyString};
use crate::ops::file::{ensure_file, DesiredFile};
use crate::ops::{Action, Change, Effect, OpError, Plan};

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

/// The template's configuration while it is being built: `None` once it is a template (every
/// build step is done then). An error when it does not exist yet.
fn unfinished(facts: &Facts, d: &DesiredVm) -> Result<Option<ConfSection>, OpError> {
    let id = d.id;
    let conf = existing_conf(facts, id)?;
    let Some(conf) = conf.as_ref() else {
        return Err(invalid(id, "does not exist; create it first (qm::ensure_template_defined)"));
    };
    Ok((!conf.is_template()).then(|| conf.effective()))
}

/// Give the template its boot disk — the cloud image imported, grown to `disk_size_gb` — and
/// boot from it; each only when missing.
pub fn ensure_template_disks(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    let img = d.image()?;
    let Some(have) = unfinished(facts, d)? else {
        return Ok(Plan::noop(format!("{} disks", subject(id)), "is a template"));
    };
    let storage = d.storage()?;
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
    Ok(if actions.is_empty() {
        Plan::noop(format!("{} disks", subject(id)), "boot disk imported, boot order set")
    } else {
        Plan::with(subject(id), actions)
    })
}

/// Give the template its cloud-init: the drive, the agent vendor-data snippet (and its
/// `cicustom`), the cloud-init user; each only when missing.
pub fn ensure_template_cloud_init(facts: &Facts, d: &DesiredVm) -> Result<Plan, OpError> {
    let id = d.id;
    d.image()?;
    let Some(have) = unfinished(facts, d)? else {
        return Ok(Plan::noop(format!("{} cloud-init", subject(id)), "is a template"));
    };
    let storage = d.storage()?;
    let get = |k: &str| have.entries.get(k).map(String::as_str);
    let mut actions = Vec::new();

    if get("ide2").is_none_or(|v| !v.contains("cloudinit")) {
        actions.push(set_action(
            id,
            "ide2",
            &generate::propstring::volume("ide2", storage, "cloudinit").map_err(|e| invalid(id, e.to_string()))?,
            format!("{storage}:vm-{id}-cloudinit,media=cdrom"),
            "no cloud-init drive",
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
        Plan::noop(format!("{} cloud-init", subject(id)), "cloud-init drive, agent snippet and user set")
    } else {
        Plan::with(subject(id), actions)
    })
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
        action = action.exec(crate::ops::power::shutdown_command(KIND, id));
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
