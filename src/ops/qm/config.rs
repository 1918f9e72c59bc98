//! A VM's configuration brought to the declared one in one `qm set`, changing only what differs.

use super::desired::DesiredVm;
use super::{bool01, effect, existing_conf, invalid, subject};
use crate::command::Command;
use crate::connector::FileWrite;
use crate::facts::guests::GuestChange;
use crate::facts::propstring::{self, PropString};
use crate::facts::Facts;
use crate::ops::{Action, Change, Diff, OpError, Plan, Step};

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
