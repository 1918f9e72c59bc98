//! The in-guest commands on the simulator.

use crate::host::SimHost;
use crate::output::Output;
use crate::state::{text_file, SimState};
use std::time::Duration;

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}
fn run(h: &SimHost, line: &str) -> Output {
    h.exec(&argv(line), None)
}
fn ok_run(h: &SimHost, line: &str) -> Output {
    let o = run(h, line);
    assert_eq!(o.code, 0, "{line}: {}", o.stderr_str());
    o
}
fn ct(h: &SimHost, id: u32, net: &str) {
    ok_run(h, &format!("pct create {id} local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst --hostname ct{id} --rootfs local-zfs:4 --net0 {net}"));
    ok_run(h, &format!("pct start {id}"));
}

#[test]
fn feature_sequence_converges() {
    let h = SimHost::new(SimState::default());
    ct(&h, 200, "name=eth0,bridge=vmbr0,ip=10.0.0.20/24,gw=10.0.0.1");
    assert_eq!(run(&h, "pct exec 200 -- test -x /usr/bin/docker").code, 1);
    let q = run(&h, "pct exec 200 -- dpkg-query -W -f=${Status} docker.io");
    assert_eq!((q.code, q.stderr_str().as_str()), (1, "dpkg-query: no packages found matching docker.io\n"));
    let e = run(&h, "pct exec 200 -- systemctl is-enabled docker");
    assert_eq!(e.code, 1);
    ok_run(&h, "pct exec 200 -- apt-get update");
    let i = ok_run(&h, "pct exec 200 -- apt-get install -y --no-install-recommends docker.io");
    assert!(i.stdout_str().contains("1 newly installed"), "{}", i.stdout_str());
    ok_run(&h, "pct exec 200 -- systemctl enable --now docker");
    assert_eq!(ok_run(&h, "pct exec 200 -- systemctl is-enabled docker").stdout, b"enabled\n");
    assert_eq!(ok_run(&h, "pct exec 200 -- systemctl is-active docker").stdout, b"active\n");
    ok_run(&h, "pct exec 200 -- test -x /usr/bin/docker");
    assert_eq!(ok_run(&h, "pct exec 200 -- dpkg-query -W -f=${Status} docker.io").stdout, b"install ok installed");
    // Re-running the install is a no-op that says so.
    let again = ok_run(&h, "pct exec 200 -- apt-get install -y docker.io");
    assert!(again.stdout_str().contains("docker.io is already the newest version"));
    assert!(again.stdout_str().contains("0 newly installed"));
    // Services stop with the CT and enabled ones come back on start.
    ok_run(&h, "pct stop 200");
    assert_eq!(run(&h, "pct exec 200 -- true").stderr_str(), "container '200' not running!\n");
    ok_run(&h, "pct start 200");
    assert_eq!(ok_run(&h, "pct exec 200 -- systemctl is-active docker").stdout, b"active\n");
    let unknown = run(&h, "pct exec 200 -- apt-get install -y nope-pkg");
    assert_eq!((unknown.code, unknown.stderr_str().as_str()), (100, "E: Unable to locate package nope-pkg\n"));
    // docker-ce needs Docker's repository first.
    assert_eq!(run(&h, "pct exec 200 -- apt-get install -y docker-ce").code, 100);
    let src = b"deb [arch=amd64] https://download.docker.com/linux/ubuntu noble stable\n";
    let t = h.exec(&argv("pct exec 200 -- tee /etc/apt/sources.list.d/docker.list"), Some(src));
    assert_eq!(t.code, 0);
    ok_run(&h, "pct exec 200 -- apt-get install -y docker-ce");
    let missing = run(&h, "pct exec 200 -- systemctl enable nope");
    assert_eq!(
        (missing.code, missing.stderr_str().as_str()),
        (1, "Failed to enable unit: Unit file nope.service does not exist.\n")
    );
    let loud = run(&h, "pct exec 200 -- frobnicate");
    assert_eq!(loud.code, 127);
}

