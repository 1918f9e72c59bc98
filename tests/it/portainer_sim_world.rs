//! The simulated Portainer lives in the simulated lab: it answers only while its container runs
//! in VM 1001 (deployed by phoenix, with its certificate), follows the container's restarts and
//! stops, and pings agents that really run. So phoenix's Portainer stage passes here only when
//! it would on a real lab.

use crate::support::phoenix::{actions, copy_dir, events, ok, root, stderr, Sandbox};
use crate::sync_stacks::SECRETS;
use std::path::PathBuf;
use std::process::Output;

/// The example project on a fresh simulated host, with room for the test's own plans.
struct World {
    sb: Sandbox,
    config: PathBuf,
}

impl World {
    /// The example after `setup`, `create --all` and `sync certs`, with only the Portainer
    /// server and agents deployed (no HTTP yet).
    fn deployed() -> World {
        let w = World::new();
        ok(&w.phoenix(&["setup"]));
        ok(&w.phoenix(&["create", "--all"]));
        ok(&w.phoenix(&["sync", "certs"]));
        w.plan("deploy", DEPLOY);
        ok(&w.phoenix(&["deploy"]));
        w
    }

    fn new() -> World {
        let sb = Sandbox::new();
        let project = sb.dir.path().join("project");
        copy_dir(&root().join("etc"), &project.join("etc"));
        std::fs::create_dir_all(project.join("plans")).expect("plans dir");
        World { config: project.join("etc"), sb }
    }

    fn phoenix(&self, args: &[&str]) -> Output {
        let mut c = self.sb.command(&self.config, args);
        for (k, v) in SECRETS {
            c.env(k, v);
        }
        c.output().expect("phoenix runs")
    }

    fn plan(&self, name: &str, text: &str) {
        std::fs::write(self.config.parent().unwrap().join(format!("plans/{name}.rhai")), text).expect("write plan");
    }

    fn file(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}{suffix}", self.sb.sim_state().display()))
    }

    fn sim(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.sb.sim_state()).unwrap()).unwrap()
    }

    fn container(&self, vm: u32, name: &str) -> serde_json::Value {
        self.sim()["guests"][vm.to_string()]["os"]["docker"]["containers"][name].clone()
    }

    /// (method, path, status) of every request the simulated Portainer answered.
    fn requests(&self) -> Vec<(String, String, u64)> {
        crate::support::portainer::requests(&self.sb.sim_state())
    }
}

fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

const DEPLOY: &str = "//! Deploy the Portainer containers only.\nimport \"sync/portainer\" as p;\n\
                      p::deploy_server(p::server_vm());\np::deploy_agents();\n";

