//! A Portainer agent deploying a stack on its Docker host: what Portainer's "create/update a
//! standalone stack" does on the environment it targets (`docker compose -p <stack> up -d` with
//! the stack's env, through the agent at the environment's URL), and "delete" (`down`). The
//! simulated Portainer calls these through the hook the sim connector gives it, so a stack it
//! accepts really runs in the simulated VM — and one compose would refuse (an external volume
//! that is not there) is refused, as Portainer passes compose's error through.

use crate::services::{guest_address, resolve, service_at};
use crate::state::{PowerState, SimState};
use crate::ServiceKind;

/// The guest behind an environment URL `tcp://<host>:<port>` whose agent answers there.
fn agent_guest(st: &SimState, url: &str) -> Result<u32, String> {
    let hostport = url.strip_prefix("tcp://").unwrap_or(url);
    let (host, port) = hostport.rsplit_once(':').ok_or_else(|| format!("environment URL {url} names no port"))?;
    let port: u16 = port.parse().map_err(|_| format!("environment URL {url}: bad port"))?;
    let Some(ip) = resolve(st, host) else { return Err(format!("dial tcp: lookup {host}: no such host")) };
    match service_at(st, &ip, port) {
        Some(s) if s.kind == ServiceKind::PortainerAgent => Ok(s.guest),
        _ => Err(format!("dial tcp {ip}:{port}: connect: connection refused")),
    }
}

/// `docker compose -p <project> up -d` of `compose` on the environment's Docker host.
pub(crate) fn up(st: &mut SimState, url: &str, project: &str, compose: &[u8], env: &[String]) -> Result<(), String> {
    let id = agent_guest(st, url)?;
    let g = st.guests.get_mut(&id).ok_or_else(|| format!("guest {id} vanished"))?;
    let out = crate::inside::docker::compose_up(g, project, compose, env);
    if out.code == 0 {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `docker compose -p <project> down`: the project's containers removed from the host.
pub(crate) fn down(st: &mut SimState, url: &str, project: &str) -> Result<(), String> {
    let id = agent_guest(st, url)?;
    let g = st.guests.get_mut(&id).ok_or_else(|| format!("guest {id} vanished"))?;
    if g.status != PowerState::Running || guest_address(&g.config, g.kind).is_none() {
        return Err(format!("guest {id} is not reachable"));
    }
    g.os.docker.containers.retain(|_, c| c.project.as_deref() != Some(project));
    Ok(())
}
