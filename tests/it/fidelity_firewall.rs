//! Firewall files administrators edit in the GUI (issue 7, defect 9; issue 8, firewall stage),
//! end to end through the binary on the simulator. The simulator writes the files as the GUI
//! leaves them (`phoenix_sim::gui_text`: pve-firewall's API writer) and reads them back as
//! `pve-firewall compile` does (`phoenix_sim::compile_warnings`), independently of phoenix:
//! - everything that is not phoenix's (aliases, IP sets, other groups, other options, admin
//!   rules) survives byte for byte, in `cluster.fw` and in a guest's `<id>.fw`;
//! - phoenix's rules are there and pve-firewall reads every line (no warning);
//! - a second run sends only reads; a file the GUI re-saved (its layout, its group order) costs
//!   no write either;
//! - drift inside phoenix's part is put back without touching the rest;
//! - a file phoenix cannot read is refused, not rewritten.

use crate::support::phoenix::{actions, copy_dir, events, ok, root, run, stderr, Sandbox};
use phoenix_sim::{compile_warnings, gui_text, seed_firewall_file, GuiFirewall, GuiSet, SimHost};
use std::path::PathBuf;

const CLUSTER: &str = "/etc/pve/firewall/cluster.fw";
const AI_APPS: &str = "/etc/pve/firewall/1002.fw";

fn config(sb: &Sandbox) -> PathBuf {
    let dir = sb.dir.path().join("etc");
    copy_dir(&root().join("etc"), &dir);
    dir
}

fn s(v: &str) -> String {
    v.to_string()
}

/// The cluster file an administrator made in the GUI: the firewall off, ebtables off, an alias,
/// an IP set, a security group and two rules of their own.
fn admin_cluster() -> String {
    gui_text(&GuiFirewall {
        options: vec![(s("enable"), s("0")), (s("ebtables"), s("0"))],
        aliases: vec![(s("backup"), s("192.0.2.10"), Some(s("offsite backup")))],
        ipsets: vec![GuiSet {
            name: s("admins"),
            comment: Some(s("jump hosts")),
            entries: vec![s("192.0.2.0/28"), s("!192.0.2.5")],
        }],
        rules: vec![
            s("IN DROP -source 198.51.100.7 # blocked scanner"),
            s("IN ACCEPT -source +admins -p tcp -dport 8006"),
        ],
        groups: vec![GuiSet {
            name: s("webservers"),
            comment: Some(s("web")),
            entries: vec![s("IN ACCEPT -p tcp -dport 443")],
        }],
    })
}

/// The ai-apps VM's file as the GUI left it: MAC filter off, an IP set and an admin rule.
fn admin_guest() -> String {
    gui_text(&GuiFirewall {
        options: vec![(s("macfilter"), s("0"))],
        ipsets: vec![GuiSet { name: s("monitoring"), comment: None, entries: vec![s("10.20.0.90")] }],
        rules: vec![s("IN ACCEPT -source +monitoring -p tcp -dport 9100 # node exporter")],
        ..GuiFirewall::default()
    })
}

fn seed(sb: &Sandbox, files: &[(&str, &str)]) {
    let host = SimHost::open(&sb.sim_state()).expect("sim state");
    host.with_state(|st| {
        for (name, text) in files {
            seed_firewall_file(st, name, text);
        }
    });
    host.save().expect("sim state saved");
}

fn with_host<R>(sb: &Sandbox, f: impl FnOnce(&SimHost) -> R) -> R {
    f(&SimHost::open(&sb.sim_state()).expect("sim state"))
}

fn file(sb: &Sandbox, path: &str) -> String {
    with_host(sb, |h| h.with_state(|st| String::from_utf8(st.files[path].content.clone()).expect("text")))
}

fn warnings(sb: &Sandbox) -> Vec<String> {
    with_host(sb, |h| h.with_state(|st| compile_warnings(st)))
}

fn mutating(sb: &Sandbox) -> Vec<Vec<String>> {
    sb.sim_commands().into_iter().filter(|(_, m)| *m).map(|(a, _)| a).collect()
}

