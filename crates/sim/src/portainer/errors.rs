//! Portainer's error answer: `{"message","details"}` with `Content-Type: application/json`.
//!
//! From pkg/libhttp/error/error.go (2.21): `details` is the error text with its first letter
//! upper-cased; when a handler gives no error, `details` is the capitalised message. Both keys are
//! `omitempty`, and the body has no trailing newline.

use serde_json::{Map, Value};

/// One refused request, as Portainer's `httperror.HandlerError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// The wrapped Go error text (before capitalisation); `None` = the handler passed `nil`.
    pub error: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>, error: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), error: Some(error.into()) }
    }

    /// A handler error without a wrapped error (`httperror.X("msg", nil)`).
    pub fn bare(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), error: None }
    }

    pub fn bad_request(message: &str, error: impl Into<String>) -> Self {
        Self::new(400, message, error)
    }

    /// `Invalid request payload` with the validation text, the most common 400.
    pub fn invalid_payload(error: impl Into<String>) -> Self {
        Self::new(400, "Invalid request payload", error)
    }

    pub fn not_found(message: &str) -> Self {
        // The datastore's "not found" error text (dataservices/errors).
        Self::new(404, message, "Object not found inside the database")
    }

    /// `httperrors.ErrUnauthorized` is `errors.New("Unauthorized")`.
    pub fn unauthorized(message: &str) -> Self {
        Self::new(401, message, "Unauthorized")
    }

    pub fn forbidden(message: &str, error: impl Into<String>) -> Self {
        Self::new(403, message, error)
    }

    /// The JSON body exactly as writeErrorResponse encodes it (key order message, details).
    pub fn body(&self) -> String {
        let details = match &self.error {
            Some(e) => capitalize(e),
            None => capitalize(&self.message),
        };
        let mut obj = Map::new();
        if !self.message.is_empty() {
            obj.insert("message".into(), Value::String(self.message.clone()));
        }
        if !details.is_empty() {
            obj.insert("details".into(), Value::String(details));
        }
        Value::Object(obj).to_string()
    }
}

/// Go's `capitalize`: the first byte upper-cased (ASCII only, like `unicode.ToUpper(rune(s[0]))`
/// on the byte values Portainer's messages use).
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_capitalised_and_default_to_the_message() {
        let e = ApiError::invalid_payload("invalid environment name");
        assert_eq!(e.body(), r#"{"message":"Invalid request payload","details":"Invalid environment name"}"#);
        let e = ApiError::bare(409, "Name is not unique");
        assert_eq!(e.body(), r#"{"message":"Name is not unique","details":"Name is not unique"}"#);
    }
}
