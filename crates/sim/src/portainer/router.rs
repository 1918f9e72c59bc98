//! Requests and answers in the simulator's own terms, and the route table of Portainer CE 2.21
//! (api/http/handler/handler.go dispatches `/api/<area>` to gorilla/mux sub-routers; an unknown
//! path is gorilla's `404 page not found`, a known path with another method an empty 405).

use serde_json::{json, Value};

use super::auth::{self, TokenData};
use super::errors::ApiError;
use super::service::Service;
use super::{endpoints, stacks, users};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent (`/api/stacks/3/file`).
    pub path: String,
    /// The raw query string without `?` ("" when none).
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header, name matched ignoring case (Go's Header.Get).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// First value of a query parameter, name matched exactly (Go's URL.Query().Get).
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Go's `r.RequestURI`: path plus `?query` when there is one.
    pub fn request_uri(&self) -> String {
        if self.raw_query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.raw_query)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// `response.JSON` / `JSONWithStatus`: JSON without a trailing newline.
    pub fn json(status: u16, value: &Value) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// `response.Empty`: 204, no body.
    pub fn empty() -> Self {
        Response { status: 204, headers: Vec::new(), body: Vec::new() }
    }

    pub fn error(e: &ApiError) -> Self {
        Response {
            status: e.status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: e.body().into_bytes(),
        }
    }

    pub fn text(status: u16, text: &str) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    pub fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }
}

/// Go's strconv.Atoi for identifiers, with its error text. Identifiers that parse but cannot be
/// an id (negative, huge) become 0, which no object has, so they end as "not found" like in Go.
pub fn atoi(raw: &str) -> Result<u32, String> {
    match raw.parse::<i64>() {
        Ok(n) => Ok(u32::try_from(n).unwrap_or(0)),
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow) => {
            Err(format!("strconv.Atoi: parsing {raw:?}: value out of range"))
        }
        Err(_) => Err(format!("strconv.Atoi: parsing {raw:?}: invalid syntax")),
    }
}

fn status(core: &Service) -> Response {
    Response::json(
        200,
        &json!({
            "Version": core.version,
            "InstanceID": core.state.db.instance_id,
            "DemoEnvironment": {"Enabled": false, "Users": [], "Environments": []},
        }),
    )
}

fn authed(core: &mut Service, req: &Request) -> Result<TokenData, ApiError> {
    auth::authenticate(req, &mut core.state.db, &core.instance)
}

fn admin(core: &mut Service, req: &Request) -> Result<TokenData, ApiError> {
    let t = authed(core, req)?;
    auth::require_admin(&t)?;
    Ok(t)
}

/// Route one `/api` request. Authentication runs before the handler parses anything, as the
/// bouncer middleware wraps each route.
pub fn route(core: &mut Service, req: &Request) -> Response {
    match dispatch(core, req) {
        Ok(r) => r,
        Err(e) => Response::error(&e),
    }
}

fn dispatch(core: &mut Service, req: &Request) -> Result<Response, ApiError> {
    let Some(rest) = req.path.strip_prefix("/api/") else {
        return Ok(Response::text(404, "404 page not found\n"));
    };
    let seg: Vec<&str> = rest.split('/').collect();
    if seg.iter().any(|s| s.is_empty()) {
        return Ok(Response::text(404, "404 page not found\n"));
    }
    auth::check_not_both(req)?;
    let m = req.method.as_str();
    match (m, seg.as_slice()) {
        ("GET", ["system", "status"]) | ("GET", ["status"]) => Ok(status(core)),
        ("GET", ["users", "admin", "check"]) => users::admin_check(core),
        ("POST", ["users", "admin", "init"]) => users::admin_init(core, req),
        ("POST", ["auth"]) => users::authenticate(core, req),
        ("GET", ["users", id, "tokens"]) => {
            let t = authed(core, req)?;
            users::list_tokens(core, &t, id)
        }
        ("POST", ["users", id, "tokens"]) => {
            let t = authed(core, req)?;
            users::create_token(core, req, &t, id)
        }
        ("DELETE", ["users", id, "tokens", key]) => {
            let t = authed(core, req)?;
            users::delete_token(core, &t, id, key)
        }
        ("GET", ["endpoints"]) => {
            authed(core, req)?;
            endpoints::list(core, req)
        }
        ("POST", ["endpoints"]) => {
            admin(core, req)?;
            endpoints::create(core, req)
        }
        ("GET", ["endpoints", id]) => {
            authed(core, req)?;
            endpoints::inspect(core, id)
        }
        ("PUT", ["endpoints", id]) => {
            admin(core, req)?;
            endpoints::update(core, req, id)
        }
        ("DELETE", ["endpoints", id]) => {
            admin(core, req)?;
            endpoints::delete(core, id)
        }
        ("POST", ["stacks", "create", kind, method]) => {
            let t = authed(core, req)?;
            stacks::create(core, req, &t, kind, method)
        }
        ("GET", ["stacks"]) => {
            authed(core, req)?;
            stacks::list(core, req)
        }
        ("GET", ["stacks", id]) => {
            authed(core, req)?;
            stacks::inspect(core, id)
        }
        ("PUT", ["stacks", id]) => {
            let t = authed(core, req)?;
            stacks::update(core, req, &t, id)
        }
        ("DELETE", ["stacks", id]) => {
            let t = authed(core, req)?;
            stacks::delete(core, req, &t, id)
        }
        ("GET", ["stacks", id, "file"]) => {
            authed(core, req)?;
            stacks::file(core, id)
        }
        (_, shape) if known_path(shape) => Ok(Response { status: 405, headers: Vec::new(), body: Vec::new() }),
        _ => Ok(Response::text(404, "404 page not found\n")),
    }
}

/// Paths the table above serves with some method (for 405 versus 404).
fn known_path(seg: &[&str]) -> bool {
    matches!(
        seg,
        ["system", "status"]
            | ["status"]
            | ["users", "admin", "check"]
            | ["users", "admin", "init"]
            | ["auth"]
            | ["users", _, "tokens"]
            | ["users", _, "tokens", _]
            | ["endpoints"]
            | ["endpoints", _]
            | ["stacks", "create", _, _]
            | ["stacks"]
            | ["stacks", _]
            | ["stacks", _, "file"]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_errors_read_like_go() {
        assert_eq!(atoi("12"), Ok(12));
        assert_eq!(atoi("-3"), Ok(0));
        assert_eq!(atoi("x").unwrap_err(), "strconv.Atoi: parsing \"x\": invalid syntax");
        assert!(atoi("99999999999999999999").unwrap_err().contains("out of range"));
    }
}
