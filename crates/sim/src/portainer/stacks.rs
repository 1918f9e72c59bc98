//! Docker Compose stacks, api/http/handler/stacks/*.go, Portainer CE 2.21. Only the standalone
//! (compose) type with the `string` method is simulated; swarm, kubernetes, `file`,
//! `repository` and `?external=true` answer 501 so a caller cannot mistake them for support.
//!
//! Deploying records the compose project on the environment's Docker host (keyed by its URL):
//! Portainer's name check looks at `com.docker.compose.project` labels on that host as well as at
//! its own database, so a stack Portainer forgot (data loss) still blocks its name.

use serde_json::{json, Value};

use super::auth::TokenData;
use super::errors::ApiError;
use super::payload;
use super::router::{atoi, Request, Response};
use super::server::StackOp;
use super::service::Service;
use super::state::{EnvPair, Stack};

const COMPOSE: u8 = 2;

fn env_json(env: &Option<Vec<EnvPair>>) -> Value {
    match env {
        None => Value::Null,
        Some(pairs) => pairs.iter().map(|p| json!({"name": p.name, "value": p.value})).collect(),
    }
}

pub fn stack_json(s: &Stack) -> Value {
    json!({
        "Id": s.id,
        "Name": s.name,
        "Type": s.kind,
        "EndpointId": s.endpoint_id,
        "SwarmId": "",
        "EntryPoint": "docker-compose.yml",
        "Env": env_json(&s.env),
        "ResourceControl": {
            "Id": s.id,
            "ResourceId": format!("{}_{}", s.endpoint_id, s.name),
            "SubResourceIds": [],
            "Type": 6,
            "UserAccesses": [],
            "TeamAccesses": [],
            "Public": false,
            "AdministratorsOnly": true,
            "System": false,
        },
        "Status": s.status,
        "ProjectPath": format!("/data/compose/{}", s.id),
        "CreationDate": s.creation_date,
        "CreatedBy": s.created_by,
        "UpdateDate": s.update_date,
        "UpdatedBy": s.updated_by,
        "AdditionalFiles": null,
        "AutoUpdate": null,
        "Option": null,
        "GitConfig": null,
        "FromAppTemplate": false,
        "Namespace": "",
        "IsComposeFormat": false,
    })
}

/// ComposeStackManager.NormalizeStackName: lower-case, then drop everything outside `[-_a-z0-9]`.
pub fn normalize_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .collect()
}

/// request.RetrieveNumericQueryParameter(r, "endpointId", optional).
fn endpoint_id_param(req: &Request, optional: bool) -> Result<u32, ApiError> {
    let raw = req.query_value("endpointId").unwrap_or("");
    let err = |e: String| ApiError::bad_request("Invalid query parameter: endpointId", e);
    if raw.is_empty() {
        return if optional { Ok(0) } else { Err(err("Missing query parameter".into())) };
    }
    atoi(raw).map_err(err)
}

fn stack_id(raw: &str) -> Result<u32, ApiError> {
    atoi(raw).map_err(|e| ApiError::bad_request("Invalid stack identifier route variable", e))
}

fn stack_not_found() -> ApiError {
    ApiError::not_found("Unable to find a stack with the specified identifier inside the database")
}

fn not_simulated(what: &str) -> ApiError {
    ApiError::new(501, "Not implemented by the simulator", format!("{what} is not simulated"))
}

