//! Script errors as miette diagnostics: the message, a span in the `.rhai` file, a hint, and
//! "called from" frames for errors raised inside functions and modules.

use super::position::{byte_offset, token_len};
use super::sources::Sources;
use miette::{NamedSource, SourceSpan};
use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

/// Why a script failed; decides the exit code together with the run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptErrorKind {
    /// Syntax, unknown function or variable found before running.
    Compile,
    /// Raised while running (throw, type error, limits, a failed API call).
    Runtime,
    /// Stopped by Ctrl-C.
    Interrupted,
    /// An operator error (`fail(…)`, see `api::operator`): raised while running, shown
    /// without the script frame unless the operator asks for it with `-v`.
    Operator,
    /// The connection to the host went away in the middle of a command: shown like an operator
    /// error (the plan did nothing wrong), and the run exits 1 (the host failed), not 2.
    HostLost,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ScriptDiagnostic {
    pub message: String,
    pub src: Option<NamedSource<String>>,
    pub span: Option<SourceSpan>,
    pub label: String,
    pub help: Option<String>,
    /// Further problems (pre-flight check) or the call frames of a runtime error.
    pub related: Vec<ScriptDiagnostic>,
    pub kind: ScriptErrorKind,
    /// A "called from" frame: rendered as advice, not as another error.
    pub frame: bool,
}

impl miette::Diagnostic for ScriptDiagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.frame { miette::Severity::Advice } else { miette::Severity::Error })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_with_span(Some(self.label.clone()), span))))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn miette::Diagnostic)))
    }
}

impl ScriptDiagnostic {
    pub fn plain(kind: ScriptErrorKind, message: impl Into<String>, help: Option<String>) -> Self {
        ScriptDiagnostic {
            message: message.into(),
            src: None,
            span: None,
            label: String::new(),
            help,
            related: Vec::new(),
            kind,
            frame: false,
        }
    }

    /// How an operator error is shown without `-v`: the message and what to do, no script span
    /// or "called from" frames (they locate plan code, which is not what went wrong). `None`
    /// for anything else, which is shown whole.
    pub fn operator_message(&self, verbose: bool) -> Option<ScriptDiagnostic> {
        (matches!(self.kind, ScriptErrorKind::Operator | ScriptErrorKind::HostLost) && !verbose)
            .then(|| ScriptDiagnostic::plain(self.kind, self.message.clone(), self.help.clone()))
    }

    /// A diagnostic pointing at `pos` in the script named `source`.
    pub fn at(
        sources: &Sources,
        kind: ScriptErrorKind,
        source: &str,
        pos: Position,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let mut d = Self::plain(kind, message, help);
        d.label = label.into();
        if let Some(text) = sources.get(source) {
            if let (Some(line), col) = (pos.line(), pos.position().unwrap_or(0)) {
                let offset = byte_offset(&text, line, col);
                d.span = Some(SourceSpan::new(offset.into(), token_len(&text, offset)));
            }
            d.src = Some(NamedSource::new(source, text.to_string()));
        }
        d
    }
}

/// Message text without Rhai's trailing " (line N, position M)" (the span shows that).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" (line ") {
        Some(i) if msg.ends_with(')') => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

pub fn from_parse_error(
    sources: &Sources,
    source: &str,
    err: &ParseError,
    candidates: &[String],
    namespaces: &[String],
) -> ScriptDiagnostic {
    let (kind, pos) = (&*err.0, err.1);
    let mut help = None;
    let mut message = format!("syntax error in {source}: {}", strip_position(&kind.to_string()));
    let label;
    match kind {
        ParseErrorType::VariableUndefined(name) => {
            message = format!("undefined variable `{name}` in {source}");
            label = "not defined".to_string();
            help = Some(match crate::types::suggest::closest(name, candidates.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? Variables must be declared with `let` before use"),
                None => "declare it with `let` first, or check the spelling".to_string(),
            });
        }
        ParseErrorType::ModuleUndefined(name) => {
            message = format!("unknown namespace `{name}` in {source}");
            label = "not a namespace".to_string();
            help = Some(match crate::types::suggest::closest(name, namespaces.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? Namespaces are API modules (`phoenix api`) or names bound with `import \"…\" as name`"),
                None => "namespaces are API modules (`phoenix api`) or names bound with `import \"…\" as name`".to_string(),
            });
        }
        ParseErrorType::MissingToken(token, _) => {
            label = format!("expected `{token}` here");
        }
        _ => label = "here".to_string(),
    }
    ScriptDiagnostic::at(sources, ScriptErrorKind::Compile, source, pos, message, label, help)
}

