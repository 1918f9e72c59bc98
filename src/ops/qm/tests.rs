//! The VM ops on the simulator: a template built step by step, clones, configuration, power.

use super::*;
use crate::connector::sim::{to_sim, SimConnector};
use crate::facts::guests::Power;
use crate::inventory::GuestRef;
use crate::ops::guest::destroy;
use crate::ops::power::{ensure_power, restart};
use crate::ops::snapshot::{ensure_snapshot, has_snapshot};
use crate::ops::{Plan, Step};
use phoenix_sim::{SimHost, SimState};
use std::sync::Arc;

fn inventory() -> crate::inventory::Inventory {
    crate::inventory::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("etc")).expect("example config loads")
}

/// A declared VM of the example configuration, placed on the simulator's `local-zfs`.
fn vm(inv: &crate::inventory::Inventory, id: u32) -> DesiredVm {
    let Some(GuestRef::Vm(g)) = inv.guest(id) else { panic!("{id} is a declared VM") };
    let mut d = desired(g, &inv.hypervisor).unwrap();
    d.storage = Some("local-zfs".into());
    d
}

fn host() -> Arc<SimHost> {
    Arc::new(SimHost::new(SimState::default()))
}

fn facts(h: &Arc<SimHost>, dry_run: bool) -> Facts {
    Facts::new(Arc::new(SimConnector::from_host(h.clone())), dry_run)
}

/// What a plan shows: subject, reason and steps of each action.
fn shown(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|a| {
            format!(
                "{} ({}) :: {}",
                a.subject,
                a.reason,
                a.steps.iter().map(Step::describe).collect::<Vec<_>>().join(" ; ")
            )
        })
        .collect()
}

/// Carry a plan out like the executor: run every step on the simulator (apply) or nothing
/// (dry-run), then apply each action's modelled effect. Returns what it showed.
fn carry(h: &SimHost, f: &Facts, plan: Plan, dry_run: bool) -> Vec<String> {
    let out = shown(&plan);
    for a in plan.actions {
        if !dry_run {
            for s in &a.steps {
                match s {
                    Step::Exec { command } | Step::Guest { command, .. } => {
                        let o = h.exec(&command.exposed_argv(), command.stdin.as_deref());
                        assert!(o.success(), "{command}: {}", o.stderr_str());
                    }
                    Step::WriteFile { path, file } => h.write_file(path, &to_sim(file)).unwrap(),
                    Step::RemoveFile { path } => {
                        h.remove_file(path);
                    }
                    Step::CopyFromGuest { .. } => panic!("VM ops never copy between guests"),
                    Step::Http { .. } => panic!("VM ops never call HTTP"),
                }
            }
        }
        f.apply(&a.effect).unwrap();
    }
    out
}

/// The whole template build, then 1001 cloned, configured and grown: what each step showed.
fn build(h: &SimHost, f: &Facts, inv: &crate::inventory::Inventory, dry_run: bool) -> Vec<String> {
    let t = vm(inv, 9000);
    let v = vm(inv, 1001);
    let mut log = Vec::new();
    log.extend(carry(h, f, ensure_image(f, &t).unwrap(), dry_run));
    log.extend(carry(h, f, ensure_template_defined(f, &t).unwrap(), dry_run));
    log.extend(carry(h, f, ensure_template_disks(f, &t).unwrap(), dry_run));
    log.extend(carry(h, f, ensure_template_cloud_init(f, &t).unwrap(), dry_run));
    log.extend(carry(h, f, ensure_templated(f, &t).unwrap(), dry_run));
    log.extend(carry(h, f, ensure_defined(f, &v).unwrap(), dry_run));
    log.extend(carry(h, f, ensure_config(f, &v).unwrap().plan, dry_run));
    log.extend(carry(h, f, ensure_disk_size(f, &v).unwrap(), dry_run));
    log
}

