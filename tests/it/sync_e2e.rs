//! `setup → create --all → sync all` from an empty simulated host with the example, then
//! `sync all` again. The dry-run of the first sync lists exactly what its apply does, HTTP
//! actions included; Portainer is initialised once, phoenix keeps one API key (0600), the
//! agent's environment is created through multipart, every declared stack is deployed with its
//! Traefik labels and its environment; the second sync changes nothing, sends only reads to the
//! host and only GETs to Portainer, one per resource kind (plus each stack's file, the only way
//! to see a change made in Portainer's UI). No secret value appears in any output or journal.

use crate::support::phoenix::{actions, events, ok, root, stderr, without_clone_mac, Sandbox};
use crate::sync_stacks::{run_with_secrets, SECRETS};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Instant;

fn stage_outcomes(out: &std::process::Output) -> Vec<(String, String)> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "row" && e["row"]["stage"].is_string())
        .map(|e| (e["row"]["stage"].as_str().unwrap().to_string(), e["row"]["outcome"].as_str().unwrap().to_string()))
        .collect()
}

fn beside(sb: &Sandbox, suffix: &str) -> PathBuf {
    crate::support::portainer::beside(&sb.sim_state(), suffix)
}

/// The simulated Portainer's request log since the last clear: "METHOD path status".
fn portainer_requests(sb: &Sandbox) -> Vec<String> {
    crate::support::portainer::request_lines(&sb.sim_state())
}

fn clear_portainer_requests(sb: &Sandbox) {
    crate::support::portainer::clear_requests(&sb.sim_state())
}

fn portainer_db(sb: &Sandbox) -> serde_json::Value {
    let text = std::fs::read_to_string(beside(sb, ".portainer.json")).expect("Portainer's state");
    serde_json::from_str::<serde_json::Value>(&text).expect("json")["db"].clone()
}

/// The stacks the example declares on its agent VMs, from the VM configuration itself.
fn declared_stacks() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("etc/phoenix_vm_configs.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut names: Vec<String> = v["vms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|vm| vm["portainer_role"] == "agent")
        .flat_map(|vm| vm["docker_stacks"].as_array().cloned().unwrap_or_default())
        .map(|s| s.as_str().map(str::to_string).unwrap_or_else(|| s["name"].as_str().unwrap().to_string()))
        .collect();
    names.sort();
    names
}

