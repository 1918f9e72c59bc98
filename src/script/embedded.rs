//! Copies of `plans/` and `stdlib/` compiled into the binary, so an installed `phoenix` works
//! alone. Files on disk win (operators override a plan or module by editing the file).
//! `tests::every_file_is_embedded` fails when a new .rhai file is not listed here.

/// (path relative to the project root, content)
pub const FILES: &[(&str, &str)] = &[
    ("plans/setup.rhai", include_str!("../../plans/setup.rhai")),
    ("plans/inspect.rhai", include_str!("../../plans/inspect.rhai")),
    ("plans/firewall.rhai", include_str!("../../plans/firewall.rhai")),
    ("stdlib/stages/zfs.rhai", include_str!("../../stdlib/stages/zfs.rhai")),
    ("stdlib/stages/storage.rhai", include_str!("../../stdlib/stages/storage.rhai")),
    ("stdlib/stages/nfs.rhai", include_str!("../../stdlib/stages/nfs.rhai")),
    ("stdlib/stages/firewall.rhai", include_str!("../../stdlib/stages/firewall.rhai")),
];

pub fn get(path: &str) -> Option<&'static str> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, text)| *text)
}

/// Names of the embedded plans (`setup` for `plans/setup.rhai`).
pub fn plan_names() -> impl Iterator<Item = &'static str> {
    FILES.iter().filter_map(|(p, _)| p.strip_prefix("plans/")?.strip_suffix(".rhai"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rhai_files(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                rhai_files(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rhai") {
                if let Ok(rel) = p.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
    }

    #[test]
    fn every_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk = Vec::new();
        rhai_files(&root.join("plans"), root, &mut on_disk);
        rhai_files(&root.join("stdlib"), root, &mut on_disk);
        for f in &on_disk {
            assert!(get(f).is_some(), "{f} is not listed in src/script/embedded.rs");
        }
        for (p, _) in FILES {
            assert!(on_disk.iter().any(|f| f == p), "{p} is embedded but missing on disk");
        }
    }
}
