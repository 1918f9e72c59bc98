//! The feature registry: the features are the modules in `stdlib/features/` (on disk first,
//! under `$PHOENIX_HOME/stdlib/features/`, then the copies built into phoenix). Each declares
//! what it needs in `meta()`, which phoenix evaluates here once per process, before any host is
//! touched: the engine it runs in has no run installed, so a `meta()` that calls the API fails
//! instead of reading a host. The result validates the configuration and adds the needs of
//! features to the guest graph (see `inventory::features`).

use super::diagnostic::{ScriptDiagnostic, ScriptErrorKind};
use super::{Limits, Scripts};
use crate::api::Ctx;
use crate::graph::GuestKind;
use crate::inventory::features::{FeatureNeed, FeatureParam, FeatureSpec};
use rhai::{CallFnOptions, Dynamic, Map, Scope};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The folder under `stdlib/` whose modules are the features.
pub const FEATURES_FOLDER: &str = "features";

/// The keys `meta()` may return (anything else is a typo the registry refuses).
const META_KEYS: &[&str] = &["about", "kinds", "pct_features", "needs_guest_with", "params"];

/// Why the registry cannot be read (a feature module that does not compile, or whose `meta()`
/// fails or is malformed), as a diagnostic naming the module.
pub type Refusal = Box<ScriptDiagnostic>;

/// Every feature, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct FeatureRegistry {
    features: Vec<FeatureSpec>,
}

impl FeatureRegistry {
    /// Reads the registry of the project at `root` (plans and stdlib on disk; `None`: only the
    /// embedded copies), with an engine of its own.
    pub fn for_project(root: Option<PathBuf>) -> Result<FeatureRegistry, Refusal> {
        let scripts = Scripts::new(root, Ctx::default(), Limits::from_env(), Arc::new(AtomicBool::new(false)));
        FeatureRegistry::load(&scripts)
    }

    /// Evaluates `meta()` of every feature module the resolver finds.
    pub fn load(scripts: &Scripts) -> Result<FeatureRegistry, Refusal> {
        let mut features = Vec::new();
        for name in scripts.resolver.module_names(FEATURES_FOLDER) {
            features.push(read_feature(scripts, &name)?);
        }
        let registry = FeatureRegistry { features };
        registry.check_needs()?;
        Ok(registry)
    }

    /// Every feature, sorted by name.
    pub fn specs(&self) -> &[FeatureSpec] {
        &self.features
    }

