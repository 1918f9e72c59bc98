use super::*;

const LIST_LABELS: &str = "\
services:
  web:
    image: nginx:1.27
    labels:
      - com.example.team=lab
      - traefik.http.routers.web.entrypoints=web
    volumes:
      - data:/data
  db:
    image: postgres:16
volumes:
  data: {}
networks:
  back:
    internal: true
";

const MAP_LABELS: &str = "\
services:
  web:
    image: nginx:1.27
    labels:
      com.example.team: lab
";

fn route() -> Vec<Label> {
    routing_labels(&[Routing {
        router: "web".into(),
        host: "web.lab.example.internal".into(),
        service_key: "web".into(),
        port: 8080,
        https: false,
    }])
}

fn parsed(text: &str) -> Value {
    serde_norway::from_str(text).unwrap()
}

/// The tree without any service's `labels`, to compare what must not change.
fn without_labels(mut v: Value) -> Value {
    if let Some(Value::Mapping(services)) = v.get_mut("services") {
        for (_, s) in services.iter_mut() {
            if let Value::Mapping(m) = s {
                m.remove("labels");
            }
        }
    }
    v
}

#[test]
fn routing_labels_name_the_host_entrypoint_tls_and_port() {
    let l: Vec<String> = route().iter().map(|l| format!("{}={}", l.key, l.value)).collect();
    assert_eq!(
        l,
        [
            "traefik.enable=true",
            "traefik.http.routers.web.rule=Host(`web.lab.example.internal`)",
            "traefik.http.routers.web.entrypoints=websecure",
            "traefik.http.routers.web.tls=true",
            "traefik.http.routers.web.service=web",
            "traefik.http.services.web.loadbalancer.server.port=8080",
        ]
    );
}

#[test]
fn list_labels_keep_their_form_and_phoenix_keys_replace_the_old_value() {
    let out = inject_labels("x.yml", LIST_LABELS, &[ServiceLabels { service: "web".into(), labels: route() }]).unwrap();
    let v = parsed(&out);
    let labels: Vec<&str> =
        v["services"]["web"]["labels"].as_sequence().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert_eq!(labels[0], "com.example.team=lab");
    assert_eq!(labels[1], "traefik.http.routers.web.entrypoints=websecure", "replaced in place");
    assert_eq!(labels.iter().filter(|l| l.starts_with("traefik.http.routers.web.entrypoints")).count(), 1);
    assert!(labels.contains(&"traefik.http.routers.web.rule=Host(`web.lab.example.internal`)"));
    assert_eq!(without_labels(v), without_labels(parsed(LIST_LABELS)), "everything else unchanged");
}

#[test]
fn map_labels_stay_a_map_and_absent_labels_become_one() {
    let out = inject_labels("x.yml", MAP_LABELS, &[ServiceLabels { service: "web".into(), labels: route() }]).unwrap();
    let v = parsed(&out);
    let m = v["services"]["web"]["labels"].as_mapping().unwrap();
    assert_eq!(m.get("com.example.team").unwrap().as_str(), Some("lab"));
    assert_eq!(m.get("traefik.http.services.web.loadbalancer.server.port").unwrap().as_str(), Some("8080"));
    // The port is a string label, not a YAML number (compose wants strings in a label map).
    assert!(out.contains("traefik.http.services.web.loadbalancer.server.port: '8080'"), "{out}");

    let out = inject_labels("x.yml", LIST_LABELS, &[ServiceLabels { service: "db".into(), labels: route() }]).unwrap();
    assert!(parsed(&out)["services"]["db"]["labels"].is_mapping());
}

#[test]
fn structure_changing_values_are_refused() {
    for (key, value) in [
        ("traefik.enable", "true\nprivileged: true"),
        ("traefik.http.routers.web.rule", "Host(`${HOME}`)"),
        ("traefik enable", "true"),
        ("traefik.enable: x\n", "true"),
        ("", "true"),
    ] {
        let l = vec![Label { key: key.into(), value: value.into() }];
        let e = inject_labels("x.yml", MAP_LABELS, &[ServiceLabels { service: "web".into(), labels: l }]);
        assert!(matches!(e, Err(ComposeError::Refused(..))), "{key:?}={value:?}: {e:?}");
    }
}

#[test]
fn unknown_service_and_bad_yaml_are_errors_that_name_the_file() {
    let e = inject_labels(
        "stacks/a/docker-compose.yml",
        MAP_LABELS,
        &[ServiceLabels { service: "nope".into(), labels: route() }],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("stacks/a/docker-compose.yml") && e.contains("`nope`"), "{e}");
    let e = inject_labels("b.yml", "services: [\n", &[]).unwrap_err().to_string();
    assert!(e.starts_with("b.yml: not valid YAML"), "{e}");
    let e = inject_labels("c.yml", "- a\n", &[]).unwrap_err().to_string();
    assert!(e.contains("top level is not a mapping"), "{e}");
    let text = "services:\n  web:\n    image: x\n    labels: 3\n";
    let e = inject_labels("d.yml", text, &[ServiceLabels { service: "web".into(), labels: route() }]).unwrap_err();
    assert!(e.to_string().contains("neither a list nor a mapping"), "{e}");
}

const PORTAINER: &str = "\
services:
  portainer:
    image: portainer/portainer-ce:2.21.5
    command: -H unix:///var/run/docker.sock --tlsverify --tlscert /x.crt
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - portainer_data_nfs:/data
      - ./old:/certs
