//! The Docker CLI inside a guest, as far as the Portainer stages drive it: volumes
//! (`docker volume inspect|create`), `docker compose … up -d`, `docker inspect --format
//! {{.State.Status}}`, `docker run -d`, `docker rm -f`, `docker restart|stop|start`, and an HTTPS `/ping`
//! on a published port (the Portainer agent answers 204). Messages are the Docker CLI's
//! (docker 24+/compose v2); every command needs the daemon (`docker.service` active).

use super::docker_start;
use super::*;
use crate::state::{DockerContainer, DockerState};
use std::collections::BTreeMap;

const NO_DAEMON: &str =
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";

fn daemon_up(g: &Guest) -> bool {
    g.os.units.get("docker.service").is_some_and(|u| u.active)
}

/// A container id the way docker prints one: 64 hex digits, derived from the name and count.
fn container_id(name: &str, n: usize) -> String {
    let d = Sha256::digest(format!("{name}/{n}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn docker(g: &mut Guest, args: &[&str]) -> Output {
    if !daemon_up(g) {
        return out(1, "", NO_DAEMON);
    }
    let a = |i: usize| args.get(i).copied().unwrap_or("");
    match a(0) {
        "volume" if a(1) == "inspect" => volume_inspect(&g.os.docker, &args[2..]),
        "volume" if a(1) == "create" => volume_create(&mut g.os.docker, &args[2..]),
        "compose" => compose(g, &args[1..]),
        "inspect" => inspect(&g.os.docker, &args[1..]),
        "run" => run(g, &args[1..]),
        "rm" => rm(&mut g.os.docker, &args[1..]),
        "restart" | "start" | "stop" => lifecycle(g, a(0), &args[1..]),
        other => out(127, "", format!("sim: docker {other} is not simulated\n")),
    }
}

fn volume_inspect(d: &DockerState, args: &[&str]) -> Output {
    let names: Vec<&str> = args.iter().copied().filter(|x| !x.starts_with('-')).collect();
    for n in &names {
        if !d.volumes.contains_key(*n) {
            return out(1, "[]\n", format!("Error response from daemon: get {n}: no such volume\n"));
        }
    }
    let items: Vec<String> = names
        .iter()
        .map(|n| format!("    {{\n        \"Driver\": \"local\",\n        \"Name\": \"{n}\",\n        \"Scope\": \"local\"\n    }}"))
        .collect();
    done(format!("[\n{}\n]\n", items.join(",\n")))
}

fn volume_create(d: &mut DockerState, args: &[&str]) -> Output {
    let mut opts = BTreeMap::new();
    let mut name = None;
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--driver" | "-d" => i += 1,
            "--opt" | "-o" => {
                i += 1;
                let Some((k, v)) = args.get(i).and_then(|o| o.split_once('=')) else {
                    return out(
                        1,
                        "",
                        format!(
                            "invalid argument \"{}\" for \"-o, --opt\" flag: bad format\n",
                            args.get(i).unwrap_or(&"")
                        ),
                    );
                };
                opts.insert(k.to_string(), v.to_string());
            }
            x if !x.starts_with('-') => name = Some(x.to_string()),
            _ => {}
        }
        i += 1;
    }
    let Some(name) = name else {
        return out(1, "", "sim: docker volume create without a name is not simulated\n");
    };
    // Creating an existing volume with the same options is a no-op, as in docker.
    d.volumes.entry(name.clone()).or_insert(opts);
    done(format!("{name}\n"))
}

fn inspect(d: &DockerState, args: &[&str]) -> Output {
    let mut format = None;
    let mut names = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--format" | "-f" => {
                i += 1;
                format = args.get(i).copied();
            }
            x if !x.starts_with('-') => names.push(x),
            _ => {}
        }
        i += 1;
    }
    let mut text = String::new();
    for n in names {
        let Some(c) = d.containers.get(n) else {
            return out(1, text, format!("Error: No such object: {n}\n"));
        };
        match format {
            Some("{{.State.Status}}") => text.push_str(&format!("{}\n", c.state)),
            Some("{{.Config.Image}}") => text.push_str(&format!("{}\n", c.image)),
            Some(f) => return out(1, "", format!("sim: docker inspect format {f} is not simulated\n")),
            None => text.push_str(&format!("[{{\"Name\": \"/{n}\", \"State\": {{\"Status\": \"{}\"}}}}]\n", c.state)),
        }
    }
    done(text)
}