/// Portainer's admin-initialisation window has passed when phoenix first reaches it: the sync
/// stage says so, restarts the container once (`docker restart portainer_server`), the
/// simulator follows the restart (a new window) and the admin is initialised; exit 0. The
/// second sync changes nothing.
#[test]
fn a_passed_initialisation_window_is_reopened_by_one_restart_through_the_sync_stage() {
    let w = World::new();
    ok(&w.phoenix(&["setup"]));
    ok(&w.phoenix(&["create", "--all"]));
    // The lab's DNS first: Portainer reaches the agent by its name (portainer_agent_hostname).
    ok(&w.phoenix(&["sync", "certs", "dns"]));
    std::fs::write(w.file(".portainer.faults.json"), r#"{"faults": [], "clock_advance_ms": 600000}"#).unwrap();
    let out = w.phoenix(&["sync", "portainer", "--output", "json"]);
    let text = both(&out);
    // Recovered without a failed action: the stage asks whether the window passed before it
    // tries, so the run exits 0.
    ok(&out);
    let stage = events(&out).into_iter().find(|e| e["row"]["stage"] == "portainer").expect("stage row");
    assert_eq!(stage["row"]["outcome"], "ok", "{text}");
    let summary = events(&out).into_iter().find(|e| e["event"] == "run_finished").unwrap();
    assert_eq!(summary["failed"].as_u64(), Some(0), "{text}");
    let warned = text.matches("initialisation window has passed: restarting portainer_server").count();
    assert_eq!(warned, 1, "warned once: {text}");
    let restarts: Vec<String> =
        actions(&out).into_iter().filter(|a| a.contains("docker restart portainer_server")).collect();
    assert_eq!(restarts.len(), 1, "{:#?}", actions(&out));
    assert_eq!(w.container(1001, "portainer_server")["restarts"], 1);
    let inits: Vec<u64> =
        w.requests().iter().filter(|(m, p, _)| m == "POST" && p == "/api/users/admin/init").map(|r| r.2).collect();
    assert_eq!(inits, [200], "initialised once, after the restart: {:#?}", w.requests());

    let again = w.phoenix(&["sync", "portainer", "--output", "json"]);
    ok(&again);
    assert_eq!(actions(&again), Vec::<String>::new(), "converged");
    assert!(!both(&again).contains("initialisation window has passed"), "{}", both(&again));
}

/// Portainer deployed without its certificate files dies at start (docker keeps restarting
/// it): the deploy says so with the remedy, nothing answers, and phoenix fails naming the URL
/// instead of passing.
#[test]
fn a_server_deployed_without_its_certificate_does_not_answer() {
    let w = World::new();
    ok(&w.phoenix(&["setup"]));
    ok(&w.phoenix(&["create", "--all"]));
    // No `sync certs`: /etc/portainer/certs is empty in VM 1001.
    w.plan("deploy", DEPLOY);
    let deploy = w.phoenix(&["deploy"]);
    // 1, not 2: the plan was sound (its rehearsal passed); the host did not do what it should.
    assert_eq!(deploy.status.code(), Some(1), "{}", both(&deploy));
    let said = both(&deploy);
    assert!(
        said.contains("the Portainer server did not start in VM 1001: portainer_server is restarting")
            && said.contains("phoenix sync certs"),
        "{said}"
    );
    let server = w.container(1001, "portainer_server");
    assert_eq!(server["state"], "restarting", "{server}");
    assert_eq!(server["exit_reason"], "open /certs/portainer.crt: no such file or directory", "{server}");
    w.plan("probe", "//! Reach Portainer.\nportainer::connect(#{});\nportainer::status(2);\n");
    let out = w.phoenix(&["probe"]);
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    let text = both(&out);
    assert!(
        text.contains("https://portainer.lab.example.internal:9443") && text.contains("Connection refused"),
        "{text}"
    );
    // The URL as the operator knows it, never the tunnel's local port.
    for (i, _) in text.match_indices("portainer.lab.example.internal:") {
        let port: String =
            text[i + "portainer.lab.example.internal:".len()..].chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(port, "9443", "{text}");
    }
    assert!(!w.file(".portainer.json").exists(), "no simulated Portainer was started");

    // An address in the URL cannot be pointed at the lab through the tunnel: refused, named.
    w.plan("byip", "//! Reach Portainer by address.\nportainer::connect(#{ url: \"https://10.20.0.50:9443\" });\n");
    let out = w.phoenix(&["byip"]);
    assert_ne!(out.status.code(), Some(0));
    let text = both(&out);
    assert!(text.contains("https://10.20.0.50:9443 names an address") && text.contains("portainer_hostname"), "{text}");
}

/// Stopping the container in the middle of a run: the next request is refused; starting it
/// again is a new process (a restart the simulator follows) and it answers again.
#[test]
fn a_stopped_container_refuses_connections_until_it_runs_again() {
    let w = World::deployed();
    w.plan(
        "cycle",
        "//! Stop and start Portainer's container between requests.\n\
         portainer::connect(#{});\n\
         log::info(`before=${portainer::status(5).reachable}`);\n\
         guest::exec(1001, [\"docker\", \"stop\", \"portainer_server\"], #{ reason: \"test: stop Portainer\" });\n\
         let down = \"answered\";\n\
         try { portainer::status(1); } catch (e) { down = `${e}`; }\n\
         log::info(`while stopped: ${down}`);\n\
         guest::exec(1001, [\"docker\", \"start\", \"portainer_server\"], #{ reason: \"test: start Portainer\" });\n\
         log::info(`after=${portainer::status(5).reachable}`);\n",
    );
    let out = w.phoenix(&["cycle"]);
    ok(&out);
    let text = both(&out);
    assert!(text.contains("before=true"), "{text}");
    assert!(text.contains("while stopped: ") && text.contains("Connection refused"), "{text}");
    assert!(!text.contains("while stopped: answered"), "{text}");
    assert!(text.contains("after=true"), "{text}");
    assert_eq!(
        w.container(1001, "portainer_server")["restarts"],
        1,
        "docker start of a stopped container: a new process"
    );
}

/// Environment creation pings the agent in the simulated lab: with the agent container stopped
/// in VM 1002, Portainer cannot reach it and the creation fails with Portainer's message.
#[test]
fn an_environment_for_a_stopped_agent_is_refused_by_portainer() {
    let w = World::deployed();
    w.plan(
        "env",
        "//! An environment for the agent in VM 1002.\n\
         portainer::init_admin();\nportainer::ensure_api_key();\n\
         portainer::ensure_endpoint(#{ name: \"ai-apps\", url: \"tcp://10.20.0.51:9001\" });\n",
    );
    w.plan(
        "stop_agent",
        "//! Stop the agent.\nguest::exec(1002, [\"docker\", \"stop\", \"portainer_agent\"], #{ reason: \"test\" });\n",
    );
    ok(&w.phoenix(&["stop_agent"]));
    let out = w.phoenix(&["env"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(both(&out).contains("Unable to get environment type"), "{}", both(&out));
    assert!(both(&out).contains("10.20.0.51:9001: connect: connection refused"), "{}", both(&out));
    let creates: Vec<u64> =
        w.requests().iter().filter(|(m, p, _)| m == "POST" && p == "/api/endpoints").map(|r| r.2).collect();
    assert!(!creates.is_empty() && creates.iter().all(|s| *s == 500), "{:#?}", w.requests());
    // The agent back: the same plan converges.
    w.plan(
        "start_agent",
        "//! Start the agent.\nguest::exec(1002, [\"docker\", \"start\", \"portainer_agent\"], #{ reason: \"test\" });\n",
    );
    ok(&w.phoenix(&["start_agent"]));
    ok(&w.phoenix(&["env"]));
}

/// A Portainer started without `--sslcert` serves a self-signed certificate of its own:
/// phoenix trusts only the lab root CA and refuses it, naming the URL.
#[test]
fn a_self_signed_portainer_is_refused() {
    let w = World::deployed();
    // As if someone had started it by hand without Portainer's TLS flags.
    let mut st = w.sim();
    let c = &mut st["guests"]["1001"]["os"]["docker"]["containers"]["portainer_server"];
    c["command"] = serde_json::json!(["-H", "unix:///var/run/docker.sock"]);
    std::fs::write(w.sb.sim_state(), serde_json::to_string(&st).unwrap()).unwrap();
    w.plan("probe", "//! Reach Portainer.\nportainer::connect(#{});\nportainer::admin_exists();\n");
    let out = w.phoenix(&["probe"]);
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    let text = both(&out);
    assert!(text.contains("portainer.lab.example.internal") && text.contains("certificate"), "{text}");
    assert!(w.requests().is_empty(), "no request got through: {:#?}", w.requests());
}
