//! Environments (endpoints), api/http/handler/endpoints/*.go, Portainer CE 2.21.
//!
//! Creation reads **form values only** (endpoint_create.go Validate uses
//! request.RetrieveMultiPartFormValue → r.FormValue), so a JSON body is refused with 400
//! `Invalid request payload` / `Invalid environment name`. Booleans are true only for the
//! literal `true`. An agent environment (creation type 2) is pinged at `https://<host:port>/ping`;
//! agents serve a self-signed certificate, so the ping only succeeds with `TLS=true` and
//! `TLSSkipVerify=true` (what Portainer's UI sends), and fails for agents the simulator marks
//! unreachable — both as the 500 `Unable to get environment type` Portainer answers.

use serde_json::{json, Value};

use super::errors::ApiError;
use super::form::Form;
use super::payload;
use super::router::{atoi, Request, Response};
use super::service::Service;
use super::state::Endpoint;

const TYPE_ERROR: &str = "invalid environment type value. Value must be one of: 1 (Docker environment), 2 (Agent environment), 3 (Azure environment), 4 (Edge Agent environment) or 5 (Local Kubernetes environment)";

pub fn endpoint_json(e: &Endpoint) -> Value {
    json!({
        "Id": e.id,
        "Name": e.name,
        "Type": e.kind,
        "URL": e.url,
        "GroupId": e.group_id,
        "PublicURL": e.public_url,
        "Gpus": [],
        "TLSConfig": { "TLS": e.tls, "TLSSkipVerify": e.tls_skip_verify },
        "TagIds": e.tag_ids,
        "Status": e.status,
        "Snapshots": [],
        "UserAccessPolicies": {},
        "TeamAccessPolicies": {},
        "EdgeKey": "",
        "EdgeCheckinInterval": 0,
        "Kubernetes": { "Snapshots": [], "Configuration": {}, "Flags": {} },
        "ComposeSyntaxMaxVersion": "",
        "SecuritySettings": {},
        "LastCheckInDate": 0,
        "QueryDate": 0,
        "Heartbeat": false,
    })
}

fn not_found() -> ApiError {
    ApiError::not_found("Unable to find an environment with the specified identifier inside the database")
}

fn endpoint_id(raw: &str) -> Result<u32, ApiError> {
    atoi(raw).map_err(|e| ApiError::bad_request("Invalid environment identifier route variable", e))
}

/// `GET /api/endpoints` with `start` (1-based), `limit`, `search`, `types`, `name`; headers
/// `X-Total-Count` (after filters) and `X-Total-Available` (all).
pub fn list(core: &Service, req: &Request) -> Result<Response, ApiError> {
    let all = &core.state.db.endpoints;
    let search = req.query_value("search").unwrap_or("").to_lowercase();
    let name = req.query_value("name").unwrap_or("");
    let types: Vec<u8> =
        req.query.iter().filter(|(k, _)| k == "types" || k == "types[]").filter_map(|(_, v)| v.parse().ok()).collect();
    let filtered: Vec<&Endpoint> = all
        .iter()
        .filter(|e| {
            search.is_empty() || e.name.to_lowercase().contains(&search) || e.url.to_lowercase().contains(&search)
        })
        .filter(|e| name.is_empty() || e.name == name)
        .filter(|e| types.is_empty() || types.contains(&e.kind))
        .collect();
    let start = req.query_value("start").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0).saturating_sub(1);
    let limit = req.query_value("limit").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    let start = start.min(filtered.len());
    let end = if limit == 0 { filtered.len() } else { (start + limit).min(filtered.len()) };
    let page: Vec<Value> = filtered[start..end].iter().map(|e| endpoint_json(e)).collect();
    Ok(Response::json(200, &Value::Array(page))
        .with_header("X-Total-Count", filtered.len().to_string())
        .with_header("X-Total-Available", all.len().to_string()))
}

pub fn inspect(core: &Service, raw_id: &str) -> Result<Response, ApiError> {
    let id = endpoint_id(raw_id)?;
    let e = core.state.db.endpoint(id).ok_or_else(not_found)?;
    Ok(Response::json(200, &endpoint_json(e)))
}

