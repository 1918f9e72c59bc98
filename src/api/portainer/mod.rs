//! `portainer::` — the Portainer CE API, with the plan/apply contract of every op: GETs are
//! reads (recorded by the rehearsal, served once to the apply), POST/PUT/DELETE are actions
//! with a reason, shown in a dry-run as method, path and a masked body summary.
//!
//! A dry-run before the server exists (a first sync deploys it in the same plan) does not fail:
//! a server that does not answer reads as "nothing there yet" (no admin, no environments, no
//! stacks), so the plan shows every action the apply will take against a fresh Portainer.

mod ops;
mod session;

use super::{at, Ctx, Namespace, Res};
use ops::{DesiredEndpoint, EndpointRef, EnvValue};
use rhai::{Array, Dynamic, Map, NativeCallContext};
use session::{ConnectOptions, Slot};

fn string(opts: &Map, key: &str, f: &str) -> Res<Option<String>> {
    match opts.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => {
            v.clone().into_string().map(Some).map_err(|t| format!("{f}: `{key}` must be a string, not {t}").into())
        }
    }
}

fn int(opts: &Map, key: &str, f: &str) -> Res<Option<i64>> {
    match opts.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => v.as_int().map(Some).map_err(|t| format!("{f}: `{key}` must be an integer, not {t}").into()),
    }
}

fn flag(opts: &Map, key: &str, f: &str, default: bool) -> Res<bool> {
    match opts.get(key) {
        None => Ok(default),
        Some(v) => v.as_bool().map_err(|t| format!("{f}: `{key}` must be true or false, not {t}").into()),
    }
}

/// An endpoint argument: an id, or the map `ensure_endpoint` returned (#{id, name}).
fn endpoint_ref(v: &Dynamic, f: &str) -> Res<EndpointRef> {
    if v.is_unit() {
        // One a dry-run plans to create: no stacks on it yet.
        return Ok(EndpointRef { id: None, shown: "new environment".into() });
    }
    if let Ok(i) = v.as_int() {
        let id = u64::try_from(i).map_err(|_| format!("{f}: endpoint id {i} is negative"))?;
        return Ok(EndpointRef { id: Some(id), shown: id.to_string() });
    }
    if let Some(m) = v.read_lock::<Map>() {
        let id = m.get("id").and_then(|d| d.as_int().ok()).and_then(|i| u64::try_from(i).ok());
        let name = m.get("name").and_then(|d| d.clone().into_string().ok());
        return match (id, name) {
            (id, Some(name)) => Ok(EndpointRef { id, shown: name }),
            (Some(id), None) => Ok(EndpointRef { id: Some(id), shown: id.to_string() }),
            (None, None) => Err(format!("{f}: the endpoint map needs `id` or `name`").into()),
        };
    }
    Err(format!(
        "{f}: the endpoint must be an id or the map portainer::ensure_endpoint returned, not {}",
        v.type_name()
    )
    .into())
}

/// Env for a stack: a map of name → value, or an array of #{name, value} (Portainer's shape).
/// A value is text, a secret (`Secret`, as config functions return them), or a secret reference
/// `#{env: "VAR"}` / `#{file: "path"}` resolved here; a secret's value never enters the plan.
fn env_of(env: &Dynamic, f: &str, dry_run: bool) -> Res<Vec<(String, EnvValue)>> {
    let pairs: Vec<(String, Dynamic)> = if let Some(m) = env.read_lock::<Map>() {
        m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    } else if let Some(a) = env.read_lock::<Array>() {
        a.iter()
            .map(|item| {
                let m = item.read_lock::<Map>().ok_or(format!("{f}: env entries must be #{{name, value}} maps"))?;
                let name = m
                    .get("name")
                    .and_then(|n| n.clone().into_string().ok())
                    .ok_or(format!("{f}: an env entry has no `name`"))?;
                Ok((name, m.get("value").cloned().unwrap_or(Dynamic::UNIT)))
            })
            .collect::<Result<_, String>>()?
    } else if env.is_unit() {
        Vec::new()
    } else {
        return Err(format!("{f}: env must be a map or an array of #{{name, value}}, not {}", env.type_name()).into());
    };
    let mut out: Vec<(String, EnvValue)> = Vec::new();
    for (k, v) in pairs {
        if k.is_empty() || k.contains(['=', '\n', '\0']) {
            return Err(format!("{f}: env name `{k}` is not a variable name").into());
        }
        if out.iter().any(|(n, _)| n == &k) {
            return Err(format!("{f}: env `{k}` is given twice").into());
        }
        out.push((k.clone(), env_value(&v, &k, f, dry_run)?));
    }
    Ok(out)
}

