//! The `portainer::` namespace over real HTTP against the simulated Portainer that `--host
//! sim:FILE` starts beside its state: admin initialised once, an API key stored 0600 and never
//! shown, an agent environment created through multipart, a stack created then updated; a
//! converged run makes only GETs; 5xx is retried, 4xx fails with Portainer's message; the
//! dry-run of the first run lists exactly the HTTP actions its apply runs.
//!
//! The simulated Portainer answers only where the simulated lab runs it, so every lab here is
//! first deployed through phoenix itself (`Lab::new`): setup, create --all, sync certs, then the
//! server and agent containers only (`plans/deploy.rhai`), leaving the HTTP half to each test.

use crate::support::phoenix::{actions, copy_dir, ok, root, stderr, Sandbox};
use crate::sync_stacks::SECRETS;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

const PASSWORD: &str = "correct-horse-battery-42";
const STACK_SECRET: &str = "stack-secret-value-977";

fn plan(compose: &str) -> String {
    format!(
        "//! Portainer API test plan.\n\
         portainer::connect(#{{}});\n\
         let st = portainer::status(10);\n\
         log::info(`reachable=${{st.reachable}}`);\n\
         portainer::init_admin();\n\
         portainer::ensure_api_key();\n\
         let ep = portainer::ensure_endpoint(#{{ name: \"ai-apps\", url: \"tcp://10.20.0.51:9001\" }});\n\
         portainer::ensure_stack(ep, \"qdrant\", {compose:?}, #{{ MODE: \"prod\", API_SECRET: #{{ env: \"PT_STACK_SECRET\" }} }});\n\
         for st in portainer::stacks(ep.id) {{\n\
           for e in st.Env {{ log::info(`env ${{e.name}}=${{e.value}} prod=${{portainer::env_value_equals(e.value, \"prod\")}}`); }}\n\
         }}\n"
    )
}

const V1: &str = "services:\n  qdrant:\n    image: qdrant/qdrant:v1.9.0\n";
const V2: &str = "services:\n  qdrant:\n    image: qdrant/qdrant:v1.10.0\n";

struct Lab {
    sb: Sandbox,
    config: PathBuf,
}

/// Deploys only the Portainer server and the agents (the containers, no HTTP).
const DEPLOY_PLAN: &str = "//! Deploy the Portainer containers.\nimport \"sync/portainer\" as p;\n\
                           p::deploy_server(p::server_vm());\np::deploy_agents();\n";

impl Lab {
    /// The example lab with Portainer's server (VM 1001, with its certificate) and agent
    /// (VM 1002) running, deployed through phoenix; Portainer itself still empty.
    fn new() -> Lab {
        let lab = Lab::without_portainer();
        ok(&lab.phoenix(&["deploy"]));
        lab
    }

    /// The example lab created, its certificates issued, Portainer not deployed: nothing
    /// listens on 9443 yet.
    fn without_portainer() -> Lab {
        let lab = Lab::bare();
        for args in [&["setup"][..], &["create", "--all"], &["sync", "certs"]] {
            ok(&lab.phoenix(args));
        }
        lab
    }

    /// The example project on an empty simulated host.
    fn bare() -> Lab {
        let sb = Sandbox::new();
        let project = sb.dir.path().join("project");
        copy_dir(&root().join("etc"), &project.join("etc"));
        std::fs::create_dir_all(project.join("plans")).expect("plans dir");
        std::fs::write(project.join("plans/deploy.rhai"), DEPLOY_PLAN).expect("write deploy plan");
        let lab = Lab { config: project.join("etc"), sb };
        lab.set_compose(V1);
        lab
    }

    /// `phoenix <args>` with the example's secrets (the admin password is the test's).
    fn phoenix(&self, args: &[&str]) -> Output {
        let mut c = self.sb.command(&self.config, args);
        for (k, v) in SECRETS {
            c.env(k, v);
        }
        c.env("PORTAINER_ADMIN_PASSWORD", PASSWORD).env("PT_STACK_SECRET", STACK_SECRET).output().expect("phoenix runs")
    }

    fn set_compose(&self, compose: &str) {
        std::fs::write(self.config.parent().unwrap().join("plans/ptest.rhai"), plan(compose)).expect("write plan");
    }

    fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec!["ptest", "--output", "json"];
        args.extend_from_slice(extra);
        self.phoenix(&args)
    }

    fn file(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}{suffix}", self.sb.sim_state().display()))
    }

    /// The simulated Portainer's request log: (method, path, status).
    fn requests(&self) -> Vec<(String, String, u64)> {
        crate::support::portainer::requests(&self.sb.sim_state())
    }

    fn clear_requests(&self) {
        let _ = std::fs::remove_file(self.file(".portainer.jsonl"));
    }

    fn portainer(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.file(".portainer.json")).expect("portainer state"))
            .expect("json")
    }

    fn key_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.sb.state_dir().join("credentials"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }
}