volumes:
  portainer_data_nfs:
    external: true
";

#[test]
fn portainer_gets_its_own_tls_flags_and_a_read_only_cert_mount() {
    let mut c = Compose::parse("p.yml", PORTAINER).unwrap();
    let svc = c.portainer_service().unwrap();
    assert_eq!(svc, "portainer");
    c.portainer_tls(&svc, "/etc/portainer/certs", "/certs").unwrap();
    c.pass_env(&svc, "AGENT_SECRET").unwrap();
    let v = parsed(&c.to_text().unwrap());
    let cmd: Vec<&str> =
        v["services"]["portainer"]["command"].as_sequence().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert_eq!(
        cmd,
        ["-H", "unix:///var/run/docker.sock", "--sslcert", "/certs/portainer.crt", "--sslkey", "/certs/portainer.key"]
    );
    let vols: Vec<&str> =
        v["services"]["portainer"]["volumes"].as_sequence().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert_eq!(
        vols,
        ["/var/run/docker.sock:/var/run/docker.sock", "portainer_data_nfs:/data", "/etc/portainer/certs:/certs:ro"]
    );
    assert_eq!(v["services"]["portainer"]["environment"]["AGENT_SECRET"].as_str(), Some("${AGENT_SECRET}"));
    assert_eq!(v["volumes"], parsed(PORTAINER)["volumes"]);

    // Applying it again changes nothing (the deployed text is stable: no churn on re-sync).
    let once = c.to_text().unwrap();
    let mut again = Compose::parse("p.yml", &once).unwrap();
    again.portainer_tls("portainer", "/etc/portainer/certs", "/certs").unwrap();
    again.pass_env("portainer", "AGENT_SECRET").unwrap();
    assert_eq!(again.to_text().unwrap(), once);
}

#[test]
fn portainer_without_a_host_flag_gets_the_local_socket() {
    let text = "services:\n  p:\n    image: portainer/portainer-ee:2.21\n";
    let mut c = Compose::parse("p.yml", text).unwrap();
    c.portainer_tls("p", "/etc/portainer/certs", "/certs").unwrap();
    let v = parsed(&c.to_text().unwrap());
    assert_eq!(v["services"]["p"]["command"][0].as_str(), Some("-H"));
    let e = Compose::parse("p.yml", "services:\n  a:\n    image: nginx\n").unwrap().portainer_service().unwrap_err();
    assert!(e.to_string().contains("no service runs"), "{e}");
    let mut c = Compose::parse("p.yml", "services:\n  p:\n    image: portainer/portainer-ce\n    command: a \"b c\"\n")
        .unwrap();
    assert!(c.portainer_tls("p", "/etc/portainer/certs", "/certs").is_err());
    let mut c = Compose::parse("p.yml", text).unwrap();
    for bad in ["relative/dir", "/a:/b", "/a/../b", "/a b", "/a$HOME", "/a\n"] {
        assert!(matches!(c.portainer_tls("p", bad, "/certs"), Err(ComposeError::Refused(..))), "{bad:?}");
    }
}

#[test]
fn rebind_points_relative_file_mounts_at_the_placed_copy() {
    let text = "\
services:
  q:
    image: qdrant/qdrant
    volumes:
      - qdrant_data_nfs:/qdrant/storage
      - ./config/production.yaml:/qdrant/config/production.yaml:ro
      - type: bind
        source: ./x
        target: /etc/x
";
    let mut c = Compose::parse("q.yml", text).unwrap();
    let n = c.rebind("/qdrant/config/production.yaml", "/opt/phoenix/stacks/q/config/production.yaml").unwrap();
    assert_eq!(n, 1);
    assert_eq!(c.rebind("/etc/x", "/opt/phoenix/stacks/q/x").unwrap(), 1);
    assert_eq!(c.rebind("/not/mounted", "/opt/phoenix/stacks/q/y").unwrap(), 0);
    let v = parsed(&c.to_text().unwrap());
    assert_eq!(
        v["services"]["q"]["volumes"][1].as_str(),
        Some("/opt/phoenix/stacks/q/config/production.yaml:/qdrant/config/production.yaml:ro")
    );
    assert_eq!(v["services"]["q"]["volumes"][2]["source"].as_str(), Some("/opt/phoenix/stacks/q/x"));
    assert_eq!(v["services"]["q"]["volumes"][0].as_str(), Some("qdrant_data_nfs:/qdrant/storage"));
}

#[test]
fn external_volumes_are_listed_by_their_docker_names() {
    let c = Compose::parse(
        "x.yml",
        "services:\n  a:\n    image: x\nvolumes:\n  data_nfs:\n    external: true\n  local_only: {}\n  \
         renamed:\n    external: true\n    name: real_name\n  legacy:\n    external:\n      name: old_style\n  \
         plain:\n",
    )
    .unwrap();
    assert_eq!(c.external_volumes().unwrap(), ["data_nfs", "real_name", "old_style"]);
    let none = Compose::parse("y.yml", "services:\n  a:\n    image: x\n").unwrap();
    assert!(none.external_volumes().unwrap().is_empty());
    // A name docker would refuse (or that would reach a shell word) is refused here.
    let bad =
        Compose::parse("z.yml", "services: {}\nvolumes:\n  v:\n    external: true\n    name: \"a b;rm\"\n").unwrap();
    let e = bad.external_volumes().unwrap_err().to_string();
    assert!(e.contains("z.yml: external volume `a b;rm` is not a docker volume name"), "{e}");
}