#[test]
fn sync_all_after_create_is_exact_then_idempotent() {
    let sb = Sandbox::new();
    ok(&run_with_secrets(&sb, &["setup"]));
    ok(&run_with_secrets(&sb, &["create", "--all"]));

    sb.clear_sim_log();
    clear_portainer_requests(&sb);
    let dry = run_with_secrets(&sb, &["sync", "all", "--dry-run", "--output", "json"]);
    ok(&dry);
    assert!(sb.sim_commands().iter().all(|(_, m)| !m), "the dry-run only reads");
    let dry_requests = portainer_requests(&sb);
    assert!(dry_requests.iter().all(|r| r.starts_with("GET ")), "the dry-run only reads Portainer: {dry_requests:#?}");

    clear_portainer_requests(&sb);
    let started = Instant::now();
    let apply = run_with_secrets(&sb, &["sync", "all", "--output", "json"]);
    let first_ms = started.elapsed().as_millis();
    ok(&apply);
    let norm = |v: Vec<String>| {
        let mut v: Vec<String> = v.into_iter().map(|a| without_clone_mac(&a)).collect();
        v.sort();
        v
    };
    let planned = norm(actions(&dry));
    assert_eq!(planned, norm(actions(&apply)), "dry-run and apply differ");
    // The HTTP actions are part of the plan the dry-run showed.
    let joined = planned.join("\n");
    for want in [
        "POST /api/users/admin/init {Username: \"admin\", Password: ***}",
        "POST /api/users/<admin>/tokens",
        "POST /api/endpoints multipart(Name=\"ai-apps\", EndpointCreationType=\"2\", URL=\"tcp://ai-apps.lab.example.internal:9001\"",
        "POST /api/stacks/create/standalone/string?endpointId=<ai-apps>",
    ] {
        assert!(joined.contains(want), "the dry-run shows {want:?}:\n{joined}");
    }

    let outcomes = stage_outcomes(&apply);
    let names: Vec<&str> = outcomes.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["certs", "dns", "firewall", "portainer", "traefik", "nginx", "stacks"]);
    assert!(outcomes.iter().all(|(_, o)| o == "ok"), "{outcomes:?}");

    // Portainer: the admin initialised once, one key, the agent environment through multipart
    // (Portainer answers a JSON body with 400, so the 200 is the multipart form's).
    let reqs = portainer_requests(&sb);
    let count = |want: &str| reqs.iter().filter(|r| r.as_str() == want).count();
    assert_eq!(count("POST /api/users/admin/init 200"), 1, "{reqs:#?}");
    assert_eq!(count("POST /api/users/1/tokens 201"), 1, "{reqs:#?}");
    assert_eq!(count("POST /api/endpoints 200"), 1, "{reqs:#?}");
    assert!(reqs.iter().all(|r| !r.ends_with(" 400") && !r.ends_with(" 500")), "{reqs:#?}");
    let keys: Vec<PathBuf> =
        std::fs::read_dir(sb.state_dir().join("credentials")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(keys.len(), 1, "one stored API key: {keys:?}");
    assert_eq!(std::fs::metadata(&keys[0]).unwrap().permissions().mode() & 0o777, 0o600);
    let key = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&keys[0]).unwrap()).unwrap()["key"]
        .as_str()
        .expect("the key is stored")
        .to_string();

    let db = portainer_db(&sb);
    assert_eq!(db["users"].as_array().unwrap().len(), 1, "{}", db["users"]);
    assert_eq!(db["api_keys"].as_array().unwrap().len(), 1, "{}", db["api_keys"]);
    let endpoints = db["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert_eq!(endpoints[0]["name"], "ai-apps");
    assert_eq!(endpoints[0]["url"], "tcp://ai-apps.lab.example.internal:9001");
    // Every declared stack, on that environment, with its labels and its environment.
    let stacks = db["stacks"].as_array().unwrap();
    let mut deployed: Vec<String> = stacks.iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
    deployed.sort();
    assert_eq!(deployed, declared_stacks());
    for st in stacks {
        assert_eq!(st["endpoint_id"], endpoints[0]["id"], "{st}");
        let file = st["file_content"].as_str().unwrap();
        assert!(file.contains("traefik.http.routers.") && file.contains("entrypoints: websecure"), "{file}");
        assert!(file.contains(".lab.example.internal`)"), "the router rule is on the config's domain: {file}");
    }
    let qdrant = stacks.iter().find(|s| s["name"] == "qdrant_service").unwrap();
    let env: Vec<&str> = qdrant["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(env.contains(&"QDRANT__SERVICE__API_KEY"), "{env:?}");
    let secret_env =
        qdrant["env"].as_array().unwrap().iter().find(|e| e["name"] == "QDRANT__SERVICE__API_KEY").unwrap();
    let qdrant_key = SECRETS.iter().find(|(n, _)| *n == "QDRANT_API_KEY").unwrap().1;
    assert_eq!(secret_env["value"], qdrant_key, "the secret reference is resolved for Portainer");

    // The volume qdrant's compose file declares `external: true` exists in its VM, on the VM's
    // NFS share (compose would refuse to deploy the stack without it).
    let sim: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(sb.sim_state()).unwrap()).unwrap();
    let volume = &sim["guests"]["1002"]["os"]["docker"]["volumes"]["qdrant_data_nfs"];
    assert_eq!(
        volume["device"].as_str(),
        Some(":/tank/vm-persistent-data/1002/stacks/qdrant_service/qdrant_data_nfs"),
        "{volume}"
    );

    // And every stack runs in its VM: Portainer deployed it through the agent (compose would
    // have refused it without that volume).
    let containers = &sim["guests"]["1002"]["os"]["docker"]["containers"];
    for stack in declared_stacks() {
        let running = containers
            .as_object()
            .unwrap()
            .values()
            .filter(|c| c["project"] == stack.as_str() && c["state"] == "running")
            .count();
        assert!(running > 0, "stack {stack} runs in VM 1002: {containers}");
    }

    // Converged: nothing to do, only reads on the host, only GETs to Portainer.
    sb.clear_sim_log();
    clear_portainer_requests(&sb);
    let started = Instant::now();
    let again = run_with_secrets(&sb, &["sync", "all", "--output", "json"]);
    let second_ms = started.elapsed().as_millis();
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new(), "a converged lab needs nothing");
    let commands = sb.sim_commands();
    let writes: Vec<_> = commands.iter().filter(|(_, m)| *m).collect();
    assert!(writes.is_empty(), "the second sync sends only reads: {writes:?}");
    let reqs = portainer_requests(&sb);
    assert!(reqs.iter().all(|r| r.starts_with("GET ") && (r.ends_with(" 200") || r.ends_with(" 204"))), "{reqs:#?}");
    // One list per resource kind (status, admin, key, environments, stacks) and each stack's file.
    let lists = reqs.iter().filter(|r| !r.contains("/file ")).count();
    let files = reqs.len() - lists;
    assert!(lists <= 5, "{reqs:#?}");
    assert_eq!(files, declared_stacks().len(), "{reqs:#?}");
    for kind in ["/api/endpoints ", "/api/stacks "] {
        assert_eq!(reqs.iter().filter(|r| r.contains(kind)).count(), 1, "one list of {kind}: {reqs:#?}");
    }

    // No secret value (nor the stored key) in what phoenix printed or journalled, in the
    // simulator's command log or in Portainer's request log.
    let mut haystacks = vec![];
    for (what, out) in [("dry-run", &dry), ("apply", &apply), ("again", &again)] {
        haystacks.push((format!("{what} stdout"), String::from_utf8_lossy(&out.stdout).into_owned()));
        haystacks.push((format!("{what} stderr"), stderr(out)));
    }
    for (what, path) in [
        ("journal", sb.state_dir().join("journal.jsonl")),
        ("sim command log", beside(&sb, ".commands.jsonl")),
        ("Portainer request log", beside(&sb, ".portainer.jsonl")),
    ] {
        haystacks.push((what.to_string(), std::fs::read_to_string(path).unwrap_or_default()));
    }
    for (what, text) in &haystacks {
        for (name, value) in SECRETS {
            assert!(!text.contains(value), "{what} shows the value of {name}");
        }
        assert!(!text.contains(&key), "{what} shows the API key");
    }
    eprintln!(
        "sync all: first {first_ms} ms, converged {second_ms} ms with {} host commands (all reads) and {} Portainer requests (all GET)",
        commands.len(),
        reqs.len()
    );
}
