//! `phoenix api`: the text reference, generated from the engine's function metadata (the same
//! signatures and doc comments the functions were registered with).

use serde_json::Value;

pub fn render_text(metadata_json: &str) -> Result<String, String> {
    let meta: Value = serde_json::from_str(metadata_json).map_err(|e| format!("bad API metadata: {e}"))?;
    let modules = meta.get("modules").and_then(Value::as_object).ok_or("API metadata has no modules")?;
    let mut names: Vec<&String> = modules.keys().collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        let m = &modules[name];
        let doc = m.get("doc").and_then(Value::as_str).unwrap_or("").trim();
        out.push_str(&format!("{name}::  {}\n", doc.trim_start_matches("//!").trim()));
        let mut fns: Vec<&Value> =
            m.get("functions").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        fns.sort_by_key(|f| f.get("signature").and_then(Value::as_str).unwrap_or("").to_string());
        for f in fns {
            let sig = f.get("signature").and_then(Value::as_str).unwrap_or("?");
            out.push_str(&format!("\n  {name}::{sig}\n"));
            for line in f.get("docComments").and_then(Value::as_array).into_iter().flatten() {
                let text = line.as_str().unwrap_or("").trim_start_matches("///").trim();
                out.push_str(&format!("      {text}\n"));
            }
        }
        out.push('\n');
    }
    Ok(out)
}
