//! One run's connection to Portainer: the client, the route to the server, the credential, and
//! what a dry-run planned (so later calls of the same plan see it).

use crate::http::{Call, Client, ClientOptions, HttpError, JsonValue, Method, Request};
use crate::run::Run;
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Where Portainer listens on its VM (Portainer's own HTTPS port).
pub const PORTAINER_PORT: u16 = 9443;

pub struct Session {
    pub run_id: String,
    pub client: Arc<Client>,
    /// The URL as the operator knows it (`https://portainer.lab…:9443`).
    pub url: String,
    pub address: String,
    pub port: u16,
    pub _route: crate::connector::Route,
    pub state: Mutex<SessionState>,
}

#[derive(Default)]
pub struct SessionState {
    /// A dry-run found no server (it is deployed later in the plan): reads answer "nothing yet".
    pub unreachable: bool,
    /// Whether the admin exists, once asked (`GET /api/users/admin/check`) or made.
    pub admin: Option<bool>,
    /// The admin's user id (from the session JWT, or the stored key's record).
    pub user_id: Option<u32>,
    /// A dry-run planned the admin's initialisation / a new API key.
    pub planned_admin: bool,
    pub planned_key: bool,
    /// A dry-run planned these endpoints (canonical URL → name).
    pub planned_endpoints: BTreeMap<String, String>,
    /// `GET /api/stacks`, kept until phoenix changes a stack (one list per run when nothing changes).
    pub stacks: Option<serde_json::Value>,
    pub endpoints: Option<serde_json::Value>,
}

impl Session {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A GET, as a read of the run: recorded by the rehearsal and served once to the apply.
    /// `Ok(None)`: a dry-run that cannot reach the server (not deployed yet).
    pub fn get(&self, run: &Run, path: &str) -> Result<Option<(u16, serde_json::Value)>, HttpError> {
        if run.dry_run && self.lock().unreachable {
            return Ok(None);
        }
        let key = format!("GET {}{path}", self.url);
        let req = Request::get(path);
        // A dry-run may look before the plan deploys the server: a refused connection says so
        // at once (the apply waits for the server it deployed: portainer::status(wait_s)).
        let read = run.facts.http_read(&key, || {
            let answer = if run.dry_run { self.client.look_raw(&req) } else { self.client.send_raw(&req) };
            answer.map(|r| (r.status, r.body))
        });
        match read {
            Ok((status, body)) => {
                let json = if body.is_empty() {
                    serde_json::Value::Null
                } else {
                    match serde_json::from_slice(&body) {
                        Ok(v) => v,
                        // An error page (a proxy's HTML) says nothing, but a 2xx that is not
                        // JSON must not read as "no environments" (phoenix would create them again).
                        Err(_) if !(200..300).contains(&status) => serde_json::Value::Null,
                        Err(e) => {
                            return Err(HttpError::Decode {
                                method: "GET",
                                url: format!("{}{path}", self.url),
                                message: e.to_string(),
                            })
                        }
                    }
                };
                Ok(Some((status, json)))
            }
            Err(HttpError::Transport { .. }) if run.dry_run => {
                self.lock().unreachable = true;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A GET that must succeed (2xx); its JSON.
    pub fn get_ok(&self, run: &Run, path: &str) -> Result<Option<serde_json::Value>, HttpError> {
        match self.get(run, path)? {
            None => Ok(None),
            Some((s, v)) if (200..300).contains(&s) => Ok(Some(v)),
            Some((status, v)) => Err(HttpError::Status {
                method: "GET",
                url: format!("{}{path}", self.url),
                status,
                message: v.get("message").and_then(|m| m.as_str()).unwrap_or("(no message)").to_string(),
            }),
        }
    }

    /// A request that is not an action (logging in changes nothing on the server).
    pub fn session_call(&self, req: &Request) -> Result<crate::http::Response, HttpError> {
        self.client.send(req)
    }

    /// A mutating call for the executor.
    pub fn call(&self, method: Method, path: &str, shown: &str, body: crate::http::Body) -> Call {
        let mut req = Request::new(method, path, body);
        req.shown = Some(shown.to_string());
        Call::new(self.client.clone(), req)
    }
}

/// The run's session, made on first use and kept per run (rehearsal and apply have their own).
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Arc<Session>>>>);

/// What `portainer::connect` may be given.
#[derive(Default)]
pub struct ConnectOptions {
    pub url: Option<String>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub ca_pem: Option<Vec<u8>>,
    pub timeout_ms: Option<u64>,
}

impl Slot {
    pub fn current(&self, run: &Run) -> Option<Arc<Session>> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref().filter(|s| s.run_id == run.id).cloned()
    }

    pub fn get_or_connect(&self, run: &Run) -> Result<Arc<Session>, String> {
        match self.current(run) {
            Some(s) => Ok(s),
            None => self.connect(run, ConnectOptions::default()),
        }
    }

    pub fn connect(&self, run: &Run, opts: ConnectOptions) -> Result<Arc<Session>, String> {
        let inv = &run.inventory;
        let hostname = inv.portainer_hostname();
        let primary = inv.guests().find_map(|g| match g {
            crate::inventory::GuestRef::Vm(v) if v.portainer_role.as_deref() == Some("primary") => {
                v.network_config.as_ref().and_then(|n| n.ip.split('/').next().map(str::to_string))
            }
            _ => None,
        });
        let port = opts.port.unwrap_or(PORTAINER_PORT);
        let address = opts.address.or(primary).ok_or(
            "portainer: no address to reach Portainer at: give a VM `portainer_role: \"primary\"` with a static \
             network_config.ip, or pass #{address: …} to portainer::connect",
        )?;
        let url = match opts.url {
            Some(u) => u,
            None => format!("https://{}:{port}", hostname.clone().unwrap_or_else(|| address.clone())),
        };
        let route = run.connector.reach(&address, port).map_err(|e| format!("portainer: {e}"))?;
        let mut base = url.clone();
        // A name resolved to a tunnel keeps its name (TLS verifies it) but not its port: the
        // client connects to the URL's port, so the URL carries the local end's.
        if let Some(addr) = route.connect_to {
            let mut u = reqwest::Url::parse(&base).map_err(|e| format!("portainer: url {base:?}: {e}"))?;
            // Only a name can be pointed at the tunnel (an address is dialled as it is), and the
            // certificate is checked against the URL's host.
            let host = u.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Err(format!(
                    "portainer: {url} names an address; {} reaches Portainer through a tunnel that keeps the URL's \
                     host name for TLS: use the name on Portainer's certificate (portainer_api.portainer_hostname)",
                    run.connector.describe()
                ));
            }
            u.set_port(Some(addr.port())).map_err(|_| format!("portainer: url {base:?} cannot carry a port"))?;
            base = u.as_str().trim_end_matches('/').to_string();
        }
        let mut unreachable = false;
        let ca_pem = match opts.ca_pem {
            Some(pem) => Some(pem),
            None if base.starts_with("https://") => match lab_root_ca(run)? {
                Some(pem) => Some(pem),
                // A dry-run before the lab CA exists: the server it would trust is not there either.
                None => {
                    unreachable = true;
                    None
                }
            },
            None => None,
        };
        let mut co = ClientOptions::new(&base);
        co.connect_to = route.connect_to;
        co.shown_url = Some(url.clone());
        co.ca_pem = ca_pem;
        if let Some(ms) = opts.timeout_ms {
            co.timeout = std::time::Duration::from_millis(ms);
        }
        if base.starts_with("https://") && co.ca_pem.is_none() && !unreachable {
            return Err("portainer: an https URL needs the lab root CA: declare the lab CA (a guest with the step_ca \
                 feature) or pass #{ca_pem_path: \"…\"} to portainer::connect (phoenix never skips certificate \
                 verification)"
                .into());
        }
        let client = Client::new(&co).map_err(|e| format!("portainer: {e}"))?;
        let session = Arc::new(Session {
            run_id: run.id.clone(),
            client: Arc::new(client),
            url,
            address,
            port,
            _route: route,
            state: Mutex::new(SessionState { unreachable, ..SessionState::default() }),
        });
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        Ok(session)
    }
}

/// Where the step_ca feature leaves the lab's root certificate in the CA guest.
pub const LAB_ROOT_CA: &str = "/etc/step-ca/certs/root_ca.crt";

/// The lab root CA, read from the guest that runs the lab CA (the `step_ca` feature): the one
/// certificate Portainer's must chain to. `None`: a dry-run that cannot know it yet (the CA guest
/// is created or initialised earlier in the same plan). No CA guest, or an apply without the
/// file, is an error that says how to fix it.
fn lab_root_ca(run: &Run) -> Result<Option<Vec<u8>>, String> {
    let inv = &run.inventory;
    let edge = crate::inventory::edge::derive(inv).map_err(|e| format!("portainer: {e}"))?;
    let Some(ca) = edge.ca else {
        return Err(
            "portainer: Portainer is reached over https and verified against the lab root CA, but no guest runs \
                    the lab CA: add the step_ca feature to one, or pass #{ca_pem_path: \"…\"} to portainer::connect"
                .into(),
        );
    };
    let kind =
        inv.guest(ca.id).map(|g| g.kind()).ok_or(format!("portainer: the lab CA guest {} is not declared", ca.id))?;
    let read = match run.facts.guest_file(kind, ca.id, LAB_ROOT_CA) {
        Ok(r) => r,
        // A dry-run of a lab whose CA guest is not there yet: nothing to trust, nothing to reach.
        Err(_) if run.dry_run => return Ok(None),
        Err(e) => return Err(format!("portainer: the lab root CA in guest {}: {e}", ca.id)),
    };
    match read {
        Some(Some(pem)) => Ok(Some(pem)),
        _ if run.dry_run => Ok(None),
        Some(None) => Err(format!(
            "portainer: the lab root CA {LAB_ROOT_CA} is missing in guest {} ({}): run `phoenix create {}` so its step_ca \
             feature initialises the CA",
            ca.id, ca.name, ca.id
        )),
        None => Err(format!("portainer: the lab root CA in guest {} cannot be read yet", ca.id)),
    }
}

/// The admin's credentials from the configuration (`portainer_api`). The password is resolved
/// only when it is sent; a dry-run that cannot resolve it still plans (the value is masked).
pub fn admin(run: &Run) -> Result<(String, Secret), String> {
    let api = run.inventory.hypervisor.portainer_api.as_ref();
    let user = api.and_then(|a| a.admin_user.clone()).unwrap_or_else(|| "admin".to_string());
    let password = match api.and_then(|a| a.admin_password.as_ref()) {
        Some(r) => match r.resolve() {
            Ok(s) => s,
            Err(_) if run.dry_run => Secret::new(""),
            Err(e) => return Err(format!("portainer_api.admin_password: {e}")),
        },
        None if run.dry_run => Secret::new(""),
        None => return Err("portainer_api.admin_password is not set (a secret reference: {\"env\": \"NAME\"})".into()),
    };
    Ok((user, password))
}

/// The login body (never shown: it is not an action).
pub fn login_body(user: &str, password: &Secret) -> crate::http::Body {
    crate::http::Body::Json(JsonValue::object([
        ("Username", JsonValue::text(user)),
        ("Password", JsonValue::Secret(password.clone())),
    ]))
}

/// The user id in a Portainer JWT's claims (`id`).
pub fn jwt_user_id(jwt: &str) -> Option<u32> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = b64url_decode(payload)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("id")?.as_u64().and_then(|i| u32::try_from(i).ok())
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s.trim_end_matches('=').as_bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_id_comes_from_the_jwt_claims() {
        // {"alg":"HS256"} . {"id":7,"username":"admin"} . sig
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6NywidXNlcm5hbWUiOiJhZG1pbiJ9.sig";
        assert_eq!(jwt_user_id(jwt), Some(7));
        assert_eq!(jwt_user_id("garbage"), None);
    }
}