#[test]
fn template_is_built_step_by_step_and_never_started() {
    let inv = inventory();
    let h = host();
    let f = facts(&h, false);
    let t = vm(&inv, 9000);
    let img = carry(&h, &f, ensure_image(&f, &t).unwrap(), false);
    assert_eq!(img, vec![
        "file /var/lib/vz/template/iso/noble-server-cloudimg-amd64.img (absent; cloud image for template 9000) :: curl -fsSL -o /var/lib/vz/template/iso/noble-server-cloudimg-amd64.img https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img".to_string()
    ]);
    let created = carry(&h, &f, ensure_template_defined(&f, &t).unwrap(), false);
    assert_eq!(created, vec!["vm 9000 (absent; template VM) :: qm create 9000 --name ubuntu-noble-template --memory 2048 --cores 2 --net0 virtio,bridge=vmbr0 --scsihw virtio-scsi-pci --serial0 socket --vga serial0 --agent enabled=1 --ostype l26".to_string()]);
    let mut setup = carry(&h, &f, ensure_template_disks(&f, &t).unwrap(), false);
    setup.extend(carry(&h, &f, ensure_template_cloud_init(&f, &t).unwrap(), false));
    let subjects: Vec<&str> = setup.iter().map(|s| s.split(" (").next().unwrap_or("")).collect();
    assert_eq!(
        subjects,
        [
            "vm 9000 scsi0",
            "vm 9000 boot",
            "vm 9000 ide2",
            "file /var/lib/vz/snippets/phoenix-agent-9000.yaml",
            "vm 9000 cicustom",
            "vm 9000 ciuser"
        ]
    );
    assert!(setup[0].ends_with(":: qm set 9000 --scsi0 local-zfs:0,import-from=/var/lib/vz/template/iso/noble-server-cloudimg-amd64.img ; qm disk resize 9000 scsi0 32G"), "{}", setup[0]);
    carry(&h, &f, ensure_templated(&f, &t).unwrap(), false);

    // A fresh run sees a finished template: nothing to do, nothing downloaded again.
    let f2 = facts(&h, false);
    for plan in [
        ensure_image(&f2, &t),
        ensure_template_defined(&f2, &t),
        ensure_template_disks(&f2, &t),
        ensure_template_cloud_init(&f2, &t),
        ensure_templated(&f2, &t),
    ] {
        assert!(plan.unwrap().actions.is_empty());
    }
    let conf = f2.guest_conf(KIND, 9000).unwrap();
    let conf = conf.as_ref().as_ref().unwrap();
    assert!(conf.is_template());
    assert_eq!(conf.get("scsi0").as_deref(), Some("local-zfs:base-9000-disk-0,size=32G"));
    assert_eq!(conf.get("cicustom").as_deref(), Some("vendor=local:snippets/phoenix-agent-9000.yaml"));
    assert_eq!(f2.guests(KIND).unwrap()[&9000].power, Power::Stopped);
    let snippet = h.read_file("/var/lib/vz/snippets/phoenix-agent-9000.yaml").unwrap();
    assert_eq!(String::from_utf8_lossy(&snippet.content), agent_user_data());
    assert!(!h.log().iter().any(
        |c| c.argv.first().map(String::as_str) == Some("qm") && c.argv.get(1).map(String::as_str) == Some("start")
    ));
    // A template is never started.
    assert!(ensure_power(&f2, KIND, 9000, true).is_err());
}

#[test]
fn an_interrupted_template_build_is_completed_not_recreated() {
    let inv = inventory();
    let h = host();
    let f = facts(&h, false);
    let t = vm(&inv, 9000);
    carry(&h, &f, ensure_image(&f, &t).unwrap(), false);
    carry(&h, &f, ensure_template_defined(&f, &t).unwrap(), false);
    carry(&h, &f, ensure_template_disks(&f, &t).unwrap(), false);
    let mut setup = ensure_template_cloud_init(&f, &t).unwrap();
    setup.actions.truncate(1); // disks and the cloud-init drive done, then the run died
    carry(&h, &f, setup, false);
    // The image may be gone by now: the VM has its disk, so it is not fetched again.
    h.remove_file(&t.image().unwrap().path);

    let f2 = facts(&h, false);
    assert!(ensure_image(&f2, &t).unwrap().actions.is_empty());
    assert!(ensure_template_defined(&f2, &t).unwrap().actions.is_empty());
    assert!(ensure_template_disks(&f2, &t).unwrap().actions.is_empty());
    let rest = carry(&h, &f2, ensure_template_cloud_init(&f2, &t).unwrap(), false);
    let subjects: Vec<&str> = rest.iter().map(|s| s.split(" (").next().unwrap_or("")).collect();
    assert_eq!(subjects, ["file /var/lib/vz/snippets/phoenix-agent-9000.yaml", "vm 9000 cicustom", "vm 9000 ciuser"]);
    assert_eq!(carry(&h, &f2, ensure_templated(&f2, &t).unwrap(), false).len(), 1);
}

