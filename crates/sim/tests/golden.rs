//! Golden tests: the simulator's answers, byte for byte, as the contracts reference documents
//! the real tools (../../shared/reference/proxmox-portainer-contracts.md; section in each test).
//! The expected texts are written from the documented formats (printf strings, column rules),
//! not captured from the simulator: a change in what the simulator prints must be a change
//! here, reviewed against the contracts.

use phoenix_sim::{FileWrite, SimHost, SimOutput, SimState};

fn host() -> SimHost {
    let h = SimHost::new(SimState::default());
    h.with_state(|s| s.agent_ready_after_ms = 0);
    h
}

fn exec(h: &SimHost, argv: &[&str]) -> SimOutput {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    h.exec(&argv, None)
}

/// Run a command line (split on spaces) that must succeed; its stdout.
fn ok(h: &SimHost, line: &str) -> String {
    let argv: Vec<&str> = line.split(' ').collect();
    let out = exec(h, &argv);
    assert_eq!(out.code, 0, "{line}: {}", out.stderr_str());
    out.stdout_str()
}

fn write(h: &SimHost, path: &str, text: &str) {
    let file = FileWrite { content: text.as_bytes().to_vec(), mode: 0o644, owner: None, group: None };
    h.write_file(path, &file).unwrap();
}

const DEBIAN: &str = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst";

/// §A.1: `"%-10s %-10s %-12s %-20s\n"`, sorted by vmid, name `CT<vmid>` when there is no
/// hostname, nothing at all (not even the header) without containers.
#[test]
fn pct_list() {
    let h = host();
    assert_eq!(ok(&h, "pct list"), "");
    ok(&h, &format!("pct create 120 {DEBIAN} --hostname web01 --rootfs local-zfs:8"));
    ok(&h, &format!("pct create 101 {DEBIAN} --rootfs local-zfs:4"));
    ok(&h, "pct start 120");
    h.with_state(|s| s.guests.get_mut(&101).unwrap().config.insert("lock".into(), "backup".into()));
    assert_eq!(
        ok(&h, "pct list"),
        "VMID       Status     Lock         Name                \n\
         101        stopped    backup       CT101               \n\
         120        running                 web01               \n"
    );
}

/// §B.1: header `"%10s %-20s %-10s %-10s %12s %-10s\n"`, rows with `%12.2f` boot disk GiB;
/// the default name `VM <vmid>` holds a space; nothing without VMs.
#[test]
fn qm_list() {
    let h = host();
    assert_eq!(ok(&h, "qm list"), "");
    ok(&h, "qm create 9000 --name ubuntu-tmpl --memory 2048 --scsi0 local-zfs:2 --boot order=scsi0");
    ok(&h, "qm create 124 --memory 1024");
    assert_eq!(
        ok(&h, "qm list"),
        "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n\
         \x20      124 VM 124               stopped    1024               0.00 0         \n\
         \x20     9000 ubuntu-tmpl          stopped    2048               2.00 0         \n"
    );
}

/// §A.3: sorted `key: value`, `description` through `encode_text` (`:`, newline and non-ASCII
/// escaped; space and `%` kept — pve-common `encode_text`), raw `lxc.*` lines last in file order
/// with `: ` whatever the file used, and a value holding `=` kept verbatim (§I.8). A description
/// read from `#` lines ends with a newline (`parse_pct_config` appends one per line), so
/// `pct config` shows a final `%0A`.
#[test]
fn pct_config_and_the_conf_file() {
    let h = host();
    ok(&h, &format!("pct create 120 {DEBIAN} --hostname web01 --rootfs local-zfs:8"));
    write(
        &h,
        "/etc/pve/lxc/120.conf",
        "#web server: main 100%\n#zweite Zeile \u{fc}\narch: amd64\ncores: 2\nhostname: web01\nmemory: 2048\n\
         rootfs: local-zfs:subvol-120-disk-0,size=8G\nlxc.apparmor.profile = unconfined\n\
         lxc.mount.entry: /dev/net dev/net none bind,create=dir\n",
    );
    assert_eq!(
        ok(&h, "pct config 120"),
        "arch: amd64\ncores: 2\ndescription: web server%3A main 100%%0Azweite Zeile %C3%BC%0A\nhostname: web01\n\
         memory: 2048\nrootfs: local-zfs:subvol-120-disk-0,size=8G\nlxc.apparmor.profile: unconfined\n\
         lxc.mount.entry: /dev/net dev/net none bind,create=dir\n"
    );
    let file = h.read_file("/etc/pve/lxc/120.conf").unwrap();
    assert_eq!(
        String::from_utf8(file.content).unwrap(),
        "#web server%3A main 100%\n#zweite Zeile %C3%BC\narch: amd64\ncores: 2\nhostname: web01\nmemory: 2048\n\
         rootfs: local-zfs:subvol-120-disk-0,size=8G\nlxc.apparmor.profile: unconfined\n\
         lxc.mount.entry: /dev/net dev/net none bind,create=dir\n"
    );
    assert_eq!(ok(&h, "pct status 120"), "status: stopped\n");
}

