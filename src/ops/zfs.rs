//! ZFS datasets: exist, with the declared properties. Pools are read, never created or
//! destroyed here (that is disk work with its own safety rules).

use super::{Action, Change, Effect, OpError, Plan};
use crate::command::Command;
use crate::facts::{zfs::parse_size, Facts};

/// Properties whose values are sizes: compared as bytes (`128K` = `131072`).
const SIZE_PROPS: &[&str] = &[
    "recordsize",
    "volblocksize",
    "quota",
    "refquota",
    "reservation",
    "refreservation",
    "volsize",
    "special_small_blocks",
];

/// Spellings ZFS accepts but reports under another name (`zfs set acltype=posixacl` reads back
/// as `posix`): ZFS keeps the value's index and prints the first name its table has for it.
/// Compared through these, a declared legacy spelling does not look like drift on every run.
const INDEX_ALIASES: &[(&str, &str, &str)] = &[
    ("acltype", "posixacl", "posix"),
    ("acltype", "noacl", "off"),
    ("acltype", "disabled", "off"),
    ("xattr", "dir", "on"),
    ("compression", "gzip-6", "gzip"),
    ("aclinherit", "secure", "restricted"),
    ("volmode", "geom", "full"),
];

/// The form a property value is compared in: sizes as bytes (`none` = 0), index values under
/// the name ZFS reports, others verbatim.
pub fn normalise(prop: &str, value: &str) -> String {
    if SIZE_PROPS.contains(&prop) {
        if value == "none" || value == "-" {
            return "0".into();
        }
        if let Some(b) = parse_size(value) {
            return b.to_string();
        }
    }
    match INDEX_ALIASES.iter().find(|(p, alias, _)| *p == prop && *alias == value) {
        Some((_, _, reported)) => (*reported).to_string(),
        None => value.to_string(),
    }
}

fn subject(name: &str) -> String {
    format!("zfs dataset {name}")
}

fn invalid(name: &str, message: impl Into<String>) -> OpError {
    OpError::Invalid { subject: subject(name), message: message.into() }
}

/// A dataset name: `pool/child[/…]`, each part non-empty and of ZFS's allowed characters.
fn check_name(name: &str) -> Result<(), OpError> {
    let ok_part = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if !name.contains('/') || !name.split('/').all(ok_part) {
        return Err(invalid(name, "a dataset name is `pool/name[/…]` of letters, digits and `-_.:`"));
    }
    Ok(())
}

/// Make dataset `name` exist with `props` (in the order given).
pub fn ensure_dataset(facts: &Facts, name: &str, props: &[(String, String)]) -> Result<Plan, OpError> {
    check_name(name)?;
    for (k, v) in props {
        if k.is_empty() || v.is_empty() || k.contains(['=', ' ']) {
            return Err(invalid(name, format!("property `{k}={v}` is not of the form key=value")));
        }
    }
    let datasets = facts.datasets()?;
    if !datasets.contains_key(name) {
        let pool = name.split('/').next().unwrap_or(name);
        if !facts.pools()?.iter().any(|p| p.name == pool) {
            return Err(invalid(
                name,
                format!("pool `{pool}` does not exist on the host (declare it under zfs.pools and create it first)"),
            ));
        }
        let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or(pool);
        if !datasets.contains_key(parent) {
            return Err(invalid(name, format!("parent dataset `{parent}` does not exist; ensure it first")));
        }
        let mut cmd = Command::new(["zfs", "create"]);
        for (k, v) in props {
            cmd = cmd.arg("-o").arg(format!("{k}={v}"));
        }
        cmd = cmd.arg(name);
        let modelled: Vec<(String, String)> = props.iter().map(|(k, v)| (k.clone(), normalise(k, v))).collect();
        let action = Action::new(Change::Create, subject(name), "absent")
            .exec(cmd)
            .effect(Effect::ZfsDataset { name: name.to_string(), properties: modelled });
        return Ok(Plan::with(subject(name), vec![action]));
    }

    let keys: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
    let have = facts.dataset_props(name, &keys)?;
    let mut changes = Vec::new();
    let mut reasons = Vec::new();
    for (k, v) in props {
        let want = normalise(k, v);
        match have.values.get(k) {
            Some((cur, _)) if normalise(k, cur) == want => {}
            Some((cur, _)) => {
                reasons.push(format!("{k}: {cur} → {v}"));
                changes.push((k.clone(), v.clone()));
            }
            None => {
                reasons.push(format!("{k}: (known after apply) → {v}"));
                changes.push((k.clone(), v.clone()));
            }
        }
    }
    if changes.is_empty() {
        return Ok(Plan::noop(subject(name), if props.is_empty() { "exists" } else { "exists, properties match" }));
    }
    let mut cmd = Command::new(["zfs", "set"]);
    for (k, v) in &changes {
        cmd = cmd.arg(format!("{k}={v}"));
    }
    cmd = cmd.arg(name);
    let modelled = changes.iter().map(|(k, v)| (k.clone(), normalise(k, v))).collect();
    let action = Action::new(Change::Update, subject(name), reasons.join(", "))
        .exec(cmd)
        .effect(Effect::ZfsProperties { name: name.to_string(), properties: modelled });
    Ok(Plan::with(subject(name), vec![action]))
}

