//! Embeds every `plans/*.rhai` and `stdlib/**/*.rhai` into the binary (see
//! src/project/embedded.rs), so an installed `phoenix` works without the project folder.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn rhai_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rhai_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rhai") {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["plans", "stdlib"] {
        println!("cargo:rerun-if-changed={dir}");
        rhai_files(&root.join(dir), &mut files);
    }
    let mut code = String::from("pub const FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let rel = f.strip_prefix(&root).expect("under the crate").to_string_lossy().replace('\\', "/");
        println!("cargo:rerun-if-changed={rel}");
        let _ = writeln!(code, "    ({rel:?}, include_str!({:?})),", f.display().to_string());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_files.rs");
    std::fs::write(&out, code).expect("write the embedded file list");
}
