//! The manifest on the example configuration: the original's entries load (with its unsafe
//! parts refused and explained), derived certificates follow the edge.

use super::*;
use crate::inventory::edge::{EdgeGuest, Route, Scheme, Upstream};
use std::path::{Path, PathBuf};

fn example_with(manifest: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    copy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("etc"), &etc);
    std::fs::write(etc.join(CERT_MANIFEST_FILE), manifest).unwrap();
    (dir, etc)
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn load(manifest: &str) -> Result<CertManifest, String> {
    let (_d, etc) = example_with(manifest);
    match crate::inventory::load(&etc) {
        Ok(inv) => Ok(inv.certs.expect("manifest loaded")),
        Err(e) => Err(e
            .problems
            .iter()
            .filter(|p| p.is_error())
            .map(|p| format!("{p} | {}", crate::inventory::render(p)))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

fn one(fields: &str) -> String {
    format!(
        r#"[{{"common_name": "nginx.lab.example.internal", "cert_path": "/tank/lxc-persistent-data/101/ssl/nginx.crt",
            "key_path": "/tank/lxc-persistent-data/101/ssl/nginx.key", "owner": "root:www-data", "permissions": "640"{fields}}}]"#
    )
}

#[test]
fn the_originals_entry_maps_through_the_bind_mount() {
    let m = load(&one(r#", "sans": ["nginx.lab.example.internal", "Portainer.lab.example.internal"],
        "post_renewal_command": "pct exec 101 -- systemctl reload nginx""#))
    .unwrap();
    let e = &m.entries[0];
    assert_eq!((e.guest, e.guest_kind), (101, GuestKind::Lxc));
    assert_eq!(e.cert_path, "/etc/nginx/ssl/nginx.crt");
    assert_eq!(e.key_path, "/etc/nginx/ssl/nginx.key");
    assert_eq!(e.sans, ["nginx.lab.example.internal", "portainer.lab.example.internal"]);
    assert_eq!((e.owner.as_str(), e.group.as_str(), e.key_mode), ("root", "www-data", 0o640));
    assert_eq!(
        e.post_install,
        Some(PostInstall::Exec { guest: 101, argv: vec!["systemctl".into(), "reload".into(), "nginx".into()] })
    );
    assert_eq!((e.lifetime_secs, e.renew_before_secs), (90 * 86_400, 30 * 86_400));
}

#[test]
fn a_world_readable_key_is_refused_with_the_fix() {
    for bad in ["644", "777", "604", "0644"] {
        let err = load(&one("").replace("\"640\"", &format!("\"{bad}\""))).unwrap_err();
        assert!(err.contains("would let every user read or change the private key"), "{bad}: {err}");
        assert!(err.contains("certificate-manifest.json:"), "{err}");
        assert!(err.contains("use \"600\""), "{err}");
    }
    for bad in ["6400", "abc", "89", "060"] {
        let err = load(&one("").replace("\"640\"", &format!("\"{bad}\""))).unwrap_err();
        assert!(err.contains("octal mode") || err.contains("owner read"), "{bad}: {err}");
    }
    assert_eq!(load(&one("").replace("\"640\"", "\"0600\"")).unwrap().entries[0].key_mode, 0o600);
}

#[test]
fn shell_post_commands_are_refused_and_safe_ones_mapped() {
    for bad in [
        "pct exec 102 -- /bin/bash -c 'sleep 1; systemctl reload traefik'",
        "pct exec 101 -- systemctl reload nginx && rm -rf /",
        "pct exec 101 -- systemctl reload $(whoami)",
    ] {
        let err =
            load(&one(&format!(r#", "post_renewal_command": {}"#, serde_json::to_string(bad).unwrap()))).unwrap_err();
        assert!(err.contains("shell syntax"), "{bad}: {err}");
        assert!(err.contains("\"reload\": \"nginx\""), "{err}");
    }
    let err = load(&one(r#", "post_renewal_command": "systemctl reload nginx""#)).unwrap_err();
    assert!(err.contains("not a command in a guest"), "{err}");
    let err = load(&one(r#", "post_renewal_command": "pct exec 999 -- true""#)).unwrap_err();
    assert!(err.contains("container 999, which is not declared"), "{err}");
    let err = load(&one(r#", "post_renewal_command": "qm guest exec 101 -- true""#)).unwrap_err();
    assert!(err.contains("VM 101"), "{err}");
    let m = load(&one(r#", "post_renewal_command": {"guest": 101, "reload": "nginx"}"#)).unwrap();
    assert_eq!(m.entries[0].post_install, Some(PostInstall::Reload { guest: 101, unit: "nginx".into() }));
    let m =
        load(&one(r#", "post_renewal_command": {"guest": 1001, "argv": ["docker", "restart", "portainer"]}"#)).unwrap();
    assert!(matches!(&m.entries[0].post_install, Some(PostInstall::Exec { guest: 1001, argv }) if argv[0] == "docker"));
    let err = load(&one(r#", "post_renewal_command": {"guest": 101}"#)).unwrap_err();
    assert!(err.contains("exactly one of `reload` or `argv`"), "{err}");
    let err = load(&one(r#", "post_renewal_command": {"guest": 101, "reload": "nginx; reboot"}"#)).unwrap_err();
    assert!(err.contains("not a systemd unit name"), "{err}");
}

#[test]
fn paths_must_be_absolute_normalised_and_reach_a_guest() {
    let err = load(&one("").replace("/101/ssl/nginx.crt", "/101/ssl/../nginx.crt")).unwrap_err();
    assert!(
        err.contains("`[0].cert_path` is not an absolute, normalised path") || err.contains("is not an absolute"),
        "{err}"
    );
    let err = load(&one("").replace("/tank/lxc-persistent-data/101/ssl/nginx.crt", "/srv/nginx.crt")).unwrap_err();
    assert!(err.contains("/srv/nginx.crt is under no container's bind mount"), "{err}");
    assert!(err.contains("\"guest\": <id>"), "{err}");
    let err = load(&one("").replace("/101/ssl/nginx.crt", "/102/certs/nginx.crt")).unwrap_err();
    assert!(err.contains("the key reaches container 101, the certificate container 102"), "{err}");
    let err = load(&one("").replace("nginx.key", "nginx.crt")).unwrap_err();
    assert!(err.contains("same file"), "{err}");
    // Inside a named guest, the paths are that guest's.
    let m = load(
        r#"[{"common_name": "portainer.lab.example.internal", "guest": 1001, "cert_path": "/etc/portainer/certs/p.crt",
             "key_path": "/etc/portainer/certs/p.key", "owner": "root:root", "permissions": "600"}]"#,
    )
    .unwrap();
    assert_eq!((m.entries[0].guest, m.entries[0].guest_kind), (1001, GuestKind::Vm));
    let err = load(&one(r#", "guest": 4242"#)).unwrap_err();
    assert!(err.contains("guest 4242 is not declared"), "{err}");
}

#[test]
fn names_owners_durations_and_duplicates() {
    let err = load(&one(r#", "sans": ["bad_name.example"]"#)).unwrap_err();
    assert!(err.contains("not a DNS name a certificate can carry"), "{err}");
    assert!(load(&one(r#", "sans": ["10.20.0.20", "*.lab.example.internal"]"#)).is_ok());
    let err = load(&one("").replace("root:www-data", "root")).unwrap_err();
    assert!(err.contains("is not `user:group`"), "{err}");
    let err = load(&one("").replace("root:www-data", "Root:x y")).unwrap_err();
    assert!(err.contains("is not `user:group`"), "{err}");
    let err = load(&one(r#", "lifetime": "90d""#)).unwrap_err();
    assert!(err.contains("is not a duration"), "{err}");
    let err = load(&one(r#", "lifetime": "24h", "renew_before": "48h""#)).unwrap_err();
    assert!(err.contains("not shorter than the lifetime"), "{err}");
    let m = load(&one(r#", "lifetime": "720h""#)).unwrap();
    assert_eq!((m.entries[0].lifetime_secs, m.entries[0].renew_before_secs), (720 * 3600, 240 * 3600));
    let err = load(&one(r#", "colour": "red""#)).unwrap_err();
    assert!(err.contains("colour"), "{err}");
    let twice = format!("[{0}, {0}]", one("").trim_start_matches('[').trim_end_matches(']'));
    let err = load(&twice).unwrap_err();
    assert!(err.contains("is declared twice"), "{err}");
    // The object form carries defaults.
    let obj = format!(r#"{{"lifetime": "1440h", "renew_before": "100h", "certificates": {}}}"#, one(""));
    let m = load(&obj).unwrap();
    assert_eq!((m.entries[0].lifetime_secs, m.entries[0].renew_before_secs), (1440 * 3600, 100 * 3600));
    let err = load("{\"certificates\": 3}").unwrap_err();
    assert!(err.contains("must be an array"), "{err}");
    let err = load("[{\"common_name\": \"a.b\"\n,\"cert_path\": \"/x\"}]").unwrap_err();
    assert!(err.contains("missing required field `key_path`"), "{err}");
}

#[test]
fn derived_certificates_follow_the_edge_and_the_manifest_overrides_them() {
    let route = |name: &str| Route {
        name: name.into(),
        host: format!("{name}.lab.example.internal"),
        upstream: Upstream::Server { scheme: Scheme::Http, ip: "10.20.0.40".parse().unwrap(), port: 80, guest: 120 },
        declared_in: "test".into(),
    };
    let edge = Edge {
        domain: "lab.example.internal".into(),
        ca: Some(EdgeGuest { id: 103, name: "step-ca".into(), ip: None }),
        traefik: Some(EdgeGuest { id: 102, name: "traefik".into(), ip: None }),
        gateway: Some(EdgeGuest { id: 101, name: "gateway".into(), ip: None }),
        routes: vec![route("qwen"), route("ollama")],
        dns_records: vec![],
    };
    let (_d, etc) = example_with("[]");
    let inv = crate::inventory::load(&etc).unwrap();
    let all = desired(None, &edge, Some(("portainer.lab.example.internal", "portainer_server")), &mut inv.guests());
    let names: Vec<(&str, u32, &str)> =
        all.iter().map(|c| (c.common_name.as_str(), c.guest, c.cert_path.as_str())).collect();
    assert_eq!(
        names,
        [
            ("gateway.lab.example.internal", 101, "/etc/nginx/ssl/gateway.crt"),
            ("traefik.lab.example.internal", 102, "/etc/traefik/certs/traefik.crt"),
            ("portainer.lab.example.internal", 1001, "/etc/portainer/certs/portainer.crt"),
        ]
    );
    assert_eq!(
        all[2].post_install,
        Some(PostInstall::RestartContainer { guest: 1001, container: "portainer_server".into() }),
        "Portainer reads its certificate at start only"
    );
    assert_eq!(
        all[0].sans,
        ["gateway.lab.example.internal", "ollama.lab.example.internal", "qwen.lab.example.internal"]
    );
    assert_eq!(
        all[1].sans,
        ["traefik.lab.example.internal", "ollama.lab.example.internal", "qwen.lab.example.internal"]
    );
    assert!(all.iter().all(|c| c.key_mode == 0o600));
    let m = load(&one("").replace("nginx.lab", "traefik.lab")).unwrap();
    let all = desired(Some(&m), &edge, None, &mut inv.guests());
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].origin, "certificate-manifest.json entry 1");
    assert_eq!(all[1].guest, 101);
}

/// The example manifest (etc/certificate-manifest.example.json, not loaded by default: tests cut
/// the example configuration down) loads against the example configuration.
#[test]
fn the_example_manifest_loads() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/certificate-manifest.example.json"))
            .unwrap();
    let m = load(&text).unwrap();
    let e: Vec<(&str, u32, &str)> =
        m.entries.iter().map(|e| (e.common_name.as_str(), e.guest, e.key_path.as_str())).collect();
    assert_eq!(
        e,
        [
            ("nginx.lab.example.internal", 101, "/etc/nginx/ssl/nginx.lab.example.internal.key"),
            ("ca.lab.example.internal", 102, "/etc/traefik/certs/ca-route.key"),
        ]
    );
}

#[test]
fn durations_parse_like_go() {
    assert_eq!(parse_duration("2160h"), Some(2160 * 3600));
    assert_eq!(parse_duration("1h30m"), Some(5400));
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_duration("0h"), None);
    assert_eq!(parse_duration("99999999999999999999h"), None);
    assert_eq!(go_duration(2160 * 3600), "2160h");
    assert_eq!(go_duration(90), "90s");
}
