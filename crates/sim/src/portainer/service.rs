//! The simulated Portainer service: its database, its running process, the faults injected in
//! front of it and the request journal. One request in, one answer (and a delay) out; the
//! HTTP server (server.rs) only moves bytes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::errors::ApiError;
use super::faults::{self, Fault};
use super::instance::Instance;
use super::journal::{masked_query, Journal, JournalEntry};
use super::router::{self, Request, Response};
use super::state::PortainerState;
use crate::error::SimError;

#[derive(Debug)]
pub struct Service {
    pub state: PortainerState,
    pub instance: Instance,
    /// Reported by `/api/system/status`.
    pub version: String,
    /// Where the state is saved after every change (None = in memory only).
    pub state_file: Option<PathBuf>,
    pub faults: Vec<Fault>,
    pub journal: Journal,
    /// See `PortainerConfig::agent_probe`.
    pub agent_probe: Option<super::server::AgentProbe>,
    /// See `PortainerConfig::stack_host`.
    pub stack_host: Option<super::server::StackHost>,
}

impl Service {
    /// Answer one request: faults first, then the admin-initialisation gate, then the route.
    /// Returns the answer and how long to hold it back.
    pub fn handle(&mut self, req: &Request) -> (Response, Duration) {
        let started = Instant::now();
        let verdict = faults::check(&mut self.faults, &req.method, &req.path);
        let fault = verdict.answer.is_some() || !verdict.delay.is_zero();
        let mut response = match verdict.answer {
            Some(answer) => answer,
            None => self.serve(req),
        };
        let entry = JournalEntry {
            method: req.method.clone(),
            path: req.path.clone(),
            query: masked_query(&req.query),
            status: response.status,
            millis: (started.elapsed() + verdict.delay).as_millis() as u64,
            fault,
        };
        if let Err(e) = self.journal.record(entry) {
            response = Response::error(&ApiError::new(500, "Simulator failure", e.to_string()));
        }
        (response, verdict.delay)
    }

    fn serve(&mut self, req: &Request) -> Response {
        // adminmonitor WithRedirect: once the window closed without an admin, every /api
        // request except the exact RequestURIs below answers 303.
        if req.path.starts_with("/api") && self.instance.init_disabled(self.state.db.has_admin()) {
            let uri = req.request_uri();
            if uri != "/api/status" && uri != "/api/settings/public" {
                let e = ApiError::bare(303, "Administrator initialization timeout");
                return Response::error(&e).with_header("redirect-reason", "AdminInitTimeout".into());
            }
        }
        let before = self.state.clone();
        let response = router::route(self, req);
        if self.state != before {
            if let Err(e) = self.persist() {
                return Response::error(&ApiError::new(500, "Simulator failure", e.to_string()));
            }
        }
        response
    }

    pub fn persist(&self) -> Result<(), SimError> {
        match &self.state_file {
            Some(path) => self.state.save(path),
            None => Ok(()),
        }
    }
}