    pub fn get(&self, name: &str) -> Option<&FeatureSpec> {
        self.features.iter().find(|f| f.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    /// A need names a feature that exists (else no guest could ever provide it).
    fn check_needs(&self) -> Result<(), Refusal> {
        for f in &self.features {
            if let Some(need) = &f.needs {
                if self.get(&need.feature).is_none() {
                    return Err(shape_error(
                        &f.name,
                        format!("`needs_guest_with.feature` names `{}`, which is not a feature", need.feature),
                        format!("features are: {}", self.names().join(", ")),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A feature is named after its file and imported by that name.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn shape_error(feature: &str, message: String, help: String) -> Refusal {
    Box::new(ScriptDiagnostic::plain(
        ScriptErrorKind::Compile,
        format!("feature module `{FEATURES_FOLDER}/{feature}`: meta(): {message}"),
        Some(help),
    ))
}

fn read_feature(scripts: &Scripts, name: &str) -> Result<FeatureSpec, Refusal> {
    if !valid_name(name) {
        return Err(Box::new(ScriptDiagnostic::plain(
            ScriptErrorKind::Compile,
            format!("stdlib/{FEATURES_FOLDER}/{name}.rhai: `{name}` is not a feature name"),
            Some(
                "a feature is named after its file: lowercase letters, digits and _ (rename it, or move a helper \
                 module to stdlib/lib/)"
                    .into(),
            ),
        )));
    }
    let import_path = format!("{FEATURES_FOLDER}/{name}");
    let (source, ast) = scripts.compile_module(&import_path).map_err(|e| match e {
        Ok(reason) => Box::new(ScriptDiagnostic::plain(
            ScriptErrorKind::Compile,
            format!("cannot read the feature module `{import_path}`: {reason}"),
            None,
        )),
        Err(diagnostic) => Box::new(diagnostic),
    })?;
    for (func, arity, why) in
        [("meta", 0, "what the feature needs, as plain data"), ("apply", 1, "converges the feature inside guest `id`")]
    {
        if !ast.iter_functions().any(|f| f.name == func && f.params.len() == arity) {
            let params = if arity == 1 { "id" } else { "" };
            return Err(Box::new(ScriptDiagnostic::plain(
                ScriptErrorKind::Compile,
                format!("{source}: a feature module needs `fn {func}({params})` ({why})"),
                Some("README.md, Guests → Features, shows what a feature module declares".into()),
            )));
        }
    }
    // Not evaluating the module's top level: meta() is data and needs none of its imports.
    let options = CallFnOptions::new().eval_ast(false);
    let value: Dynamic = scripts
        .engine
        .call_fn_with_options(options, &mut Scope::new(), &ast, "meta", ())
        .map_err(|e| Box::new(scripts.diagnose(&source, &e)))?;
    let Some(meta) = value.clone().try_cast::<Map>() else {
        return Err(shape_error(
            name,
            format!("returns {}, not a map", value.type_name()),
            "return #{ about: \"…\", kinds: [\"lxc\", \"vm\"], pct_features: [], needs_guest_with: (), params: [] }"
                .into(),
        ));
    };
    spec_from_meta(name, &meta)
}

fn strings(feature: &str, key: &str, v: &Dynamic) -> Result<Vec<String>, Refusal> {
    let wrong = || shape_error(feature, format!("`{key}` must be an array of strings"), format!("e.g. {key}: []"));
    let items = v.clone().try_cast::<rhai::Array>().ok_or_else(wrong)?;
    items.into_iter().map(|i| i.into_string().map_err(|_| wrong())).collect()
}

/// A short text phoenix prints (graph edges, messages): one line, no quotes or separators that
/// would break a Mermaid or Dot label.
fn printable(feature: &str, key: &str, text: &str) -> Result<String, Refusal> {
    if text.trim().is_empty() || text.len() > 200 || text.chars().any(|c| c.is_control() || matches!(c, '"' | '|')) {
        return Err(shape_error(
            feature,
            format!("`{key}` must be one short line (at most 200 bytes, no quotes, `|` or control characters)"),
            format!("e.g. {key}: \"the lab CA\""),
        ));
    }
    Ok(text.to_string())
}

fn text(feature: &str, meta: &Map, key: &str) -> Result<String, Refusal> {
    match meta.get(key).map(|v| v.clone().into_string()) {
        Some(Ok(s)) => printable(feature, key, &s),
        _ => Err(shape_error(feature, format!("`{key}` must be a string"), format!("e.g. {key}: \"…\""))),
    }
}

fn spec_from_meta(name: &str, meta: &Map) -> Result<FeatureSpec, Refusal> {
    for key in meta.keys() {
        if !META_KEYS.contains(&key.as_str()) {
            let help = match crate::types::suggest::closest(key, META_KEYS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? meta() keys are: {}", META_KEYS.join(", ")),
                None => format!("meta() keys are: {}", META_KEYS.join(", ")),
            };
            return Err(shape_error(name, format!("unknown key `{key}`"), help));
        }
    }
    let about = text(name, meta, "about")?;
    let kinds = match meta.get("kinds") {
        Some(v) => strings(name, "kinds", v)?,
        None => Vec::new(),
    };
    let kinds: Vec<GuestKind> = kinds
        .iter()
        .map(|k| match k.as_str() {
            "lxc" => Ok(GuestKind::Lxc),
            "vm" => Ok(GuestKind::Vm),
            other => {
                Err(shape_error(name, format!("unknown guest kind `{other}`"), "kinds are \"lxc\" and \"vm\"".into()))
            }
        })
        .collect::<Result<_, _>>()?;
    if kinds.is_empty() {
        return Err(shape_error(name, "`kinds` is missing or empty".into(), "e.g. kinds: [\"lxc\", \"vm\"]".into()));
    }
    let pct_features = match meta.get("pct_features") {
        Some(v) if !v.is_unit() => strings(name, "pct_features", v)?,
        _ => Vec::new(),
    };
    for p in &pct_features {
        let ok = p.split_once('=').is_some_and(|(k, v)| {
            !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b';')
        });
        if !ok {
            return Err(shape_error(
                name,
                format!("`pct_features` entry `{p}` is not `name=value`"),
                "e.g. pct_features: [\"nesting=1\", \"keyctl=1\"]".into(),
            ));
        }
    }
    let needs = match meta.get("needs_guest_with") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => {
            let wrong = || {
                shape_error(
                    name,
                    "`needs_guest_with` must be () or #{ feature, why }".into(),
                    "e.g. needs_guest_with: #{ feature: \"step_ca\", why: \"the lab CA\" }".into(),
                )
            };
            let m = v.clone().try_cast::<Map>().ok_or_else(wrong)?;
            if m.keys().any(|k| k != "feature" && k != "why") {
                return Err(wrong());
            }
            let feature = text(name, &m, "feature")?;
            if !valid_name(&feature) {
                return Err(wrong());
            }
            Some(FeatureNeed { feature, why: text(name, &m, "why")? })
        }
    };
    let params = match meta.get("params") {
        None => Vec::new(),
        Some(v) if v.is_unit() => Vec::new(),
        Some(v) => {
            let wrong = || {
                shape_error(
                    name,
                    "`params` must be an array of #{ key, required, about }".into(),
                    "e.g. params: [#{ key: \"vllm_engine_config\", required: true, about: \"the vLLM settings\" }]"
                        .into(),
                )
            };
            let items = v.clone().try_cast::<rhai::Array>().ok_or_else(wrong)?;
            let mut out = Vec::new();
            for item in items {
                let m = item.try_cast::<Map>().ok_or_else(wrong)?;
                if m.keys().any(|k| !["key", "required", "about"].contains(&k.as_str())) {
                    return Err(wrong());
                }
                let required = match m.get("required") {
                    None => false,
                    Some(r) => r.as_bool().map_err(|_| wrong())?,
                };
                out.push(FeatureParam { key: text(name, &m, "key")?, required, about: text(name, &m, "about")? });
            }
            out
        }
    };
    Ok(FeatureSpec { name: name.to_string(), about, kinds, pct_features, needs, params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_features_declare_what_they_need() {
        let reg = FeatureRegistry::for_project(None).expect("the embedded registry loads");
        assert_eq!(
            reg.names(),
            ["base_setup", "docker", "nvidia", "ollama", "step_ca", "step_cli", "traefik", "trusted_ca", "vllm"]
        );
        let docker = reg.get("docker").expect("docker");
        assert_eq!(docker.pct_features, ["nesting=1", "keyctl=1"]);
        assert_eq!(docker.kinds, [GuestKind::Lxc, GuestKind::Vm]);
        assert_eq!(reg.get("nvidia").map(|f| f.kinds.clone()), Some(vec![GuestKind::Lxc]));
        for needs_ca in ["trusted_ca", "step_cli"] {
            let need = reg.get(needs_ca).and_then(|f| f.needs.clone()).expect("a need");
            assert_eq!(need.feature, "step_ca");
        }
        assert!(reg.get("vllm").is_some_and(|f| f.params.iter().any(|p| p.key == "vllm_engine_config" && p.required)));
        // Helpers are not features.
        assert!(reg.get("apt").is_none() && reg.get("systemd").is_none());
    }

    fn meta(text: &str) -> Result<FeatureSpec, Refusal> {
        let engine = rhai::Engine::new();
        let m: Map = engine.eval(text).expect("test meta evaluates");
        spec_from_meta("x", &m)
    }

    #[test]
    fn a_malformed_meta_is_refused_with_the_key() {
        let ok = meta(r#"#{ about: "x", kinds: ["vm"] }"#).expect("minimal meta");
        assert_eq!(ok.kinds, [GuestKind::Vm]);
        for (bad, says) in [
            (r#"#{ about: "x", kinds: ["lxc"], pct_feature: [] }"#, "did you mean `pct_features`"),
            (r#"#{ about: "x", kinds: [] }"#, "`kinds` is missing or empty"),
            (r#"#{ about: "x", kinds: ["ct"] }"#, "unknown guest kind `ct`"),
            (r#"#{ about: "x", kinds: ["lxc"], pct_features: ["nesting=1,mount=nfs"] }"#, "not `name=value`"),
            (
                r#"#{ about: "x", kinds: ["lxc"], needs_guest_with: #{ feature: "../x", why: "y" } }"#,
                "needs_guest_with",
            ),
            (r#"#{ about: "a\nb", kinds: ["lxc"] }"#, "one short line"),
            (r#"#{ about: "x", kinds: ["lxc"], params: [#{ key: "k", required: "yes", about: "a" }] }"#, "params"),
        ] {
            let e = meta(bad).expect_err(bad);
            let text = format!("{} {}", e.message, e.help.unwrap_or_default());
            assert!(text.contains(says), "{bad}: {text}");
        }
    }
}