/// §0 + §A.3: property strings re-serialised — `name=` first, then sorted, `type=veth` added,
/// a generated `BC:24:11` MAC; mount points `volume,mp=…` then sorted, booleans `1`/`0`,
/// sizes like `2G`; `features` validated and kept as written. Bad values: Proxmox's parameter error and exit 255.
#[test]
fn pct_property_strings() {
    let h = host();
    ok(&h, &format!("pct create 120 {DEBIAN} --hostname web01 --rootfs local-zfs:8"));
    ok(&h, "pct set 120 --net0 type=veth,ip=dhcp,bridge=vmbr0,name=eth0,firewall=yes");
    ok(&h, "pct set 120 --mp0 local-zfs:2,mp=/data,backup=on --features nesting=1,keyctl=true");
    let config = ok(&h, "pct config 120");
    let net0 = config.lines().find(|l| l.starts_with("net0: ")).unwrap();
    let mac = net0.split("hwaddr=").nth(1).and_then(|r| r.split(',').next()).unwrap();
    assert!(mac.starts_with("BC:24:11:") && mac.len() == 17, "{net0}");
    assert_eq!(net0, format!("net0: name=eth0,bridge=vmbr0,firewall=1,hwaddr={mac},ip=dhcp,type=veth"));
    assert!(config.contains("\nmp0: local-zfs:subvol-120-disk-1,mp=/data,backup=1,size=2G\n"), "{config}");
    // `features` is validated but stored as written (pve-container `update_pct_config`).
    assert!(config.contains("\nfeatures: nesting=1,keyctl=true\n"), "{config}");

    // pve-container `parse_lxc_network`: a NIC without `hwaddr` gets a new MAC, also on update.
    ok(&h, &format!("pct set 120 --net0 name=eth0,bridge=vmbr1,hwaddr={mac}"));
    assert!(ok(&h, "pct config 120").contains(&format!("\nnet0: name=eth0,bridge=vmbr1,hwaddr={mac},type=veth\n")));
    ok(&h, "pct set 120 --net0 name=eth0,bridge=vmbr0");
    let after = ok(&h, "pct config 120");
    assert!(after.contains("\nnet0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:") && !after.contains(mac), "{after}");

    let out = exec(&h, &["pct", "set", "120", "--net1", "bridge=vmbr0"]);
    assert_eq!(
        (out.code, out.stderr_str().as_str()),
        (
            255,
            "400 Parameter verification failed.\nnet1: invalid format - format error\n\
             net1.name: property is missing and it is not optional\npct set <vmid> [OPTIONS]\n"
        )
    );
    let out = exec(&h, &["pct", "set", "120", "--net1", "name=eth1,colour=red"]);
    assert_eq!(
        out.stderr_str(),
        "400 Parameter verification failed.\nnet1: invalid format - invalid key in comma-separated list \
         property: colour\npct set <vmid> [OPTIONS]\n"
    );
    let out = exec(&h, &["pct", "config", "999"]);
    assert_eq!(
        (out.code, out.stderr_str().as_str()),
        (2, "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n")
    );
}

