//! Structured edits of a stack's docker-compose.yml: Traefik labels injected into the services
//! that declare routes, the Portainer server's own TLS flags and certificate mount, and stack
//! files bound from where phoenix places them in the VM. The file is parsed (serde_norway keeps
//! the order of mapping keys), edited as a tree and written back, so services, volumes and
//! networks the operator wrote stay as they were. YAML comments are lost in the deployed copy
//! (the operator's file in `stacks/<name>/` keeps them).
//!
//! Every value phoenix puts in refuses what would change the file's meaning: control
//! characters, and `$`, which compose would interpolate.

use super::error::{no_control, GenerateError, Refusal};
use serde_norway::{Mapping, Value};

/// Why a compose file could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{file}: not valid YAML: {why}")]
    Parse { file: String, why: String },
    #[error("{file}: {what}")]
    Shape { file: String, what: String },
    #[error("{file}: {0}", file = .1)]
    Refused(GenerateError, String),
    #[error("{file}: could not write the edited file: {why}")]
    Emit { file: String, why: String },
}

/// One `key=value` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// The labels one service of a stack gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLabels {
    pub service: String,
    pub labels: Vec<Label>,
}

/// One routed name of a service, as the edge model derived it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// Router name (the route's name: unique in the lab).
    pub router: String,
    /// `<name>.<domain>`.
    pub host: String,
    /// The Traefik service key the labels declared for the port.
    pub service_key: String,
    pub port: u16,
    pub https: bool,
}

/// The labels that route `r` through Traefik's `websecure` entrypoint with TLS.
pub fn routing_labels(routes: &[Routing]) -> Vec<Label> {
    let mut out = vec![label("traefik.enable", "true")];
    for r in routes {
        let router = format!("traefik.http.routers.{}", r.router);
        out.push(label(&format!("{router}.rule"), &format!("Host(`{}`)", r.host)));
        out.push(label(&format!("{router}.entrypoints"), "websecure"));
        out.push(label(&format!("{router}.tls"), "true"));
        out.push(label(&format!("{router}.service"), &r.service_key));
        let service = format!("traefik.http.services.{}.loadbalancer.server", r.service_key);
        out.push(label(&format!("{service}.port"), &r.port.to_string()));
        if r.https {
            out.push(label(&format!("{service}.scheme"), "https"));
        }
    }
    out
}

fn label(key: &str, value: &str) -> Label {
    Label { key: key.to_string(), value: value.to_string() }
}

/// A parsed compose file being edited; `file` names it in errors.
pub struct Compose {
    file: String,
    root: Mapping,
}

impl Compose {
    pub fn parse(file: &str, text: &str) -> Result<Compose, ComposeError> {
        let value: Value = serde_norway::from_str(text)
            .map_err(|e| ComposeError::Parse { file: file.to_string(), why: e.to_string() })?;
        match value {
            Value::Mapping(root) => Ok(Compose { file: file.to_string(), root }),
            _ => Err(shape(file, "the top level is not a mapping (compose files start with `services:`)")),
        }
    }

    pub fn to_text(&self) -> Result<String, ComposeError> {
        serde_norway::to_string(&self.root)
            .map_err(|e| ComposeError::Emit { file: self.file.clone(), why: e.to_string() })
    }

