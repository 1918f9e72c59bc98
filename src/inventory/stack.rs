//! Docker stacks: `stacks/<name>/{phoenix.json,docker-compose.yml}`. The stacks folder is
//! `<config>/stacks`, or `<config>/../stacks` in the original layout; neither is required.

use super::diagnostic::ConfigProblem;
use super::firewall::{guest_rule, FirewallRule};
use super::paths;
use super::read::read_json;
use super::reader::{formatted, map, nonempty_string, secret, str_list, string, Ctx, Obj};
use super::rules::{ENV_NAME, HOST_PATH, SIMPLE_NAME};
use super::secret_ref::SecretRef;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub name: String,
    pub dir: PathBuf,
    pub compose_path: PathBuf,
    /// The compose file's text, as deployed.
    pub compose: String,
    pub manifest: StackManifest,
}

/// `phoenix.json` of a stack.
#[derive(Debug, Clone, Serialize)]
pub struct StackManifest {
    pub description: Option<String>,
    pub environments: IndexMap<String, StackEnvironment>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackEnvironment {
    pub variables: Vec<StackVariable>,
    pub files: Vec<StackFile>,
    pub services: IndexMap<String, StackService>,
    pub firewall_rules: Vec<FirewallRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackVariable {
    pub name: String,
    pub value: StackValue,
}

/// Variables whose name says they are secret (PASS, SECRET, TOKEN, KEY) are kept as secrets.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum StackValue {
    Plain(String),
    Secret(SecretRef),
}

#[derive(Debug, Clone, Serialize)]
pub struct StackFile {
    pub source: String,
    pub destination_in_container: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StackService {
    pub traefik_labels: Vec<String>,
}

pub(crate) const MANIFEST: &str = "phoenix.json";
pub(crate) const COMPOSE: &str = "docker-compose.yml";

/// The folder that holds stacks, if any.
pub(crate) fn stacks_dir(config_dir: &Path) -> Option<PathBuf> {
    [config_dir.join("stacks"), config_dir.join("..").join("stacks")].into_iter().find(|p| p.is_dir())
}

fn is_secret_name(name: &str) -> bool {
    let upper = name.to_uppercase();
    ["PASS", "SECRET", "TOKEN", "KEY"].iter().any(|w| upper.contains(w))
}

/// Loads every stack folder (sorted by name so output is stable). Problems are appended to
/// `problems`; a folder without both files is skipped with a warning, as the original did.
pub(crate) fn discover(config_dir: &Path, problems: &mut Vec<ConfigProblem>) -> IndexMap<String, Stack> {
    let mut stacks = IndexMap::new();
    let Some(root) = stacks_dir(config_dir) else {
        return stacks;
    };
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) => {
            problems.push(ConfigProblem::about_path(format!("could not list stacks folder {}: {e}", root.display())));
            return stacks;
        }
    };
    let mut dirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    // Stack folders (and their files) must not lead out of the configuration by a symlink.
    let roots = paths::roots(config_dir, &["stacks"]);
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if let Err(why) = super::rules::simple_name(&name) {
            problems.push(
                ConfigProblem::about_path(format!(
                    "stack folder {} has a name phoenix cannot use ({why})",
                    super::diagnostic::shown(&dir.display().to_string())
                ))
                .help("name stack folders with letters, digits, `-`, `_` and `.`"),
            );
            continue;
        }
        let outside = [dir.clone(), dir.join(MANIFEST), dir.join(COMPOSE)]
            .into_iter()
            .find_map(|p| paths::inside(&p, &roots).err().map(|resolved| (p, resolved)));
        if let Some((path, resolved)) = outside {
            problems.push(ConfigProblem::about_path(format!("stack `{name}` leads outside the configuration")).help(
                format!(
                    "{} leads to {}\ncopy the stack into the stacks folder instead of linking to it",
                    path.display(),
                    resolved.display()
                ),
            ));
            continue;
        }
        if let Some(stack) = load_one(&name, &dir, problems) {
            stacks.insert(name, stack);
        }
    }
    stacks
}

fn load_one(name: &str, dir: &Path, problems: &mut Vec<ConfigProblem>) -> Option<Stack> {
    let manifest_path = dir.join(MANIFEST);
    let compose_path = dir.join(COMPOSE);
    let missing: Vec<&str> = [(MANIFEST, &manifest_path), (COMPOSE, &compose_path)]
        .iter()
        .filter(|(_, p)| !p.is_file())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        problems.push(
            ConfigProblem::about_path(format!(
                "stack folder {} has no {}; the stack `{name}` is skipped",
                dir.display(),
                missing.join(" and ")
            ))
            .help(format!("a stack needs both {MANIFEST} and {COMPOSE}; add the missing file or remove the folder"))
            .warning(),
        );
        return None;
    }
    let compose = match std::fs::read_to_string(&compose_path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(ConfigProblem::about_path(format!("could not read {}: {e}", compose_path.display())));
            return None;
        }
    };
    let (file, root) = match read_json(&manifest_path) {
        Ok(x) => x,
        Err(f) => {
            problems.push(f.into_problem());
            return None;
        }
    };
    let ctx = Ctx::new(&file);
    let manifest = decode_manifest(&ctx, &root, dir);
    let mut duplicates = super::duplicate_key_problems(&file);
    super::reader::mask_secrets(&mut duplicates, &file, &ctx.secret_spans());
    problems.extend(duplicates);
    problems.extend(ctx.into_problems());
    Some(Stack { name: name.to_string(), dir: dir.to_path_buf(), compose_path, compose, manifest: manifest? })
}

