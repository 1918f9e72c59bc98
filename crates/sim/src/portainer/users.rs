//! Users, the first administrator and API keys (api/http/handler/users/*.go and
//! api/http/handler/auth/authenticate.go, Portainer CE 2.21).

use serde_json::{json, Value};

use super::auth::{self, TokenData};
use super::crypto;
use super::errors::ApiError;
use super::payload;
use super::router::{Request, Response};
use super::service::Service;
use super::state::{ApiKey, User, ADMIN_ROLE};

/// Portainer's default `InternalAuthSettings.RequiredPasswordLength` (api/datastore/init.go),
/// checked as Go `len`, i.e. in bytes (api/http/security/passwordStrengthCheck.go).
pub const REQUIRED_PASSWORD_LENGTH: usize = 12;

/// A valid-format hash compared against when the user does not exist, so an unknown user costs
/// the same as a wrong password (authenticate.go does the same with a fake bcrypt hash).
const FAKE_HASH: &str = "sim-sha256$10000$00$00";

/// govalidator.IsNull: the empty string.
fn is_null(s: &str) -> bool {
    s.is_empty()
}

/// The User JSON of admin init: Portainer returns the stored hash here (no hideFields).
fn user_json(u: &User) -> Value {
    json!({
        "Id": u.id,
        "Username": u.username,
        "Password": u.password_hash,
        "Role": u.role,
        "TokenIssueAt": 0,
        "ThemeSettings": {"color": ""},
        "UseCache": true,
        "PortainerAuthorizations": null,
        "EndpointAuthorizations": null,
    })
}

/// `GET /api/users/admin/check` (admin_check.go): 204 when an administrator exists.
pub fn admin_check(core: &Service) -> Result<Response, ApiError> {
    if core.state.db.has_admin() {
        Ok(Response::empty())
    } else {
        Err(ApiError::not_found("No administrator account found inside the database"))
    }
}

/// `POST /api/users/admin/init` (admin_init.go): validation, then 409 when an admin exists,
/// then the password strength check, in that order.
pub fn admin_init(core: &mut Service, req: &Request) -> Result<Response, ApiError> {
    let p = payload::decode(&req.body, "users.adminInitPayload")?;
    let username = p.string("Username")?;
    let password = p.string("Password")?;
    if is_null(&username) || username.contains(' ') {
        return Err(ApiError::invalid_payload("Invalid username. Must not contain any whitespace"));
    }
    if is_null(&password) {
        return Err(ApiError::invalid_payload("Invalid password"));
    }
    if core.state.db.has_admin() {
        return Err(ApiError::new(409, "Unable to create administrator user", "An administrator user already exists"));
    }
    if password.len() < REQUIRED_PASSWORD_LENGTH {
        return Err(ApiError::bare(400, "Password does not meet the requirements"));
    }
    let password_hash =
        crypto::hash_password(&password).map_err(|_| ApiError::bare(500, "Unable to hash user password"))?;
    let db = &mut core.state.db;
    let user = User { id: db.next_user_id, username, password_hash, role: ADMIN_ROLE };
    db.next_user_id += 1;
    db.users.push(user.clone());
    Ok(Response::json(200, &user_json(&user)))
}

/// `POST /api/auth` (authenticate.go, internal authentication).
pub fn authenticate(core: &mut Service, req: &Request) -> Result<Response, ApiError> {
    let p = payload::decode(&req.body, "auth.authenticatePayload")?;
    let username = p.string("Username")?;
    let password = p.string("Password")?;
    if is_null(&username) {
        return Err(ApiError::invalid_payload("Invalid username"));
    }
    if is_null(&password) {
        return Err(ApiError::invalid_payload("Invalid password"));
    }
    let user = core.state.db.users.iter().find(|u| u.username.eq_ignore_ascii_case(&username));
    let hash = user.map(|u| u.password_hash.as_str()).unwrap_or(FAKE_HASH);
    let ok = crypto::verify_password(hash, &password);
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::new(422, "Invalid credentials", "Unauthorized"));
    };
    let force_change = password.len() < REQUIRED_PASSWORD_LENGTH;
    let jwt = auth::issue_jwt(&core.instance, user.id, &user.username, user.role, force_change)
        .map_err(|e| ApiError::new(500, "Unable to generate JWT token", e))?;
    Ok(Response::json(200, &json!({ "jwt": jwt })))
}

fn route_id(raw: &str, message: &str) -> Result<u32, ApiError> {
    super::router::atoi(raw).map_err(|e| ApiError::bad_request(message, e))
}

fn api_key_json(k: &ApiKey, with_digest: bool) -> Value {
    let mut v = json!({
        "id": k.id,
        "userId": k.user_id,
        "description": k.description,
        "prefix": k.prefix,
        "dateCreated": k.date_created,
        "lastUsed": k.last_used,
    });
    if with_digest {
        v["digest"] = Value::String(k.digest.clone());
    }
    v
}