/// `--net0 virtio=<MAC>,` → `--net0 virtio,`.
fn without_clone_mac(action: &str) -> String {
    match action.split_once("--net0 virtio=") {
        Some((head, tail)) if tail.len() > 17 && tail.as_bytes()[17] == b',' => {
            format!("{head}--net0 virtio{}", &tail[17..])
        }
        _ => action.to_string(),
    }
}

#[test]
fn dry_run_models_exactly_what_apply_does() {
    let inv = inventory();
    let planned = {
        let h = host();
        let f = facts(&h, true);
        let log = build(&h, &f, &inv, true);
        // Nothing reached the host but reads.
        assert!(h.log().iter().all(|c| !c.mutating), "{:?}", h.log());
        log
    };
    let h = host();
    let f = facts(&h, false);
    let done = build(&h, &f, &inv, false);
    // The one thing a dry-run cannot know: the MAC `qm clone` gives the clone, which the
    // first `--net0` then carries along (`virtio=<MAC>,…`; the model has `virtio,…`).
    assert_eq!(planned, done.iter().map(|a| without_clone_mac(a)).collect::<Vec<_>>());
    assert!(
        done.iter()
            .any(|a| a
                .starts_with("vm 1001 (absent; full clone of 9000) :: qm clone 9000 1001 --name portainer --full 1")),
        "{done:?}"
    );
    assert!(done.iter().any(|a| a.starts_with("vm 1001 scsi0 (size 32G → 64G)")), "{done:?}");
}

#[test]
fn config_changes_only_what_drifted() {
    let inv = inventory();
    let h = host();
    let f = facts(&h, false);
    build(&h, &f, &inv, false);
    let v = vm(&inv, 1001);
    let f2 = facts(&h, false);
    let cp = ensure_config(&f2, &v).unwrap();
    assert!(cp.plan.actions.is_empty(), "{:?}", shown(&cp.plan));
    assert!(ensure_disk_size(&f2, &v).unwrap().actions.is_empty());

    h.with_state(|s| s.guests.get_mut(&1001).unwrap().config.insert("cores".into(), "2".into()));
    let f3 = facts(&h, false);
    let cp = ensure_config(&f3, &v).unwrap();
    assert_eq!(shown(&cp.plan), vec!["vm 1001 (cores: 2 → 4) :: qm set 1001 --cores 4".to_string()]);
    assert!(cp.restart_needed);
}

#[test]
fn first_config_sets_cloud_init_and_keeps_the_mac() {
    let inv = inventory();
    let h = host();
    let f = facts(&h, false);
    let log = build(&h, &f, &inv, false);
    let set =
        log.iter().find(|a| a.starts_with("vm 1001 (") && a.contains("qm set 1001")).expect("a configuration action");
    for part in [
        "--onboot 1",
        "--startup order=5,up=30",
        "--ipconfig0 ip=10.20.0.50/24,gw=10.20.0.1",
        "--nameserver 10.20.0.2",
        "--searchdomain lab.example.internal",
        "--sshkeys /tmp/.phoenix-sshkeys-1001",
    ] {
        assert!(set.contains(part), "{part} missing from {set}");
    }
    assert!(set.starts_with("vm 1001 (cores: 2 → 4; memory: 2048 → 8192;"), "{set}");
    assert!(
        set.contains("write /tmp/.phoenix-sshkeys-1001") && set.ends_with("remove /tmp/.phoenix-sshkeys-1001"),
        "{set}"
    );
    let conf = facts(&h, false).guest_conf(KIND, 1001).unwrap();
    let cfg = conf.as_ref().as_ref().unwrap().qm().unwrap();
    let net = &cfg.nets[&0];
    assert!(net.mac.as_deref().is_some_and(|m| m.starts_with("BC:24:11:")), "{net:?}");
    // The clone's MAC went along with the new bridge/firewall values.
    let mac = net.mac.clone().unwrap_or_default();
    assert!(set.contains(&format!("--net0 virtio={mac},bridge=vmbr0,firewall=1")), "{set}");
    assert!(net.firewall);
    assert!(cfg.sshkeys.unwrap_or_default().starts_with("ssh-ed25519 "));
    assert!(h.read_file("/tmp/.phoenix-sshkeys-1001").is_none(), "the staged key file is removed");
}

