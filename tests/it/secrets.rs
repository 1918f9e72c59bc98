//! Secret hygiene end to end: a configuration with literal secrets in every secret field goes
//! through `check`, a dry-run and an apply on the simulator (human and JSON output, `-v`), and
//! no secret value may appear in stdout, stderr, the journal, the simulator's command log or its
//! state. Literal secrets are allowed (with a warning that names the key path), never echoed.

use crate::support::phoenix::{copy_dir, root, Sandbox};
use std::path::Path;

/// Distinct values so a leak names the field it came from; shapes chosen to be found verbatim.
const SECRETS: [(&str, &str); 4] = [
    ("users.password_hash", "pwhash-Zq81xLm"),
    ("portainer_api.admin_password", "portainer-Pw-77Kx"),
    ("portainer_api.api_key", "ptr_apikey_Q9w2"),
    ("NOTES_DB_PASSWORD", "notes-db-Hk3v9"),
];

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write config");
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read config")).expect("config is JSON")
}

/// The example configuration with a literal in every secret field.
fn config_with_literal_secrets(dir: &Path) {
    copy_dir(&root().join("etc"), dir);
    let hv_path = dir.join("phoenix_hypervisor_config.json");
    let mut hv = read_json(&hv_path);
    hv["users"]["password_hash"] = SECRETS[0].1.into();
    hv["portainer_api"]["admin_password"] = SECRETS[1].1.into();
    hv["portainer_api"]["api_key"] = SECRETS[2].1.into();
    write_json(&hv_path, &hv);
    let stack_path = dir.join("stacks/notes_app/phoenix.json");
    let mut stack = read_json(&stack_path);
    for v in stack["environments"]["production"]["variables"].as_array_mut().expect("variables") {
        if v["name"] == "NOTES_DB_PASSWORD" {
            v["value"] = SECRETS[3].1.into();
        }
    }
    write_json(&stack_path, &stack);
}

/// Every file under `dir`, as lossy text.
fn all_text_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_text_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for (field, value) in SECRETS {
        assert!(!text.contains(value), "the secret of `{field}` appears in {what}:\n{text}");
    }
}

#[test]
fn literal_secrets_never_leave_phoenix() {
    let sb = Sandbox::new();
    let cfg = sb.dir.path().join("etc");
    config_with_literal_secrets(&cfg);

    let check = sb.run(&cfg, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let stderr = String::from_utf8_lossy(&check.stderr);
    // The warning is there, names the key path, and shows no value.
    assert!(stderr.contains("`users.password_hash` holds a secret in plain text"), "{stderr}");
    assert!(stderr.contains("`portainer_api.admin_password` holds a secret in plain text"), "{stderr}");
    assert_no_secret("check's stderr", &stderr);
    assert_no_secret("check's stdout", &String::from_utf8_lossy(&check.stdout));

    let runs: [&[&str]; 6] = [
        &["setup", "--dry-run", "-v"],
        &["setup", "-v"],
        // After setup: the dry-run of create checks the storages setup makes.
        &["create", "--all", "--dry-run", "--output", "json"],
        &["create", "--all", "-v"],
        &["status", "--output", "json"],
        &["create", "--all", "--output", "json"],
    ];
    for args in runs {
        let out = sb.run(&cfg, args);
        assert!(
            matches!(out.status.code(), Some(0) | Some(1)),
            "{args:?}: exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_secret(&format!("stdout of {args:?}"), &String::from_utf8_lossy(&out.stdout));
        assert_no_secret(&format!("stderr of {args:?}"), &String::from_utf8_lossy(&out.stderr));
    }
    // The runs did something (so the logs below are not vacuously clean).
    assert!(sb.sim_commands().iter().any(|(_, mutating)| *mutating), "the apply ran no mutating command");
    let journal = all_text_under(&sb.state_dir());
    assert!(journal.iter().any(|(p, _)| p.ends_with("journal.jsonl")), "no journal in {:?}", sb.state_dir());
    for (path, text) in journal {
        assert_no_secret(&path, &text);
    }
    for (path, text) in all_text_under(sb.dir.path()).into_iter().filter(|(p, _)| p.contains("sim.json")) {
        assert_no_secret(&path, &text);
    }
}

/// A problem reported next to a literal secret shows the neighbouring lines of the file; the
/// secret on one of them is masked.
#[test]
fn diagnostics_next_to_a_literal_secret_mask_it() {
    let sb = Sandbox::new();
    let cfg = sb.dir.path().join("etc");
    config_with_literal_secrets(&cfg);
    let hv_path = cfg.join("phoenix_hypervisor_config.json");
    let mut hv = read_json(&hv_path);
    // `sudo_access` sits next to `password_hash`; a wrong type there is an error at that line.
    hv["users"]["sudo_access"] = "certainly".into();
    write_json(&hv_path, &hv);
    let out = sb.run(&cfg, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sudo_access"), "{stderr}");
    assert_no_secret("check's stderr", &stderr);
}
