//! What each `portainer::` function does: reads through the session (recorded like facts),
//! changes as actions for the executor (shown in a dry-run, run in an apply).

use super::session::{admin, jwt_user_id, login_body, Session};
use crate::http::{Body, JsonValue, Method, Request};
use crate::ops::{Action, Change, Plan, Step};
use crate::run::Run;
use crate::secret::Secret;
use serde_json::Value;

pub type R<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    format!("portainer: {e}")
}

/// Hand actions to the executor; the answers of the calls, in order (`None` in a dry-run).
fn execute(
    run: &Run,
    subject: &str,
    actions: Vec<(Change, String, crate::http::Call)>,
) -> R<Vec<Option<crate::http::Response>>> {
    let calls: Vec<crate::http::Call> = actions.iter().map(|(_, _, c)| c.clone()).collect();
    let plan = Plan {
        subject: subject.to_string(),
        actions: actions
            .into_iter()
            .map(|(change, reason, call)| Action::new(change, subject, reason).step(Step::Http { call }))
            .collect(),
        noop_reason: String::new(),
    };
    run.execute(plan, crate::executor::current_guest()).map_err(|e| e.to_string())?;
    Ok(calls.iter().map(|c| c.answer()).collect())
}

fn noop(run: &Run, subject: &str, reason: &str) {
    let plan = Plan::noop(subject, reason);
    let _ = run.execute(plan, crate::executor::current_guest());
}

