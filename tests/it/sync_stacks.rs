//! The Portainer and stacks sync stages on the simulator, for what needs no HTTP: the server
//! deployed in its VM from the rendered compose file (TLS flags, cert mount, data volume on the
//! NFS share), agents running with AGENT_SECRET and healthy on /ping, the stacks' files placed
//! where their compose binds expect them; dry-run equals apply, the second sync changes
//! nothing, and no secret value appears in any output, the journal or the simulator's command log.

use crate::support::phoenix::{actions, ok, root, stderr, Sandbox};
use std::process::Output;

/// The secrets the example configuration refers to, with values to search for.
pub const SECRETS: &[(&str, &str)] = &[
    ("PORTAINER_AGENT_SECRET", "agent-s3cret-7f3a9"),
    ("PORTAINER_ADMIN_PASSWORD", "admin-pw-Q8r2x"),
    ("QDRANT_API_KEY", "qdrant-k3y-Lm4p0"),
    ("NOTES_DB_PASSWORD", "notes-pw-Zt6w1"),
];

/// `phoenix <args>` on the example with its secrets in the environment.
pub fn run_with_secrets(sb: &Sandbox, args: &[&str]) -> Output {
    let mut c = sb.command(&root().join("etc"), args);
    for (k, v) in SECRETS {
        c.env(k, v);
    }
    c.output().expect("phoenix runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sim_state(sb: &Sandbox) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).unwrap()).unwrap()
}

fn guest_file<'a>(s: &'a serde_json::Value, id: u32, path: &str) -> &'a serde_json::Value {
    &s["guests"][id.to_string()]["files"][path]
}

fn text_of(f: &serde_json::Value) -> String {
    match &f["content"] {
        serde_json::Value::String(t) => t.clone(),
        serde_json::Value::Array(bytes) => bytes.iter().map(|b| b.as_u64().unwrap() as u8 as char).collect(),
        other => other.to_string(),
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for (name, value) in SECRETS {
        assert!(!text.contains(value), "{what} shows the value of {name}");
    }
}

#[test]
fn portainer_and_stacks_deploy_in_guest_exactly_then_idempotently_without_leaking_secrets() {
    let sb = Sandbox::new();
    ok(&run_with_secrets(&sb, &["setup"]));
    ok(&run_with_secrets(&sb, &["create", "--all"]));
    // Portainer serves its certificate and reaches agents by name: both come first.
    ok(&run_with_secrets(&sb, &["sync", "certs", "dns"]));

    sb.clear_sim_log();
    let dry = run_with_secrets(&sb, &["sync", "portainer", "stacks", "--dry-run", "--output", "json"]);
    ok(&dry);
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "the dry-run only reads");
    let apply = run_with_secrets(&sb, &["sync", "portainer", "stacks", "--output", "json"]);
    ok(&apply);
    let mut planned = actions(&dry);
    let mut done = actions(&apply);
    planned.sort();
    done.sort();
    assert_eq!(planned, done, "dry-run and apply differ");
    let joined = done.join("\n");
    for want in [
        "docker volume create",
        "docker compose -f /opt/phoenix/portainer/docker-compose.yml",
        "docker run -d --name portainer_agent",
    ] {
        assert!(joined.contains(want), "{want}: {joined}");
    }
    assert!(!joined.contains("chmod -R 777") && !joined.contains(" 777 "), "no world-writable data: {joined}");

    let s = sim_state(&sb);
    // The server: running from the rendered compose file, with Portainer's own TLS flags.
    let server = &s["guests"]["1001"]["os"]["docker"];
    assert_eq!(server["containers"]["portainer_server"]["state"], "running", "{server}");
    assert!(
        server["volumes"]["portainer_data_nfs"]["device"].as_str().unwrap().ends_with("/portainer/data"),
        "{server}"
    );
    let compose = text_of(guest_file(&s, 1001, "/opt/phoenix/portainer/docker-compose.yml"));
    assert!(compose.contains("--sslcert") && compose.contains("/certs/portainer.crt"), "{compose}");
    assert!(
        compose.contains("/etc/portainer/certs:/certs:ro") && compose.contains("unix:///var/run/docker.sock"),
        "{compose}"
    );
    assert!(!compose.contains("--tlsverify"), "{compose}");
    let env = guest_file(&s, 1001, "/opt/phoenix/portainer/.env");
    assert_eq!(env["mode"], 0o600, "{env}");
    assert!(text_of(env).contains("AGENT_SECRET='agent-s3cret-7f3a9'"), "the server gets the shared secret");
    // The agent: running with the same secret from its env file, healthy on /ping.
    let agent = &s["guests"]["1002"]["os"]["docker"]["containers"]["portainer_agent"];
    assert_eq!(agent["state"], "running", "{agent}");
    assert_eq!(agent["env_keys"][0], "@/opt/phoenix/portainer-agent/agent.env", "{agent}");
    let agent_env = guest_file(&s, 1002, "/opt/phoenix/portainer-agent/agent.env");
    assert_eq!(text_of(agent_env), "AGENT_SECRET=agent-s3cret-7f3a9\n");
    assert_eq!(agent_env["mode"], 0o600);
    // The stack file where the qdrant compose bind expects it.
    let placed = text_of(guest_file(&s, 1002, "/opt/phoenix/stacks/qdrant_service/config/production.yaml"));
    let source = std::fs::read_to_string(root().join("etc/stacks/qdrant_service/config/production.yaml")).unwrap();
    assert_eq!(placed, source);

    // No secret value in what phoenix printed, journalled or sent as commands.
    for (what, out) in [("dry-run", &dry), ("apply", &apply)] {
        assert_no_secret(what, &stdout(out));
        assert_no_secret(what, &stderr(out));
    }
    let log = std::fs::read_to_string(format!("{}.commands.jsonl", sb.sim_state().display())).unwrap_or_default();
    assert_no_secret("the simulator's command log", &log);
    for e in walkdir(&sb.state_dir()) {
        assert_no_secret(&format!("state file {}", e.display()), &String::from_utf8_lossy(&std::fs::read(&e).unwrap()));
    }

    // Converged: nothing to do, only reads.
    sb.clear_sim_log();
    let again = run_with_secrets(&sb, &["sync", "portainer", "stacks", "--output", "json"]);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new(), "a converged lab needs nothing");
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "the second sync only reads");

    // A stopped agent is started again (recreated), and only it.
    let h = &sb;
    let mut st = sim_state(h);
    st["guests"]["1002"]["os"]["docker"]["containers"]["portainer_agent"]["state"] = "exited".into();
    std::fs::write(h.sim_state(), serde_json::to_string(&st).unwrap()).unwrap();
    let fix = run_with_secrets(&sb, &["sync", "portainer", "--output", "json"]);
    ok(&fix);
    let fixed = actions(&fix).join("\n");
    assert!(fixed.contains("the container is exited") && !fixed.contains("docker compose"), "{fixed}");
}

