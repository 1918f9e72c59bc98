//! `text::` — a configuration value checked before a plan places it on a line of a generated
//! file (YAML, ini, conf): one line, no control characters (the generic line builder's rule).

use super::{at, Namespace, Res};
use rhai::NativeCallContext;

pub fn namespace() -> Namespace {
    let mut ns = Namespace::new("text", "Values checked before a plan puts them on a line of a generated file.");
    ns.add(
        "line",
        &["field: String", "value: String", "-> String"],
        "The value itself when it fits on one line of a generated file; throws (naming the field and showing \
         the value escaped) when it holds a newline or another control character.",
        |nc: NativeCallContext, field: &str, value: &str| -> Res<String> {
            at(&nc, || {
                crate::generate::error::no_control(field, value)?;
                Ok(value.to_string())
            })
        },
    );
    ns
}
