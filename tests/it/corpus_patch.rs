//! Corpus cases written as a patch over the shared valid configuration, so a new bad input is
//! a few lines of `case.json` instead of a copied folder:
//!
//! ```json
//! {
//!   "file": "phoenix_lxc_configs.json",
//!   "set": {"/lxc_configs/101/name": "a\nb"},
//!   "remove": ["/lxc_configs/101/network_config/gw"],
//!   "replace": [{"file": "phoenix_lxc_configs.json", "from": "\"101\": {", "to": "\"101\": {}, \"101\": {"}],
//!   "files": {"bin/app.sh": "#!/bin/sh\n"},
//!   "symlinks": {"etc/scripts/out.sh": "/etc/passwd"},
//!   "huge": {"pointer": "/lxc_configs/101/template", "bytes": 50000000}
//! }
//! ```
//!
//! - `set` / `remove`: JSON pointers into `file` (a pointer may start with `name.json:` to
//!   edit another file); `set` creates missing object members and appends at `-`.
//! - `huge`: a string of that many bytes, generated here so no large file is committed.
//! - `replace`: raw text replacements applied after the JSON edits (for what JSON values
//!   cannot express, such as a key written twice); each `from` must occur.
//! - `files` / `symlinks`: extra files and links, relative to the folder that holds `etc/`
//!   (so `bin/` and `stacks/` beside it can be made).
//!
//! The base is `tests/corpus/_valid/etc` plus the rest of `tests/corpus/_valid` (its `bin/`).

use crate::support::phoenix::{copy_dir, root};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const CASE_FILE: &str = "case.json";
const BASE: &str = "tests/corpus/_valid";

/// Writes the case's configuration under `into` and returns its `etc` folder.
pub fn materialise(case: &Path, into: &Path) -> PathBuf {
    let spec_path = root().join(case).join(CASE_FILE);
    let text = std::fs::read_to_string(&spec_path).unwrap_or_else(|e| panic!("{}: {e}", spec_path.display()));
    let spec: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", spec_path.display()));
    copy_dir(&root().join(BASE), into);
    let _ = std::fs::remove_file(into.join("README.md"));
    let etc = into.join("etc");
    let default_file = spec["file"].as_str().unwrap_or("phoenix_lxc_configs.json");

    let mut edits: Vec<(String, String, Option<Value>)> = Vec::new();
    if let Some(set) = spec["set"].as_object() {
        edits.extend(set.iter().map(|(p, v)| split(p, default_file, Some(v.clone()))));
    }
    if let Some(huge) = spec.get("huge") {
        let bytes = huge["bytes"].as_u64().expect("huge.bytes") as usize;
        let pointer = huge["pointer"].as_str().expect("huge.pointer");
        edits.push(split(pointer, default_file, Some(Value::String("x".repeat(bytes)))));
    }
    for p in spec["remove"].as_array().into_iter().flatten() {
        edits.push(split(p.as_str().expect("remove: pointers"), default_file, None));
    }
    for (file, pointer, value) in edits {
        let path = etc.join(&file);
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("base file")).expect("JSON");
        match value {
            Some(v) => set(&mut doc, &pointer, v),
            None => remove(&mut doc, &pointer),
        }
        std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("serialise") + "\n").expect("write");
    }
    for r in spec["replace"].as_array().into_iter().flatten() {
        let path = etc.join(r["file"].as_str().unwrap_or(default_file));
        let text = std::fs::read_to_string(&path).expect("file to edit");
        let from = r["from"].as_str().expect("replace.from");
        assert!(text.contains(from), "{}: `{from}` does not occur in {}", case.display(), path.display());
        std::fs::write(&path, text.replacen(from, r["to"].as_str().expect("replace.to"), 1)).expect("write");
    }
    for (rel, content) in spec["files"].as_object().into_iter().flatten() {
        let path = into.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content.as_str().expect("file content")).expect("write file");
    }
    for (rel, target) in spec["symlinks"].as_object().into_iter().flatten() {
        let path = into.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let target = target.as_str().expect("link target").replace("[CASE]", &into.display().to_string());
        std::os::unix::fs::symlink(target, &path).expect("symlink");
    }
    etc
}

/// `file.json:/pointer` or `/pointer` (in the default file).
fn split(pointer: &str, default_file: &str, value: Option<Value>) -> (String, String, Option<Value>) {
    match pointer.split_once(":/") {
        Some((file, rest)) => (file.to_string(), format!("/{rest}"), value),
        None => (default_file.to_string(), pointer.to_string(), value),
    }
}

fn tokens(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect()
}

fn set(doc: &mut Value, pointer: &str, value: Value) {
    let tokens = tokens(pointer);
    let (last, parents) = tokens.split_last().expect("set: not the root");
    let mut at = doc;
    for t in parents {
        at = match at {
            Value::Object(m) => m.entry(t.clone()).or_insert_with(|| Value::Object(Default::default())),
            Value::Array(a) => a.get_mut(t.parse::<usize>().expect("array index")).expect("index in range"),
            _ => panic!("set {pointer}: {t} is not inside an object or array"),
        };
    }
    match at {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) if last == "-" => a.push(value),
        Value::Array(a) => a[last.parse::<usize>().expect("array index")] = value,
        _ => panic!("set {pointer}: the parent is not an object or array"),
    }
}

fn remove(doc: &mut Value, pointer: &str) {
    let tokens = tokens(pointer);
    let (last, parents) = tokens.split_last().expect("remove: not the root");
    let mut at = doc;
    for t in parents {
        at = match at {
            Value::Object(m) => m.get_mut(t).unwrap_or_else(|| panic!("remove {pointer}: no {t}")),
            Value::Array(a) => a.get_mut(t.parse::<usize>().expect("array index")).expect("index in range"),
            _ => panic!("remove {pointer}: {t} is not inside an object or array"),
        };
    }
    match at {
        Value::Object(m) => assert!(m.shift_remove(last).is_some(), "remove {pointer}: absent"),
        Value::Array(a) => {
            a.remove(last.parse::<usize>().expect("array index"));
        }
        _ => panic!("remove {pointer}: the parent is not an object or array"),
    }
}