/// `POST /api/stacks/create/{type}/{method}?endpointId=N` (stack_create.go,
/// create_compose_stack.go createComposeStackFromFileContent). 200 with the stack.
pub fn create(
    core: &mut Service,
    req: &Request,
    token: &TokenData,
    kind: &str,
    method: &str,
) -> Result<Response, ApiError> {
    let endpoint_id = endpoint_id_param(req, false)?;
    let endpoint = core.state.db.endpoint(endpoint_id).cloned().ok_or_else(|| {
        ApiError::not_found("Unable to find an environment with the specified identifier inside the database")
    })?;
    match kind {
        "standalone" => {}
        "swarm" | "kubernetes" => return Err(not_simulated("a swarm or kubernetes stack")),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid value for query parameter: type. Value must be one of: 1 (Swarm stack) or 2 (Compose stack)",
                "Invalid query parameter",
            ))
        }
    }
    match method {
        "string" => {}
        "repository" | "file" => return Err(not_simulated("stack creation from a file or repository")),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid value for query parameter: method. Value must be one of: string, repository or file",
                "Invalid query parameter",
            ))
        }
    }
    let p = payload::decode(&req.body, "stacks.composeStackFromFileContentPayload")?;
    let name = p.string("Name")?;
    let content = p.string("StackFileContent")?;
    let env = p.pairs("Env")?;
    p.bool("FromAppTemplate")?;
    if name.is_empty() {
        return Err(ApiError::invalid_payload("Invalid stack name"));
    }
    if content.is_empty() {
        return Err(ApiError::invalid_payload("Invalid stack file content"));
    }
    let name = normalize_name(&name);
    // The name check lists the host's containers through the Docker SDK, whose WithHost only
    // takes `proto://addr`: an environment stored as `10.0.0.5:9001` fails here.
    if !endpoint.url.contains("://") {
        return Err(ApiError::new(
            500,
            "Unable to check for name collision",
            format!("unable to parse docker host `{}`", endpoint.url),
        ));
    }
    let in_db = core.state.db.stacks.iter().any(|s| s.name.eq_ignore_ascii_case(&name) && s.endpoint_id == endpoint_id);
    let on_host = core.state.docker_projects.get(&endpoint.url).is_some_and(|p| p.contains(&name));
    if in_db || on_host {
        let msg = format!("A stack with the normalized name '{name}' already exists");
        return Err(ApiError::new(409, msg.clone(), msg));
    }
    if name.is_empty() {
        // docker compose refuses an empty project name; Portainer passes its error through.
        return Err(ApiError::new(500, "project name must not be empty", "project name must not be empty"));
    }
    deploy(core, &endpoint.url, &name, &content, &env)?;
    let now = core.instance.now_unix();
    let db = &mut core.state.db;
    let stack = Stack {
        id: db.next_stack_id,
        name: name.clone(),
        kind: COMPOSE,
        endpoint_id,
        file_content: content,
        env,
        status: 1,
        creation_date: now,
        created_by: token.username.clone(),
        update_date: 0,
        updated_by: String::new(),
    };
    db.next_stack_id += 1;
    db.stacks.push(stack.clone());
    core.state.docker_projects.entry(endpoint.url).or_default().insert(name);
    Ok(Response::json(200, &stack_json(&stack)))
}

/// The stack deployed on the environment's Docker host (through its agent), when the simulator
/// runs one: compose's refusal comes back as Portainer passes it on (500, "failed to deploy a
/// stack: …"), and nothing is recorded.
fn deploy(core: &Service, url: &str, project: &str, compose: &str, env: &Option<Vec<EnvPair>>) -> Result<(), ApiError> {
    let Some(host) = &core.stack_host else { return Ok(()) };
    let env = env.iter().flatten().map(|e| e.name.clone()).collect();
    host.apply(&StackOp::Up { url, project, compose, env })
        .map_err(|e| ApiError::new(500, format!("failed to deploy a stack: {e}"), e))
}

/// `GET /api/stacks[?filters={"EndpointID":N,"SwarmID":"…","IncludeOrphanedStacks":bool}]`.
pub fn list(core: &Service, req: &Request) -> Result<Response, ApiError> {
    let filters = req.query_value("filters").unwrap_or("");
    let (mut endpoint_filter, mut swarm_filter) = (0u64, String::new());
    if !filters.is_empty() {
        let v: Value = serde_json::from_str(filters)
            .map_err(|e| ApiError::bad_request("Invalid query parameter: filters", e.to_string()))?;
        let field = |k: &str| {
            v.as_object().and_then(|o| o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k))).map(|(_, x)| x.clone())
        };
        endpoint_filter = field("EndpointID").and_then(|x| x.as_u64()).unwrap_or(0);
        swarm_filter = field("SwarmID").and_then(|x| x.as_str().map(str::to_string)).unwrap_or_default();
    }
    let stacks: Vec<Value> = core
        .state
        .db
        .stacks
        .iter()
        .filter(|s| {
            (endpoint_filter == 0 && swarm_filter.is_empty())
                || (s.kind == COMPOSE && u64::from(s.endpoint_id) == endpoint_filter)
        })
        .map(stack_json)
        .collect();
    Ok(Response::json(200, &Value::Array(stacks)))
}