/// What the form validation of endpoint_create.go keeps.
struct CreateForm {
    name: String,
    creation_type: i64,
    url: String,
    public_url: String,
    group_id: u32,
    tag_ids: Vec<u32>,
    tls: bool,
    tls_skip_verify: bool,
}

fn validate(form: &Form) -> Result<CreateForm, ApiError> {
    let name = form.value("Name").to_string();
    if name.is_empty() {
        return Err(ApiError::invalid_payload("invalid environment name"));
    }
    let creation_type = match form.value("EndpointCreationType").parse::<i64>() {
        Ok(t) if t != 0 => t,
        _ => return Err(ApiError::invalid_payload(TYPE_ERROR)),
    };
    let group_id = form.value("GroupID").parse::<u32>().ok().filter(|g| *g != 0).unwrap_or(1);
    let tag_ids = match form.value("TagIds") {
        "" => Vec::new(),
        raw => serde_json::from_str::<Option<Vec<u32>>>(raw)
            .map_err(|_| ApiError::invalid_payload("invalid TagIds parameter"))?
            .unwrap_or_default(),
    };
    let tls = form.value("TLS") == "true";
    let mut tls_skip_verify = false;
    if tls {
        tls_skip_verify = form.value("TLSSkipVerify") == "true";
        let skip_client = form.value("TLSSkipClientVerify") == "true";
        if !tls_skip_verify && form.file("TLSCACertFile").is_none() {
            return Err(ApiError::invalid_payload(
                "invalid CA certificate file. Ensure that the file is uploaded correctly",
            ));
        }
        if !skip_client {
            if form.file("TLSCertFile").is_none() {
                return Err(ApiError::invalid_payload(
                    "invalid certificate file. Ensure that the file is uploaded correctly",
                ));
            }
            if form.file("TLSKeyFile").is_none() {
                return Err(ApiError::invalid_payload("invalid key file. Ensure that the file is uploaded correctly"));
            }
        }
    }
    let url = form.value("URL").to_string();
    if creation_type == 4 && url.trim_matches(' ').is_empty() {
        return Err(ApiError::invalid_payload("URL cannot be empty"));
    }
    if !form.value("Gpus").is_empty() && serde_json::from_str::<Value>(form.value("Gpus")).is_err() {
        return Err(ApiError::invalid_payload("invalid Gpus parameter"));
    }
    Ok(CreateForm {
        name,
        creation_type,
        url,
        public_url: form.value("PublicURL").to_string(),
        group_id,
        tag_ids,
        tls,
        tls_skip_verify,
    })
}

/// The agent ping of api/agent/version.go, against the simulated world.
fn ping_agent(core: &Service, f: &CreateForm) -> Result<(), ApiError> {
    let fail = |detail: String| ApiError::new(500, "Unable to get environment type", detail);
    // api/internal/url ParseURL: a URL without a known scheme gets `//` prepended, so
    // `10.0.0.5:9001` pings fine — and is stored without the `tcp://` Docker calls need later.
    let host_port = match f.url.split_once("://") {
        Some((_, rest)) => rest,
        None => f.url.strip_prefix("//").unwrap_or(&f.url),
    };
    let host_port = host_port.split('/').next().unwrap_or("");
    let ping = format!("https://{host_port}/ping");
    if host_port.is_empty() {
        return Err(fail(format!("Get \"{ping}\": http: no Host in request URL")));
    }
    use super::server::DialError;
    let dialed = match &core.agent_probe {
        Some(probe) => {
            // Go's url.Parse: the host is before the last `:`, an absent port is https' 443.
            let (host, port) = match host_port.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (host_port, Some(443)),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            match port {
                Some(p) => probe.dial(host, p).map_err(|e| (host.to_string(), e)),
                None => Err((host.to_string(), DialError::Refused)),
            }
        }
        None if core.state.unreachable_agents.contains(&f.url) => Err((String::new(), DialError::Refused)),
        None => Ok(()),
    };
    match dialed {
        Ok(()) => {}
        Err((_, DialError::Refused)) => {
            return Err(fail(format!("Get \"{ping}\": dial tcp {host_port}: connect: connection refused")))
        }
        // Inside a container with its own `dns:`, Go asks Docker's embedded resolver.
        Err((host, DialError::NoSuchHost)) => {
            return Err(fail(format!("Get \"{ping}\": dial tcp: lookup {host} on 127.0.0.11:53: no such host")))
        }
    }
    if !(f.tls && f.tls_skip_verify) {
        return Err(fail(format!(
            "Get \"{ping}\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
        )));
    }
    Ok(())
}