/// Make pool `name` exist. Creates it from `disks` when absent (`zpool create` without `-f`, so
/// disks that carry any filesystem or pool signature are refused by ZFS itself: phoenix never
/// wipes a disk). An existing pool is left alone; its layout is not compared.
pub fn ensure_pool(facts: &Facts, name: &str, raid_level: Option<&str>, disks: &[String]) -> Result<Plan, OpError> {
    let subject = format!("zfs pool {name}");
    let invalid = |message: String| OpError::Invalid { subject: subject.clone(), message };
    if let Some(p) = facts.pools()?.iter().find(|p| p.name == name) {
        return Ok(Plan::noop(subject.clone(), format!("imported, {}", p.health)));
    }
    if disks.is_empty() {
        return Err(invalid("is absent and declares no disks to create it from".into()));
    }
    let vdev: Option<&str> = match raid_level.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("stripe") | Some("single") => None,
        Some("mirror") => Some("mirror"),
        Some("raidz") | Some("raidz1") => Some("raidz1"),
        Some("raidz2") => Some("raidz2"),
        Some("raidz3") => Some("raidz3"),
        Some(other) => {
            return Err(invalid(format!("unknown raid_level `{other}` (mirror, raidz1, raidz2, raidz3 or stripe)")))
        }
    };
    let mut cmd = Command::new(["zpool", "create", "-o", "ashift=12", name]);
    if let Some(v) = vdev {
        cmd = cmd.arg(v);
    }
    cmd = cmd.args(disks.iter());
    let layout = vdev.unwrap_or("stripe");
    let action = Action::new(Change::Create, subject.clone(), format!("absent; {layout} of {} disk(s)", disks.len()))
        .exec(cmd)
        .effect(Effect::ZfsPool { name: name.to_string() });
    Ok(Plan::with(subject, vec![action]))
}

/// Parse the original tool's `properties` form: a comma list of `k=v` (`"compression=lz4,atime=off"`).
pub fn parse_property_list(list: &str) -> Result<Vec<(String, String)>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("`{kv}` is not of the form key=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_compare_as_bytes() {
        assert_eq!(normalise("recordsize", "128K"), normalise("recordsize", "131072"));
        assert_eq!(normalise("quota", "none"), "0");
        assert_eq!(normalise("compression", "lz4"), "lz4");
    }

    #[test]
    fn legacy_index_spellings_compare_as_reported() {
        assert_eq!(normalise("acltype", "posixacl"), "posix");
        assert_eq!(normalise("acltype", "posix"), "posix");
        assert_eq!(normalise("xattr", "dir"), normalise("xattr", "on"));
        assert_ne!(normalise("xattr", "sa"), normalise("xattr", "on"));
        assert_eq!(normalise("compression", "lz4"), "lz4");
    }

    #[test]
    fn property_lists() {
        assert_eq!(
            parse_property_list("compression=lz4, atime=off").unwrap(),
            vec![("compression".into(), "lz4".into()), ("atime".into(), "off".into())]
        );
        assert!(parse_property_list("compression").is_err());
    }
}