fn writes(reqs: &[(String, String, u64)]) -> Vec<String> {
    reqs.iter().filter(|(m, _, _)| m != "GET").map(|(m, p, s)| format!("{m} {p} {s}")).collect()
}

fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

fn text_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn first_run_converges_over_http_and_a_second_makes_only_gets() {
    let lab = Lab::new();

    // The dry-run of the first run: reads only, and the actions the apply will run.
    let dry = lab.run(&["--dry-run"]);
    ok(&dry);
    let planned = actions(&dry);
    assert!(writes(&lab.requests()).is_empty(), "a dry-run only reads: {:?}", lab.requests());
    assert_eq!(planned.len(), 4, "{planned:#?}");
    assert!(planned[0].contains("POST /api/users/admin/init {Username: \"admin\", Password: ***}"), "{}", planned[0]);
    assert!(planned[1].contains("POST /api/users/<admin>/tokens {description: \"phoenix@"), "{}", planned[1]);
    assert!(
        planned[2].contains(
            "POST /api/endpoints multipart(Name=\"ai-apps\", EndpointCreationType=\"2\", URL=\"tcp://10.20.0.51:9001\""
        ),
        "{}",
        planned[2]
    );
    assert!(planned[3].contains("POST /api/stacks/create/standalone/string?endpointId=<ai-apps>"), "{}", planned[3]);
    assert!(planned[3].contains("{name: \"API_SECRET\", value: ***}"), "{}", planned[3]);

    lab.clear_requests();
    let apply = lab.run(&[]);
    ok(&apply);
    assert_eq!(actions(&apply), planned, "the dry-run listed exactly what the apply ran");
    let w = writes(&lab.requests());
    assert_eq!(
        w,
        [
            "POST /api/users/admin/init 200",
            "POST /api/auth 200",
            "POST /api/users/1/tokens 201",
            "POST /api/endpoints 200",
            "POST /api/stacks/create/standalone/string 200",
        ],
        "{:#?}",
        lab.requests()
    );

    // Portainer now holds what the plan declared.
    let p = lab.portainer();
    let text = p.to_string();
    assert!(text.contains("tcp://10.20.0.51:9001"), "{text}");
    assert!(text.contains("qdrant/qdrant:v1.9.0"), "{text}");

    // One key, stored 0600, used from then on; its value is nowhere else.
    let keys = lab.key_files();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(std::fs::metadata(&keys[0]).unwrap().permissions().mode() & 0o777, 0o600);
    let stored: serde_json::Value = serde_json::from_str(&text_of(&keys[0])).unwrap();
    let key = stored["key"].as_str().expect("key stored").to_string();
    assert!(key.len() > 16, "{key}");

    // A converged run: nothing to do, and only GETs reach Portainer.
    lab.clear_requests();
    let again = lab.run(&[]);
    ok(&again);
    assert!(actions(&again).is_empty(), "{:#?}", actions(&again));
    // Live env values reach the plan masked, and compare without being shown.
    let shown = both(&again);
    assert!(shown.contains(" prod=true") && !shown.contains("MODE=prod"), "{shown}");
    assert!(shown.contains("env API_SECRET=") && shown.contains(" prod=false"), "{shown}");
    let reqs = lab.requests();
    assert!(writes(&reqs).is_empty(), "{reqs:#?}");
    eprintln!("converged run: {} requests, all GET: {reqs:?}", reqs.len());
    assert!(reqs.len() <= 6, "one read per resource kind: {reqs:#?}");

    // A changed compose file: exactly one PUT, for that stack.
    lab.set_compose(V2);
    lab.clear_requests();
    let changed = lab.run(&[]);
    ok(&changed);
    let w = writes(&lab.requests());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("PUT /api/stacks/"), "{w:?}");
    assert!(lab.portainer().to_string().contains("qdrant/qdrant:v1.10.0"));

    // Secrets: the admin password, the API key and the stack secret appear in no output, log or journal.
    let mut haystacks = vec![
        ("dry stdout", String::from_utf8_lossy(&dry.stdout).into_owned()),
        ("dry stderr", stderr(&dry)),
        ("apply stdout", String::from_utf8_lossy(&apply.stdout).into_owned()),
        ("apply stderr", stderr(&apply)),
        ("again", both(&again)),
        ("changed", both(&changed)),
        ("journal", text_of(&lab.sb.state_dir().join("journal.jsonl"))),
        ("sim commands", text_of(&lab.file(".commands.jsonl"))),
        ("portainer journal", text_of(&lab.file(".portainer.jsonl"))),
    ];
    let mut debug = lab.sb.command(&lab.config, &["ptest"]);
    for (k, v) in SECRETS {
        debug.env(k, v);
    }
    let debug = debug
        .env("PHOENIX_LOG", "debug")
        .env("PORTAINER_ADMIN_PASSWORD", PASSWORD)
        .env("PT_STACK_SECRET", STACK_SECRET)
        .output()
        .unwrap();
    haystacks.push(("debug log", both(&debug)));
    assert!(stderr(&debug).contains("GET /api/stacks"), "the debug log shows requests: {}", stderr(&debug));
    for (what, text) in &haystacks {
        for secret in [PASSWORD, STACK_SECRET, key.as_str()] {
            assert!(!text.contains(secret), "{what} holds a secret:\n{text}");
        }
    }
}

