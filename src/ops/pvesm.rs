//! Proxmox storages: exist with the declared options. phoenix adds and updates storages; it
//! never removes one it was not asked to (the original removed every storage not in its list).

use super::{Action, Change, Effect, OpError, Plan};
use crate::command::Command;
use crate::facts::pvesm::StorageDef;
use crate::facts::Facts;
use indexmap::IndexMap;

/// Storage types `pvesm add` knows.
pub const TYPES: &[&str] = &[
    "btrfs",
    "cephfs",
    "cifs",
    "dir",
    "esxi",
    "iscsi",
    "iscsidirect",
    "lvm",
    "lvmthin",
    "nfs",
    "pbs",
    "rbd",
    "zfs",
    "zfspool",
];

/// Options fixed at creation (pvesm refuses to change them).
const FIXED: &[&str] = &["pool", "path", "server", "export", "vgname", "thinpool", "share", "datastore"];

fn subject(id: &str) -> String {
    format!("storage {id}")
}

/// The form an option is compared in: list options as sorted sets, booleans as 1/0.
fn normalise(key: &str, value: &str) -> String {
    match key {
        "content" | "nodes" => {
            let mut parts: Vec<&str> = value.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            parts.sort_unstable();
            parts.dedup();
            parts.join(",")
        }
        _ => match value {
            "true" | "yes" | "on" => "1".into(),
            "false" | "no" | "off" => "0".into(),
            v => v.to_string(),
        },
    }
}

/// Make storage `id` exist as `kind` with `options` (pvesm option names without `--`).
pub fn ensure_storage(
    facts: &Facts,
    id: &str,
    kind: &str,
    options: &IndexMap<String, String>,
) -> Result<Plan, OpError> {
    let invalid = |message: String| OpError::Invalid { subject: subject(id), message };
    if !TYPES.contains(&kind) {
        return Err(invalid(format!("unknown storage type `{kind}` (known: {})", TYPES.join(", "))));
    }
    if id.is_empty()
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || !id.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(invalid("a storage id starts with a letter and has only letters, digits and `-_.`".into()));
    }
    // Options end up as `\t<key> <value>` lines of /etc/pve/storage.cfg: one line each.
    for (k, v) in options {
        crate::generate::error::token("storage option", k, &[]).map_err(|e| invalid(e.to_string()))?;
        crate::generate::error::no_control(&format!("storage option {k}"), v).map_err(|e| invalid(e.to_string()))?;
    }
    let storages = facts.storages()?;
    match storages.get(id) {
        None => {
            let mut cmd = Command::new(["pvesm", "add", kind, id]);
            for (k, v) in options {
                cmd = cmd.arg(format!("--{k}")).arg(v.as_str());
            }
            let def = StorageDef {
                kind: kind.to_string(),
                id: id.to_string(),
                options: options.iter().map(|(k, v)| (k.clone(), normalise(k, v))).collect(),
            };
            let action = Action::new(Change::Create, subject(id), "absent")
                .exec(cmd)
                .effect(Effect::Storage { id: id.to_string(), def: Some(def) });
            Ok(Plan::with(subject(id), vec![action]))
        }
        Some(have) if have.kind != kind => Err(invalid(format!(
            "exists as type `{}`, declared as `{kind}`; phoenix does not change a storage's type (remove it with `pvesm remove {id}` if nothing uses it)",
            have.kind
        ))),
        Some(have) => {
            let mut set = Vec::new();
            let mut reasons = Vec::new();
            for (k, v) in options {
                let want = normalise(k, v);
                let cur = have.options.get(k).map(|c| normalise(k, c));
                if cur.as_deref() == Some(want.as_str()) {
                    continue;
                }
                if FIXED.contains(&k.as_str()) {
                    return Err(invalid(format!(
                        "`{k}` is `{}` on the host, declared `{v}`; it cannot change after creation",
                        cur.unwrap_or_default()
                    )));
                }
                reasons.push(format!("{k}: {} → {v}", have.options.get(k).map(String::as_str).unwrap_or("(unset)")));
                set.push((k.clone(), v.clone()));
            }
            if set.is_empty() {
                return Ok(Plan::noop(subject(id), "exists, options match"));
            }
            let mut cmd = Command::new(["pvesm", "set", id]);
            let mut def = have.clone();
            for (k, v) in &set {
                cmd = cmd.arg(format!("--{k}")).arg(v.as_str());
                def.options.insert(k.clone(), normalise(k, v));
            }
            let action = Action::new(Change::Update, subject(id), reasons.join(", "))
                .exec(cmd)
                .effect(Effect::Storage { id: id.to_string(), def: Some(def) });
            Ok(Plan::with(subject(id), vec![action]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn content_compares_as_a_set() {
        assert_eq!(normalise("content", "rootdir,images"), normalise("content", "images, rootdir"));
        assert_eq!(normalise("sparse", "true"), "1");
    }
}