#[test]
fn disks_only_grow() {
    let inv = inventory();
    let h = host();
    let f = facts(&h, false);
    build(&h, &f, &inv, false);
    let mut v = vm(&inv, 1001);
    v.disk_gb = Some(16);
    let p = ensure_disk_size(&facts(&h, false), &v).unwrap();
    assert!(p.actions.is_empty());
    assert_eq!(p.noop_reason, "64G (≥ 16G; disks only grow)");
}

#[test]
fn power_snapshot_and_destroy() {
    let inv = inventory();
    let h = host();
    build(&h, &facts(&h, false), &inv, false);
    let f = facts(&h, false);
    assert_eq!(
        carry(&h, &f, ensure_power(&f, KIND, 1001, true).unwrap(), false),
        vec!["vm 1001 power (stopped → running) :: qm start 1001".to_string()]
    );
    let f = facts(&h, false);
    assert!(ensure_power(&f, KIND, 1001, true).unwrap().actions.is_empty());
    assert_eq!(
        shown(&restart(&f, KIND, 1001, "cores changed").unwrap()),
        vec!["vm 1001 restart (cores changed) :: qm reboot 1001".to_string()]
    );
    carry(&h, &f, ensure_snapshot(&f, KIND, 1001, "clean").unwrap(), false);
    let f = facts(&h, false);
    assert!(has_snapshot(&f, KIND, 1001, "clean").unwrap());
    assert!(ensure_snapshot(&f, KIND, 1001, "clean").unwrap().actions.is_empty());
    assert_eq!(
        shown(&ensure_power(&f, KIND, 1001, false).unwrap()),
        vec!["vm 1001 power (running → stopped) :: qm shutdown 1001 --timeout 120 --forceStop 1".to_string()]
    );
    assert_eq!(
        carry(&h, &f, destroy(&f, KIND, 1001, "vm 1001".into()).unwrap(), false),
        vec!["vm 1001 (declared for deletion) :: qm stop 1001 ; qm destroy 1001 --purge 1".to_string()]
    );
    let f = facts(&h, false);
    assert!(destroy(&f, KIND, 1001, "vm 1001".into()).unwrap().actions.is_empty());
    assert!(!f.guests(KIND).unwrap().contains_key(&1001));
}

#[test]
fn desired_values() {
    let inv = inventory();
    let t = vm(&inv, 9000);
    assert_eq!(
        t.image.as_ref().map(|i| i.url.as_str()),
        Some("https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img")
    );
    assert_eq!(t.ipconfig0.as_deref(), Some("ip=dhcp"));
    let v = vm(&inv, 1002);
    assert_eq!(v.startup.as_deref(), Some("order=8,up=10"));
    assert!(v.firewall && v.image.is_none());
    let Some(GuestRef::Vm(g)) = inv.guest(1002) else { panic!() };
    let mut g = g.clone();
    g.network_config.as_mut().unwrap().nameserver = None;
    assert_eq!(
        desired(&g, &inv.hypervisor).unwrap().nameserver.as_deref(),
        Some("10.20.0.2 10.20.0.1"),
        "falls back to the host's DNS"
    );
    g.is_template = true;
    g.template_image = None;
    assert!(desired(&g, &inv.hypervisor).unwrap_err().to_string().contains("template_image"));
}

#[test]
fn cloud_init_status_words() {
    assert_eq!(parse_cloud_init_status(0, "status: done\n"), CloudInit::Finished("done".into()));
    assert_eq!(parse_cloud_init_status(0, "status: running\n"), CloudInit::Running);
    assert_eq!(parse_cloud_init_status(0, "status: disabled\n"), CloudInit::Finished("disabled".into()));
    assert_eq!(parse_cloud_init_status(127, ""), CloudInit::Finished("absent".into()));
    assert!(matches!(parse_cloud_init_status(1, "status: error\n"), CloudInit::Failed(_)));
}

#[test]
fn sshkeys_are_escaped_like_the_cli() {
    assert_eq!(
        crate::facts::guest_config::uri_escape("ssh-ed25519 AAA+/= a@b\n"),
        "ssh-ed25519%20AAA%2B%2F%3D%20a%40b%0A"
    );
}