#[test]
fn server_errors_are_retried_and_client_errors_fail_with_portainers_message() {
    let lab = Lab::new();
    std::fs::write(
        lab.file(".portainer.faults.json"),
        r#"[{"method": "GET", "path": "/api/endpoints", "status": 503, "times": 2},
            {"method": "POST", "path": "/api/stacks/create/*", "status": 502, "times": 1},
            {"method": "GET", "path": "/api/stacks", "too_many": true, "times": 1}]"#,
    )
    .unwrap();
    let out = lab.run(&[]);
    ok(&out);
    let reqs = lab.requests();
    let statuses: Vec<u64> = reqs.iter().filter(|(_, p, _)| p == "/api/endpoints").map(|r| r.2).collect();
    assert!(statuses.starts_with(&[503, 503, 200]), "{reqs:#?}");
    let creates: Vec<u64> =
        reqs.iter().filter(|(m, p, _)| m == "POST" && p.starts_with("/api/stacks/create")).map(|r| r.2).collect();
    assert_eq!(creates, [502, 200], "{reqs:#?}");
    // 429 with Retry-After: 1 — waited for, then retried.
    let lists: Vec<u64> = reqs.iter().filter(|(m, p, _)| m == "GET" && p == "/api/stacks").map(|r| r.2).collect();
    assert!(lists.starts_with(&[429, 200]), "{reqs:#?}");

    // A 4xx is Portainer refusing: no retry, the plan fails with its message.
    lab.set_compose(V2);
    std::fs::write(
        lab.file(".portainer.faults.json"),
        r#"[{"method": "PUT", "path": "/api/stacks/*", "status": 400, "times": 0}]"#,
    )
    .unwrap();
    lab.clear_requests();
    let failed = lab.run(&[]);
    assert_ne!(failed.status.code(), Some(0));
    let all = both(&failed);
    assert!(all.contains("HTTP 400: Simulated fault (Injected HTTP 400 by the simulator)"), "{all}");
    let puts = lab.requests().iter().filter(|(m, _, _)| m == "PUT").count();
    assert_eq!(puts, 1, "a 4xx is not retried: {:#?}", lab.requests());
}

#[test]
fn a_refused_stored_key_is_replaced_and_the_stale_one_revoked() {
    let lab = Lab::new();
    ok(&lab.run(&[]));
    let keys = lab.key_files();
    let first: serde_json::Value = serde_json::from_str(&text_of(&keys[0])).unwrap();
    // The key is revoked behind phoenix's back (as if in Portainer's UI)… then a stale phoenix
    // key is left: forge the stored one into a wrong value.
    let mut forged = first.clone();
    forged["key"] = serde_json::Value::String("ptr_not-a-valid-key-000000000000000000000".into());
    std::fs::write(&keys[0], forged.to_string()).unwrap();
    lab.clear_requests();
    let out = lab.run(&[]);
    ok(&out);
    let w = writes(&lab.requests());
    let old_id = first["key_id"].as_u64().unwrap();
    assert_eq!(
        w,
        // One login for the rehearsal (to read with a session), one for the apply (to make the key).
        [
            "POST /api/auth 200".to_string(),
            "POST /api/auth 200".into(),
            "POST /api/users/1/tokens 201".into(),
            format!("DELETE /api/users/1/tokens/{old_id} 204")
        ],
        "{w:#?}\n{:#?}",
        lab.requests()
    );
    let now: serde_json::Value = serde_json::from_str(&text_of(&lab.key_files()[0])).unwrap();
    assert_ne!(now["key"], first["key"]);
    lab.clear_requests();
    ok(&lab.run(&[]));
    assert!(writes(&lab.requests()).is_empty(), "{:#?}", lab.requests());
}