#[test]
fn file_commands_and_probes() {
    let h = SimHost::new(SimState::default());
    ct(&h, 201, "name=eth0,bridge=vmbr0,ip=dhcp");
    ok_run(&h, "pct exec 201 -- mkdir -p /opt/app/conf");
    ok_run(&h, "pct exec 201 -- test -d /opt/app");
    assert_eq!(h.exec(&argv("pct exec 201 -- tee /opt/app/conf/a"), Some(b"abc")).code, 0);
    ok_run(&h, "pct exec 201 -- chmod 600 /opt/app/conf/a");
    assert_eq!(ok_run(&h, "pct exec 201 -- stat -c %a /opt/app/conf/a").stdout, b"600\n");
    assert_eq!(
        ok_run(&h, "pct exec 201 -- sha256sum /opt/app/conf/a").stdout_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /opt/app/conf/a\n"
    );
    ok_run(&h, "pct exec 201 -- install -m 755 /opt/app/conf/a /usr/local/bin/a");
    ok_run(&h, "pct exec 201 -- test -x /usr/local/bin/a");
    assert_eq!(
        run(&h, "pct exec 201 -- chown nobody:nogroup /opt/app/conf/a").stderr_str(),
        "chown: invalid group: 'nobody:nogroup'\n"
    );
    ok_run(&h, "pct exec 201 -- chown nobody:nobody /opt/app/conf/a");
    ok_run(&h, "pct exec 201 -- ln -sf /opt/app/conf/a /etc/a");
    ok_run(&h, "pct exec 201 -- rm -f /etc/a /etc/never");
    assert_eq!(run(&h, "pct exec 201 -- test -e /etc/a").code, 1);
    assert_eq!(ok_run(&h, "pct exec 201 -- hostname").stdout, b"ct201\n");
    assert_eq!(
        ok_run(&h, "pct exec 201 -- ip -4 -o addr show dev eth0").stdout_str(),
        "2: eth0    inet 10.0.0.203/24 brd 10.0.0.255 scope global dynamic eth0\\       valid_lft forever preferred_lft forever\n"
    );
    assert!(ok_run(&h, "pct exec 201 -- getent passwd root").stdout_str().starts_with("root:x:0:0:"));
    assert_eq!(run(&h, "pct exec 201 -- getent passwd ollama").code, 2);
    // Installer downloaded then run; pip into the system.
    ok_run(&h, "pct exec 201 -- curl -fsSL -o /tmp/ollama.sh https://ollama.com/install.sh");
    ok_run(&h, "pct exec 201 -- sh /tmp/ollama.sh");
    ok_run(&h, "pct exec 201 -- test -x /usr/local/bin/ollama");
    assert_eq!(ok_run(&h, "pct exec 201 -- systemctl is-active ollama").stdout, b"active\n");
    ok_run(&h, "pct exec 201 -- getent passwd ollama");
    ok_run(&h, "pct exec 201 -- apt-get install -y python3-pip");
    ok_run(&h, "pct exec 201 -- python3 -m pip install vllm");
    ok_run(&h, "pct exec 201 -- test -x /usr/local/bin/vllm");
    ok_run(&h, "pct exec 201 -- wget -qO /tmp/step.deb https://dl.smallstep.com/cli/docs-cli-install/latest/step-cli_amd64.deb");
    ok_run(&h, "pct exec 201 -- dpkg -i /tmp/step.deb");
    assert!(ok_run(&h, "pct exec 201 -- step version").stdout_str().starts_with("Smallstep CLI/"));
    ok_run(
        &h,
        "pct exec 201 -- curl -fsSL -o /usr/local/share/ca-certificates/phoenix.crt https://ca.internal/roots.pem",
    );
    assert!(ok_run(&h, "pct exec 201 -- update-ca-certificates").stdout_str().contains("1 added"));
    assert!(ok_run(&h, "pct exec 201 -- update-ca-certificates").stdout_str().contains("0 added"));
    ok_run(&h, "pct exec 201 -- test -f /etc/ssl/certs/phoenix.pem");
    // GPU: no passthrough → nvidia-smi fails even with the userspace installed.
    ok_run(&h, "pct exec 201 -- apt-get install -y nvidia-utils-550");
    assert_eq!(run(&h, "pct exec 201 -- nvidia-smi").code, 9);
    h.with_state(|s| {
        let g = s.guests.get_mut(&201).unwrap();
        g.lxc.push(("lxc.cgroup2.devices.allow".into(), "c 195:* rwm".into()));
    });
    ok_run(&h, "pct exec 201 -- nvidia-smi");
    // pct push copies a host file into the running CT with the given ownership.
    h.with_state(|s| s.files.insert("/root/ca.crt".into(), text_file("CA\n")));
    ok_run(
        &h,
        "pct push 201 /root/ca.crt /usr/local/share/ca-certificates/x.crt --perms 0644 --user root --group root",
    );
    assert_eq!(ok_run(&h, "pct exec 201 -- cat /usr/local/share/ca-certificates/x.crt").stdout, b"CA\n");
}

#[test]
fn clone_inherits_inside_at_snapshot() {
    let h = SimHost::new(SimState::default());
    ct(&h, 300, "name=eth0,bridge=vmbr0,ip=10.0.0.30/24");
    ok_run(&h, "pct exec 300 -- apt-get install -y jq");
    ok_run(&h, "pct stop 300");
    ok_run(&h, "pct snapshot 300 base");
    ok_run(&h, "pct start 300");
    ok_run(&h, "pct exec 300 -- apt-get install -y git");
    ok_run(&h, "pct stop 300");
    ok_run(&h, "pct clone 300 301 --snapname base --hostname c1");
    ok_run(&h, "pct clone 300 302 --hostname c2");
    ok_run(&h, "pct start 301");
    ok_run(&h, "pct start 302");
    ok_run(&h, "pct exec 301 -- test -x /usr/bin/jq");
    assert_eq!(run(&h, "pct exec 301 -- test -x /usr/bin/git").code, 1);
    ok_run(&h, "pct exec 302 -- test -x /usr/bin/git");
    // Rollback restores the inside too.
    ok_run(&h, "pct rollback 300 base");
    ok_run(&h, "pct start 300");
    assert_eq!(run(&h, "pct exec 300 -- test -x /usr/bin/git").code, 1);
}