    /// The names of the services, in file order.
    pub fn service_names(&self) -> Vec<String> {
        match self.root.get("services") {
            Some(Value::Mapping(m)) => m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }

    fn service_mut(&mut self, name: &str) -> Result<&mut Mapping, ComposeError> {
        let file = self.file.clone();
        let services = match self.root.get_mut("services") {
            Some(Value::Mapping(m)) => m,
            _ => return Err(shape(&file, "has no `services:` mapping")),
        };
        match services.get_mut(name) {
            Some(Value::Mapping(m)) => Ok(m),
            Some(_) => Err(shape(&file, &format!("service `{name}` is not a mapping"))),
            None => Err(shape(&file, &format!("has no service `{name}` (the stack's phoenix.json names it)"))),
        }
    }

    /// Set `labels` on `service`, keeping its other labels. Labels may be a list of `k=v` or a
    /// mapping; the form the file uses is kept (a new `labels:` is a mapping). A label phoenix
    /// sets replaces one with the same key.
    pub fn set_labels(&mut self, service: &str, labels: &[Label]) -> Result<(), ComposeError> {
        for l in labels {
            check_label(&self.file, service, l)?;
        }
        let file = self.file.clone();
        let svc = self.service_mut(service)?;
        let entry = svc.entry(Value::from("labels")).or_insert_with(|| Value::Mapping(Mapping::new()));
        match entry {
            Value::Mapping(m) => {
                for l in labels {
                    m.insert(Value::from(l.key.as_str()), Value::from(l.value.as_str()));
                }
            }
            Value::Sequence(seq) => {
                for l in labels {
                    let text = format!("{}={}", l.key, l.value);
                    let same_key = seq
                        .iter_mut()
                        .find(|v| v.as_str().is_some_and(|s| s.split_once('=').map_or(s, |(k, _)| k) == l.key));
                    match same_key {
                        Some(v) => *v = Value::from(text),
                        None => seq.push(Value::from(text)),
                    }
                }
            }
            Value::Null => {
                let mut m = Mapping::new();
                for l in labels {
                    m.insert(Value::from(l.key.as_str()), Value::from(l.value.as_str()));
                }
                *entry = Value::Mapping(m);
            }
            _ => return Err(shape(&file, &format!("service `{service}`: `labels` is neither a list nor a mapping"))),
        }
        Ok(())
    }

    /// The named volumes the file declares `external: true`: docker does not make them, so
    /// whoever deploys the stack must (compose fails "external volume … not found"). Their
    /// docker names (`name:` when set), each a valid docker volume name.
    pub fn external_volumes(&self) -> Result<Vec<String>, ComposeError> {
        let Some(Value::Mapping(volumes)) = self.root.get("volumes") else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (key, v) in volumes {
            let Some(key) = key.as_str() else { continue };
            let external = v.get("external");
            // `external: true`, or the legacy `external: {name: x}`.
            let legacy_name = external.and_then(|e| e.get("name")).and_then(Value::as_str);
            if !(external.and_then(Value::as_bool) == Some(true) || legacy_name.is_some()) {
                continue;
            }
            let name = v.get("name").and_then(Value::as_str).or(legacy_name).unwrap_or(key);
            let valid = name.len() >= 2
                && name.len() <= 255
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !valid {
                return Err(shape(
                    &self.file,
                    &format!("external volume `{name}` is not a docker volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"),
                ));
            }
            out.push(name.to_string());
        }
        Ok(out)
    }

    /// The `container_name` a service sets, if any.
    pub fn container_name(&self, service: &str) -> Option<String> {
        self.root.get("services")?.get(service)?.get("container_name")?.as_str().map(str::to_string)
    }

    /// The service that runs the Portainer server: the one whose image is portainer-ce or -ee.
    pub fn portainer_service(&self) -> Result<String, ComposeError> {
        let services = match self.root.get("services") {
            Some(Value::Mapping(m)) => m,
            _ => return Err(shape(&self.file, "has no `services:` mapping")),
        };
        let found: Vec<String> = services
            .iter()
            .filter(|(_, v)| {
                v.get("image")
                    .and_then(Value::as_str)
                    .is_some_and(|i| i.starts_with("portainer/portainer-ce") || i.starts_with("portainer/portainer-ee"))
            })
            .filter_map(|(k, _)| k.as_str().map(str::to_string))
            .collect();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(shape(&self.file, "no service runs the portainer/portainer-ce image")),
            _ => Err(shape(&self.file, &format!("several services run Portainer ({})", found.join(", ")))),
        }
    }