/// The phoenix part of the example's cluster.fw (hypervisor `firewall` block).
const PHOENIX_GROUP: &str = "[group phoenix-host] # managed by phoenix: edits here are replaced on the next run\n\n\
IN ACCEPT -source 10.20.0.0/24 -p tcp -dport 22 # SSH from the lab LAN\n\
IN ACCEPT -source 10.20.0.0/24 -p tcp -dport 8006 # Proxmox web UI from the lab LAN\n\
IN ACCEPT -source 10.20.0.0/24 -p icmp # ping from the lab LAN\n\
IN ACCEPT -source 10.20.0.0/24 -dest 10.20.0.2 -p udp -dport 53 # DNS on the host\n\
IN ACCEPT -source 10.20.0.0/24 -dest 10.20.0.2 -p tcp -dport 53 # DNS on the host (TCP)\n\
IN ACCEPT -source 10.20.0.50 -dest 10.20.0.2 -p tcp -dport 2049 # NFS for the Portainer VM\n\
IN ACCEPT -source 10.20.0.51 -dest 10.20.0.2 -p tcp -dport 2049 # NFS for the agent VM\n";

/// The phoenix rules of VM 1002: its own, then qdrant_service's and notes_app's (its
/// `docker_stacks`, environment production).
const AI_APPS_RULES: &str = "IN ACCEPT -source 10.20.0.50 -p tcp -dport 9001 # phoenix: Portainer server to agent\n\
IN ACCEPT -source 10.20.0.0/24 -p tcp -dport 22 # phoenix: SSH from the lab LAN\n\
IN ACCEPT -source 10.20.0.12 -p tcp -dport 6333 # phoenix: qdrant_service: Qdrant REST via Traefik\n\
IN ACCEPT -source 10.20.0.0/24 -p tcp -dport 6334 # phoenix: qdrant_service: Qdrant gRPC from the lab LAN\n\
IN ACCEPT -source 10.20.0.12 -p tcp -dport 5230 # phoenix: notes_app: Memos via Traefik\n";

#[test]
fn setup_keeps_the_admins_gui_edits_byte_for_byte_and_adds_phoenix_part() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    let (cluster, guest) = (admin_cluster(), admin_guest());
    seed(&sb, &[("cluster.fw", &cluster), ("1002.fw", &guest)]);
    assert_eq!(warnings(&sb), Vec::<String>::new(), "the seeded files are what pve-firewall reads");

    ok(&run(&sb, &cfg, &["setup", "-q"]));

    // cluster.fw: phoenix's options changed or added in [OPTIONS] (ebtables kept), the GROUP
    // line after the admin's rules, phoenix's group after theirs; every other byte as it was.
    let want = cluster
        .replace("enable: 0\n", "enable: 1\n")
        .replace("ebtables: 0\n", "ebtables: 0\npolicy_in: DROP\npolicy_out: ACCEPT\n")
        .replace(
            "IN ACCEPT -source +admins -p tcp -dport 8006\n",
            "IN ACCEPT -source +admins -p tcp -dport 8006\nGROUP phoenix-host\n",
        )
        + PHOENIX_GROUP
        + "\n";
    assert_eq!(file(&sb, CLUSTER), want);

    // 1002.fw: `enable: 1` added, the VM's and its stacks' rules after the admin's rule.
    let want = guest
        .replace("macfilter: 0\n", "macfilter: 0\nenable: 1\n")
        .replace("# node exporter\n", &format!("# node exporter\n{AI_APPS_RULES}"));
    assert_eq!(file(&sb, AI_APPS), want);
    // A guest without a seeded file gets one in the GUI's layout.
    assert_eq!(
        file(&sb, "/etc/pve/firewall/1001.fw"),
        "[OPTIONS]\n\nenable: 1\n\n[RULES]\n\n\
         IN ACCEPT -source 10.20.0.0/24 -p tcp -dport 22 # phoenix: SSH from the lab LAN\n\
         IN ACCEPT -source 10.20.0.0/24 -p icmp # phoenix: ping from the lab LAN\n\
         IN ACCEPT -source 10.20.0.12 -p tcp -dport 9443 # phoenix: portainer_service: Portainer UI via Traefik\n\
         IN ACCEPT -source 10.20.0.2 -p tcp -dport 9443 # phoenix: portainer_service: Portainer API from the host (phoenix)\n\
         IN ACCEPT -source 10.20.0.12 -p tcp -dport 9000 # phoenix: portainer_service: Portainer HTTP via Traefik\n\n"
    );
    assert_eq!(warnings(&sb), Vec::<String>::new(), "pve-firewall reads every line phoenix wrote");

    // Second run: reads only.
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    assert_eq!(mutating(&sb), Vec::<Vec<String>>::new());
    let reads = sb.sim_commands().into_iter().filter(|(a, _)| a[0] == "file.read" && a[1] == CLUSTER).count();
    assert_eq!(reads, 1, "one read of cluster.fw");
}