#[test]
fn cloud_image_template_and_agent_readiness() {
    let h = SimHost::new(SimState::default());
    h.with_state(|s| s.agent_ready_after_ms = 300);
    let img = "/var/lib/vz/template/iso/noble-server-cloudimg-amd64.img";
    ok_run(
        &h,
        &format!("curl -fsSL -o {img} https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"),
    );
    assert!(h.read_file(img).is_some());
    ok_run(&h, "qm create 9000 --name tmpl --memory 2048 --cores 2 --net0 virtio,bridge=vmbr0 --scsihw virtio-scsi-pci --serial0 socket --vga serial0 --agent enabled=1 --ostype l26");
    ok_run(&h, &format!("qm set 9000 --scsi0 local-zfs:0,import-from={img}"));
    let imp = ok_run(&h, &format!("qm disk import 9000 {img} local-zfs"));
    assert!(
        imp.stdout_str().ends_with("unused0: successfully imported disk 'local-zfs:vm-9000-disk-1'\n"),
        "{}",
        imp.stdout_str()
    );
    ok_run(&h, "qm set 9000 --ide2 local-zfs:cloudinit --boot order=scsi0");
    let missing = run(&h, "qm set 9000 --cicustom user=local:snippets/base.yaml");
    assert_eq!(missing.stderr_str(), "volume 'local:snippets/base.yaml' does not exist\n");
    h.with_state(|s| {
        s.files.insert(
            "/var/lib/vz/snippets/base.yaml".into(),
            text_file("#cloud-config\npackages:\n  - qemu-guest-agent\nruncmd:\n  - systemctl enable --now qemu-guest-agent\n"),
        )
    });
    ok_run(
        &h,
        "qm set 9000 --cicustom vendor=local:snippets/base.yaml --ciuser ops --ipconfig0 ip=10.0.0.90/24,gw=10.0.0.1",
    );
    ok_run(&h, "qm disk resize 9000 scsi0 20G");
    assert_eq!(run(&h, "qm disk resize 9000 scsi0 10G").stderr_str(), "unable to shrink disk size\n");
    ok_run(&h, "qm template 9000");
    ok_run(&h, "qm clone 9000 9100 --name vm1");
    ok_run(&h, "qm start 9100");
    assert_eq!(run(&h, "qm agent 9100 ping").stderr_str(), "QEMU guest agent is not running\n");
    std::thread::sleep(Duration::from_millis(350));
    ok_run(&h, "qm agent 9100 ping");
    let exec = ok_run(&h, "qm guest exec 9100 -- dpkg-query -W -f=${Status} qemu-guest-agent");
    assert!(exec.stdout_str().contains("\"out-data\" : \"install ok installed\""), "{}", exec.stdout_str());
    let ci = ok_run(&h, "qm guest exec 9100 --timeout 60 -- cloud-init status --wait");
    assert!(ci.stdout_str().contains("status: done"));
    let user = ok_run(&h, "qm guest exec 9100 -- getent passwd ops");
    assert!(user.stdout_str().contains("ops:x:1000:1000"), "{}", user.stdout_str());
    let ifs = ok_run(&h, "qm guest cmd 9100 network-get-interfaces");
    assert!(ifs.stdout_str().contains("\"ip-address\" : \"10.0.0.90\""));
    let fails = ok_run(&h, "qm guest exec 9100 -- test -x /usr/bin/docker");
    assert!(fails.stdout_str().contains("\"exitcode\" : 1"));
    // Without the snippet the image has no agent: it never answers.
    h.with_state(|s| s.guests.get_mut(&9000).unwrap().config.shift_remove("cicustom"));
    ok_run(&h, "qm clone 9000 9101 --name vm2");
    ok_run(&h, "qm start 9101");
    std::thread::sleep(Duration::from_millis(350));
    assert_eq!(run(&h, "qm agent 9101 ping").stderr_str(), "QEMU guest agent is not running\n");
}

#[test]
fn exec_latency_keys_match_by_prefix() {
    let h = SimHost::new(SimState::default());
    ct(&h, 400, "name=eth0,bridge=vmbr0,ip=dhcp");
    h.with_state(|s| {
        s.latency_ms.insert("pct exec".into(), 50);
        s.latency_ms.insert("qm guest exec".into(), 80);
    });
    let t0 = std::time::Instant::now();
    ok_run(&h, "pct exec 400 -- true");
    assert!(t0.elapsed() >= Duration::from_millis(50));
    let t1 = std::time::Instant::now();
    ok_run(&h, "pct list");
    assert!(t1.elapsed() < Duration::from_millis(50));
    let lat = h.with_state(|s| crate::latency::lookup(&s.latency_ms, &argv("qm guest exec 9000 --timeout 5 -- true")));
    assert_eq!(lat, 80);
}
