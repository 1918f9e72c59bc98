//! `util::` — small pure helpers plans need.

use super::Namespace;

pub fn namespace() -> Namespace {
    let mut ns = Namespace::new("util", "Small pure helpers.");
    ns.add(
        "sha256",
        &["text: String", "-> String"],
        "SHA-256 of a text, as lowercase hex.",
        |text: &str| -> String { crate::ops::content_digest(text.as_bytes()) },
    );
    ns
}