    /// Portainer's own HTTPS flags (`--sslcert`, `--sslkey`; not Docker's `--tls*`) on the
    /// server's command, keeping its other flags (`-H unix:///var/run/docker.sock`), with the
    /// certificate directory `host_dir` mounted read-only at `container_dir`.
    pub fn portainer_tls(&mut self, service: &str, host_dir: &str, container_dir: &str) -> Result<(), ComposeError> {
        for (what, v) in [("certificate directory", host_dir), ("certificate mount", container_dir)] {
            check_path(&self.file, what, v)?;
        }
        let file = self.file.clone();
        let svc = self.service_mut(service)?;
        let mut words: Vec<String> = match svc.get("command") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => {
                if s.contains(['"', '\'', '\\', '$']) {
                    return Err(shape(
                        &file,
                        &format!("service `{service}`: write `command` as a list when it needs quotes or `$`"),
                    ));
                }
                s.split_whitespace().map(str::to_string).collect()
            }
            Some(Value::Sequence(seq)) => seq
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(shape(&file, &format!("service `{service}`: a `command` entry is not a word"))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(shape(&file, &format!("service `{service}`: `command` is neither text nor a list"))),
        };
        // Flags phoenix owns are replaced, wherever they were; Docker-client TLS flags (the
        // original's mistake) are dropped: Portainer would not serve the certificate with them.
        let owned = ["--sslcert", "--sslkey", "--tlsverify", "--tlscert", "--tlskey", "--tlscacert"];
        let mut kept = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let flag = w.split_once('=').map_or(w.as_str(), |(f, _)| f);
            if owned.contains(&flag) {
                let takes_value = !w.contains('=') && flag != "--tlsverify";
                i += if takes_value { 2 } else { 1 };
                continue;
            }
            kept.push(w.clone());
            i += 1;
        }
        words = kept;
        if !words.iter().any(|w| w == "-H" || w.starts_with("-H=") || w == "--host" || w.starts_with("--host=")) {
            words.extend(["-H".to_string(), "unix:///var/run/docker.sock".to_string()]);
        }
        words.extend([
            "--sslcert".to_string(),
            format!("{container_dir}/portainer.crt"),
            "--sslkey".to_string(),
            format!("{container_dir}/portainer.key"),
        ]);
        svc.insert(Value::from("command"), Value::Sequence(words.into_iter().map(Value::from).collect()));
        set_bind(&file, svc, service, host_dir, container_dir, true)
    }

    /// `NAME=${NAME}` in the service's environment: the value comes from the project's `.env`
    /// (or the stack's env in Portainer), never from the compose file itself.
    pub fn pass_env(&mut self, service: &str, name: &str) -> Result<(), ComposeError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ComposeError::Refused(
                GenerateError::new("environment name", name, Refusal::KeyCharset),
                self.file.clone(),
            ));
        }
        let file = self.file.clone();
        let svc = self.service_mut(service)?;
        let reference = format!("${{{name}}}");
        let entry = svc.entry(Value::from("environment")).or_insert_with(|| Value::Mapping(Mapping::new()));
        match entry {
            Value::Mapping(m) => {
                m.insert(Value::from(name), Value::from(reference));
            }
            Value::Sequence(seq) => {
                let text = format!("{name}={reference}");
                match seq
                    .iter_mut()
                    .find(|v| v.as_str().is_some_and(|s| s.split_once('=').map_or(s, |(k, _)| k) == name))
                {
                    Some(v) => *v = Value::from(text),
                    None => seq.push(Value::from(text)),
                }
            }
            _ => {
                return Err(shape(
                    &file,
                    &format!("service `{service}`: `environment` is neither a list nor a mapping"),
                ))
            }
        }
        Ok(())
    }

    /// Point every bind mount whose target is `target` at `source` (an absolute path in the
    /// VM); returns how many mounts it changed. A stack file is placed by phoenix, so its
    /// relative source (`./config/x.yaml`, which Portainer would resolve inside its own data
    /// folder) becomes the absolute path where phoenix put it.
    pub fn rebind(&mut self, target: &str, source: &str) -> Result<usize, ComposeError> {
        check_path(&self.file, "stack file destination", target)?;
        check_path(&self.file, "stack file location", source)?;
        let file = self.file.clone();
        let mut changed = 0;
        for name in self.service_names() {
            let svc = self.service_mut(&name)?;
            let Some(Value::Sequence(vols)) = svc.get_mut("volumes") else { continue };
            for v in vols.iter_mut() {
                match v {
                    Value::String(s) => {
                        let parts: Vec<&str> = s.split(':').collect();
                        if parts.len() >= 2 && parts[1] == target {
                            let mut new = vec![source.to_string(), target.to_string()];
                            new.extend(parts[2..].iter().map(|p| p.to_string()));
                            *v = Value::from(new.join(":"));
                            changed += 1;
                        }
                    }
                    Value::Mapping(m) => {
                        if m.get("target").and_then(Value::as_str) == Some(target) {
                            if m.get("type").and_then(Value::as_str).is_some_and(|t| t != "bind") {
                                return Err(shape(
                                    &file,
                                    &format!("service `{name}`: the mount at {target} is not a bind mount"),
                                ));
                            }
                            m.insert(Value::from("source"), Value::from(source));
                            changed += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(changed)
    }
}

/// Replace (or add) the bind mount of `service` whose target is `target`.
fn set_bind(
    file: &str,
    svc: &mut Mapping,
    service: &str,
    source: &str,
    target: &str,
    ro: bool,
) -> Result<(), ComposeError> {
    let text = format!("{source}:{target}{}", if ro { ":ro" } else { "" });
    let entry = svc.entry(Value::from("volumes")).or_insert_with(|| Value::Sequence(Vec::new()));
    let Value::Sequence(vols) = entry else {
        return Err(shape(file, &format!("service `{service}`: `volumes` is not a list")));
    };
    vols.retain(|v| match v {
        Value::String(s) => s.split(':').nth(1) != Some(target),
        Value::Mapping(m) => m.get("target").and_then(Value::as_str) != Some(target),
        _ => true,
    });
    vols.push(Value::from(text));
    Ok(())
}

fn shape(file: &str, what: &str) -> ComposeError {
    ComposeError::Shape { file: file.to_string(), what: what.to_string() }
}

/// A label key of Traefik's dotted form; a value without control characters or `$`.
fn check_label(file: &str, service: &str, l: &Label) -> Result<(), ComposeError> {
    let field = format!("service `{service}` label");
    let refuse = |v: &str, r| Err(ComposeError::Refused(GenerateError::new(field.clone(), v, r), file.to_string()));
    if l.key.is_empty() || !l.key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return refuse(&l.key, Refusal::KeyCharset);
    }
    no_control(&field, &l.value).map_err(|e| ComposeError::Refused(e, file.to_string()))?;
    if l.value.contains('$') {
        return refuse(&l.value, Refusal::Interpolation);
    }
    Ok(())
}

/// An absolute path with no `:` (the bind separator), `$`, whitespace or control characters.
fn check_path(file: &str, what: &str, p: &str) -> Result<(), ComposeError> {
    let refuse = |r| Err(ComposeError::Refused(GenerateError::new(what, p, r), file.to_string()));
    no_control(what, p).map_err(|e| ComposeError::Refused(e, file.to_string()))?;
    if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
        return refuse(Refusal::NotAbsolutePath);
    }
    if p.contains('$') {
        return refuse(Refusal::Interpolation);
    }
    if p.contains(':') {
        return refuse(Refusal::Colon);
    }
    if p.chars().any(char::is_whitespace) {
        return refuse(Refusal::Whitespace);
    }
    if p.contains(',') {
        return refuse(Refusal::Comma);
    }
    Ok(())
}

/// Inject `labels` into a compose text: the deployed file of a stack.
pub fn inject_labels(file: &str, text: &str, labels: &[ServiceLabels]) -> Result<String, ComposeError> {
    let mut c = Compose::parse(file, text)?;
    for s in labels {
        c.set_labels(&s.service, &s.labels)?;
    }
    c.to_text()
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod tests;
