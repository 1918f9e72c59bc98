//! `util::` — small pure helpers plans need.

use super::Namespace;

pub fn namespace() -> Namespace {
    let mut ns = Namespace::new("util", "Small pure helpers.");
    ns.add("sha256", &["text: String", "-> String"], "SHA-256 of a text, as lowercase hex.", |text: &str| -> String {
        crate::ops::content_digest(text.as_bytes())
    });
    ns.add(
        "sleep_ms",
        &["ms: int", "-> ()"],
        "Wait this many milliseconds (at most 60 000), e.g. between the tries of a check.",
        |ms: i64| std::thread::sleep(std::time::Duration::from_millis(ms.clamp(0, 60_000) as u64)),
    );
    ns
}