/// Map a runtime error, walking through function-call and module frames to the innermost error
/// (which gets the span) and keeping the outer call sites as related "called from" notes.
pub fn from_eval_error(
    sources: &Sources,
    source: &str,
    err: &EvalAltResult,
    help_fn: &dyn Fn(&str) -> String,
) -> ScriptDiagnostic {
    let mut frames: Vec<(String, Position, String)> = Vec::new();
    let mut current_source = source.to_string();
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(name, fn_source, inner, pos) => {
                // Closures get a hashed name (`anon$5f…`) that differs from run to run.
                let what = if name.starts_with("anon$") {
                    "in a closure called here".to_string()
                } else {
                    format!("in a call to `{name}`")
                };
                frames.push((current_source.clone(), *pos, what));
                if !fn_source.is_empty() {
                    current_source = fn_source.clone();
                }
                e = inner;
            }
            EvalAltResult::ErrorInModule(path, inner, pos) => {
                frames.push((current_source.clone(), *pos, format!("while importing `{path}`")));
                current_source = sources.module_source(path).unwrap_or_else(|| path.clone());
                e = inner;
            }
            _ => break,
        }
    }
    let pos = e.position();
    let operator = crate::api::operator::find(e);
    let (kind, message, label, help) = match (&operator, crate::api::error::find(e)) {
        (Some(op), _) => (ScriptErrorKind::Operator, op.message.clone(), "raised here".to_string(), op.hint.clone()),
        (None, Some(api)) => describe_api(&api),
        (None, None) => describe(e, help_fn),
    };
    let mut diag = ScriptDiagnostic::at(sources, kind, &current_source, pos, message, label, help);
    // Outermost frame last reads naturally as a stack: innermost error, then where it was called.
    for (src, pos, what) in frames.into_iter().rev() {
        let mut frame = ScriptDiagnostic::at(sources, kind, &src, pos, format!("called from {src}"), what, None);
        frame.frame = true;
        diag.related.push(frame);
    }
    diag
}

/// An API function's typed error: its message, each cause on a line of its own, and the file it
/// concerns. A lost connection is the operator's to act on (no script frame without `-v`): the
/// plan did nothing wrong, the host went away, and nothing after the command ran.
fn describe_api(api: &crate::api::error::ApiFailure) -> (ScriptErrorKind, String, String, Option<String>) {
    let err = &api.0;
    if let Some(lost) = err.connection_lost() {
        let help = "check the host and the network, then run again: phoenix carries on from what is already done";
        return (ScriptErrorKind::HostLost, lost, "raised here".into(), Some(help.into()));
    }
    let mut message = err.to_string();
    for cause in err.causes() {
        message.push_str("\n  caused by: ");
        message.push_str(&cause);
    }
    let help = err.path().filter(|p| !message.contains(p.as_str())).map(|p| format!("the file concerned: {p}"));
    (ScriptErrorKind::Runtime, message, "raised here".into(), help)
}