/// `POST /api/endpoints` (admin only).
pub fn create(core: &mut Service, req: &Request) -> Result<Response, ApiError> {
    let form = Form::parse(req.header("content-type"), &req.body, &req.query);
    let f = validate(&form)?;
    if core.state.db.endpoints.iter().any(|e| e.name == f.name) {
        return Err(ApiError::bare(409, "Name is not unique"));
    }
    let (kind, url) = match f.creation_type {
        3..=5 => {
            return Err(ApiError::new(
                501,
                "Not implemented by the simulator",
                "environment creation types 3 (Azure), 4 (Edge) and 5 (Kubernetes) are not simulated",
            ))
        }
        2 => {
            ping_agent(core, &f)?;
            (2, f.url.clone())
        }
        // Any other non-zero value falls through to a Docker environment, as createEndpoint does.
        _ if f.url.is_empty() => (1, "unix:///var/run/docker.sock".to_string()),
        _ => (1, f.url.clone()),
    };
    let db = &mut core.state.db;
    let endpoint = Endpoint {
        id: db.next_endpoint_id,
        name: f.name,
        kind,
        url,
        public_url: f.public_url,
        group_id: f.group_id,
        tls: f.tls,
        tls_skip_verify: f.tls && f.tls_skip_verify,
        tag_ids: f.tag_ids,
        status: 1,
    };
    db.next_endpoint_id += 1;
    db.endpoints.push(endpoint.clone());
    Ok(Response::json(200, &endpoint_json(&endpoint)))
}

/// `PUT /api/endpoints/{id}` (admin only): a JSON body of optional fields (endpoint_update.go).
pub fn update(core: &mut Service, req: &Request, raw_id: &str) -> Result<Response, ApiError> {
    let id = endpoint_id(raw_id)?;
    let p = payload::decode(&req.body, "endpoints.endpointUpdatePayload")?;
    let name = p.opt_string("Name")?;
    let url = p.opt_string("URL")?;
    let public_url = p.opt_string("PublicURL")?;
    let group_id = p.opt_int("GroupID")?;
    let tls = p.opt_bool("TLS")?;
    let tls_skip_verify = p.opt_bool("TLSSkipVerify")?;
    let status = p.opt_int("Status")?;
    let db = &mut core.state.db;
    if db.endpoint(id).is_none() {
        return Err(not_found());
    }
    if let Some(n) = &name {
        if db.endpoints.iter().any(|e| e.name == *n && e.id != id) {
            return Err(ApiError::bare(409, "Name is not unique"));
        }
    }
    let Some(e) = db.endpoints.iter_mut().find(|e| e.id == id) else { return Err(not_found()) };
    if let Some(n) = name {
        e.name = n;
    }
    if let Some(u) = url {
        e.url = u;
    }
    if let Some(u) = public_url {
        e.public_url = u;
    }
    if let Some(g) = group_id {
        e.group_id = u32::try_from(g).unwrap_or(0);
    }
    if let Some(t) = tls {
        e.tls = t;
        e.tls_skip_verify = t && tls_skip_verify.unwrap_or(e.tls_skip_verify);
    }
    if let Some(s) = status {
        e.status = u8::try_from(s).unwrap_or(0);
    }
    let e = e.clone();
    Ok(Response::json(200, &endpoint_json(&e)))
}

/// `DELETE /api/endpoints/{id}` (admin only): 204. The environment's stacks stay in the
/// database as orphans (endpoint_delete.go only cleans edge stacks), and keep running on the host.
pub fn delete(core: &mut Service, raw_id: &str) -> Result<Response, ApiError> {
    let id = endpoint_id(raw_id)?;
    let db = &mut core.state.db;
    if db.endpoint(id).is_none() {
        return Err(not_found());
    }
    db.endpoints.retain(|e| e.id != id);
    Ok(Response::empty())
}