fn env_value(v: &Dynamic, k: &str, f: &str, dry_run: bool) -> Res<EnvValue> {
    if let Some(s) = v.read_lock::<crate::secret::Secret>() {
        return Ok(EnvValue::Secret(s.clone()));
    }
    if let Some(m) = v.read_lock::<Map>() {
        let r = if let Some(name) = m.get("env").and_then(|d| d.clone().into_string().ok()) {
            crate::inventory::secret_ref::SecretRef::Env(name)
        } else if let Some(path) = m.get("file").and_then(|d| d.clone().into_string().ok()) {
            crate::inventory::secret_ref::SecretRef::File(path.into())
        } else {
            return Err(format!(
                "{f}: env `{k}`: a map value must be a secret reference #{{env: \"VAR\"}} or #{{file: \"path\"}}"
            )
            .into());
        };
        return match r.resolve() {
            Ok(s) => Ok(EnvValue::Secret(s)),
            Err(_) if dry_run => Ok(EnvValue::Secret(crate::secret::Secret::new(""))),
            Err(e) => Err(format!("{f}: env `{k}`: {e}").into()),
        };
    }
    if v.is_unit() {
        return Ok(EnvValue::Plain(String::new()));
    }
    Ok(EnvValue::Plain(v.to_string()))
}

/// A value as text for comparing (a secret's real text, never returned to the plan).
fn exposed(v: &Dynamic) -> String {
    match v.read_lock::<crate::secret::Secret>() {
        Some(s) => s.expose().to_string(),
        None => v.to_string(),
    }
}

