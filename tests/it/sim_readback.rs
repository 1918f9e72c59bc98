//! phoenix's fact readers on what the simulator prints. Here rather than next to the sim
//! connector: a connector (a lower layer) does not name the fact readers (tests/it/layers.rs).

use phoenix::command::Command;
use phoenix::connector::sim::SimConnector;
use phoenix::connector::Connector;

/// phoenix's reader takes what the simulator prints for a container with a PVE 9 mount key
/// (a key newer than phoenix is kept, not refused).
#[test]
fn phoenix_reads_a_newer_mount_key_from_the_sim() {
    let c = SimConnector::open(None).unwrap();
    let run = |argv: &[&str]| {
        let out = c.run(&Command::new(argv.iter().copied())).unwrap();
        assert!(out.success(), "{argv:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    run(&["pct", "create", "120", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "--rootfs", "local-zfs:4"]);
    run(&["pct", "set", "120", "--mp0", "local-zfs:2,mp=/data,keepattrs=1"]);
    let cfg = String::from_utf8_lossy(&run(&["pct", "config", "120"]).stdout).into_owned();
    let parsed = phoenix::facts::pct::parse_pct_config(&cfg).unwrap();
    assert_eq!(parsed.mount_points[&0].raw.get("keepattrs"), Some("1"));
}