#[test]
fn sync_stack_syncs_one_stack_and_refuses_an_undeclared_one() {
    let sb = Sandbox::new();
    ok(&run_with_secrets(&sb, &["setup"]));
    ok(&run_with_secrets(&sb, &["create", "--all"]));
    // Portainer serves its certificate and reaches agents by name: both come first.
    ok(&run_with_secrets(&sb, &["sync", "certs", "dns"]));
    let out = run_with_secrets(&sb, &["sync", "stack", "nope", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("stack nope is not in any VM's docker_stacks"), "{}", stdout(&out));
    let out = run_with_secrets(&sb, &["sync", "stack", "qdrant_service", "--to=1001", "--dry-run"]);
    assert!(stdout(&out).contains("stack qdrant_service is not in VM 1001's docker_stacks"), "{}", stdout(&out));
    // Without Portainer a stack cannot be deployed: nothing listens yet (the simulated lab runs
    // no Portainer before `sync portainer`), and the stage fails naming the URL.
    let out = run_with_secrets(&sb, &["sync", "stack", "qdrant_service", "--to=1002", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("portainer.lab.example.internal") && said.contains("Connection refused"), "{said}");
    let placed = actions(&out).join("\n");
    assert!(placed.contains("/opt/phoenix/stacks/qdrant_service/config/production.yaml"), "{placed}");
    ok(&run_with_secrets(&sb, &["sync", "portainer"]));
    let out = run_with_secrets(&sb, &["sync", "stack", "qdrant_service", "--to=1002", "--output", "json"]);
    ok(&out);
    let done = actions(&out).join("\n");
    assert!(done.contains("create portainer stack qdrant_service (ai-apps)"), "{done}");
    assert!(!done.contains("notes_app"), "only the named stack: {done}");
    let out = run_with_secrets(&sb, &["sync", "dns", "--to=1002", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "--to without `stack` is a usage error: {}", stderr(&out));
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// What compose::stack renders for the qdrant stack on VM 1002: the router on the config's
/// domain via websecure with TLS and the service port, the stack file bound where phoenix puts
/// it, the variables with the secret as a Secret that a script prints as ***.
#[test]
fn a_rendered_stack_has_its_labels_binds_and_masked_secrets() {
    let sb = Sandbox::new();
    let plan = sb.state_dir().with_file_name("render.rhai");
    std::fs::write(
        &plan,
        r#"let s = compose::stack("qdrant_service", 1002);
log::info(s.compose);
for v in s.env { log::info(`env ${v.name}=${v.value} secret=${v.secret}`); }
for f in s.files { log::info(`file ${f.path}`); }
"#,
    )
    .unwrap();
    let out = run_with_secrets(&sb, &["run", plan.to_str().unwrap()]);
    ok(&out);
    let text = stdout(&out);
    for want in [
        "traefik.http.routers.qdrant.rule: Host(`qdrant.lab.example.internal`)",
        "traefik.http.routers.qdrant.entrypoints: websecure",
        "traefik.http.routers.qdrant.tls: 'true'",
        "traefik.http.services.qdrant.loadbalancer.server.port: '6333'",
        "/opt/phoenix/stacks/qdrant_service/config/production.yaml:/qdrant/config/production.yaml:ro",
        "env QDRANT_VERSION=v1.12.4 secret=false",
        "env QDRANT__SERVICE__API_KEY=*** secret=true",
        "file /opt/phoenix/stacks/qdrant_service/config/production.yaml",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_no_secret("a plan printing the rendered stack", &text);
    assert_no_secret("a plan printing the rendered stack", &stderr(&out));

    // Without the secret in the environment the render fails with the variable's name.
    let mut c = sb.command(&root().join("etc"), &["run", plan.to_str().unwrap()]);
    c.env_remove("QDRANT_API_KEY");
    let out = c.output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("QDRANT_API_KEY") || stdout(&out).contains("QDRANT_API_KEY"), "{}", stderr(&out));
}
