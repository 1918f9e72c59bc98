//! Authentication as api/http/security/bouncer.go does it (2.21):
//! - lookups in order API key (`X-API-Key` header, or a query key equal to it ignoring case),
//!   then JWT (`?token=` query, else the `Authorization` header minus a `Bearer ` prefix);
//!   cookies are not simulated;
//! - a lookup that finds a credential it cannot verify ⇒ 401 `Invalid JWT token` (also for a bad
//!   API key — Portainer reuses that message); none found ⇒ 401 `A valid authorization token is
//!   missing`; the token's user gone ⇒ 401 `An authorization token is invalid`; all with details
//!   `Unauthorized`;
//! - admin-only routes for a non-admin ⇒ 403 `Access denied`.
//!
//! JWTs are HS256 with Portainer's claims (`id`, `username`, `role`, `scope`,
//! `forceChangePassword`, `jti`, `exp`, `iat`), signed with the per-process secret.

use serde_json::{json, Value};

use super::crypto;
use super::errors::ApiError;
use super::instance::Instance;
use super::router::Request;
use super::state::{PortainerDb, ADMIN_ROLE};

/// Who a request acts as (Portainer's TokenData), and whether it came from a JWT: creating an
/// API key requires a JWT (user_create_access_token.go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenData {
    pub user_id: u32,
    pub username: String,
    pub role: u8,
    pub via_jwt: bool,
}

impl TokenData {
    pub fn is_admin(&self) -> bool {
        self.role == ADMIN_ROLE
    }
}

/// Issue a JWT for a user (POST /api/auth).
pub fn issue_jwt(
    instance: &Instance,
    user_id: u32,
    username: &str,
    role: u8,
    force_change_password: bool,
) -> Result<String, String> {
    let now = instance.now_unix();
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let claims = json!({
        "id": user_id,
        "username": username,
        "role": role,
        "scope": "default",
        "forceChangePassword": force_change_password,
        "exp": now + instance.session.as_secs() as i64,
        "jti": crypto::uuid_v4()?,
        "iat": now,
    });
    let signing_input = format!(
        "{}.{}",
        crypto::b64_url(header.to_string().as_bytes()),
        crypto::b64_url(claims.to_string().as_bytes())
    );
    let sig = crypto::hmac_sha256(&instance.jwt_secret, signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", crypto::b64_url(&sig)))
}

/// Verify signature, algorithm and expiry; `None` for anything else (Portainer's parse error).
fn verify_jwt(instance: &Instance, token: &str) -> Option<TokenData> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let expected = crypto::hmac_sha256(&instance.jwt_secret, format!("{h}.{c}").as_bytes());
    if !crypto::constant_time_eq(crypto::b64_url(&expected).as_bytes(), s.as_bytes()) {
        return None;
    }
    let header: Value = serde_json::from_slice(&crypto::b64_url_decode(h)?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let claims: Value = serde_json::from_slice(&crypto::b64_url_decode(c)?).ok()?;
    if claims.get("exp")?.as_i64()? <= instance.now_unix() {
        return None;
    }
    Some(TokenData {
        user_id: u32::try_from(claims.get("id")?.as_u64()?).ok()?,
        username: claims.get("username")?.as_str()?.to_string(),
        role: u8::try_from(claims.get("role")?.as_u64()?).ok()?,
        via_jwt: true,
    })
}

fn api_key_of(req: &Request) -> Option<String> {
    if let Some(v) = req.header("x-api-key").filter(|v| !v.is_empty()) {
        return Some(v.to_string());
    }
    req.query.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-api-key")).map(|(_, v)| v.clone())
}

fn bearer_of(req: &Request) -> Option<String> {
    if let Some(t) = req.query_value("token").filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let h = req.header("authorization")?;
    Some(h.strip_prefix("Bearer ").unwrap_or(h).to_string())
}

/// CSRF middleware (bouncer.go ShouldSkipCSRFCheck): both credentials at once ⇒ 403.
pub fn check_not_both(req: &Request) -> Result<(), ApiError> {
    let has_key = req.header("x-api-key").is_some_and(|v| !v.is_empty());
    let has_auth = req.header("authorization").is_some_and(|v| !v.is_empty());
    if has_key && has_auth {
        let msg = "api key and auth header are not allowed at the same time";
        return Err(ApiError::new(403, msg, msg));
    }
    Ok(())
}

/// mwAuthenticateFirst: API key first, then JWT. Updates the key's `lastUsed` like Portainer
/// (at most once a minute), so the caller must persist `db` when this returns `Ok`.
pub fn authenticate(req: &Request, db: &mut PortainerDb, instance: &Instance) -> Result<TokenData, ApiError> {
    let invalid = || ApiError::unauthorized("Invalid JWT token");
    let token = if let Some(raw) = api_key_of(req) {
        let digest = crypto::api_key_digest(&raw);
        let now = instance.now_unix();
        let key = db.api_keys.iter_mut().find(|k| k.digest == digest).ok_or_else(invalid)?;
        if now - key.last_used > 60 {
            key.last_used = now;
        }
        let user_id = key.user_id;
        let user = db.user(user_id).ok_or_else(invalid)?;
        TokenData { user_id, username: user.username.clone(), role: user.role, via_jwt: false }
    } else if let Some(jwt) = bearer_of(req) {
        verify_jwt(instance, &jwt).ok_or_else(invalid)?
    } else {
        return Err(ApiError::unauthorized("A valid authorization token is missing"));
    };
    if db.user(token.user_id).is_none() {
        return Err(ApiError::unauthorized("An authorization token is invalid"));
    }
    Ok(token)
}

/// AdminAccess: authenticated and administrator.
pub fn require_admin(token: &TokenData) -> Result<(), ApiError> {
    if token.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("Access denied", "Unauthorized"))
    }
}
