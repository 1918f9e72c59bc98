//! What an operator changes between two syncs, and what someone changed in Portainer by hand:
//! an agent that moved keeps its environment (its URL is updated, since Portainer refuses a
//! second environment of the same name); a stack's mounted file that changed is placed again and
//! the stack updated with exactly one PUT; environments and stacks no VM declares are reported and
//! removed only with --prune, and never anything that is not an agent environment; a renewed
//! certificate restarts Portainer (it reads it at start only); a lab without
//! `portainer_hostname` reaches Portainer at its VM's name on the domain.

use crate::support::phoenix::{actions, copy_dir, ok, root, stderr, Sandbox};
use crate::sync_stacks::SECRETS;
use std::path::PathBuf;
use std::process::Output;

/// The example (copied, so a test can edit it) after `setup`, `create --all` and `sync all`.
struct Lab {
    sb: Sandbox,
    config: PathBuf,
}

impl Lab {
    fn synced() -> Lab {
        Lab::synced_with(|_| {})
    }

    /// The example with `edit` applied to its copy first.
    fn synced_with(edit: impl FnOnce(&Lab)) -> Lab {
        let sb = Sandbox::new();
        let config = sb.dir.path().join("project/etc");
        copy_dir(&root().join("etc"), &config);
        let lab = Lab { sb, config };
        edit(&lab);
        for args in [&["setup"][..], &["create", "--all"], &["sync", "all"]] {
            ok(&lab.run(args));
        }
        lab
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let mut c = self.sb.command(&self.config, &all);
        for (k, v) in SECRETS {
            c.env(k, v);
        }
        c.output().expect("phoenix runs")
    }

    fn beside(&self, suffix: &str) -> PathBuf {
        crate::support::portainer::beside(&self.sb.sim_state(), suffix)
    }

    /// Portainer's requests since the last call, as "METHOD path status", leaving the log empty.
    fn take_requests(&self) -> Vec<String> {
        let lines = crate::support::portainer::request_lines(&self.sb.sim_state());
        crate::support::portainer::clear_requests(&self.sb.sim_state());
        lines
    }

    fn writes(&self) -> Vec<String> {
        self.take_requests().into_iter().filter(|r| !r.starts_with("GET ")).collect()
    }

