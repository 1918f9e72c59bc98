//! What listens on the simulated lab's network: a TCP port of a guest's address is served by a
//! running container publishing it, in a running guest whose Docker daemon is up — nothing
//! else. The connector asks this before it routes phoenix to the Portainer simulator, and the
//! simulator asks it before it "pings" an agent, so a test passes only when phoenix really
//! deployed, started and kept the service running, like on a real lab.
//!
//! Names resolve the way the lab's containers resolve them: an address literal is itself; a
//! name is a `host-record=` of the host's dnsmasq (`/etc/dnsmasq.d/*.conf`, the lab DNS every
//! guest points at), or unknown.

use crate::inside::docker_start::{is_portainer_agent, is_portainer_server, portainer_tls_files};
use crate::state::{GuestKind, PowerState, SimState};

/// What serves a port (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    pub guest: u32,
    pub container: String,
    pub container_id: String,
    pub image: String,
    /// `docker restart`s so far (each is a new process).
    pub restarts: u32,
    pub kind: ServiceKind,
    /// The certificate chain and key a Portainer server was started with (`--sslcert`,
    /// `--sslkey` through its binds), read from the guest's files as they are now.
    pub tls: Option<TlsFiles>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    PortainerServer,
    PortainerAgent,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_path: String,
    pub key_path: String,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl ServiceInfo {
    /// Changes whenever the serving process is another one: a re-created container (new id) or
    /// a restarted one. Compared by the connector after each mutating command.
    pub fn generation(&self) -> String {
        format!("{}/{}/{}/{}", self.guest, self.container, self.container_id, self.restarts)
    }
}

/// The address a guest is configured with (LXC `net0` `ip=`, VM cloud-init `ipconfig0` `ip=`
/// or `net0` `ip=`), without its prefix length; `None` for DHCP or none.
pub(crate) fn guest_address(config: &indexmap::IndexMap<String, String>, kind: GuestKind) -> Option<String> {
    let keys: &[&str] = match kind {
        GuestKind::Lxc => &["net0"],
        _ => &["ipconfig0", "net0"],
    };
    keys.iter().find_map(|k| {
        let v = config.get(*k)?;
        let ip = v.split(',').find_map(|p| p.strip_prefix("ip="))?;
        let ip = ip.split('/').next()?;
        ip.parse::<std::net::IpAddr>().ok().map(|_| ip.to_string())
    })
}

/// `name` as an address (see the module documentation).
pub(crate) fn resolve(st: &SimState, name: &str) -> Option<String> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Some(name.to_string());
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    st.files.iter().filter(|(p, _)| p.starts_with("/etc/dnsmasq.d/") && p.ends_with(".conf")).find_map(|(_, f)| {
        String::from_utf8_lossy(&f.content).lines().find_map(|l| {
            let rec = l.trim().strip_prefix("host-record=")?;
            let parts: Vec<&str> = rec.split(',').map(str::trim).collect();
            let names_match = parts.iter().any(|p| p.eq_ignore_ascii_case(&name));
            let ip = parts.iter().find(|p| p.parse::<std::net::Ipv4Addr>().is_ok())?;
            names_match.then(|| ip.to_string())
        })
    })
}

