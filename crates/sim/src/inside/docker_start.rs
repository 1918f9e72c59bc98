//! What happens when docker starts a container's process: most images simply run; the
//! Portainer server reads its TLS certificate and key at start (`--sslcert`, `--sslkey`,
//! api/cmd/portainer/main.go → initSSLService → tls.LoadX509KeyPair) and dies on a missing file
//! with `log.Fatal` (exit 1). Under a restart policy docker starts it again and again, so
//! `docker inspect` reports `restarting`; without one it stays `exited`. Either way nothing
//! listens on its ports — what phoenix must notice, rather than a simulator that answers anyway.

use crate::state::{DockerContainer, Guest};

/// Whether an image is the Portainer server (CE or EE, any tag).
pub(crate) fn is_portainer_server(image: &str) -> bool {
    image.starts_with("portainer/portainer-ce") || image.starts_with("portainer/portainer-ee")
}

/// Whether an image is the Portainer agent.
pub(crate) fn is_portainer_agent(image: &str) -> bool {
    image.starts_with("portainer/agent")
}

/// The value of `--flag X` or `--flag=X` in a command.
pub(crate) fn flag_value<'a>(command: &'a [String], flag: &str) -> Option<&'a str> {
    let eq = format!("{flag}=");
    command.iter().enumerate().find_map(|(i, w)| {
        if w == flag {
            command.get(i + 1).map(String::as_str)
        } else {
            w.strip_prefix(eq.as_str())
        }
    })
}

/// The guest path a path inside the container reads, through the container's bind volumes
/// (`/etc/portainer/certs:/certs:ro` maps `/certs/x` to `/etc/portainer/certs/x`). `None` when no
/// bind covers it: the file would come from the image, and the Portainer image ships no
/// certificate.
pub(crate) fn guest_path(volumes: &[String], inside: &str) -> Option<String> {
    volumes.iter().find_map(|v| {
        let mut parts = v.splitn(3, ':');
        let (src, dst) = (parts.next()?, parts.next()?);
        if !src.starts_with('/') {
            return None; // a named volume: docker's storage, not the guest's files
        }
        let dst = dst.trim_end_matches('/');
        let rest = inside.strip_prefix(dst)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(format!("{}{rest}", src.trim_end_matches('/')))
    })
}

/// The guest files a Portainer server is told to serve (certificate, key), mapped through its
/// binds; `Err` names the first one it cannot open, as Portainer's fatal log line does.
pub(crate) fn portainer_tls_files(g: &Guest, c: &DockerContainer) -> Result<Option<(String, String)>, String> {
    let (Some(cert), Some(key)) = (flag_value(&c.command, "--sslcert"), flag_value(&c.command, "--sslkey")) else {
        return Ok(None);
    };
    let mut found = Vec::new();
    for inside in [cert, key] {
        match guest_path(&c.volumes, inside) {
            Some(p) if g.files.contains_key(&p) => found.push(p),
            _ => return Err(format!("open {inside}: no such file or directory")),
        }
    }
    let key = found.pop().unwrap_or_default();
    let cert = found.pop().unwrap_or_default();
    Ok(Some((cert, key)))
}

/// Start (or restart) a container's process: `running`, or dead as described above.
pub(crate) fn start(g: &Guest, c: &mut DockerContainer) {
    let failure = if is_portainer_server(&c.image) { portainer_tls_files(g, c).err() } else { None };
    match failure {
        None => {
            c.state = "running".into();
            c.exit_reason = None;
        }
        Some(why) => {
            let restarts = c.restart_policy.as_deref().is_some_and(|p| p != "no");
            c.state = if restarts { "restarting" } else { "exited" }.into();
            c.exit_reason = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_map_container_paths_to_guest_files() {
        let v = vec!["portainer_data_nfs:/data".to_string(), "/etc/portainer/certs:/certs:ro".to_string()];
        assert_eq!(guest_path(&v, "/certs/portainer.crt").as_deref(), Some("/etc/portainer/certs/portainer.crt"));
        assert_eq!(guest_path(&v, "/certsx/a"), None, "a prefix is not a directory");
        assert_eq!(guest_path(&v, "/data/portainer.db"), None, "named volumes are not the guest's files");
        let c: Vec<String> =
            ["-H", "unix:///x", "--sslcert", "/certs/a.crt", "--sslkey=/certs/a.key"].map(String::from).into();
        assert_eq!(
            (flag_value(&c, "--sslcert"), flag_value(&c, "--sslkey")),
            (Some("/certs/a.crt"), Some("/certs/a.key"))
        );
        assert_eq!(flag_value(&c, "--tlscert"), None);
    }
}