    /// Change Portainer's database "as if in its UI" (the simulator loads it at each run).
    fn edit_portainer(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let path = self.beside(".portainer.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut v["db"]);
        std::fs::write(&path, v.to_string()).unwrap();
    }

    fn db(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.beside(".portainer.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["db"].clone()
    }

    fn edit_config(&self, file: &str, from: &str, to: &str) {
        let path = self.config.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} holds {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

fn converged(lab: &Lab, args: &[&str]) {
    let again = lab.run(args);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new());
    assert_eq!(lab.writes(), Vec::<String>::new());
}

#[test]
fn an_agent_that_moved_keeps_its_environment_with_the_new_url() {
    let lab = Lab::synced();
    lab.edit_config(
        "phoenix_vm_configs.json",
        "\"portainer_agent_hostname\": \"ai-apps.lab.example.internal\",",
        "\"portainer_agent_hostname\": \"agents.lab.example.internal\",",
    );
    lab.take_requests();
    let dry = lab.run(&["sync", "portainer", "--dry-run"]);
    ok(&dry);
    let planned = actions(&dry);
    assert_eq!(planned.len(), 1, "{planned:#?}");
    assert!(
        planned[0].contains("update portainer endpoint ai-apps (URL tcp://ai-apps.lab.example.internal:9001 → tcp://agents.lab.example.internal:9001)"),
        "{}",
        planned[0]
    );
    let apply = lab.run(&["sync", "portainer"]);
    ok(&apply);
    assert_eq!(actions(&apply), planned);
    let writes = lab.writes();
    assert_eq!(writes, ["PUT /api/endpoints/1 200"], "{writes:#?}");
    let endpoints = lab.db()["endpoints"].clone();
    assert_eq!(endpoints.as_array().unwrap().len(), 1, "{endpoints}");
    assert_eq!(endpoints[0]["url"], "tcp://agents.lab.example.internal:9001");
    assert_eq!(endpoints[0]["name"], "ai-apps");
    // Its stacks stay on it (same environment id): the stacks stage has nothing to do.
    converged(&lab, &["sync", "portainer", "stacks"]);
}

#[test]
fn a_changed_stack_file_is_placed_again_and_its_stack_updated_once() {
    let lab = Lab::synced();
    let file = "stacks/qdrant_service/config/production.yaml";
    let text = std::fs::read_to_string(lab.config.join(file)).unwrap();
    std::fs::write(lab.config.join(file), format!("{text}# tuned by the operator\n")).unwrap();
    lab.take_requests();
    let apply = lab.run(&["sync", "stacks"]);
    ok(&apply);
    let done = actions(&apply).join("\n");
    assert!(done.contains("file /opt/phoenix/stacks/qdrant_service/config/production.yaml"), "{done}");
    assert!(done.contains("update portainer stack qdrant_service (ai-apps) (stack files changed)"), "{done}");
    let writes = lab.writes();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert!(writes[0].starts_with("PUT /api/stacks/"), "{writes:#?}");
    converged(&lab, &["sync", "stacks"]);
}

#[test]
fn what_no_vm_declares_is_reported_and_removed_only_with_prune() {
    let lab = Lab::synced();
    lab.edit_portainer(|db| {
        let endpoints = db["endpoints"].as_array_mut().unwrap();
        let mut old = endpoints[0].clone();
        old["id"] = 7.into();
        old["name"] = "old-lab".into();
        old["url"] = "tcp://10.20.0.99:9001".into();
        endpoints.push(old.clone());
        // Portainer's own local environment (the Docker socket): never phoenix's to remove.
        let mut local = old;
        local["id"] = 8.into();
        local["name"] = "local".into();
        local["kind"] = 1.into();
        local["url"] = "unix:///var/run/docker.sock".into();
        endpoints.push(local);
        db["next_endpoint_id"] = 9.into();
        let stacks = db["stacks"].as_array_mut().unwrap();
        let mut stray = stacks[0].clone();
        stray["id"] = 9.into();
        stray["name"] = "hand_made".into();
        stacks.push(stray);
        db["next_stack_id"] = 10.into();
    });
    lab.take_requests();

    // Without --prune: reported, kept.
    let kept = lab.run(&["sync", "portainer", "stacks"]);
    ok(&kept);
    assert_eq!(actions(&kept), Vec::<String>::new());
    assert_eq!(lab.writes(), Vec::<String>::new());
    let out = format!("{}{}", String::from_utf8_lossy(&kept.stdout), stderr(&kept));
    assert!(out.contains("Portainer environment old-lab (tcp://10.20.0.99:9001) is not declared"), "{out}");
    assert!(out.contains("stack hand_made on environment ai-apps is not declared"), "{out}");
    assert!(!out.contains("environment local "), "{out}");

    // With --prune: exactly those two removed, the dry-run said so first.
    let dry = lab.run(&["sync", "portainer", "stacks", "--prune", "--dry-run"]);
    ok(&dry);
    let pruned = lab.run(&["sync", "portainer", "stacks", "--prune"]);
    ok(&pruned);
    assert_eq!(actions(&pruned), actions(&dry));
    let mut writes = lab.writes();
    writes.sort();
    assert_eq!(writes, ["DELETE /api/endpoints/7 204", "DELETE /api/stacks/9 204"], "{writes:#?}");
    let db = lab.db();
    let names: Vec<&str> = db["endpoints"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ai-apps", "local"]);
    converged(&lab, &["sync", "portainer", "stacks", "--prune"]);
}

#[test]
fn a_renewed_certificate_restarts_portainer_which_then_serves_it() {
    let lab = Lab::synced();
    let renewed = lab.run(&["sync", "certs", "--force"]);
    ok(&renewed);
    let done = actions(&renewed).join("\n");
    let restarts = actions(&renewed).iter().filter(|a| a.contains("docker restart portainer_server")).count();
    assert_eq!(restarts, 1, "{done}");
    assert!(done.contains("portainer.lab.example.internal changed: restart portainer_server"), "{done}");
    // The restarted Portainer serves the new certificate, which phoenix verifies against the lab CA.
    lab.take_requests();
    converged(&lab, &["sync", "portainer", "stacks"]);
}

#[test]
fn without_a_portainer_hostname_portainer_is_reached_at_its_vm_name_on_the_domain() {
    let lab = Lab::synced_with(|lab| {
        lab.edit_config(
            "phoenix_hypervisor_config.json",
            ",\n    \"portainer_hostname\": \"portainer.lab.example.internal\"",
            "",
        );
        lab.edit_config("phoenix_vm_configs.json", "\"name\": \"portainer\",", "\"name\": \"ptserver\",");
    });
    let again = lab.run(&["sync", "all", "-v"]);
    ok(&again);
    let said = format!("{}{}", String::from_utf8_lossy(&again.stdout), stderr(&again));
    assert!(said.contains("ptserver.lab.example.internal in guest 1001: valid"), "{said}");
    assert_eq!(actions(&again), Vec::<String>::new());
    assert!(lab.db()["users"].as_array().unwrap().len() == 1, "Portainer was initialised over TLS");
}

/// Stacks run in their VM: a volume the stack needs, removed there by hand, is made again by
/// the stacks stage before Portainer redeploys; Portainer itself refuses to deploy without it,
/// passing compose's error on.
#[test]
fn a_stack_needs_its_external_volume_in_its_vm_and_the_stage_makes_it_first() {
    let lab = Lab::synced();
    let drop_volume = || {
        let path = lab.sb.sim_state();
        let mut st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let volumes = st["guests"]["1002"]["os"]["docker"]["volumes"].as_object_mut().unwrap();
        assert!(volumes.remove("qdrant_data_nfs").is_some(), "the volume was there");
        std::fs::write(&path, st.to_string()).unwrap();
    };
    drop_volume();
    lab.take_requests();
    // Straight to Portainer: compose's refusal, in Portainer's words.
    std::fs::create_dir_all(lab.config.parent().unwrap().join("plans")).unwrap();
    std::fs::write(
        lab.config.parent().unwrap().join("plans/redeploy.rhai"),
        "//! Redeploy qdrant as it is.\n\
         let ep = portainer::endpoints().filter(|e| e.name == \"ai-apps\")[0];\n\
         let s = portainer::stacks(ep.id).filter(|s| s.Name == \"qdrant_service\")[0];\n\
         portainer::update_stack(s.Id, ep.id, s.Name, portainer::stack_file(s.Id) + \"\\n\", [], \"test\");\n",
    )
    .unwrap();
    let refused = lab.run(&["redeploy"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let said = format!("{}{}", String::from_utf8_lossy(&refused.stdout), stderr(&refused));
    assert!(said.contains("HTTP 500: failed to deploy a stack: external volume"), "{said}");
    assert!(said.contains("qdrant_data_nfs") && said.contains("not found"), "{said}");
    // A 5xx is retried (a restarting server answers so too), and refused each time.
    let writes = lab.writes();
    assert!(!writes.is_empty() && writes.iter().all(|w| w == "PUT /api/stacks/1 500"), "{writes:#?}");

    // The stacks stage makes the volume again; Portainer's stack is unchanged (the refused
    // update recorded nothing), so nothing else is sent.
    let fixed = lab.run(&["sync", "stacks"]);
    ok(&fixed);
    let done = actions(&fixed);
    assert_eq!(done.len(), 1, "{done:#?}");
    assert!(done[0].contains("docker volume create") && done[0].contains("qdrant_data_nfs"), "{done:#?}");
    assert_eq!(lab.writes(), Vec::<String>::new());
    converged(&lab, &["sync", "stacks"]);
}
