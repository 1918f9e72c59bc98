//! The built-in verbs through the binary: check, graph, api, help.

use crate::support::phoenix::{bin, root, stderr};
use std::process::Command;

fn phoenix(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("PHOENIX_CONFIG_DIR")
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn check_passes_on_the_example_configuration() {
    let out = phoenix(&["check", "--config-dir", "etc"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ok: 8 LXC, 3 VM, 3 stacks in etc;"), "{text}");
    assert!(text.contains("setup"), "{text}");
}

#[test]
fn api_lists_every_function_with_signature_and_doc() {
    let out = phoenix(&["api"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for ns in ["config", "graph", "log", "host", "file", "fw", "zfs", "pvesm", "pct", "qm"] {
        assert!(
            text.contains(&format!("\n{ns}::  ")) || text.starts_with(&format!("{ns}::  ")),
            "namespace {ns} missing"
        );
    }
    assert!(text.contains("zfs::ensure_dataset(name: String, properties: Map) -> Map"), "{text}");
    assert!(text.contains("graph::walk(targets: Array, work: FnPtr) -> Map"), "{text}");
    // Every signature line is followed by at least one line of documentation.
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("  ") && !l.starts_with("      ") && l.contains("::") {
            let next = lines.get(i + 1).copied().unwrap_or("");
            assert!(next.starts_with("      ") && next.trim().len() > 10, "{l} has no documentation");
        }
    }
    let json = phoenix(&["api", "--output", "json"]);
    let meta: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON metadata");
    assert!(meta["modules"]["zfs"]["functions"].as_array().is_some_and(|f| f.len() >= 6));
}

#[test]
fn graph_renders_every_format() {
    let text = phoenix(&["graph", "--config-dir", "etc", "101"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let t = String::from_utf8_lossy(&text.stdout);
    // The closure of the gateway: itself, its clone source and its dependencies, not the GPU chain.
    assert!(t.contains("101") && t.contains("900") && t.contains("102") && t.contains("103"), "{t}");
    assert!(!t.contains("901"), "{t}");
    for (format, marker) in [("mermaid", "flowchart"), ("dot", "digraph"), ("json", "\"edges\"")] {
        let out = phoenix(&["graph", "--config-dir", "etc", "--format", format]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains(marker), "{format}");
    }
    let bad = phoenix(&["graph", "--config-dir", "etc", "4242"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("`4242` is not a declared guest id"));
}

#[test]
fn help_documents_exit_codes() {
    let out = phoenix(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["130", "invalid input", "--dry-run", "--host", "--parallel", "--state-dir", "--yes"] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
    let usage = phoenix(&["--parallel", "0", "check"]);
    assert_eq!(usage.status.code(), Some(2), "usage errors exit 2");
}
