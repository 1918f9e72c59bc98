//! Errors of API functions as they cross into Rhai, keeping their type and their cause chain.
//!
//! An op, fact or executor error used to become its text at the boundary (`map_err(to_string)`):
//! the renderer could no longer tell a lost connection from a bad value, and a file's path was
//! only as good as the message around it. Now the typed error travels inside the Rhai error
//! (`ErrorRuntime` carrying an [`ApiFailure`]), so the diagnostic printer shows the message, the
//! causes below it and the file concerned, and recognises a lost connection. A plan that catches
//! one reads the same text as before through `${e}`, and `e.message`, `e.path`, `e.causes`.

use crate::connector::ConnectorError;
use crate::executor::ExecError;
use crate::facts::FactError;
use crate::generate::firewall::FirewallFileError;
use crate::generate::GenerateError;
use crate::graph::GraphError;
use crate::ops::OpError;
use rhai::{Dynamic, Engine, EvalAltResult, Position};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Fact(#[from] FactError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A value refused by a generator (it would change the structure of a generated file).
    #[error(transparent)]
    Generate(#[from] GenerateError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A Proxmox firewall file phoenix would merge into: refused values, or an existing file it
    /// cannot read (never rewritten).
    #[error(transparent)]
    Firewall(#[from] FirewallFileError),
    /// A file of the configuration folder an API function reads (a script to run, a source to push).
    #[error("{function}: cannot read {}", path.display())]
    ConfigFile {
        function: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ApiError {
    /// The connector error at the bottom of this one, if it is one.
    pub fn connector(&self) -> Option<&ConnectorError> {
        match self {
            ApiError::Op(OpError::Fact(FactError::Connector(c)))
            | ApiError::Fact(FactError::Connector(c))
            | ApiError::Exec(ExecError::Connector { source: c, .. }) => Some(c),
            _ => None,
        }
    }

    /// The file this error is about (a configuration file, a host path), when it has one.
    pub fn path(&self) -> Option<String> {
        match self {
            ApiError::ConfigFile { path, .. } => Some(path.display().to_string()),
            ApiError::Firewall(FirewallFileError::Existing { path, .. }) => Some(path.clone()),
            _ => match self.connector() {
                Some(ConnectorError::File { path, .. }) => Some(path.clone()),
                _ => None,
            },
        }
    }

    /// The causes below the message, outermost first, each only when the text above does not
    /// already say it (`thiserror` messages often embed their source).
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut shown = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            let text = e.to_string();
            if !shown.contains(&text) {
                shown.push('\n');
                shown.push_str(&text);
                out.push(text);
            }
            next = e.source();
        }
        out
    }

    /// The message for a connection lost in the middle of a command: which host, which command,
    /// and that the run stopped there.
    pub fn connection_lost(&self) -> Option<String> {
        match self.connector()? {
            ConnectorError::Lost { host, command, message } => {
                Some(format!("connection to {host} lost while running `{command}`: {message} (nothing after it ran)"))
            }
            _ => None,
        }
    }
}

/// The value a Rhai error carries for an [`ApiError`]: cheap to clone (Rhai clones values), the
/// typed error kept whole.
#[derive(Debug, Clone)]
pub struct ApiFailure(pub Arc<ApiError>);

impl ApiFailure {
    /// The message and its causes, one per line (`${e}` in a plan, a failed guest's outcome).
    pub fn text(&self) -> String {
        let mut t = self.0.connection_lost().unwrap_or_else(|| self.0.to_string());
        for c in self.0.causes() {
            t.push_str(": ");
            t.push_str(&c);
        }
        t
    }
}

impl From<ApiError> for Box<EvalAltResult> {
    fn from(e: ApiError) -> Self {
        Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(ApiFailure(Arc::new(e))), Position::NONE))
    }
}

impl From<OpError> for Box<EvalAltResult> {
    fn from(e: OpError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<FactError> for Box<EvalAltResult> {
    fn from(e: FactError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ExecError> for Box<EvalAltResult> {
    fn from(e: ExecError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<GenerateError> for Box<EvalAltResult> {
    fn from(e: GenerateError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<FirewallFileError> for Box<EvalAltResult> {
    fn from(e: FirewallFileError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<GraphError> for Box<EvalAltResult> {
    fn from(e: GraphError) -> Self {
        ApiError::from(e).into()
    }
}

/// The API failure inside `e` (through call and module frames), if it is one.
pub fn find(e: &EvalAltResult) -> Option<ApiFailure> {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => find(inner),
        EvalAltResult::ErrorRuntime(v, _) => v.clone().try_cast::<ApiFailure>(),
        _ => None,
    }
}

/// The type as plans see it in a `catch`: its text, and its parts.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ApiFailure>("ApiError");
    engine.register_fn("to_string", |e: &mut ApiFailure| e.text());
    engine.register_fn("to_debug", |e: &mut ApiFailure| format!("{:?}", e.0));
    engine.register_get("message", |e: &mut ApiFailure| e.0.to_string());
    engine.register_get("path", |e: &mut ApiFailure| e.0.path().map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    engine.register_get("causes", |e: &mut ApiFailure| {
        e.0.causes().into_iter().map(Dynamic::from).collect::<rhai::Array>()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_raising(err: fn() -> ApiError) -> Engine {
        let mut e = Engine::new();
        register(&mut e);
        e.register_fn("boom", move || -> Result<(), Box<EvalAltResult>> { Err(err().into()) });
        e
    }

    fn unreadable() -> ApiError {
        ApiError::ConfigFile {
            function: "host::run_script",
            path: PathBuf::from("/cfg/scripts/check.sh"),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied (os error 13)"),
        }
    }

    #[test]
    fn the_typed_error_survives_the_boundary_with_its_path_and_cause() {
        let e = engine_raising(unreadable);
        let err = e.run("fn f() { boom() } f()").unwrap_err();
        let found = find(&err).expect("an API failure through the call frame");
        assert!(matches!(*found.0, ApiError::ConfigFile { .. }));
        assert_eq!(found.0.path().as_deref(), Some("/cfg/scripts/check.sh"));
        assert_eq!(
            found.text(),
            "host::run_script: cannot read /cfg/scripts/check.sh: Permission denied (os error 13)"
        );
    }

    #[test]
    fn plans_catch_it_as_text_and_parts() {
        let e = engine_raising(unreadable);
        let t: String =
            e.eval("let t = ``; try { boom() } catch (e) { t = `${e}|${e.path}|${e.causes.len()}` } t").unwrap();
        assert_eq!(t, "host::run_script: cannot read /cfg/scripts/check.sh: Permission denied (os error 13)|/cfg/scripts/check.sh|1");
    }

    #[test]
    fn a_lost_connection_names_the_host_and_the_command() {
        let e = engine_raising(|| {
            ApiError::Fact(FactError::Connector(ConnectorError::Lost {
                host: "ssh://root@pve:22".into(),
                command: "pct list".into(),
                message: "Connection reset by peer".into(),
            }))
        });
        let err = e.run("boom()").unwrap_err();
        assert_eq!(
            find(&err).unwrap().text(),
            "connection to ssh://root@pve:22 lost while running `pct list`: Connection reset by peer (nothing after it ran)"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = ApiError::Exec(ExecError::Connector {
            subject: "ct 101".into(),
            source: ConnectorError::Connection { host: "local".into(), message: "gone".into() },
        });
        assert!(err.causes().is_empty(), "{:?}", err.causes());
        assert_eq!(ApiFailure(Arc::new(err)).text(), "ct 101: local: gone");
    }
}
