//! `pct::converged`, `pct::mark_converged` (and the `qm::` twins): the convergence record the
//! state machines use to tell a finished guest from one `create` must converge fully again
//! (see `ops::converged` for where the record lives and why there).
//!
//! The hash covers everything a full converge acts on that the configure pass does not see: the
//! guest's inventory entry, the content of its application script, the source of each feature
//! module it declares (with the `features/…` helpers that module imports) and its health-check
//! scripts. Secrets enter the inventory entry as `***` only, so rotating a secret is not seen.

use super::convert::guest_id;
use super::file::carry_out;
use super::{at, Ctx, Namespace, Res};
use crate::graph::GuestKind;
use crate::inventory::GuestRef;
use crate::ops::converged;
use crate::project::resolver::Resolver;
use crate::project::root::project_root;
use crate::run::Run;
use rhai::{Dynamic, NativeCallContext};
use std::path::Path;

/// Bumped when what the hash covers changes, so old records are not trusted.
const VERSION: &str = "phoenix convergence record v1";

/// The hash of a guest's declared configuration and of the files it uses.
pub fn declared_hash(run: &Run, id: u32) -> Result<String, String> {
    let guest = run.inventory.guest(id).ok_or_else(|| format!("guest {id} is not declared"))?;
    let mut entry = match guest {
        GuestRef::Lxc(g) => serde_json::to_value(g),
        GuestRef::Vm(g) => serde_json::to_value(g),
    }
    .map_err(|e| format!("guest {id}: {e}"))?;
    // Where the script was found depends on how --config-dir was spelled; its content counts.
    if let Some(map) = entry.as_object_mut() {
        map.remove("application_script_path");
    }
    let mut parts: Vec<(String, String)> = vec![("entry".into(), entry.to_string())];

    if let GuestRef::Lxc(g) = guest {
        if let Some(p) = &g.application_script_path {
            parts.push(("application script".into(), read_or_missing(p)));
        }
    }
    let resolver = Resolver::new(project_root(&run.inventory.config_dir));
    let features: Vec<String> = entry
        .get("features")
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    for f in features {
        let module = format!("features/{f}");
        let text = module_text(&resolver, &module);
        for helper in feature_imports(&text) {
            parts.push((helper.clone(), module_text(&resolver, &helper)));
        }
        parts.push((module, text));
    }
    if let Some(checks) = entry.get("health_checks").and_then(|h| h.as_array()) {
        for script in checks.iter().filter_map(|c| c.get("script")).filter_map(|s| s.as_str()) {
            let path = run.inventory.config_dir.join("scripts/health_checks").join(script);
            parts.push((format!("health check {script}"), read_or_missing(&path)));
        }
    }

    let mut text = String::from(VERSION);
    for (name, content) in parts {
        // Length-prefixed, so no two different sets of parts hash alike.
        text.push_str(&format!("\n{name} {}\n{content}", content.len()));
    }
    Ok(crate::ops::content_digest(text.as_bytes()))
}

/// A file's text, or a fixed marker when it cannot be read (the run fails on it later, with
/// its own message; the hash only has to differ from the readable file's).
fn read_or_missing(path: &Path) -> String {
    std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|_| "(unreadable)".into())
}

fn module_text(resolver: &Resolver, module: &str) -> String {
    match resolver.module(module) {
        Ok(Some(found)) => found.text.to_string(),
        _ => "(no such module)".into(),
    }
}

/// The `features/…` modules a feature module imports (`import "features/apt" as apt;`).
fn feature_imports(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("import"))
        .filter_map(|rest| rest.trim().strip_prefix('"'))
        .filter_map(|rest| rest.split('"').next())
        .filter(|m| m.starts_with("features/"))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Add `converged` and `mark_converged` to the `pct::` or `qm::` namespace.
pub fn add(ns: &mut Namespace, ctx: &Ctx, kind: GuestKind) {
    let what = match kind {
        GuestKind::Lxc => "container",
        GuestKind::Vm => "VM",
    };
    let c = ctx.clone();
    ns.add(
        "converged",
        &["id: int", "-> bool"],
        &format!(
            "Whether the {what}'s last converge finished for the configuration declared now: its description holds \
             phoenix's record for this id and the hash of its inventory entry, application script, feature modules \
             and health-check scripts. Read from the conf phoenix reads anyway (no extra host command). A clone \
             never inherits it (the record names the guest id)."
        ),
        move |nc: NativeCallContext, id: Dynamic| -> Res<bool> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let hash = declared_hash(run, id)?;
                Ok(converged::is_converged(&run.facts, kind, id, &hash)?)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "mark_converged",
        &["id: int", "-> Map"],
        &format!(
            "Record in the {what}'s description that it is converged for the configuration declared now (one \
             `phoenix-converged: <id> sha256:<hash>` line; the operator's other lines are kept). Call it last, after \
             every step succeeded. Unchanged when the record is there."
        ),
        move |nc: NativeCallContext, id: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let hash = declared_hash(run, id)?;
                carry_out(&c, converged::ensure_record(&run.facts, kind, id, &hash))
            })
        },
    );
}

#[cfg(test)]
mod tests {
    use super::feature_imports;

    #[test]
    fn feature_helpers_are_found_among_imports() {
        let text = "import \"features/apt\" as apt;\nimport \"guests\" as g;\n  import \"features/systemd\" as s;";
        assert_eq!(feature_imports(text), vec!["features/apt".to_string(), "features/systemd".to_string()]);
    }
}
