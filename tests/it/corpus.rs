//! The bad-input corpus: every `tests/corpus/<case>/etc` folder is loaded and the rendered
//! diagnostics compared with `tests/corpus/<case>/expected.txt`. `PHOENIX_BLESS=1` rewrites
//! the expected files instead (review the diff before committing).

use std::path::{Path, PathBuf};

const CORPUS: &str = "tests/corpus";

/// What a user sees for one case. Kept in one function so the harness can switch to running
/// the real binary (`phoenix check --config-dir <etc>`, exit 2, stderr) in one place.
fn run_case(etc: &Path) -> String {
    match phoenix::inventory::load(etc) {
        Err(errors) => phoenix::inventory::render(&errors),
        // Warning-only cases load; what the user sees is the warnings.
        Ok(inv) if inv.warnings.is_empty() => "(no problems)\n".to_string(),
        Ok(inv) => inv
            .warnings
            .iter()
            .map(|w| phoenix::inventory::render(w))
            .collect(),
    }
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("tests/corpus exists")
        .map(|e| e.expect("readable corpus entry").path())
        .filter(|p| p.join("etc").is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn config_corpus_matches_expected_output() {
    // Paths in messages are relative to the crate root; cargo runs tests there, this makes sure.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("crate root");
    let bless = std::env::var_os("PHOENIX_BLESS").is_some_and(|v| v == "1");
    let cases = cases();
    assert!(cases.len() >= 22, "corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let actual = run_case(&case.join("etc"));
        assert!(!actual.contains("panicked"), "{}: {actual}", case.display());
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &actual).expect("write expected.txt");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "--- {} (expected)\n{expected}\n+++ actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases differ (PHOENIX_BLESS=1 rewrites them):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