fn run(g: &mut Guest, args: &[&str]) -> Output {
    let mut name = None;
    let mut ports = Vec::new();
    let mut env_keys = Vec::new();
    let mut volumes = Vec::new();
    let mut restart_policy = None;
    let mut command = Vec::new();
    let mut image = None;
    let mut i = 0;
    while i < args.len() {
        let x = args[i];
        let value = |i: &mut usize| {
            *i += 1;
            args.get(*i).copied().unwrap_or("")
        };
        match x {
            "-d" | "--detach" => {}
            "--name" => name = Some(value(&mut i).to_string()),
            "-p" | "--publish" => {
                let p = value(&mut i);
                if let Some(host) = p.split(':').rev().nth(1).and_then(|h| h.parse::<u16>().ok()) {
                    ports.push(host);
                }
            }
            "-e" | "--env" => env_keys.push(value(&mut i).split('=').next().unwrap_or("").to_string()),
            "--env-file" => {
                let v = value(&mut i);
                env_keys.push(format!("@{v}"));
            }
            "-v" | "--volume" => volumes.push(value(&mut i).to_string()),
            "--restart" => restart_policy = Some(value(&mut i).to_string()),
            _ if x.starts_with("--restart=") || x.starts_with("--name=") => {
                if let Some(n) = x.strip_prefix("--name=") {
                    name = Some(n.to_string());
                }
                if let Some(p) = x.strip_prefix("--restart=") {
                    restart_policy = Some(p.to_string());
                }
            }
            _ if x.starts_with('-') => return out(125, "", format!("sim: docker run flag {x} is not simulated\n")),
            _ => {
                image = Some(x.to_string());
                command = args[i + 1..].iter().map(|w| w.to_string()).collect();
                break;
            }
        }
        i += 1;
    }
    let Some(image) = image else {
        return out(125, "", "\"docker run\" requires at least 1 argument.\n");
    };
    let d = &mut g.os.docker;
    let name = name.unwrap_or_else(|| format!("sim_{}", d.containers.len()));
    if let Some(c) = d.containers.get(&name) {
        return out(
            125,
            "",
            format!(
                "docker: Error response from daemon: Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.\n",
                c.id
            ),
        );
    }
    d.created += 1;
    let id = container_id(&name, d.created);
    let mut c = DockerContainer {
        id: id.clone(),
        image,
        state: "created".into(),
        ports,
        project: None,
        env_keys,
        restarts: 0,
        command,
        volumes,
        restart_policy,
        exit_reason: None,
    };
    docker_start::start(g, &mut c);
    g.os.docker.containers.insert(name, c);
    done(format!("{id}\n"))
}

fn rm(d: &mut DockerState, args: &[&str]) -> Output {
    let force = args.iter().any(|a| *a == "-f" || *a == "--force");
    let mut text = String::new();
    for n in args.iter().filter(|a| !a.starts_with('-')) {
        match d.containers.get(*n) {
            Some(c) if c.state == "running" && !force => {
                return out(1, text, format!("Error response from daemon: cannot remove container \"/{n}\": container is running: stop the container before removing or force remove\n"));
            }
            Some(_) => {
                d.containers.shift_remove(*n);
                text.push_str(&format!("{n}\n"));
            }
            // `rm -f` of a missing container succeeds silently (docker 23+).
            None if force => {}
            None => return out(1, text, format!("Error response from daemon: No such container: {n}\n")),
        }
    }
    done(text)
}

/// `docker restart|start|stop NAME…`. A restart is a new process (counted in `restarts`, which
/// the Portainer simulator follows); `start` of a running container and `stop` of a stopped one
/// change nothing, as in docker. A stopped container stays stopped under `unless-stopped`.
fn lifecycle(g: &mut Guest, verb: &str, args: &[&str]) -> Output {
    let mut text = String::new();
    for n in args.iter().filter(|a| !a.starts_with('-')) {
        let Some(mut c) = g.os.docker.containers.get(*n).cloned() else {
            return out(1, text, format!("Error response from daemon: No such container: {n}\n"));
        };
        match verb {
            "stop" => {
                c.state = "exited".into();
                c.exit_reason = None;
            }
            "start" if c.state == "running" => {}
            _ => {
                if verb == "restart" || c.state != "running" {
                    c.restarts += 1;
                }
                docker_start::start(g, &mut c);
            }
        }
        g.os.docker.containers.insert(n.to_string(), c);
        text.push_str(&format!("{n}\n"));
    }
    done(text)
}