/// §B.3 after the cloud-init recipe: `cipassword` masked, `sshkeys` URI-escaped, the NIC as
/// `virtio=<MAC>` first, the imported disk `size=3584M`, `agent` and `ipconfig0` as written.
#[test]
fn qm_config_after_cloud_init_recipe() {
    let h = host();
    write(&h, "/root/key.pub", "ssh-ed25519 AAAAC3Nza user@host\n");
    write(&h, "/tmp/noble.img", "");
    ok(&h, "qm create 9000 --name ubuntu-tmpl --memory 2048 --net0 virtio,bridge=vmbr0,firewall=1 --scsihw virtio-scsi-pci");
    ok(&h, "qm set 9000 --scsi0 local-zfs:0,import-from=/tmp/noble.img --ide2 local-zfs:cloudinit --boot order=scsi0");
    ok(&h, "qm set 9000 --serial0 socket --vga serial0 --agent enabled=1 --ciuser ubuntu --cipassword s3cret");
    ok(&h, "qm set 9000 --ipconfig0 ip=10.0.10.123/24,gw=10.0.10.1 --sshkeys /root/key.pub");
    let config = ok(&h, "qm config 9000");
    let lines: Vec<&str> = config.lines().collect();
    let net0 = lines.iter().find(|l| l.starts_with("net0: ")).unwrap();
    let mac = net0.trim_start_matches("net0: virtio=").split(',').next().unwrap();
    assert!(mac.starts_with("BC:24:11:") && mac.len() == 17, "{net0}");
    let uuid = |key: &str| lines.iter().find(|l| l.starts_with(key)).unwrap().to_string();
    let (meta, smbios, vmgenid) = (uuid("meta: "), uuid("smbios1: "), uuid("vmgenid: "));
    assert!(meta.starts_with("meta: creation-qemu=") && meta.contains(",ctime="), "{meta}");
    assert!(smbios.starts_with("smbios1: uuid="), "{smbios}");
    assert_eq!(
        config,
        format!(
            "agent: enabled=1\nboot: order=scsi0\ncipassword: **********\nciuser: ubuntu\n\
             ide2: local-zfs:vm-9000-cloudinit,media=cdrom\nipconfig0: ip=10.0.10.123/24,gw=10.0.10.1\n\
             memory: 2048\n{meta}\nname: ubuntu-tmpl\nnet0: virtio={mac},bridge=vmbr0,firewall=1\n\
             scsi0: local-zfs:vm-9000-disk-0,size=3584M\nscsihw: virtio-scsi-pci\nserial0: socket\n{smbios}\n\
             sshkeys: ssh-ed25519%20AAAAC3Nza%20user%40host%0A\nvga: serial0\n{vmgenid}\n"
        )
    );
    // §I.4: a NIC update without a MAC gets a new one; with the MAC it is kept.
    ok(&h, &format!("qm set 9000 --net0 virtio={mac},bridge=vmbr1"));
    assert!(ok(&h, "qm config 9000").contains(&format!("\nnet0: virtio={mac},bridge=vmbr1\n")));
    ok(&h, "qm set 9000 --net0 virtio,bridge=vmbr1");
    let after = ok(&h, "qm config 9000");
    assert!(after.contains("\nnet0: virtio=BC:24:11:") && !after.contains(mac), "{after}");
    let out = exec(&h, &["qm", "set", "9000", "--net0", "bridge=vmbr0"]);
    assert_eq!(
        out.stderr_str(),
        "400 Parameter verification failed.\nnet0: invalid format - format error\n\
         net0.model: property is missing and it is not optional\nqm set <vmid> [OPTIONS]\n"
    );
}

