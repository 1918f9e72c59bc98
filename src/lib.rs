//! phoenix: brings a Proxmox VE host to the state declared in a folder of JSON files.
//! The order of work lives in Rhai plans; this crate supplies the API they call and the
//! guarantees (exact dry-run, idempotency, safety). See ARCHITECTURE.md for the pipeline.

pub mod api;
pub mod app;
pub mod cli;
pub mod command;
pub mod connector;
pub mod executor;
pub mod facts;
pub mod generate;
pub mod graph;
pub mod host_session;
pub mod http;
pub mod inventory;
pub mod lock;
pub mod ops;
pub mod project;
pub mod rehearse;
pub mod report;
pub mod run;
pub mod script;
pub mod secret;
pub mod shell;
pub mod signals;
pub mod state_dir;
pub mod stderr;
pub mod types;