/// `GET /api/system/status`, waiting (apply) until it answers. A dry-run does not wait: an
/// unreachable server is one the plan deploys first.
pub fn status(run: &Run, s: &Session, wait_s: u64) -> R<(bool, String, bool)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait_s);
    loop {
        match s.get(run, "/api/system/status") {
            Ok(Some((200, v))) => {
                return Ok((true, v.get("Version").and_then(Value::as_str).unwrap_or("").to_string(), false))
            }
            Ok(Some((INIT_TIMEOUT_STATUS, _))) => return Ok((true, String::new(), true)),
            Ok(None) => return Ok((false, String::new(), false)),
            Ok(Some((code, _))) if std::time::Instant::now() >= deadline => {
                return Err(err(format!("{}/api/system/status answered HTTP {code}", s.url)))
            }
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(err(format!("{} did not answer within {wait_s} s: {e}", s.url)))
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
}

/// `GET /api/users/admin/check`: 204 the admin exists, 404 not yet.
/// Asked once per run: the answer only changes through phoenix's own `init_admin`.
pub fn admin_exists(run: &Run, s: &Session) -> R<bool> {
    {
        let st = s.lock();
        if st.planned_admin {
            return Ok(true);
        }
        if let Some(known) = st.admin {
            return Ok(known);
        }
    }
    let exists = match s.get(run, "/api/users/admin/check").map_err(err)? {
        // A dry-run before the server exists: not known, so not remembered.
        None => return Ok(false),
        Some((204, _)) => true,
        Some((404, _)) => false,
        // The window only closes without an admin: none exists; init_admin then fails with
        // Portainer's "Administrator initialization timeout" (restart the container, retry).
        Some((INIT_TIMEOUT_STATUS, _)) => false,
        Some((code, v)) => return Err(err(format!("admin check answered HTTP {code}: {}", message(&v)))),
    };
    s.lock().admin = Some(exists);
    Ok(exists)
}

/// Portainer's answer to every API request once its admin-initialisation window passed without
/// an admin (api/adminmonitor: 303 with `redirect-reason: AdminInitTimeout`), until a restart.
pub const INIT_TIMEOUT_STATUS: u16 = 303;

fn message(v: &Value) -> String {
    v.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_string()
}

/// Initialise the admin once (`POST /api/users/admin/init`), with the configured password.
pub fn init_admin(run: &Run, s: &Session) -> R<bool> {
    let subject = format!("portainer admin ({})", s.url);
    if admin_exists(run, s)? {
        noop(run, &subject, "initialised");
        return Ok(false);
    }
    let (user, password) = admin(run)?;
    let body = Body::Json(JsonValue::object([
        ("Username", JsonValue::text(&user)),
        ("Password", JsonValue::Secret(password)),
    ]));
    let call = s.call(Method::Post, "/api/users/admin/init", "/api/users/admin/init", body);
    execute(run, &subject, vec![(Change::Create, "not initialised (GET /api/users/admin/check: 404)".into(), call)])?;
    let mut st = s.lock();
    if run.dry_run {
        st.planned_admin = true;
    } else {
        st.admin = Some(true);
    }
    Ok(true)
}

/// The stored key file of this server.
fn key_path(run: &Run, s: &Session) -> Option<std::path::PathBuf> {
    let dir = run.state_dir.as_ref()?;
    let safe: String = format!("{}_{}", s.url.trim_start_matches("https://").trim_start_matches("http://"), s.port)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    Some(crate::state_dir::credential_path(dir, &format!("portainer-{safe}.json")))
}

/// Make sure reads can be authenticated: the stored API key if the server accepts it, else a
/// session from logging in. `false`: nothing to authenticate against yet (a dry-run before the
/// server or its admin exists).
pub fn authenticate(run: &Run, s: &Session) -> R<bool> {
    {
        let st = s.lock();
        if st.user_id.is_some() {
            return Ok(true);
        }
        if run.dry_run && (st.unreachable || st.planned_admin) {
            return Ok(false);
        }
    }
    if let Some((uid, key)) = stored_key(run, s)? {
        s.client.use_api_key(key);
        match s.get(run, &format!("/api/users/{uid}/tokens")).map_err(err)? {
            Some((200, _)) => {
                s.lock().user_id = Some(uid);
                return Ok(true);
            }
            None => return Ok(false),
            Some(_) => s.client.forget_credential(),
        }
    }
    login(run, s)
}

fn stored_key(run: &Run, s: &Session) -> R<Option<(u32, Secret)>> {
    let Some(path) = key_path(run, s) else { return Ok(None) };
    let Some(bytes) = crate::state_dir::read_private(&path).map_err(|e| err(format!("{}: {e}", path.display())))?
    else {
        return Ok(None);
    };
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let uid = v.get("user_id").and_then(Value::as_u64).and_then(|u| u32::try_from(u).ok());
    let key = v.get("key").and_then(Value::as_str);
    Ok(uid.zip(key).map(|(u, k)| (u, Secret::new(k))))
}

/// `POST /api/auth` (not an action: it changes nothing on the server but a session).
fn login(run: &Run, s: &Session) -> R<bool> {
    if !admin_exists(run, s)? {
        return Ok(false);
    }
    let (user, password) = admin(run)?;
    if password.expose().is_empty() {
        // A dry-run without the secret: it cannot look inside Portainer.
        return Ok(false);
    }
    let resp = match s.session_call(&Request::new(Method::Post, "/api/auth", login_body(&user, &password))) {
        Ok(r) => r,
        Err(crate::http::HttpError::Transport { .. }) if run.dry_run => {
            s.lock().unreachable = true;
            return Ok(false);
        }
        Err(e) => return Err(err(e)),
    };
    let jwt = resp.json().ok().and_then(|v| v.get("jwt").and_then(Value::as_str).map(str::to_string));
    let Some(jwt) = jwt else { return Err(err("POST /api/auth: no `jwt` in the answer")) };
    let uid = jwt_user_id(&jwt).ok_or_else(|| err("POST /api/auth: the session token names no user id"))?;
    s.client.use_bearer(Secret::new(jwt));
    s.lock().user_id = Some(uid);
    Ok(true)
}

/// Who phoenix's API keys are from: `phoenix@<this machine's hostname>`.
pub fn key_description() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("phoenix@{host}")
}

