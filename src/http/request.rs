//! One HTTP request as phoenix plans it: method, path (with its query), body. Built by the API
//! layer, shown in a dry-run (masked), sent by the client in an apply.

use super::json::JsonValue;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// A request that changes nothing on the server (a read, in the plan/apply contract).
    pub fn is_read(self) -> bool {
        self == Method::Get
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request body. Multipart fields are plain text (Portainer's endpoint form: name, URL,
/// group, TLS flags): nothing secret goes through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Empty,
    Json(JsonValue),
    Multipart(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Absolute path with its query, e.g. `/api/stacks/3?endpointId=2`.
    pub path: String,
    pub body: Body,
    /// The path as a dry-run shows it when it holds ids known only after apply
    /// (`/api/users/<admin>/tokens`, `?endpointId=<docker-vm>`), so dry-run and apply read the same.
    pub shown: Option<String>,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Self {
        Request { method: Method::Get, path: path.into(), body: Body::Empty, shown: None }
    }

    pub fn new(method: Method, path: impl Into<String>, body: Body) -> Self {
        Request { method, path: path.into(), body, shown: None }
    }

    /// `POST /api/users/admin/init {Username: "admin", Password: ***}`: what a dry-run shows and
    /// the journal keeps (secrets masked, long values summarised).
    pub fn describe(&self) -> String {
        let body = super::mask::summarize(&self.body);
        let path = self.shown.as_deref().unwrap_or(&self.path);
        if body.is_empty() {
            format!("{} {path}", self.method)
        } else {
            format!("{} {path} {body}", self.method)
        }
    }
}