/// A first sync deploys Portainer in the same plan: its dry-run finds no server (Portainer is
/// not deployed on the simulated lab, so the connection is refused, as on a real one) and must
/// still show every action the apply will take against a fresh one, without failing.
#[test]
fn a_dry_run_before_the_server_exists_plans_the_whole_setup() {
    let lab = Lab::without_portainer();
    let out = lab.run(&["--dry-run"]);
    ok(&out);
    let planned = actions(&out);
    assert!(both(&out).contains("reachable=false"), "{}", both(&out));
    assert!(!lab.file(".portainer.json").exists(), "no simulated Portainer was started");
    let kinds: Vec<&str> =
        planned.iter().map(|a| a.split(" :: ").nth(1).unwrap_or("").split(" {").next().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "POST /api/users/admin/init",
            "POST /api/users/<admin>/tokens",
            "POST /api/endpoints multipart(Name=\"ai-apps\", EndpointCreationType=\"2\", URL=\"tcp://10.20.0.51:9001\", GroupID=\"1\", TLS=\"true\", TLSSkipVerify=\"true\", TLSSkipClientVerify=\"true\")",
            "POST /api/stacks/create/standalone/string?endpointId=<ai-apps>",
        ],
        "{planned:#?}"
    );
    // The apply cannot pretend: nothing listens, so it fails naming where it connected.
    let apply = lab.run(&[]);
    assert_ne!(apply.status.code(), Some(0), "{}", both(&apply));
    let text = both(&apply);
    assert!(
        text.contains("https://portainer.lab.example.internal:9443") && text.contains("Connection refused"),
        "{text}"
    );
    assert!(writes(&lab.requests()).is_empty());
}

/// A stack changed in Portainer's UI is drift: the dry-run shows it, the apply repairs it. Lost
/// Portainer data: the initialisation path runs again cleanly, with a new key.
#[test]
fn ui_drift_is_repaired_and_lost_data_is_initialised_again() {
    let lab = Lab::new();
    ok(&lab.run(&[]));
    let state = lab.file(".portainer.json");
    let text = text_of(&state);
    assert!(text.contains("qdrant/qdrant:v1.9.0"));
    std::fs::write(&state, text.replace("qdrant/qdrant:v1.9.0", "qdrant/qdrant:latest")).unwrap();

    let dry = lab.run(&["--dry-run"]);
    ok(&dry);
    let drift = actions(&dry);
    assert_eq!(drift.len(), 1, "{drift:#?}");
    assert!(drift[0].starts_with("update portainer stack qdrant (ai-apps) (compose file differs)"), "{}", drift[0]);
    lab.clear_requests();
    let fix = lab.run(&[]);
    ok(&fix);
    assert_eq!(actions(&fix), drift);
    assert!(text_of(&state).contains("qdrant/qdrant:v1.9.0"), "repaired");

    // Portainer's data is lost (a new volume): admin, key, environment and stack come back.
    std::fs::remove_file(&state).unwrap();
    let dry = lab.run(&["--dry-run"]);
    ok(&dry);
    let again = lab.run(&[]);
    ok(&again);
    assert_eq!(actions(&again), actions(&dry));
    assert_eq!(actions(&again).len(), 4, "{:#?}", actions(&again));
    assert!(actions(&again)[1].contains("(stored key refused)"), "{:#?}", actions(&again));
    assert_eq!(lab.key_files().len(), 1);
    lab.clear_requests();
    ok(&lab.run(&[]));
    assert!(writes(&lab.requests()).is_empty(), "{:#?}", lab.requests());
}

/// Portainer's admin-initialisation window passed without an admin: status says so, the admin
/// reads as missing, and init_admin fails with Portainer's own message (the stage restarts the
/// container once and retries).
#[test]
fn a_closed_initialisation_window_is_named() {
    let lab = Lab::new();
    std::fs::write(lab.file(".portainer.faults.json"), r#"{"faults": [], "init_window_ms": 0}"#).unwrap();
    let plan = "//! Window test.\nlet st = portainer::status();\nlog::info(`timed_out=${st.init_timed_out}`);\n\
                log::info(`admin=${portainer::admin_exists()}`);\nportainer::init_admin();\n";
    std::fs::write(lab.config.parent().unwrap().join("plans/ptest.rhai"), plan).unwrap();
    let out = lab.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("timed_out=true") && text.contains("admin=false"), "{text}");
    assert!(text.contains("HTTP 303: Administrator initialization timeout"), "{text}");
}