/// An API key for phoenix, stored 0600 in the state dir and sent as `X-API-Key` from then on.
pub fn ensure_api_key(run: &Run, s: &Session) -> R<bool> {
    let subject = format!("portainer api key ({})", s.url);
    let had_key = s.client.has_api_key() && s.lock().user_id.is_some();
    if had_key || (authenticate(run, s)? && s.client.has_api_key()) {
        noop(run, &subject, "stored key accepted");
        return Ok(false);
    }
    let description = key_description();
    let uid = s.lock().user_id;
    let (_, password) = admin(run)?;
    let path = uid.map(|u| format!("/api/users/{u}/tokens")).unwrap_or_else(|| "/api/users/1/tokens".into());
    let body = Body::Json(JsonValue::object([
        ("description", JsonValue::text(&description)),
        ("password", JsonValue::Secret(password)),
    ]));
    // Stale phoenix keys of this machine, revoked once the new one works.
    let stale: Vec<u64> = match uid {
        Some(u) => s
            .get_ok(run, &format!("/api/users/{u}/tokens"))
            .map_err(err)?
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|k| k.get("description").and_then(Value::as_str) == Some(description.as_str()))
            .filter_map(|k| k.get("id").and_then(Value::as_u64))
            .collect(),
        None => Vec::new(),
    };
    let reason = if key_path(run, s).is_some_and(|p| p.exists()) { "stored key refused" } else { "no stored key" };
    let call = s.call(Method::Post, &path, "/api/users/<admin>/tokens", body);
    let answers = execute(run, &subject, vec![(Change::Create, reason.into(), call)])?;
    if let Some(resp) = answers.into_iter().next().flatten() {
        let v = resp.json().map_err(err)?;
        let raw = v.get("rawAPIKey").and_then(Value::as_str).ok_or_else(|| err("token answer has no rawAPIKey"))?;
        let key_id = v.pointer("/apiKey/id").and_then(Value::as_u64);
        let key = Secret::new(raw);
        if let (Some(path), Some(u)) = (key_path(run, s), uid) {
            let record = serde_json::json!({"url": s.url, "user_id": u, "key_id": key_id, "key": key.expose()});
            crate::state_dir::write_private(&path, record.to_string().as_bytes())
                .map_err(|e| err(format!("cannot store the API key in {}: {e}", path.display())))?;
        }
        s.client.use_api_key(key);
    } else {
        s.lock().planned_key = true;
    }
    if let Some(u) = uid {
        let revokes: Vec<_> = stale
            .iter()
            .map(|id| {
                let p = format!("/api/users/{u}/tokens/{id}");
                (
                    Change::Delete,
                    format!("stale key of {description}"),
                    s.call(Method::Delete, &p, &format!("/api/users/<admin>/tokens/{id}"), Body::Empty),
                )
            })
            .collect();
        if !revokes.is_empty() {
            execute(run, &format!("portainer stale api keys ({})", s.url), revokes)?;
        }
    }
    Ok(true)
}

/// `tcp://10.0.0.5:9001` whatever the spelling (`TCP://…/`, no scheme).
pub fn canonical_url(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    let lower = u.to_ascii_lowercase();
    match lower.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{rest}"),
        None => format!("tcp://{lower}"),
    }
}

/// Every environment: `GET /api/endpoints` once per run (until phoenix changes one).
pub fn endpoints(run: &Run, s: &Session) -> R<Vec<Value>> {
    let mut list = live_endpoints(run, s)?;
    // What a dry-run plans to create, so later steps of the same plan see it (id unknown).
    for (url, name) in &s.lock().planned_endpoints {
        list.push(serde_json::json!({"Id": null, "Name": name, "URL": url, "GroupId": 1}));
    }
    Ok(list)
}

fn live_endpoints(run: &Run, s: &Session) -> R<Vec<Value>> {
    if let Some(v) = s.lock().endpoints.clone() {
        return Ok(v.as_array().cloned().unwrap_or_default());
    }
    if !authenticate(run, s)? {
        return Ok(Vec::new());
    }
    let v = s.get_ok(run, "/api/endpoints").map_err(err)?.unwrap_or(Value::Array(Vec::new()));
    s.lock().endpoints = Some(v.clone());
    Ok(v.as_array().cloned().unwrap_or_default())
}

pub struct DesiredEndpoint {
    pub name: String,
    pub url: String,
    pub group_id: i64,
    pub tls: bool,
    pub tls_skip_verify: bool,
}