/// `POST /api/users/{id}/tokens` (user_create_access_token.go): needs a JWT (an API key alone is
/// refused), own user only, the current password, a description of 1–127 characters (the 128
/// check is govalidator.MinStringLength(d, "128"), which refuses 128 itself). 201.
pub fn create_token(core: &mut Service, req: &Request, token: &TokenData, raw_id: &str) -> Result<Response, ApiError> {
    if !token.via_jwt {
        return Err(ApiError::new(401, "Auth not supported", "Authentication required"));
    }
    let p = payload::decode(&req.body, "users.userAccessTokenCreatePayload")?;
    let description = p.string("description")?;
    let password = p.string("password")?;
    if is_null(&description) {
        return Err(ApiError::invalid_payload("invalid description: cannot be empty"));
    }
    if description.chars().all(char::is_whitespace) {
        return Err(ApiError::invalid_payload("invalid description: cannot contain only whitespaces"));
    }
    if description.chars().count() >= 128 {
        return Err(ApiError::invalid_payload("invalid description: cannot be longer than 128 characters"));
    }
    let user_id = route_id(raw_id, "Invalid user identifier route variable")?;
    if token.user_id != user_id {
        return Err(ApiError::forbidden("Permission denied to create user access token", "Unauthorized"));
    }
    let user = core.state.db.user(user_id).cloned().ok_or_else(|| {
        ApiError::new(
            500,
            "Unable to find a user with the specified identifier inside the database",
            "object not found inside the database",
        )
    })?;
    if is_null(&password) {
        return Err(ApiError::invalid_payload("invalid password: cannot be empty"));
    }
    if !crypto::verify_password(&user.password_hash, &password) {
        return Err(ApiError::forbidden(
            "Current password doesn't match",
            "Current password does not match the password provided. Please try again",
        ));
    }
    let random = crypto::random_bytes(32).map_err(|e| ApiError::new(500, "Internal Server Error", e))?;
    let raw = format!("ptr_{}", crypto::b64_std(&random));
    let db = &mut core.state.db;
    let key = ApiKey {
        id: db.next_api_key_id,
        user_id,
        description,
        prefix: raw[..7].to_string(),
        date_created: core.instance.now_unix(),
        last_used: 0,
        digest: crypto::api_key_digest(&raw),
    };
    db.next_api_key_id += 1;
    db.api_keys.push(key.clone());
    Ok(Response::json(201, &json!({ "rawAPIKey": raw, "apiKey": api_key_json(&key, true) })))
}

/// `GET /api/users/{id}/tokens` (user_get_access_tokens.go): digests hidden.
pub fn list_tokens(core: &Service, token: &TokenData, raw_id: &str) -> Result<Response, ApiError> {
    let user_id = route_id(raw_id, "Invalid user identifier route variable")?;
    let user = core.state.db.user(user_id).ok_or_else(|| {
        ApiError::not_found("Unable to find a user with the specified identifier inside the database")
    })?;
    if token.user_id != user_id && (!token.is_admin() || user.role == ADMIN_ROLE) {
        return Err(ApiError::forbidden("Permission denied to get user access tokens", "Unauthorized"));
    }
    let keys: Vec<Value> =
        core.state.db.api_keys.iter().filter(|k| k.user_id == user_id).map(|k| api_key_json(k, false)).collect();
    Ok(Response::json(200, &Value::Array(keys)))
}

/// `DELETE /api/users/{id}/tokens/{keyID}` (user_remove_access_token.go): an unknown key id is a
/// **500** `API Key not found` in 2.21 (GetAPIKey's error is not mapped to 404). 204.
pub fn delete_token(
    core: &mut Service,
    token: &TokenData,
    raw_id: &str,
    raw_key_id: &str,
) -> Result<Response, ApiError> {
    let user_id = route_id(raw_id, "Invalid user identifier route variable")?;
    let key_id = route_id(raw_key_id, "Invalid api-key identifier route variable")?;
    if !token.is_admin() && token.user_id != user_id {
        return Err(ApiError::forbidden("Permission denied to get user access tokens", "Unauthorized"));
    }
    if core.state.db.user(user_id).is_none() {
        return Err(ApiError::not_found("Unable to find a user with the specified identifier inside the database"));
    }
    let db = &mut core.state.db;
    let Some(key) = db.api_keys.iter().find(|k| k.id == key_id) else {
        return Err(ApiError::new(500, "API Key not found", "object not found inside the database"));
    };
    if key.user_id != user_id {
        return Err(ApiError::forbidden("Permission denied to remove api-key", "Unauthorized"));
    }
    db.api_keys.retain(|k| k.id != key_id);
    Ok(Response::empty())
}