#[test]
fn a_file_the_gui_saved_again_costs_no_write() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    seed(&sb, &[("cluster.fw", &admin_cluster())]);
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    // The administrator adds a rule in the GUI afterwards: the API writes the whole file again,
    // its way — options in its own order, the new rule on top, groups sorted by name (so
    // phoenix's group now comes before `webservers`), hand comments gone.
    let mut group: Vec<String> = PHOENIX_GROUP.lines().skip(2).map(String::from).collect();
    group.retain(|l| !l.is_empty());
    let resaved = gui_text(&GuiFirewall {
        options: vec![
            (s("policy_out"), s("ACCEPT")),
            (s("enable"), s("1")),
            (s("ebtables"), s("0")),
            (s("policy_in"), s("DROP")),
        ],
        aliases: vec![(s("backup"), s("192.0.2.10"), Some(s("offsite backup")))],
        ipsets: vec![GuiSet {
            name: s("admins"),
            comment: Some(s("jump hosts")),
            entries: vec![s("192.0.2.0/28"), s("!192.0.2.5")],
        }],
        rules: vec![
            s("IN REJECT -source 203.0.113.0/24 -p tcp -dport 22 # new block"),
            s("IN DROP -source 198.51.100.7 # blocked scanner"),
            s("IN ACCEPT -source +admins -p tcp -dport 8006"),
            s("GROUP phoenix-host"),
        ],
        groups: vec![
            GuiSet { name: s("webservers"), comment: Some(s("web")), entries: vec![s("IN ACCEPT -p tcp -dport 443")] },
            GuiSet {
                name: s("phoenix-host"),
                comment: Some(s("managed by phoenix: edits here are replaced on the next run")),
                entries: group,
            },
        ],
    });
    assert!(resaved.find("[group phoenix-host]") < resaved.find("[group webservers]"), "{resaved}");
    seed(&sb, &[("cluster.fw", &resaved)]);
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    assert_eq!(mutating(&sb), Vec::<Vec<String>>::new());
    assert_eq!(file(&sb, CLUSTER), resaved);
}