/// An environment matched by its canonical URL: created (multipart, as Portainer requires) or
/// its name/group updated. Returns its id (`None`: created in a dry-run) and whether it changed.
pub fn ensure_endpoint(run: &Run, s: &Session, d: &DesiredEndpoint) -> R<(Option<u64>, bool)> {
    let want = canonical_url(&d.url);
    let subject = format!("portainer endpoint {}", d.name);
    let live = live_endpoints(run, s)?;
    let url_of = |e: &Value| e.get("URL").and_then(Value::as_str).map(canonical_url);
    // By URL first; else by name — the agent moved (a new address or hostname): Portainer refuses a
    // second environment of the same name (409 "Name is not unique"), so the one it has is updated.
    let found = live
        .iter()
        .find(|e| url_of(e).as_deref() == Some(&want))
        .or_else(|| live.iter().find(|e| e.get("Name").and_then(Value::as_str) == Some(d.name.as_str())));
    let Some(e) = found else {
        if s.lock().planned_endpoints.contains_key(&want) {
            return Ok((None, false));
        }
        let form = vec![
            ("Name".to_string(), d.name.clone()),
            ("EndpointCreationType".to_string(), "2".to_string()),
            ("URL".to_string(), want.clone()),
            ("GroupID".to_string(), d.group_id.to_string()),
            ("TLS".to_string(), d.tls.to_string()),
            ("TLSSkipVerify".to_string(), d.tls_skip_verify.to_string()),
            // An agent takes no client certificate (Portainer's UI sends the same for agents).
            ("TLSSkipClientVerify".to_string(), d.tls.to_string()),
        ];
        let call = s.call(Method::Post, "/api/endpoints", "/api/endpoints", Body::Multipart(form));
        let answers = execute(run, &subject, vec![(Change::Create, format!("no environment at {want}"), call)])?;
        let mut st = s.lock();
        st.endpoints = None;
        let id = answers
            .into_iter()
            .next()
            .flatten()
            .and_then(|r| r.json().ok())
            .and_then(|v| v.get("Id").and_then(Value::as_u64));
        if id.is_none() {
            st.planned_endpoints.insert(want, d.name.clone());
        }
        return Ok((id, true));
    };
    let id = e.get("Id").and_then(Value::as_u64).ok_or_else(|| err("an endpoint without Id"))?;
    let name = e.get("Name").and_then(Value::as_str).unwrap_or("");
    let group = e.get("GroupId").and_then(Value::as_i64).unwrap_or(1);
    let mut drift = Vec::new();
    let live_url = url_of(e).unwrap_or_default();
    if live_url != want {
        drift.push(format!("URL {live_url} → {want}"));
    }
    if name != d.name {
        drift.push(format!("name {name} → {}", d.name));
    }
    if group != d.group_id {
        drift.push(format!("group {group} → {}", d.group_id));
    }
    if drift.is_empty() {
        noop(run, &subject, &format!("id {id} at {want}"));
        return Ok((Some(id), false));
    }
    let body = Body::Json(JsonValue::object([
        ("Name", JsonValue::text(&d.name)),
        ("URL", JsonValue::text(&want)),
        ("GroupID", JsonValue::Plain(d.group_id.into())),
    ]));
    let p = format!("/api/endpoints/{id}");
    execute(run, &subject, vec![(Change::Update, drift.join(", "), s.call(Method::Put, &p, &p, body))])?;
    s.lock().endpoints = None;
    Ok((Some(id), true))
}

/// An environment phoenix does not declare, removed (`DELETE /api/endpoints/{id}`): only ever
/// called with --prune. Portainer deletes the environment's record, not the agent or its stacks'
/// containers.
pub fn delete_endpoint(run: &Run, s: &Session, id: u64, name: &str, url: &str) -> R<()> {
    let subject = format!("portainer endpoint {name}");
    let path = format!("/api/endpoints/{id}");
    execute(
        run,
        &subject,
        vec![(
            Change::Delete,
            format!("{url} is not declared (--prune)"),
            s.call(Method::Delete, &path, &path, Body::Empty),
        )],
    )?;
    s.lock().endpoints = None;
    Ok(())
}