/// §D.1: `maxlen` = longest id + 1, `"%-${maxlen}s %10s %10s %15s %15s %15s %8s\n"`, KiB, the
/// percentage `% 7.2f%%`, PVE 9 header texts.
#[test]
fn pvesm_status() {
    let h = host();
    let out = ok(&h, "pvesm status");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %");
    assert_eq!(lines.len(), 3, "{out}");
    for (line, (name, kind)) in lines[1..].iter().zip([("local", "dir"), ("local-zfs", "zfspool")]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let (total, used, avail): (u64, u64, u64) =
            (cells[3].parse().unwrap(), cells[4].parse().unwrap(), cells[5].parse().unwrap());
        let pct = used as f64 * 100.0 / total as f64;
        assert_eq!(
            *line,
            format!("{name:<10} {kind:>10} {:>10} {total:>15} {used:>15} {avail:>15} {:>7.2}%", "active", pct)
        );
    }
}

/// §C: `-H` output is TAB-separated without header; sizes through `zfs_nicebytes`; an unset
/// user property reads `-`; a missing dataset or pool is `cannot open '<x>': …`, exit 1.
#[test]
fn zfs_and_zpool_scripted_output() {
    let h = host();
    ok(&h, "zfs create -o quota=10G rpool/data/share");
    assert_eq!(ok(&h, "zfs list -H -o name,mountpoint rpool/data/share"), "rpool/data/share\t/rpool/data/share\n");
    assert_eq!(ok(&h, "zfs list -H -o name,used,refer rpool/data/share"), "rpool/data/share\t96K\t96K\n");
    assert_eq!(ok(&h, "zfs get -H -o value quota rpool/data/share"), "10G\n");
    assert_eq!(ok(&h, "zfs get -Hp -o value quota rpool/data/share"), "10737418240\n");
    assert_eq!(ok(&h, "zfs get -H -o value org.phoenix:x rpool"), "-\n");
    assert_eq!(
        ok(&h, "zfs get -H compression,quota rpool/data/share"),
        "rpool/data/share\tcompression\ton\tinherited from rpool\nrpool/data/share\tquota\t10G\tlocal\n"
    );
    // 1.5 GiB is not a whole number of GiB: two decimals fit in five characters.
    ok(&h, "zfs set quota=1536M rpool/data/share");
    assert_eq!(ok(&h, "zfs get -H -o value quota rpool/data/share"), "1.50G\n");
    let out = exec(&h, &["zfs", "list", "rpool/nope"]);
    assert_eq!((out.code, out.stderr_str().as_str()), (1, "cannot open 'rpool/nope': dataset does not exist\n"));
    // The pool is 3.625 TiB: printf's round-half-even gives 3.62T.
    assert_eq!(ok(&h, "zpool list -H -o name,size,health"), "rpool\t3.62T\tONLINE\n");
    let out = exec(&h, &["zpool", "list", "tank"]);
    assert_eq!((out.code, out.stderr_str().as_str()), (1, "cannot open 'tank': no such pool\n"));
}

/// §B.8: Perl `to_json(pretty, canonical)` — 3-space indent, `" : "`, keys sorted, booleans as
/// 1/0 — and exit 0 whatever the guest command's exit code.
#[test]
fn qm_guest_exec_json() {
    let h = host();
    let out = exec(&h, &["qm", "guest", "exec", "123", "--", "true"]);
    assert_eq!(out.stderr_str(), "Configuration file 'nodes/pve/qemu-server/123.conf' does not exist\n");
    ok(&h, "qm create 9000 --name vm --memory 1024 --agent 1");
    let out = exec(&h, &["qm", "guest", "exec", "9000", "--", "true"]);
    assert_eq!((out.code, out.stderr_str().as_str()), (255, "VM 9000 is not running\n"));
    ok(&h, "qm start 9000");
    assert_eq!(
        ok(&h, "qm guest exec 9000 -- test -x /usr/bin/docker"),
        "{\n   \"exitcode\" : 1,\n   \"exited\" : 1\n}\n"
    );
    let out = exec(&h, &["qm", "guest", "exec", "9000", "--", "frobnicate"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout_str(),
        "{\n   \"err-data\" : \"sim: command not simulated in guest: frobnicate\\n\",\n   \"exitcode\" : 127,\n   \
         \"exited\" : 1\n}\n"
    );
    // An empty result (ping) prints nothing.
    assert_eq!(ok(&h, "qm agent 9000 ping"), "");
}