fn describe(e: &EvalAltResult, help_fn: &dyn Fn(&str) -> String) -> (ScriptErrorKind, String, String, Option<String>) {
    use EvalAltResult as E;
    let rt = ScriptErrorKind::Runtime;
    match e {
        E::ErrorFunctionNotFound(sig, _) => {
            let name = sig.split([' ', '(']).next().unwrap_or(sig).to_string();
            let help = help_fn(&name);
            (rt, format!("no function `{name}` takes these arguments"), "called here".into(), Some(help))
        }
        // A misspelled map property (`r.chnged`) reads as (); the mismatch is where it shows.
        E::ErrorMismatchDataType(expected, actual, _) if actual == "()" => (
            rt,
            strip_position(&e.to_string()),
            "this is ()".into(),
            Some(format!(
                "a {expected} was expected here; a misspelled map property (`r.chnged` for `r.changed`) reads as (): check the property names"
            )),
        ),
        E::ErrorVariableNotFound(name, _) => (rt, format!("variable not found: {name}"), "not defined".into(), None),
        E::ErrorRuntime(value, _) => {
            let text = if value.is_string() { value.clone().into_string().unwrap_or_default() } else { value.to_string() };
            (rt, text, "raised here".into(), None)
        }
        E::ErrorTooManyOperations(_) => (
            rt,
            "the plan exceeded its operation limit".into(),
            "still running here".into(),
            Some("look for an endless loop; raise the limit with PHOENIX_MAX_OPERATIONS if the plan really is this large".into()),
        ),
        E::ErrorStackOverflow(_) => (
            rt,
            "the plan exceeded its call depth limit".into(),
            "here".into(),
            Some("look for unbounded recursion".into()),
        ),
        E::ErrorTerminated(_, _) => (
            ScriptErrorKind::Interrupted,
            "interrupted".into(),
            "stopped here".into(),
            None,
        ),
        other => (rt, strip_position(&other.to_string()), "here".into(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ApiError;
    use crate::connector::ConnectorError;
    use crate::facts::FactError;

    fn raised(err: ApiError) -> ScriptDiagnostic {
        let sources = Sources::default();
        sources.add("plans/x.rhai", "fn f() { boom() }\nf()\n".into());
        let mut engine = rhai::Engine::new();
        crate::api::error::register(&mut engine);
        let err = std::sync::Mutex::new(Some(err));
        engine.register_fn("boom", move || -> Result<(), Box<EvalAltResult>> {
            Err(err.lock().unwrap().take().expect("raised once").into())
        });
        let e = engine.run("fn f() { boom() }\nf()\n").unwrap_err();
        from_eval_error(&sources, "plans/x.rhai", &e, &|_| String::new())
    }

    #[test]
    fn a_lost_connection_is_the_operators_message_without_a_script_frame() {
        let d = raised(ApiError::Fact(FactError::Connector(ConnectorError::Lost {
            host: "ssh://root@pve:22".into(),
            command: "qm list".into(),
            message: "Broken pipe".into(),
        })));
        assert_eq!(d.kind, ScriptErrorKind::HostLost);
        let shown = d.operator_message(false).expect("shown as an operator message");
        assert_eq!(
            shown.message,
            "connection to ssh://root@pve:22 lost while running `qm list`: Broken pipe (nothing after it ran)"
        );
        assert!(shown.related.is_empty() && shown.span.is_none(), "no script frame without -v");
        assert!(shown.help.is_some_and(|h| h.contains("run again")));
    }

    #[test]
    fn a_typed_error_shows_its_causes_and_file() {
        let d = raised(ApiError::Fact(FactError::Connector(ConnectorError::File {
            host: "local".into(),
            op: "read",
            path: "/etc/pve/storage.cfg".into(),
            message: "Permission denied".into(),
        })));
        assert_eq!(d.kind, ScriptErrorKind::Runtime);
        assert_eq!(d.message, "local: read /etc/pve/storage.cfg: Permission denied");
        let io = ApiError::ConfigFile {
            function: "guest::push",
            path: "/cfg/scripts/app.sh".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)"),
        };
        let d = raised(io);
        assert_eq!(
            d.message,
            "guest::push: cannot read /cfg/scripts/app.sh\n  caused by: No such file or directory (os error 2)"
        );
        assert!(d.span.is_some(), "points at the call in the plan");
    }
}