/// A stack's environment variable value: plain text or a secret (from a reference).
#[derive(Clone)]
pub enum EnvValue {
    Plain(String),
    Secret(Secret),
}

impl EnvValue {
    fn expose(&self) -> &str {
        match self {
            EnvValue::Plain(s) => s,
            EnvValue::Secret(s) => s.expose(),
        }
    }
}

fn env_json(env: &[(String, EnvValue)]) -> JsonValue {
    JsonValue::Array(
        env.iter()
            .map(|(k, v)| {
                JsonValue::object([
                    ("name", JsonValue::text(k)),
                    (
                        "value",
                        match v {
                            EnvValue::Plain(p) => JsonValue::text(p),
                            EnvValue::Secret(s) => JsonValue::Secret(s.clone()),
                        },
                    ),
                ])
            })
            .collect(),
    )
}

/// The endpoint an argument names: its id (unknown for one a dry-run plans) and how it is shown.
pub struct EndpointRef {
    pub id: Option<u64>,
    pub shown: String,
}

/// Every stack on an endpoint: `GET /api/stacks`, listed once per run until phoenix changes one.
pub fn stacks(run: &Run, s: &Session, ep: &EndpointRef) -> R<Vec<Value>> {
    let Some(id) = ep.id else { return Ok(Vec::new()) };
    let cached = s.lock().stacks.clone();
    let all = match cached {
        Some(v) => v,
        None => {
            if !authenticate(run, s)? {
                return Ok(Vec::new());
            }
            let v = s.get_ok(run, "/api/stacks").map_err(err)?.unwrap_or(Value::Array(Vec::new()));
            s.lock().stacks = Some(v.clone());
            v
        }
    };
    Ok(all
        .as_array()
        .map(|a| a.iter().filter(|st| st.get("EndpointId").and_then(Value::as_u64) == Some(id)).cloned().collect())
        .unwrap_or_default())
}

/// `GET /api/stacks/{id}/file` → the compose text.
pub fn stack_file(run: &Run, s: &Session, stack_id: u64) -> R<String> {
    if !authenticate(run, s)? {
        return Ok(String::new());
    }
    let v = s.get_ok(run, &format!("/api/stacks/{stack_id}/file")).map_err(err)?.unwrap_or(Value::Null);
    Ok(v.get("StackFileContent").and_then(Value::as_str).unwrap_or("").to_string())
}

fn env_differs(live: &Value, want: &[(String, EnvValue)]) -> Vec<String> {
    let live: std::collections::BTreeMap<String, String> = live
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get("name")?.as_str()?.to_string(), p.get("value")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in want {
        match live.get(k) {
            None => out.push(format!("env {k} added")),
            Some(l) if l != v.expose() => out.push(format!("env {k} changed")),
            _ => {}
        }
    }
    for k in live.keys() {
        if !want.iter().any(|(w, _)| w == k) {
            out.push(format!("env {k} removed"));
        }
    }
    out
}

/// A stack as declared: created when absent, updated when its compose text or env differ from
/// what Portainer holds (so a change made in the UI is drift, repaired here).
pub fn ensure_stack(
    run: &Run,
    s: &Session,
    ep: &EndpointRef,
    name: &str,
    content: &str,
    env: &[(String, EnvValue)],
) -> R<(Option<u64>, bool)> {
    let subject = format!("portainer stack {name} ({})", ep.shown);
    let live = stacks(run, s, ep)?;
    match live.iter().find(|st| st.get("Name").and_then(Value::as_str) == Some(name)) {
        None => create_stack(run, s, ep, name, content, env, "absent").map(|id| (id, true)),
        Some(st) => {
            let id = st.get("Id").and_then(Value::as_u64).ok_or_else(|| err("a stack without Id"))?;
            let mut why = Vec::new();
            if stack_file(run, s, id)? != content {
                why.push("compose file differs".to_string());
            }
            why.extend(env_differs(st.get("Env").unwrap_or(&Value::Null), env));
            if why.is_empty() {
                noop(run, &subject, &format!("id {id}, compose file and env match"));
                return Ok((Some(id), false));
            }
            update_stack(run, s, ep, id, name, content, env, &why.join(", "))?;
            Ok((Some(id), true))
        }
    }
}

