//! A simulated Portainer CE 2.21 API server (`--host sim`, persisted beside `sim:FILE`), written
//! from Portainer's handlers (portainer/portainer api/http/handler/**, pkg/libhttp,
//! api/http/security/bouncer.go, api/adminmonitor) — see each file for the one it follows.
//!
//! Routes: `GET /api/system/status` (and `/api/status`), `GET /api/users/admin/check`,
//! `POST /api/users/admin/init`, `POST /api/auth`, `GET|POST /api/users/{id}/tokens`,
//! `DELETE /api/users/{id}/tokens/{keyID}`, `GET|POST /api/endpoints`,
//! `GET|PUT|DELETE /api/endpoints/{id}`, `POST /api/stacks/create/standalone/string`,
//! `GET /api/stacks`, `GET|PUT|DELETE /api/stacks/{id}`, `GET /api/stacks/{id}/file`.
//! Plus fault injection (faults.rs), a request journal without secrets (journal.rs) and direct
//! edits "as if in the UI" (ui.rs). Start one with [`start`].

mod auth;
mod crypto;
mod endpoints;
mod errors;
mod faults;
mod form;
mod instance;
mod journal;
mod payload;
mod router;
mod server;
mod service;
mod stacks;
mod state;
mod tls;
mod ui;
mod users;

pub use faults::{Fault, FaultAction};
pub use instance::DEFAULT_INIT_WINDOW;
pub use journal::JournalEntry;
pub use server::{start, AgentProbe, DialError, PortainerConfig, PortainerSim, StackHost, StackOp};
pub use state::{ApiKey, Endpoint, EnvPair, PortainerDb, PortainerState, Stack, User};
pub use tls::TlsIdentity;
pub use users::REQUIRED_PASSWORD_LENGTH;