fn id_of(v: Option<u64>) -> Dynamic {
    v.map(|i| Dynamic::from(i as i64)).unwrap_or(Dynamic::UNIT)
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new(
        "portainer",
        "The Portainer CE API of the lab (the VM with `portainer_role: \"primary\"`). GETs are reads; \
         POST/PUT/DELETE are actions shown in a dry-run as `METHOD path {masked body}`.",
    );
    let slot = Slot::default();

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "connect",
        &["opts: Map", "-> Map"],
        "Reach Portainer: #{url?, address?, port?, ca_pem_path?, timeout_ms?}. Defaults: address = the static IP of the \
         VM with `portainer_role: \"primary\"`, port 9443, url = https://<portainer_api.portainer_hostname>:9443. \
         HTTPS is verified against the lab root CA only: `ca_pem_path` (relative to the configuration folder), or by \
         default the root certificate in the guest that runs the step_ca feature (/etc/step-ca/certs/root_ca.crt). With \
         --host ssh://… the traffic goes through a port forward on the run's SSH connection; with --host sim the \
         simulated Portainer answers, over HTTPS and only while its container runs in the VM. \
         Other portainer:: functions connect with the defaults when not connected. Returns #{url, address, port}.",
        move |nc: NativeCallContext, opts: Map| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::connect";
                super::convert::known_keys(&opts, f, &["url", "address", "port", "ca_pem_path", "timeout_ms"])?;
                let ca_pem = match string(&opts, "ca_pem_path", f)? {
                    Some(p) => {
                        let path = run.inventory.config_dir.join(&p);
                        Some(std::fs::read(&path).map_err(|e| format!("{f}: ca_pem_path {}: {e}", path.display()))?)
                    }
                    None => None,
                };
                let port = match int(&opts, "port", f)? {
                    Some(p) => Some(u16::try_from(p).ok().filter(|p| *p > 0).ok_or(format!("{f}: port {p} is not 1..65535"))?),
                    None => None,
                };
                let timeout_ms = match int(&opts, "timeout_ms", f)? {
                    Some(t) if (1..=3_600_000).contains(&t) => Some(t as u64),
                    Some(t) => return Err(format!("{f}: timeout_ms {t} is not 1..3600000").into()),
                    None => None,
                };
                let o = ConnectOptions { url: string(&opts, "url", f)?, address: string(&opts, "address", f)?, port, ca_pem, timeout_ms };
                let s = sl.connect(run, o)?;
                let mut m = Map::new();
                m.insert("url".into(), s.url.clone().into());
                m.insert("address".into(), s.address.clone().into());
                m.insert("port".into(), (s.port as i64).into());
                Ok(m.into())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "status",
        &["wait_s: int", "-> Map"],
        "`GET /api/system/status`, waiting up to `wait_s` seconds (apply) until Portainer answers; #{reachable, version, init_timed_out}. `init_timed_out`: Portainer's admin-initialisation window passed without an admin (it answers 303 to everything until its container restarts: restart it once, then call init_admin). \
         A dry-run does not wait: an unreachable server is one the plan deploys (reachable: false).",
        move |nc: NativeCallContext, wait_s: i64| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let s = sl.get_or_connect(run)?;
                let (up, version, timed_out) = ops::status(run, &s, wait_s.clamp(0, 3600) as u64)?;
                let mut m = Map::new();
                m.insert("reachable".into(), up.into());
                m.insert("init_timed_out".into(), timed_out.into());
                m.insert("version".into(), version.into());
                Ok(m.into())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "admin_exists",
        &["-> bool"],
        "`GET /api/users/admin/check`: whether the admin is initialised (204) or not yet (404).",
        move |nc: NativeCallContext| -> Res<bool> {
            at(&nc, || {
                let run = c.run()?;
                let s = sl.get_or_connect(run)?;
                Ok(ops::admin_exists(run, &s)?)
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "init_admin",
        &["-> Map"],
        "Initialise the admin exactly once (`POST /api/users/admin/init`) with `portainer_api.admin_user` and the \
         password from the secret reference `portainer_api.admin_password` (never shown). #{changed}. \
         Fails with Portainer's message, e.g. when its initialisation window has passed.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let s = sl.get_or_connect(run)?;
                let changed = ops::init_admin(run, &s)?;
                Ok(super::convert::outcome(changed, changed as usize))
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "ensure_api_key",
        &["-> Map"],
        "Use phoenix's API key (`X-API-Key`) from now on: the one stored 0600 in the state dir when Portainer accepts \
         it; else log in once (`POST /api/auth`), create one (`POST /api/users/{id}/tokens`, description \
         `phoenix@<this machine>`), store it, and revoke stale keys with that description. Never printed. #{changed}.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let s = sl.get_or_connect(run)?;
                let changed = ops::ensure_api_key(run, &s)?;
                Ok(super::convert::outcome(changed, changed as usize))
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "endpoints",
        &["-> Array"],
        "Every environment (`GET /api/endpoints`, listed once per run): [#{id, name, url, group_id, type}] (also \
         under Portainer's names Id, Name, URL, GroupId, Type; type 2 is an agent). In a dry-run, environments it plans to create are listed with \
         id ().",
        move |nc: NativeCallContext| -> Res<Array> {
            at(&nc, || {
                let run = c.run()?;
                let s = sl.get_or_connect(run)?;
                Ok(ops::endpoints(run, &s)?
                    .iter()
                    .map(|e| {
                        let mut m = Map::new();
                        m.insert(
                            "id".into(),
                            e.get("Id").and_then(|v| v.as_i64()).map(Dynamic::from).unwrap_or(Dynamic::UNIT),
                        );
                        m.insert("name".into(), e.get("Name").and_then(|v| v.as_str()).unwrap_or("").into());
                        m.insert("url".into(), e.get("URL").and_then(|v| v.as_str()).unwrap_or("").into());
                        m.insert("group_id".into(), e.get("GroupId").and_then(|v| v.as_i64()).unwrap_or(1).into());
                        // 1 Docker (socket or API), 2 agent, 4 edge agent, 5+ Kubernetes/Azure.
                        m.insert("type".into(), e.get("Type").and_then(|v| v.as_i64()).unwrap_or(2).into());
                        // Portainer's own field names too (Id, Name, URL, GroupId, Type).
                        for k in ["Id", "Name", "URL", "GroupId", "Type"] {
                            let v = match e.get(k) {
                                Some(serde_json::Value::Number(n)) => {
                                    n.as_i64().map(Dynamic::from).unwrap_or(Dynamic::UNIT)
                                }
                                Some(serde_json::Value::String(t)) => t.clone().into(),
                                _ => Dynamic::UNIT,
                            };
                            m.insert(k.into(), v);
                        }
                        Dynamic::from(m)
                    })
                    .collect())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "ensure_endpoint",
        &["opts: Map", "-> Map"],
        "An agent environment #{name, url: \"tcp://addr:port\", group_id? (1), tls? (true), tls_skip_verify? (true)}, \
         matched by its canonical URL (else by name: the agent moved): created with multipart/form-data \
         (EndpointCreationType=2) when absent; URL, name or group drift updated (PUT). Never deleted. Returns #{id, name, changed} (id is () for one a dry-run creates).",
        move |nc: NativeCallContext, opts: Map| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::ensure_endpoint";
                super::convert::known_keys(&opts, f, &["name", "url", "group_id", "tls", "tls_skip_verify"])?;
                let name = string(&opts, "name", f)?.ok_or(format!("{f}: `name` is required"))?;
                let url = string(&opts, "url", f)?.ok_or(format!("{f}: `url` is required (tcp://addr:port)"))?;
                if name.trim().is_empty() || name.contains(['\n', '\r', '\0']) {
                    return Err(format!("{f}: `name` {name:?} is empty or holds a control character").into());
                }
                let canon = ops::canonical_url(&url);
                if !canon.starts_with("tcp://") || canon.contains(['\n', ' ', '\0']) || canon.len() <= 6 {
                    return Err(format!("{f}: `url` {url:?} is not tcp://<address>:<port>").into());
                }
                let d = DesiredEndpoint {
                    name: name.clone(),
                    url,
                    group_id: int(&opts, "group_id", f)?.unwrap_or(1),
                    tls: flag(&opts, "tls", f, true)?,
                    tls_skip_verify: flag(&opts, "tls_skip_verify", f, true)?,
                };
                let s = sl.get_or_connect(run)?;
                let (id, changed) = ops::ensure_endpoint(run, &s, &d)?;
                let mut m = Map::new();
                m.insert("id".into(), id_of(id));
                m.insert("name".into(), name.into());
                m.insert("changed".into(), changed.into());
                Ok(m.into())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "stacks",
        &["endpoint: Dynamic", "-> Array"],
        "The stacks on an endpoint (an id or the map ensure_endpoint returned): [#{id, name, env_names}], also \
         as #{Id, Name, EndpointId, Env: [#{name, value}]} with every value masked (a Secret; compare with \
         portainer::env_value_equals) \
         (`GET /api/stacks`, listed once per run until phoenix changes a stack).",
        move |nc: NativeCallContext, endpoint: Dynamic| -> Res<Array> {
            at(&nc, || {
                let run = c.run()?;
                let ep = endpoint_ref(&endpoint, "portainer::stacks")?;
                let s = sl.get_or_connect(run)?;
                Ok(ops::stacks(run, &s, &ep)?
                    .iter()
                    .map(|st| {
                        let mut m = Map::new();
                        m.insert("id".into(), st.get("Id").and_then(|v| v.as_i64()).unwrap_or(0).into());
                        m.insert("name".into(), st.get("Name").and_then(|v| v.as_str()).unwrap_or("").into());
                        let names: Array = st
                            .get("Env")
                            .and_then(|e| e.as_array())
                            .map(|a| {
                                a.iter()
                                    .filter_map(|p| p.get("name")?.as_str().map(|n| Dynamic::from(n.to_string())))
                                    .collect()
                            })
                            .unwrap_or_default();
                        m.insert("env_names".into(), names.into());
                        m.insert("Id".into(), m["id"].clone());
                        m.insert("Name".into(), m["name"].clone());
                        m.insert(
                            "EndpointId".into(),
                            st.get("EndpointId").and_then(|v| v.as_i64()).unwrap_or(0).into(),
                        );
                        // Live values may be secrets: they reach the plan masked (compare with env_value_equals).
                        let env: Array = st
                            .get("Env")
                            .and_then(|e| e.as_array())
                            .map(|a| {
                                a.iter()
                                    .filter_map(|p| {
                                        let mut e = Map::new();
                                        e.insert("name".into(), p.get("name")?.as_str()?.to_string().into());
                                        let value = p.get("value")?.as_str()?.to_string();
                                        e.insert("value".into(), Dynamic::from(crate::secret::Secret::new(value)));
                                        Some(Dynamic::from(e))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        m.insert("Env".into(), env.into());
                        Dynamic::from(m)
                    })
                    .collect())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "stack_file",
        &["stack_id: int", "-> String"],
        "A stack's compose file as Portainer holds it (`GET /api/stacks/{id}/file`).",
        move |nc: NativeCallContext, stack_id: i64| -> Res<String> {
            at(&nc, || {
                let run = c.run()?;
                let id = u64::try_from(stack_id)
                    .map_err(|_| format!("portainer::stack_file: stack id {stack_id} is negative"))?;
                let s = sl.get_or_connect(run)?;
                Ok(ops::stack_file(run, &s, id)?)
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "ensure_stack",
        &["endpoint: Dynamic", "name: String", "content: String", "env: Dynamic", "-> Map"],
        "A stack as declared: created (`POST /api/stacks/create/standalone/string?endpointId=N`) when absent, updated \
         (`PUT /api/stacks/{id}?endpointId=N`) only when its compose file or env differ from Portainer's (drift made in \
         the UI is repaired). `env`: name → text, or → a secret reference #{env: \"VAR\"} / #{file: \"path\"} (masked \
         in output). Returns #{id, changed} (id is () for one a dry-run creates).",
        move |nc: NativeCallContext, endpoint: Dynamic, name: &str, content: &str, env: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::ensure_stack";
                let ep = endpoint_ref(&endpoint, f)?;
                stack_name(name, f)?;
                let env = env_of(&env, f, run.dry_run)?;
                let s = sl.get_or_connect(run)?;
                let (id, changed) = ops::ensure_stack(run, &s, &ep, name, content, &env)?;
                let mut m = Map::new();
                m.insert("id".into(), id_of(id));
                m.insert("changed".into(), changed.into());
                Ok(m.into())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "create_stack",
        &["endpoint: Dynamic", "name: String", "content: String", "env: Dynamic", "-> Map"],
        "Create a stack (imperative: prefer ensure_stack). Returns #{id} (() in a dry-run).",
        move |nc: NativeCallContext, endpoint: Dynamic, name: &str, content: &str, env: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::create_stack";
                let ep = endpoint_ref(&endpoint, f)?;
                stack_name(name, f)?;
                let env = env_of(&env, f, run.dry_run)?;
                let s = sl.get_or_connect(run)?;
                let id = ops::create_stack(run, &s, &ep, name, content, &env, "requested")?;
                let mut m = Map::new();
                m.insert("id".into(), id_of(id));
                Ok(m.into())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "update_stack",
        &["stack_id: int", "endpoint: Dynamic", "name: String", "content: String", "env: Dynamic", "reason: String", "-> Map"],
        "Update a stack's compose file and env (`PUT /api/stacks/{id}?endpointId=N`; imperative: prefer ensure_stack), \
         shown under its name with `reason` (what differs); `prune` and `pullImage` false.",
        move |nc: NativeCallContext,
              stack_id: i64,
              endpoint: Dynamic,
              name: &str,
              content: &str,
              env: Dynamic,
              reason: &str|
              -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::update_stack";
                let ep = endpoint_ref(&endpoint, f)?;
                let id = u64::try_from(stack_id).map_err(|_| format!("{f}: stack id {stack_id} is negative"))?;
                let env = env_of(&env, f, run.dry_run)?;
                let s = sl.get_or_connect(run)?;
                ops::update_stack(run, &s, &ep, id, name, content, &env, reason)?;
                Ok(super::convert::outcome(true, 1))
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "delete_endpoint",
        &["endpoint: Map", "-> Map"],
        "Remove an environment phoenix does not declare (`DELETE /api/endpoints/{id}`), given as \
         portainer::endpoints() lists it; call it only with --prune. Portainer forgets the environment; the agent \
         and the containers it runs stay.",
        move |nc: NativeCallContext, endpoint: Map| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::delete_endpoint";
                let id = endpoint
                    .get("id")
                    .and_then(|v| v.as_int().ok())
                    .and_then(|i| u64::try_from(i).ok())
                    .ok_or(format!("{f}: the endpoint has no id (one a dry-run only plans cannot be deleted)"))?;
                let text = |k: &str| endpoint.get(k).and_then(|v| v.clone().into_string().ok()).unwrap_or_default();
                let s = sl.get_or_connect(run)?;
                ops::delete_endpoint(run, &s, id, &text("name"), &text("url"))?;
                Ok(super::convert::outcome(true, 1))
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "delete_stack",
        &["stack_id: int", "endpoint: Dynamic", "name: String", "-> Map"],
        "Remove an undeclared stack (`DELETE /api/stacks/{id}?endpointId=N`); call it only with --prune.",
        move |nc: NativeCallContext, stack_id: i64, endpoint: Dynamic, name: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::delete_stack";
                let ep = endpoint_ref(&endpoint, f)?;
                let id = u64::try_from(stack_id).map_err(|_| format!("{f}: stack id {stack_id} is negative"))?;
                let s = sl.get_or_connect(run)?;
                ops::delete_stack(run, &s, &ep, id, name)?;
                Ok(super::convert::outcome(true, 1))
            })
        },
    );
    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "status",
        &["-> Map"],
        "`status(0)`: ask once (with the client's retries); fails in an apply when Portainer does not answer.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let s = sl.get_or_connect(run)?;
                let (up, version, timed_out) = ops::status(run, &s, 0)?;
                let mut m = Map::new();
                m.insert("reachable".into(), up.into());
                m.insert("init_timed_out".into(), timed_out.into());
                m.insert("version".into(), version.into());
                Ok(m.into())
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot.clone());
    ns.add(
        "update_stack",
        &["stack_id: int", "endpoint: Dynamic", "content: String", "env: Dynamic", "-> Map"],
        "update_stack with the reason \"compose file or env differ\".",
        move |nc: NativeCallContext, stack_id: i64, endpoint: Dynamic, content: &str, env: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::update_stack";
                let ep = endpoint_ref(&endpoint, f)?;
                let id = u64::try_from(stack_id).map_err(|_| format!("{f}: stack id {stack_id} is negative"))?;
                let env = env_of(&env, f, run.dry_run)?;
                let s = sl.get_or_connect(run)?;
                ops::update_stack(run, &s, &ep, id, &format!("#{id}"), content, &env, "compose file or env differ")?;
                Ok(super::convert::outcome(true, 1))
            })
        },
    );

    let (c, sl) = (ctx.clone(), slot);
    ns.add(
        "delete_stack",
        &["stack_id: int", "endpoint: Dynamic", "-> Map"],
        "delete_stack naming the stack by its id.",
        move |nc: NativeCallContext, stack_id: i64, endpoint: Dynamic| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = "portainer::delete_stack";
                let ep = endpoint_ref(&endpoint, f)?;
                let id = u64::try_from(stack_id).map_err(|_| format!("{f}: stack id {stack_id} is negative"))?;
                let s = sl.get_or_connect(run)?;
                ops::delete_stack(run, &s, &ep, id, &format!("#{id}"))?;
                Ok(super::convert::outcome(true, 1))
            })
        },
    );

    ns.add(
        "env_value_equals",
        &["a: Dynamic", "b: Dynamic", "-> bool"],
        "Whether two env values are the same text, either of them possibly a Secret (compared without showing it).",
        |a: Dynamic, b: Dynamic| -> bool { exposed(&a) == exposed(&b) },
    );
    ns
}

/// Portainer's own rule for stack names (api/stacks/stackutils: lowercase letters, digits, `-`
/// and `_`, starting with a letter or digit).
fn stack_name(name: &str, f: &str) -> Res<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{f}: stack name {name:?} must be lowercase letters, digits, `-` or `_`, starting with a letter or digit"
        )
        .into())
    }
}