fn decode_manifest(ctx: &Ctx, root: &Value, dir: &Path) -> Option<StackManifest> {
    let mut o = Obj::new(ctx, root, "")?;
    o.accept("$schema");
    let description = o.opt("description", string);
    let environments =
        o.opt("environments", |c, v, p| map(c, v, p, |c, n, v, p| environment(c, n, v, p, dir))).unwrap_or_default();
    o.finish();
    Some(StackManifest { description, environments })
}

/// A name chosen by the operator (environment, service): it ends up in file names and labels.
fn name_key(ctx: &Ctx, name: &str, ptr: &str) -> bool {
    match super::rules::simple_name(name) {
        Ok(()) => true,
        Err(why) => {
            ctx.report(
                ctx.at_key(ptr, format!("`{}` is not a valid name", ctx.path(ptr))).label(why).help(SIMPLE_NAME.help),
            );
            false
        }
    }
}

/// A file of the stack folder, named relative to it, that must stay inside it.
fn stack_file_source(ctx: &Ctx, v: &Value, ptr: &str, dir: &Path) -> Option<String> {
    let source = nonempty_string(ctx, v, ptr)?;
    let shown = super::diagnostic::shown(&source);
    let roots = paths::roots(dir, &[]);
    let problem = match paths::resolve(&source, &[dir.to_path_buf()], &roots) {
        Ok(_) => return Some(source),
        Err(paths::Refusal::NotRelative(why)) => ctx
            .at_value(ptr, format!("stack file `{shown}` is not a name inside the stack folder"))
            .label(why)
            .help(format!("write the file's path relative to {} (no leading `/`, no `..`)", dir.display())),
        Err(paths::Refusal::NotFound) => ctx
            .at_value(ptr, format!("stack file `{shown}` not found"))
            .label("no such file")
            .help(format!("put it at {}", dir.join(&source).display())),
        Err(paths::Refusal::Outside { found, resolved }) => ctx
            .at_value(ptr, format!("stack file `{shown}` resolves outside the stack folder"))
            .label("a symlink pointing out")
            .help(format!(
                "{} leads to {}\ncopy the file into the stack folder instead of linking to it",
                found.display(),
                resolved.display()
            )),
    };
    ctx.report(problem);
    None
}

fn environment(ctx: &Ctx, name: &str, v: &Value, ptr: &str, dir: &Path) -> Option<StackEnvironment> {
    if !name_key(ctx, name, ptr) {
        return None;
    }
    let mut o = Obj::new(ctx, v, ptr)?;
    let variables = o.list("variables", variable);
    let files = o.list("files", |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        let source = o.req("source", |c, v, p| stack_file_source(c, v, p, dir));
        let destination_in_container = o.req("destination_in_container", formatted(&HOST_PATH));
        o.finish();
        Some(StackFile { source: source?, destination_in_container: destination_in_container? })
    });
    let services = o
        .opt("services", |c, v, p| {
            map(c, v, p, |c, name, v, p| {
                if !name_key(c, name, p) {
                    return None;
                }
                let mut o = Obj::new(c, v, p)?;
                let traefik_labels = o.opt("traefik_labels", str_list).unwrap_or_default();
                o.finish();
                Some(StackService { traefik_labels })
            })
        })
        .unwrap_or_default();
    let firewall_rules = o.list("firewall_rules", guest_rule);
    o.finish();
    Some(StackEnvironment { variables, files, services, firewall_rules })
}

fn variable(ctx: &Ctx, v: &Value, ptr: &str) -> Option<StackVariable> {
    let mut o = Obj::new(ctx, v, ptr)?;
    let name = o.req("name", formatted(&ENV_NAME));
    let value = match (&name, o.raw("value")) {
        (Some(n), Some((v, p))) if is_secret_name(n) => secret(ctx, v, &p).map(StackValue::Secret),
        (_, Some((Value::Number(n), _))) => Some(StackValue::Plain(n.to_string())),
        (_, Some((Value::Bool(b), _))) => Some(StackValue::Plain(b.to_string())),
        (_, Some((v, p))) => string(ctx, v, &p).map(StackValue::Plain),
        (_, None) => {
            o.missing("value", None);
            None
        }
    };
    o.finish();
    Some(StackVariable { name: name?, value: value? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        assert!(is_secret_name("DATABASE_PASS"));
        assert!(is_secret_name("api_key"));
        assert!(is_secret_name("HF_TOKEN"));
        assert!(!is_secret_name("API_PORT"));
    }
}