pub fn create_stack(
    run: &Run,
    s: &Session,
    ep: &EndpointRef,
    name: &str,
    content: &str,
    env: &[(String, EnvValue)],
    reason: &str,
) -> R<Option<u64>> {
    let subject = format!("portainer stack {name} ({})", ep.shown);
    let body = Body::Json(JsonValue::object([
        ("name", JsonValue::text(name)),
        ("stackFileContent", JsonValue::text(content)),
        ("env", env_json(env)),
    ]));
    let id = ep.id.map(|i| i.to_string()).unwrap_or_else(|| "0".into());
    let path = format!("/api/stacks/create/standalone/string?endpointId={id}");
    let shown = format!("/api/stacks/create/standalone/string?endpointId=<{}>", ep.shown);
    let answers =
        execute(run, &subject, vec![(Change::Create, reason.into(), s.call(Method::Post, &path, &shown, body))])?;
    s.lock().stacks = None;
    Ok(answers
        .into_iter()
        .next()
        .flatten()
        .and_then(|r| r.json().ok())
        .and_then(|v| v.get("Id").and_then(Value::as_u64)))
}

#[allow(clippy::too_many_arguments)]
pub fn update_stack(
    run: &Run,
    s: &Session,
    ep: &EndpointRef,
    stack_id: u64,
    name: &str,
    content: &str,
    env: &[(String, EnvValue)],
    reason: &str,
) -> R<()> {
    let subject = format!("portainer stack {name} ({})", ep.shown);
    let body = Body::Json(JsonValue::object([
        ("stackFileContent", JsonValue::text(content)),
        ("env", env_json(env)),
        ("prune", JsonValue::Plain(false.into())),
        ("pullImage", JsonValue::Plain(false.into())),
    ]));
    let id = ep.id.ok_or_else(|| err("update_stack: the endpoint has no id yet"))?;
    let path = format!("/api/stacks/{stack_id}?endpointId={id}");
    let shown = format!("/api/stacks/{stack_id}?endpointId=<{}>", ep.shown);
    execute(run, &subject, vec![(Change::Update, reason.into(), s.call(Method::Put, &path, &shown, body))])?;
    s.lock().stacks = None;
    Ok(())
}

pub fn delete_stack(run: &Run, s: &Session, ep: &EndpointRef, stack_id: u64, name: &str) -> R<()> {
    let subject = format!("portainer stack {name} ({})", ep.shown);
    let id = ep.id.ok_or_else(|| err("delete_stack: the endpoint has no id"))?;
    let path = format!("/api/stacks/{stack_id}?endpointId={id}");
    let shown = format!("/api/stacks/{stack_id}?endpointId=<{}>", ep.shown);
    execute(
        run,
        &subject,
        vec![(Change::Delete, "not declared (--prune)".into(), s.call(Method::Delete, &path, &shown, Body::Empty))],
    )?;
    s.lock().stacks = None;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_compare_in_canonical_form() {
        assert_eq!(canonical_url("TCP://10.0.0.5:9001/"), "tcp://10.0.0.5:9001");
        assert_eq!(canonical_url("10.0.0.5:9001"), "tcp://10.0.0.5:9001");
    }

    #[test]
    fn env_drift_names_the_variable_not_its_value() {
        let live = serde_json::json!([{"name": "A", "value": "1"}, {"name": "GONE", "value": "x"}]);
        let want =
            vec![("A".to_string(), EnvValue::Secret(Secret::new("2"))), ("B".to_string(), EnvValue::Plain("3".into()))];
        assert_eq!(env_differs(&live, &want), ["env A changed", "env B added", "env GONE removed"]);
        assert!(env_differs(&serde_json::json!([{"name": "A", "value": "2"}]), &want[..1]).is_empty());
    }
}
