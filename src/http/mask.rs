//! What a request body looks like in a dry-run and the journal: secrets as `***`, long text
//! (a compose file) as its size and a short hash, so a change shows without the content.

use super::json::JsonValue;
use super::request::Body;
use crate::secret::Secret;
use sha2::{Digest, Sha256};

/// Text longer than this (or with a newline) is shown as `<N bytes, sha256 …>`.
const SHOWN_TEXT_MAX: usize = 64;

/// Field names whose values are masked even when the caller did not mark them secret: a
/// mistake in a plan must not print a password.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "apikey", "api_key", "x-api-key", "authorization", "jwt"]
        .iter()
        .any(|s| n.contains(s))
}

fn text(s: &str) -> String {
    if s.len() > SHOWN_TEXT_MAX || s.contains('\n') {
        let hash = Sha256::digest(s.as_bytes());
        let short: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("<{} bytes, sha256 {short}>", s.len())
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

fn plain(v: &serde_json::Value, hidden: bool) -> String {
    if hidden {
        return Secret::MASK.to_string();
    }
    match v {
        serde_json::Value::String(s) => text(s),
        serde_json::Value::Object(m) => {
            let fields: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {}", plain(v, secret_name(k)))).collect();
            format!("{{{}}}", fields.join(", "))
        }
        serde_json::Value::Array(a) => {
            format!("[{}]", a.iter().map(|v| plain(v, false)).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// An env entry `{name: "X", value: …}` shows its value masked when the name looks secret.
fn json(v: &JsonValue, hidden: bool) -> String {
    match v {
        JsonValue::Secret(_) => Secret::MASK.to_string(),
        JsonValue::Plain(p) => plain(p, hidden),
        JsonValue::Object(fields) => {
            let named_secret = fields.iter().any(|(k, v)| {
                k == "name" && matches!(v, JsonValue::Plain(serde_json::Value::String(s)) if secret_name(s))
            });
            let shown: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", json(v, hidden || secret_name(k) || (named_secret && k == "value"))))
                .collect();
            format!("{{{}}}", shown.join(", "))
        }
        JsonValue::Array(items) => {
            format!("[{}]", items.iter().map(|i| json(i, hidden)).collect::<Vec<_>>().join(", "))
        }
    }
}

/// The body as a dry-run shows it; empty for no body.
pub fn summarize(body: &Body) -> String {
    match body {
        Body::Empty => String::new(),
        Body::Json(v) => json(v, false),
        Body::Multipart(fields) => {
            let shown: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}={}", if secret_name(k) { Secret::MASK.into() } else { text(v) }))
                .collect();
            format!("multipart({})", shown.join(", "))
        }
    }
}

/// `text` with every occurrence of a secret's value replaced by `***` (error bodies may echo
/// what was sent).
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.expose().is_empty() {
            out = out.replace(s.expose(), Secret::MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_and_long_text_is_summarised() {
        let body = Body::Json(JsonValue::object([
            ("Username", JsonValue::text("admin")),
            ("Password", JsonValue::Secret(Secret::new("hunter2hunter2"))),
            ("stackFileContent", JsonValue::text("services:\n  a:\n    image: x\n")),
            (
                "env",
                JsonValue::Array(vec![
                    JsonValue::object([
                        ("name", JsonValue::text("DB_PASSWORD")),
                        ("value", JsonValue::text("plain-oops")),
                    ]),
                    JsonValue::object([("name", JsonValue::text("MODE")), ("value", JsonValue::text("prod"))]),
                    JsonValue::object([
                        ("name", JsonValue::text("K")),
                        ("value", JsonValue::Secret(Secret::new("s3cr3t"))),
                    ]),
                ]),
            ),
            ("password_hint", JsonValue::text("unmarked-but-named")),
        ]));
        let shown = summarize(&body);
        for leaked in ["hunter2hunter2", "plain-oops", "s3cr3t", "unmarked-but-named", "image: x"] {
            assert!(!shown.contains(leaked), "{leaked} in {shown}");
        }
        assert!(shown.contains("Username: \"admin\""), "{shown}");
        assert!(shown.contains("stackFileContent: <28 bytes, sha256 "), "{shown}");
        assert!(shown.contains("{name: \"MODE\", value: \"prod\"}"), "{shown}");
        assert_eq!(shown.matches("***").count(), 4, "{shown}");
    }

    #[test]
    fn multipart_fields_show_as_a_form() {
        let b =
            Body::Multipart(vec![("Name".into(), "docker-vm".into()), ("URL".into(), "tcp://10.0.0.5:9001".into())]);
        assert_eq!(summarize(&b), "multipart(Name=\"docker-vm\", URL=\"tcp://10.0.0.5:9001\")");
        assert_eq!(summarize(&Body::Empty), "");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let s = Secret::new("abc123");
        assert_eq!(redact("key abc123 and abc123", &[&s]), "key *** and ***");
    }
}
