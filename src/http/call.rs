//! A mutating request bound to the client that will send it: the step an executor runs. The
//! answer is kept in the call (not returned as command output), since it may hold a secret
//! (a new API key) that must reach only the code that asked for it.

use super::client::{Client, Response};
use super::error::HttpError;
use super::request::Request;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Call {
    client: Arc<Client>,
    pub request: Request,
    answer: Arc<Mutex<Option<Response>>>,
}

impl Call {
    pub fn new(client: Arc<Client>, request: Request) -> Self {
        Call { client, request, answer: Arc::default() }
    }

    /// What a dry-run shows: method, path and the masked body summary.
    pub fn describe(&self) -> String {
        self.request.describe()
    }

    /// Send it (apply only); a final error status fails with the server's message.
    pub fn run(&self) -> Result<(), HttpError> {
        let resp = self.client.send(&self.request)?;
        *self.answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(resp);
        Ok(())
    }

    /// The answer, once the executor ran the call (`None` in a dry-run).
    pub fn answer(&self) -> Option<Response> {
        self.answer.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Call({} {})", self.client.base_url(), self.describe())
    }
}

impl PartialEq for Call {
    fn eq(&self, other: &Self) -> bool {
        self.client.base_url() == other.client.base_url() && self.request == other.request
    }
}

impl Eq for Call {}

impl serde::Serialize for Call {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.describe())
    }
}