/// The stack, or 404; an administrator may read orphans (environment deleted).
fn find<'a>(core: &'a Service, raw_id: &str) -> Result<&'a Stack, ApiError> {
    let id = stack_id(raw_id)?;
    core.state.db.stack(id).ok_or_else(stack_not_found)
}

pub fn inspect(core: &Service, raw_id: &str) -> Result<Response, ApiError> {
    Ok(Response::json(200, &stack_json(find(core, raw_id)?)))
}

/// `GET /api/stacks/{id}/file` ⇒ `{"StackFileContent": "…"}`.
pub fn file(core: &Service, raw_id: &str) -> Result<Response, ApiError> {
    let s = find(core, raw_id)?;
    Ok(Response::json(200, &json!({ "StackFileContent": s.file_content })))
}

/// `PUT /api/stacks/{id}?endpointId=N` (stack_update.go updateComposeStack): the compose payload
/// is `StackFileContent`, `Env`, `PullImage`; `Prune` belongs to swarm stacks and is ignored
/// here like any unknown field. The stack moves to `endpointId` if it differs.
pub fn update(core: &mut Service, req: &Request, token: &TokenData, raw_id: &str) -> Result<Response, ApiError> {
    let id = stack_id(raw_id)?;
    if core.state.db.stack(id).is_none() {
        return Err(stack_not_found());
    }
    let endpoint_id = endpoint_id_param(req, false)?;
    let endpoint = core.state.db.endpoint(endpoint_id).cloned().ok_or_else(|| {
        ApiError::not_found("Unable to find the environment associated to the stack inside the database")
    })?;
    let p = payload::decode(&req.body, "stacks.updateComposeStackPayload")?;
    let content = p.string("StackFileContent")?;
    let env = p.pairs("Env")?;
    p.bool("PullImage")?;
    if content.is_empty() {
        return Err(ApiError::invalid_payload("Invalid stack file content"));
    }
    let name = core.state.db.stack(id).map(|s| s.name.clone()).unwrap_or_default();
    deploy(core, &endpoint.url, &name, &content, &env)?;
    let now = core.instance.now_unix();
    let Some(stack) = core.state.db.stack_mut(id) else { return Err(stack_not_found()) };
    stack.endpoint_id = endpoint_id;
    stack.file_content = content;
    stack.env = env;
    stack.updated_by = token.username.clone();
    stack.update_date = now;
    stack.status = 1;
    let stack = stack.clone();
    core.state.docker_projects.entry(endpoint.url).or_default().insert(stack.name.clone());
    Ok(Response::json(200, &stack_json(&stack)))
}

/// `DELETE /api/stacks/{id}?endpointId=N` (stack_delete.go): 204; `endpointId` is optional, but
/// the environment it names (0 when absent) must exist.
pub fn delete(core: &mut Service, req: &Request, token: &TokenData, raw_id: &str) -> Result<Response, ApiError> {
    if req.query_value("external") == Some("true") {
        return Err(not_simulated("deleting an external stack"));
    }
    let id = stack_id(raw_id)?;
    let stack = core.state.db.stack(id).cloned().ok_or_else(stack_not_found)?;
    let endpoint_id = endpoint_id_param(req, true)?;
    if endpoint_id != stack.endpoint_id && !token.is_admin() {
        let msg = "Permission denied to remove orphaned stack";
        return Err(ApiError::forbidden(msg, msg));
    }
    let endpoint = core.state.db.endpoint(endpoint_id).cloned().ok_or_else(|| {
        ApiError::not_found("Unable to find the endpoint associated to the stack inside the database")
    })?;
    if let Some(host) = &core.stack_host {
        host.apply(&StackOp::Down { url: &endpoint.url, project: &stack.name })
            .map_err(|e| ApiError::new(500, format!("failed to remove a stack: {e}"), e.clone()))?;
    }
    core.state.db.stacks.retain(|s| s.id != id);
    if let Some(projects) = core.state.docker_projects.get_mut(&endpoint.url) {
        projects.remove(&stack.name);
    }
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_like_portainer() {
        assert_eq!(normalize_name("My Web.App_2-x"), "mywebapp_2-x");
        assert_eq!(normalize_name("ÄÖ"), "");
    }
}