/// `docker compose [-f F] [--project-directory D] [-p P] up -d`: one container per service
/// (`container_name`, else `<project>-<service>-1`), external volumes must exist.
fn compose(g: &mut Guest, args: &[&str]) -> Output {
    let mut file = None;
    let mut dir = None;
    let mut project = None;
    let mut verb = None;
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "-f" | "--file" => {
                i += 1;
                file = args.get(i).map(|s| s.to_string());
            }
            "--project-directory" => {
                i += 1;
                dir = args.get(i).map(|s| s.to_string());
            }
            "-p" | "--project-name" => {
                i += 1;
                project = args.get(i).map(|s| s.to_string());
            }
            x if !x.starts_with('-') && verb.is_none() => verb = Some(x),
            _ => {}
        }
        i += 1;
    }
    if verb != Some("up") || !args.contains(&"-d") {
        return out(127, "", "sim: only `docker compose … up -d` is simulated\n");
    }
    let path = match (&file, &dir) {
        (Some(f), _) if f.starts_with('/') => f.clone(),
        (Some(f), Some(d)) => format!("{d}/{f}"),
        (None, Some(d)) => format!("{d}/docker-compose.yml"),
        _ => return out(1, "", "sim: give docker compose an absolute -f or --project-directory\n"),
    };
    let Some(text) = g.files.get(&path).map(|f| f.content.clone()) else {
        return out(1, "", format!("open {path}: no such file or directory\n"));
    };
    let project = project.unwrap_or_else(|| {
        let d = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        d.rsplit('/').next().unwrap_or("default").to_string()
    });
    let env_file = path.rsplit_once('/').map(|(d, _)| format!("{d}/.env")).unwrap_or_default();
    let env: Vec<String> = g
        .files
        .get(&env_file)
        .map(|f| {
            String::from_utf8_lossy(&f.content)
                .lines()
                .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
                .collect()
        })
        .unwrap_or_default();
    compose_up(g, &project, &text, &env)
}

/// `docker compose -p <project> up -d` of a compose file's text, with the environment variables
/// `env` (names only: the model keeps no values). Shared by the CLI above and by the Portainer
/// agent deploying a stack (see stack_deploy.rs).
pub(crate) fn compose_up(g: &mut Guest, project: &str, text: &[u8], env: &[String]) -> Output {
    let project = project.to_string();
    let env = env.to_vec();
    if !daemon_up(g) {
        return out(1, "", NO_DAEMON);
    }
    let doc: serde_norway::Value = match serde_norway::from_slice(text) {
        Ok(v) => v,
        Err(e) => return out(1, "", format!("yaml: {e}\n")),
    };
    if let Some(serde_norway::Value::Mapping(vols)) = doc.get("volumes") {
        for (k, v) in vols {
            let external = v.get("external").and_then(serde_norway::Value::as_bool) == Some(true);
            let name = k.as_str().unwrap_or("");
            if external && !g.os.docker.volumes.contains_key(name) {
                return out(1, "", format!("external volume \"{name}\" not found\n"));
            }
        }
    }
    let Some(serde_norway::Value::Mapping(services)) = doc.get("services") else {
        return out(1, "", "no service selected\n");
    };
    let mut log = String::new();
    for (k, svc) in services {
        let svc_name = k.as_str().unwrap_or("");
        let Some(image) = svc.get("image").and_then(serde_norway::Value::as_str) else {
            return out(1, "", format!("service \"{svc_name}\" has neither an image nor a build context specified: invalid compose project\n"));
        };
        let name = svc
            .get("container_name")
            .and_then(serde_norway::Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("{project}-{svc_name}-1"));
        let words = |v: &serde_norway::Value| -> Vec<String> {
            match v {
                serde_norway::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                serde_norway::Value::Sequence(seq) => {
                    seq.iter().filter_map(|w| w.as_str().map(str::to_string)).collect()
                }
                _ => Vec::new(),
            }
        };
        let command = svc.get("command").map(words).unwrap_or_default();
        let volumes = svc
            .get("volumes")
            .and_then(serde_norway::Value::as_sequence)
            .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let restart_policy = svc.get("restart").and_then(serde_norway::Value::as_str).map(str::to_string);
        let ports: Vec<u16> = svc
            .get("ports")
            .and_then(serde_norway::Value::as_sequence)
            .map(|s| s.iter().filter_map(|p| p.as_str()?.split(':').rev().nth(1)?.parse().ok()).collect())
            .unwrap_or_default();
        let d = &mut g.os.docker;
        d.created += 1;
        let id = container_id(&name, d.created);
        // Compose recreates a container whose configuration changed; the model recreates every
        // time `up` runs, which is what phoenix must avoid calling needlessly.
        let mut c = DockerContainer {
            id,
            image: image.to_string(),
            state: "created".into(),
            ports,
            project: Some(project.clone()),
            env_keys: env.clone(),
            restarts: 0,
            command,
            volumes,
            restart_policy,
            exit_reason: None,
        };
        docker_start::start(g, &mut c);
        g.os.docker.containers.insert(name.clone(), c);
        log.push_str(&format!(" Container {name}  Started\n"));
    }
    out(0, "", log)
}

