//! The HTTP client phoenix talks to Portainer with (and any other HTTP API a plan needs).
//!
//! Blocking (reqwest's `blocking` client): plans run on plain threads (the Rhai engine and the
//! parallel guest walk are synchronous), so an async client would need a runtime per call site;
//! the blocking client keeps one small runtime thread per client instead. Every call has a
//! connect timeout and a total timeout; connection failures, 5xx and 429 are retried with an
//! exponential backoff (Retry-After honoured up to a cap), other 4xx never. HTTPS is verified
//! against the lab root CA only (rustls with the `ring` provider, no platform store, no
//! "insecure" switch). Requests are logged as method, path, status and time: never a body, a
//! header, or a credential (see `mask`).

mod call;
mod client;
mod error;
mod json;
mod mask;
mod request;
mod retry;
mod tls;

pub use call::Call;
pub use client::{Client, ClientOptions, Response};
pub use error::HttpError;
pub use json::JsonValue;
pub use mask::summarize;
pub use request::{Body, Method, Request};
pub use retry::{classify, Attempt, RetryPolicy};
pub use tls::{trust_config, TlsError};
