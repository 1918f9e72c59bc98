//! Operator errors: the run stopped for a reason the operator can act on (no guests named, a
//! delete refused because of dependents, an unknown guest id, an unreachable host) — not a bug
//! in a plan. They print as "what, which guest/host, what to do", without the script frame
//! ("line 34, position 14"), which `-v` still shows.
//!
//! Plans raise one with `fail(message)` or `fail(message, hint)`; API functions with [`raise`].
//! The value thrown is an [`OperatorError`], so the diagnostic renderer recognises it, `${e}`
//! in a plan's `catch` reads its text, and `e.message` / `e.hint` are there for plans that want
//! the parts.

use rhai::{Dynamic, Engine, EvalAltResult, Position};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorError {
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for OperatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.hint {
            Some(h) => write!(f, "{} ({h})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The Rhai error carrying an operator error (the caller's position is added by `api::at`).
pub fn raise(message: impl Into<String>, hint: Option<String>) -> Box<EvalAltResult> {
    let e = OperatorError { message: message.into(), hint: hint.filter(|h| !h.is_empty()) };
    Box::new(EvalAltResult::ErrorRuntime(Dynamic::from(e), Position::NONE))
}

/// The operator error inside `e` (through call and module frames), if it is one.
pub fn find(e: &EvalAltResult) -> Option<OperatorError> {
    match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => find(inner),
        EvalAltResult::ErrorRuntime(v, _) => v.clone().try_cast::<OperatorError>(),
        _ => None,
    }
}

/// One-line text of any script error, for places that keep only text (a failed guest's outcome):
/// an operator error's own words, anything else as Rhai prints it.
pub fn error_text(e: &EvalAltResult) -> String {
    match (find(e), super::error::find(e)) {
        (Some(op), _) => op.to_string(),
        (None, Some(api)) => api.text(),
        (None, None) => e.to_string(),
    }
}

/// `fail(message)`, `fail(message, hint)`, and the type's text and fields.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<OperatorError>("OperatorError");
    engine.register_fn("fail", |message: &str| -> Result<(), Box<EvalAltResult>> { Err(raise(message, None)) });
    engine.register_fn("fail", |message: &str, hint: &str| -> Result<(), Box<EvalAltResult>> {
        Err(raise(message, Some(hint.to_string())))
    });
    engine.register_fn("to_string", |e: &mut OperatorError| e.to_string());
    engine.register_fn("to_debug", |e: &mut OperatorError| format!("{e:?}"));
    engine.register_get("message", |e: &mut OperatorError| e.message.clone());
    engine.register_get("hint", |e: &mut OperatorError| e.hint.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut e = Engine::new();
        register(&mut e);
        e
    }

    #[test]
    fn fail_raises_an_operator_error_found_through_frames() {
        let e = engine();
        let err = e.run("fn f() { fail(\"no guests named\", \"name them\") } f()").unwrap_err();
        assert!(matches!(*err, EvalAltResult::ErrorInFunctionCall(..)), "{err:?}");
        let op = find(&err).expect("an operator error");
        assert_eq!(op, OperatorError { message: "no guests named".into(), hint: Some("name them".into()) });
        assert_eq!(error_text(&err), "no guests named (name them)");
    }

    #[test]
    fn plans_can_catch_it_and_read_its_parts() {
        let e = engine();
        let text: String =
            e.eval("let t = ``; try { fail(\"x\", \"y\") } catch (e) { t = `${e}|${e.message}|${e.hint}` } t").unwrap();
        assert_eq!(text, "x (y)|x|y");
        let text: String =
            e.eval("let t = ``; try { fail(\"x\") } catch (e) { t = `${e}|${e.hint == ()}` } t").unwrap();
        assert_eq!(text, "x|true");
    }

    #[test]
    fn a_plain_throw_is_not_an_operator_error() {
        let err = engine().run("throw \"bug\"").unwrap_err();
        assert_eq!(find(&err), None);
        assert!(error_text(&err).contains("bug"), "{}", error_text(&err));
    }
}