/// An HTTPS `/ping` to a port a running container publishes on this guest: the Portainer
/// agent answers 204 with no body. `None` when the URL is not such a ping.
pub(super) fn ping(g: &Guest, url: &str) -> Option<u16> {
    let rest = url.strip_prefix("https://")?;
    let (hostport, path) = rest.split_once('/')?;
    let (host, port) = hostport.split_once(':')?;
    if path != "ping" || !matches!(host, "localhost" | "127.0.0.1") {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    let up = daemon_up(g) && g.os.docker.containers.values().any(|c| c.state == "running" && c.ports.contains(&port));
    Some(if up { 204 } else { 0 })
}

#[cfg(test)]
mod tests {
    use crate::host::SimHost;
    use crate::output::Output;
    use crate::state::SimState;

    fn run(h: &SimHost, line: &str) -> Output {
        h.exec(&line.split_whitespace().map(String::from).collect::<Vec<_>>(), None)
    }
    fn ok(h: &SimHost, line: &str) -> Output {
        let o = run(h, line);
        assert_eq!(o.code, 0, "{line}: {}", o.stderr_str());
        o
    }
    fn host_with_docker() -> SimHost {
        let h = SimHost::new(SimState::default());
        ok(&h, "pct create 200 local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst --hostname d --rootfs local-zfs:4 --net0 name=eth0,bridge=vmbr0,ip=10.0.0.20/24,gw=10.0.0.1");
        ok(&h, "pct start 200");
        ok(&h, "pct exec 200 -- apt-get install -y docker.io");
        h
    }

    #[test]
    fn needs_the_daemon() {
        let h = host_with_docker();
        ok(&h, "pct exec 200 -- systemctl stop docker");
        let o = run(&h, "pct exec 200 -- docker inspect x");
        assert_eq!(o.code, 1);
        assert!(o.stderr_str().starts_with("Cannot connect to the Docker daemon"), "{}", o.stderr_str());
    }

    #[test]
    fn volumes_compose_inspect_run_and_ping() {
        let h = host_with_docker();
        ok(&h, "pct exec 200 -- systemctl enable --now docker");
        let o = run(&h, "pct exec 200 -- docker volume inspect data_nfs");
        assert_eq!(
            (o.code, o.stderr_str().as_str()),
            (1, "Error response from daemon: get data_nfs: no such volume\n")
        );
        let compose = b"services:\n  p:\n    image: portainer/portainer-ce:2.21.5\n    container_name: portainer_server\n    ports: [\"9443:9443\"]\nvolumes:\n  data_nfs:\n    external: true\n";
        let t =
            h.exec(&["pct", "exec", "200", "--", "tee", "/opt/p/docker-compose.yml"].map(String::from), Some(compose));
        assert_eq!(t.code, 0, "{}", t.stderr_str());
        let up = run(&h, "pct exec 200 -- docker compose --project-directory /opt/p up -d");
        assert_eq!((up.code, up.stderr_str().as_str()), (1, "external volume \"data_nfs\" not found\n"));
        ok(&h, "pct exec 200 -- docker volume create --driver local --opt type=nfs --opt o=addr=10.0.0.2,rw --opt device=:/tank/x data_nfs");
        ok(&h, "pct exec 200 -- docker volume inspect data_nfs");
        assert_eq!(
            run(&h, "pct exec 200 -- docker inspect --format {{.State.Status}} portainer_server").stderr_str(),
            "Error: No such object: portainer_server\n"
        );
        ok(&h, "pct exec 200 -- docker compose --project-directory /opt/p up -d");
        assert_eq!(
            ok(&h, "pct exec 200 -- docker inspect --format {{.State.Status}} portainer_server").stdout,
            b"running\n"
        );
        ok(&h, "pct exec 200 -- docker restart portainer_server");

        assert_eq!(
            run(&h, "pct exec 200 -- curl -sk -o /dev/null -w %{http_code} https://localhost:9001/ping").stdout,
            b"000"
        );
        ok(&h, "pct exec 200 -- docker run -d --name portainer_agent --restart=always -p 9001:9001 --env-file /opt/a/agent.env -v /var/run/docker.sock:/var/run/docker.sock portainer/agent:2.21.5");
        let again = run(&h, "pct exec 200 -- docker run -d --name portainer_agent portainer/agent:2.21.5");
        assert_eq!(again.code, 125);
        assert!(again.stderr_str().contains("is already in use by container"), "{}", again.stderr_str());
        assert_eq!(
            ok(&h, "pct exec 200 -- curl -sk -o /dev/null -w %{http_code} https://localhost:9001/ping").stdout,
            b"204"
        );
        ok(&h, "pct exec 200 -- docker rm -f portainer_agent");
        ok(&h, "pct exec 200 -- docker rm -f portainer_agent");
        assert_eq!(run(&h, "pct exec 200 -- docker rm portainer_agent").code, 1);
    }
}