#[test]
fn drift_inside_phoenix_part_is_put_back_and_nothing_else_moves() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    seed(&sb, &[("cluster.fw", &admin_cluster()), ("1002.fw", &admin_guest())]);
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    let (cluster, guest) = (file(&sb, CLUSTER), file(&sb, AI_APPS));
    // In the GUI: phoenix's GROUP line disabled, one of its guest rules deleted, another edited.
    let drifted_cluster = cluster.replace("\nGROUP phoenix-host\n", "\n|GROUP phoenix-host\n");
    let drifted_guest = guest
        .replace("IN ACCEPT -source 10.20.0.12 -p tcp -dport 5230 # phoenix: notes_app: Memos via Traefik\n", "")
        .replace("-dport 6334 # phoenix", "-dport 6335 # phoenix");
    assert_ne!(drifted_guest, guest);
    seed(&sb, &[("cluster.fw", &drifted_cluster), ("1002.fw", &drifted_guest)]);
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    assert_eq!(file(&sb, CLUSTER), cluster);
    assert_eq!(file(&sb, AI_APPS), guest);
    // Each file is written by one locked write (`sh -c <script> sh <lock> <timeout> <digest>
    // <file> <mode> <length>`, see firewall_lock.rs), or by a plain write.
    let writes: Vec<String> = mutating(&sb)
        .into_iter()
        .filter_map(|a| match a[0].as_str() {
            "sh" if a[1] == "-c" && a.len() == 10 => Some(a[7].clone()),
            "file.write" => Some(a[1].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(writes, vec![CLUSTER.to_string(), AI_APPS.to_string()]);
}

#[test]
fn a_file_phoenix_cannot_read_is_refused_not_rewritten() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    let broken = admin_guest().replace("# node exporter\n", "# node exporter\nIN ACCEPT -p tcp -dport 22 -bogus x\n");
    seed(&sb, &[("1002.fw", &broken)]);
    let out = run(&sb, &cfg, &["firewall", "-q"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("/etc/pve/firewall/1002.fw: line 12: unable to parse rule parameters: -bogus x"), "{err}");
    assert!(err.contains("does not rewrite a firewall file it cannot read"), "{err}");
    assert_eq!(file(&sb, AI_APPS), broken);
}

#[test]
fn the_sync_stage_is_the_setup_stage_and_its_dry_run_is_exact() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    seed(&sb, &[("cluster.fw", &admin_cluster()), ("1002.fw", &admin_guest())]);
    let plan = sb.dir.path().join("sync_firewall.rhai");
    std::fs::write(&plan, "//! The firewall sync stage alone.\nimport \"sync/firewall\" as stage;\nstage::run();\n")
        .unwrap();
    let plan = plan.to_string_lossy().into_owned();

    let dry = run(&sb, &cfg, &["run", &plan, "--dry-run", "--output", "json"]);
    ok(&dry);
    assert_eq!(mutating(&sb), Vec::<Vec<String>>::new(), "a dry-run only reads");
    assert_eq!(file(&sb, AI_APPS), admin_guest());
    let applied = run(&sb, &cfg, &["run", &plan, "--output", "json"]);
    ok(&applied);
    // Guest files are written in parallel: the same set, not the same order.
    let sorted = |out| {
        let mut a = actions(out);
        a.sort();
        a
    };
    let (dry, applied) = (sorted(&dry), sorted(&applied));
    assert!(applied.iter().any(|a| a.contains(AI_APPS)), "{applied:#?}");
    assert_eq!(dry, applied);
    assert!(file(&sb, AI_APPS).contains(AI_APPS_RULES), "{}", file(&sb, AI_APPS));

    // The same files `phoenix firewall` (setup's stage) writes: it finds nothing to do.
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    assert_eq!(mutating(&sb), Vec::<Vec<String>>::new());
    sb.clear_sim_log();
    ok(&run(&sb, &cfg, &["run", &plan, "-q"]));
    assert_eq!(mutating(&sb), Vec::<Vec<String>>::new());
}

#[test]
fn a_stack_rule_dropped_from_the_config_leaves_only_phoenix_part() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    seed(&sb, &[("1002.fw", &admin_guest())]);
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    // notes_app is no longer deployed on 1002: its rule leaves 1002.fw, nothing else does.
    let vms = cfg.join("phoenix_vm_configs.json");
    let text = std::fs::read_to_string(&vms).unwrap();
    let cut = text.replacen(",\n        \"notes_app\"", "", 1);
    assert_ne!(cut, text, "the example deploys notes_app on 1002");
    std::fs::write(&vms, cut).unwrap();
    let before = file(&sb, AI_APPS);
    ok(&run(&sb, &cfg, &["firewall", "-q"]));
    assert_eq!(
        file(&sb, AI_APPS),
        before.replace("IN ACCEPT -source 10.20.0.12 -p tcp -dport 5230 # phoenix: notes_app: Memos via Traefik\n", "")
    );
    assert!(file(&sb, AI_APPS).contains("# node exporter\n"));
}

#[test]
fn what_pve_firewall_skips_in_the_admins_part_is_reported_not_fixed() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    // An admin rule naming a security group nobody defined: pve-firewall warns and skips it.
    let cluster = admin_cluster().replace("# blocked scanner\n", "# blocked scanner\nGROUP nosuch\n");
    seed(&sb, &[("cluster.fw", &cluster)]);
    let out = run(&sb, &cfg, &["firewall", "--output", "json"]);
    ok(&out);
    let warned: Vec<String> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "log" && e["level"] == "warn")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].starts_with(
            "pve-firewall compile: /etc/pve/firewall/cluster.fw (line 20): no such security group 'nosuch'"
        ),
        "{warned:?}"
    );
    assert!(file(&sb, CLUSTER).contains("\nGROUP nosuch\n"), "the admin's line is theirs");
}