/// What answers on `host:port`, if anything.
pub(crate) fn service_at(st: &SimState, host: &str, port: u16) -> Option<ServiceInfo> {
    let ip = resolve(st, host)?;
    st.guests.iter().find_map(|(id, g)| {
        if g.status != PowerState::Running || guest_address(&g.config, g.kind).as_deref() != Some(ip.as_str()) {
            return None;
        }
        if !g.os.units.get("docker.service").is_some_and(|u| u.active) {
            return None;
        }
        let (name, c) = g.os.docker.containers.iter().find(|(_, c)| c.state == "running" && c.ports.contains(&port))?;
        let kind = if is_portainer_server(&c.image) {
            ServiceKind::PortainerServer
        } else if is_portainer_agent(&c.image) {
            ServiceKind::PortainerAgent
        } else {
            ServiceKind::Other
        };
        let tls = match kind {
            // A running server found its files at start; read them as they are now (a file
            // replaced since is served only after a restart: the connector keys on generation).
            ServiceKind::PortainerServer => match portainer_tls_files(g, c) {
                Ok(Some((cert_path, key_path))) => Some(TlsFiles {
                    cert_pem: g.files.get(&cert_path).map(|f| f.content.clone()).unwrap_or_default(),
                    key_pem: g.files.get(&key_path).map(|f| f.content.clone()).unwrap_or_default(),
                    cert_path,
                    key_path,
                }),
                _ => None,
            },
            _ => None,
        };
        Some(ServiceInfo {
            guest: *id,
            container: name.clone(),
            container_id: c.id.clone(),
            image: c.image.clone(),
            restarts: c.restarts,
            kind,
            tls,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::SimHost;

    fn ok(h: &SimHost, line: &str) {
        let o = h.exec(&line.split_whitespace().map(String::from).collect::<Vec<_>>(), None);
        assert_eq!(o.code, 0, "{line}: {}", o.stderr_str());
    }
    fn put(h: &SimHost, path: &str, content: &[u8]) {
        let argv = ["pct", "exec", "200", "--", "tee", path].map(String::from);
        assert_eq!(h.exec(&argv, Some(content)).code, 0, "{path}");
    }
    fn state_of(h: &SimHost, name: &str) -> String {
        h.with_state(|s| s.guests[&200].os.docker.containers[name].state.clone())
    }

    const COMPOSE: &[u8] = b"services:\n  p:\n    image: portainer/portainer-ce:2.21.5\n    container_name: portainer_server\n    command: [\"-H\", \"unix:///var/run/docker.sock\", \"--sslcert\", \"/certs/portainer.crt\", \"--sslkey\", \"/certs/portainer.key\"]\n    restart: unless-stopped\n    ports: [\"9443:9443\"]\n    volumes:\n      - /etc/portainer/certs:/certs:ro\n";

    fn lab() -> SimHost {
        let h = SimHost::new(SimState::default());
        ok(&h, "pct create 200 local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst --hostname d --rootfs local-zfs:4 --net0 name=eth0,bridge=vmbr0,ip=10.0.0.20/24,gw=10.0.0.1");
        ok(&h, "pct start 200");
        ok(&h, "pct exec 200 -- apt-get install -y docker.io");
        ok(&h, "pct exec 200 -- systemctl enable --now docker");
        put(&h, "/opt/p/docker-compose.yml", COMPOSE);
        h
    }

    #[test]
    fn a_portainer_server_serves_only_with_its_certificate_and_while_it_runs() {
        let h = lab();
        assert_eq!(h.service_at("10.0.0.20", 9443), None, "nothing deployed");
        ok(&h, "pct exec 200 -- docker compose --project-directory /opt/p up -d");
        // No certificate behind the bind: Portainer exits at start, docker keeps restarting it.
        assert_eq!(state_of(&h, "portainer_server"), "restarting");
        assert_eq!(h.service_at("10.0.0.20", 9443), None);
        put(&h, "/etc/portainer/certs/portainer.crt", b"CERT");
        put(&h, "/etc/portainer/certs/portainer.key", b"KEY");
        ok(&h, "pct exec 200 -- docker restart portainer_server");
        let s = h.service_at("10.0.0.20", 9443).expect("served once its files exist");
        assert_eq!((s.kind, s.container.as_str()), (ServiceKind::PortainerServer, "portainer_server"));
        let tls = s.tls.clone().expect("started with --sslcert");
        assert_eq!(
            (tls.cert_path.as_str(), tls.cert_pem.as_slice()),
            ("/etc/portainer/certs/portainer.crt", &b"CERT"[..])
        );
        assert_eq!(h.service_at("10.0.0.20", 9000), None, "a port it does not publish");
        assert_eq!(h.service_at("10.0.0.21", 9443), None, "another address");
        ok(&h, "pct exec 200 -- docker restart portainer_server");
        let again = h.service_at("10.0.0.20", 9443).unwrap();
        assert_ne!(again.generation(), s.generation(), "a restart is a new process");
        ok(&h, "pct exec 200 -- docker stop portainer_server");
        assert_eq!(h.service_at("10.0.0.20", 9443), None, "stopped");
        ok(&h, "pct exec 200 -- docker start portainer_server");
        assert!(h.service_at("10.0.0.20", 9443).is_some());
        ok(&h, "pct exec 200 -- systemctl stop docker");
        assert_eq!(h.service_at("10.0.0.20", 9443), None, "daemon down");
        ok(&h, "pct exec 200 -- systemctl start docker");
        ok(&h, "pct stop 200");
        assert_eq!(h.service_at("10.0.0.20", 9443), None, "guest stopped");
    }

    #[test]
    fn agents_answer_by_address_or_by_the_lab_dns_name() {
        let h = lab();
        ok(
            &h,
            "pct exec 200 -- docker run -d --name portainer_agent --restart=always -p 9001:9001 portainer/agent:2.21.5",
        );
        assert_eq!(h.service_at("10.0.0.20", 9001).map(|s| s.kind), Some(ServiceKind::PortainerAgent));
        assert_eq!(h.service_at("agent.lab.example", 9001), None, "an unknown name resolves to nothing");
        h.with_state(|s| {
            s.files.insert(
                "/etc/dnsmasq.d/phoenix.conf".into(),
                crate::FileData {
                    content: b"# guest 200\nhost-record=agent.lab.example,10.0.0.20\n".to_vec(),
                    mode: 0o644,
                    owner: "root".into(),
                    group: "root".into(),
                },
            )
        });
        assert_eq!(h.service_at("Agent.lab.example", 9001).map(|s| s.guest), Some(200));
    }

    #[test]
    fn a_vm_is_found_by_its_cloud_init_address() {
        let mut c = indexmap::IndexMap::new();
        c.insert("net0".to_string(), "virtio=BC:24:11:00:00:01,bridge=vmbr0".to_string());
        assert_eq!(guest_address(&c, GuestKind::Qemu), None);
        c.insert("ipconfig0".to_string(), "ip=10.20.0.50/24,gw=10.20.0.1".to_string());
        assert_eq!(guest_address(&c, GuestKind::Qemu).as_deref(), Some("10.20.0.50"));
        c.insert("ipconfig0".to_string(), "ip=dhcp".to_string());
        assert_eq!(guest_address(&c, GuestKind::Qemu), None);
    }
}
