//! `compose::` — what the Portainer and stacks sync stages deploy, rendered from the
//! configuration: a stack's compose file with its Traefik labels and stack-file binds, its
//! environment (secrets as Secret values that print `***`), the files it mounts and where they
//! go in the VM; the Portainer server's compose file with its own TLS flags; the agent's argv.
//!
//! Layout inside a VM (one tree phoenix owns, outside the operator's NFS data):
//!   /opt/phoenix/portainer/docker-compose.yml   the Portainer server (primary VM)
//!   /opt/phoenix/stacks/<stack>/<source>        each stack file, bound read-only by absolute
//!                                               path (Portainer keeps the compose text in its
//!                                               own data folder, so a relative `./config/x`
//!                                               would resolve there, not next to the stack)

use super::edge::edge_of;
use super::{at, Ctx, Namespace, Res};
use crate::generate::compose::{routing_labels, Compose, Routing};
use crate::inventory::edge::Upstream;
use crate::inventory::stack::StackValue;
use crate::inventory::Inventory;
use crate::secret::Secret;
use rhai::{Array, Dynamic, FnNamespace, FuncRegistration, Map, NativeCallContext};
use std::collections::BTreeMap;

/// Where phoenix places stack files inside a VM.
pub const STACKS_DIR: &str = "/opt/phoenix/stacks";
/// The Portainer server's project directory inside its VM.
pub const PORTAINER_DIR: &str = "/opt/phoenix/portainer";
/// The Portainer certificate directory the certificate stage fills (inventory::certs).
pub const PORTAINER_CERTS: &str = "/etc/portainer/certs";

fn stack_env_name(inv: &Inventory, stack: &str, vmid: u32) -> String {
    inv.vm
        .guests
        .get(&vmid)
        .and_then(|vm| vm.docker_stacks.iter().find(|s| s.name == stack))
        .and_then(|s| s.environment.clone())
        .unwrap_or_else(|| "production".to_string())
}

/// The routes a service's traefik labels declare, as the edge model derived them (the edge
/// already validated names, hosts on the domain and ports).
fn service_routes(inv: &Inventory, labels: &[String]) -> Res<Vec<Routing>> {
    let edge = edge_of(inv)?;
    let mut router_service = BTreeMap::new();
    let mut port_services = Vec::new();
    let mut routers = Vec::new();
    for l in labels {
        let Some((key, value)) = l.split_once('=') else { continue };
        let parts: Vec<&str> = key.split('.').collect();
        match parts.as_slice() {
            ["traefik", "http", "routers", r, "rule"] => routers.push(r.to_string()),
            ["traefik", "http", "routers", r, "service"] => {
                router_service.insert(r.to_string(), value.to_string());
            }
            ["traefik", "http", "services", s, "loadbalancer", "server", "port"] => port_services.push(s.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for r in routers {
        let Some(route) = edge.routes.iter().find(|x| x.name == r) else { continue };
        let Upstream::Server { scheme, port, .. } = route.upstream else { continue };
        let service_key = router_service
            .get(&r)
            .cloned()
            .or_else(|| (port_services.len() == 1).then(|| port_services[0].clone()))
            .unwrap_or_else(|| r.clone());
        out.push(Routing {
            router: r,
            host: route.host.clone(),
            service_key,
            port,
            https: scheme == crate::inventory::edge::Scheme::Https,
        });
    }
    Ok(out)
}

fn secret_value(v: &StackValue) -> Res<Dynamic> {
    Ok(match v {
        StackValue::Plain(s) => Dynamic::from(s.clone()),
        StackValue::Secret(r) => Dynamic::from(r.resolve().map_err(|e| e.to_string())?),
    })
}

/// A stack rendered for one VM.
fn render_stack(inv: &Inventory, name: &str, vmid: u32) -> Res<Map> {
    let stack = inv.stacks.get(name).ok_or_else(|| format!("stack `{name}` is not in the stacks folder"))?;
    let env_name = stack_env_name(inv, name, vmid);
    let env = stack
        .manifest
        .environments
        .get(&env_name)
        .ok_or_else(|| format!("stack `{name}` has no environment `{env_name}` in its phoenix.json"))?;
    let file = stack.compose_path.display().to_string();
    let mut c = Compose::parse(&file, &stack.compose).map_err(|e| e.to_string())?;
    for (svc, s) in &env.services {
        let routes = service_routes(inv, &s.traefik_labels)?;
        if routes.is_empty() {
            continue;
        }
        c.set_labels(svc, &routing_labels(&routes)).map_err(|e| e.to_string())?;
    }
    let dir = format!("{STACKS_DIR}/{name}");
    let mut files = Array::new();
    for f in &env.files {
        let path = format!("{dir}/{}", f.source.trim_start_matches("./"));
        let n = c.rebind(&f.destination_in_container, &path).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!(
                "stack `{name}`: file {} goes to {} but no service of {file} mounts that path; add \
                 `./{}:{}:ro` to the service's volumes",
                f.source, f.destination_in_container, f.source, f.destination_in_container
            )
            .into());
        }
        let mut m = Map::new();
        // Absolute: guest::push joins it to the config folder, and a stacks folder may sit
        // beside it (the original layout) rather than inside it.
        let source = std::path::absolute(stack.dir.join(&f.source)).map_err(|e| format!("stack `{name}`: {e}"))?;
        m.insert("source".into(), source.display().to_string().into());
        m.insert("path".into(), path.into());
        files.push(m.into());
    }
    let mut vars = Array::new();
    for v in &env.variables {
        let mut m = Map::new();
        m.insert("name".into(), v.name.clone().into());
        m.insert("secret".into(), matches!(v.value, StackValue::Secret(_)).into());
        m.insert("value".into(), secret_value(&v.value)?);
        vars.push(m.into());
    }
    let volumes: Array = c.external_volumes().map_err(|e| e.to_string())?.into_iter().map(Dynamic::from).collect();
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    out.insert("environment".into(), env_name.into());
    out.insert("external_volumes".into(), volumes.into());
    out.insert("compose".into(), c.to_text().map_err(|e| e.to_string())?.into());
    out.insert("dir".into(), dir.into());
    out.insert("files".into(), files.into());
    out.insert("env".into(), vars.into());
    Ok(out)
}

/// The Portainer server's deployed compose file: the stack `portainer_service` with Portainer's
/// TLS flags, the certificate directory mounted read-only, and AGENT_SECRET passed from the
/// project's environment.
/// The Portainer server's compose file as declared, and its Portainer service.
fn server_compose(inv: &Inventory) -> Result<(Compose, String), String> {
    let stack = inv
        .stacks
        .get("portainer_service")
        .ok_or("the Portainer server is deployed from stacks/portainer_service/docker-compose.yml, which is missing")?;
    let file = stack.compose_path.display().to_string();
    let c = Compose::parse(&file, &stack.compose).map_err(|e| e.to_string())?;
    let svc = c.portainer_service().map_err(|e| e.to_string())?;
    Ok((c, svc))
}

/// The Portainer server's container (its `container_name`, else compose's own name for it).
pub fn server_container(inv: &Inventory) -> Result<String, String> {
    let (c, svc) = server_compose(inv)?;
    Ok(c.container_name(&svc).unwrap_or_else(|| format!("portainer-{svc}-1")))
}

fn render_server(inv: &Inventory) -> Res<Map> {
    let (mut c, svc) = server_compose(inv)?;
    let container = c.container_name(&svc).unwrap_or_else(|| format!("portainer-{svc}-1"));
    c.portainer_tls(&svc, PORTAINER_CERTS, "/certs").map_err(|e| e.to_string())?;
    c.pass_env(&svc, "AGENT_SECRET").map_err(|e| e.to_string())?;
    let mut out = Map::new();
    out.insert("service".into(), svc.into());
    out.insert("container".into(), container.into());
    out.insert("project".into(), "portainer".into());
    out.insert("dir".into(), PORTAINER_DIR.into());
    out.insert("compose".into(), c.to_text().map_err(|e| e.to_string())?.into());
    Ok(out)
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("compose", "Docker compose files of the Portainer server and the stacks, as deployed.");

    let c = ctx.clone();
    ns.add(
        "stack",
        &["name: String", "vmid: int", "-> Map"],
        "Stack `name` as VM `vmid` runs it: #{name, environment, compose (Traefik labels injected, stack files \
         bound by absolute path), dir, files: [#{source, path}], env: [#{name, value, secret}], external_volumes: \
         [docker volume names the compose file declares `external: true`]}. A secret value \
         is a Secret: it prints as ***.",
        move |nc: NativeCallContext, name: &str, vmid: i64| -> Res<Map> {
            at(&nc, || {
                let vmid = u32::try_from(vmid).map_err(|_| format!("compose::stack: {vmid} is not a guest id"))?;
                render_stack(&c.run()?.inventory, name, vmid)
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "portainer_server",
        &["-> Map"],
        "The Portainer server's compose file as deployed: #{service, dir, compose} (--sslcert/--sslkey from \
         /etc/portainer/certs mounted read-only at /certs, AGENT_SECRET from the project's .env).",
        move |nc: NativeCallContext| -> Res<Map> { at(&nc, || render_server(&c.run()?.inventory)) },
    );

    register_push_env(ctx, &mut ns);

    let c = ctx.clone();
    ns.add(
        "agent_secret",
        &["-> Dynamic"],
        "portainer_api.agent_secret resolved, as a Secret (prints ***); () when the configuration sets none. \
         Fails when its environment variable or file is missing.",
        move |nc: NativeCallContext| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                match run.inventory.hypervisor.portainer_api.as_ref().and_then(|p| p.agent_secret.as_ref()) {
                    None => Ok(Dynamic::UNIT),
                    Some(r) => Ok(Dynamic::from(r.resolve().map_err(|e| format!("portainer_api.agent_secret: {e}"))?)),
                }
            })
        },
    );

    // A Secret in a script prints as *** (string interpolation calls to_string / to_debug).
    FuncRegistration::new("to_string")
        .with_namespace(FnNamespace::Global)
        .with_params_info(["secret: Secret", "String"])
        .with_comments(["/// A Secret as text: always *** (the value never enters a script's output)."])
        .set_into_module(&mut ns.module, |_: &mut Secret| Secret::MASK.to_string());
    FuncRegistration::new("to_debug")
        .with_namespace(FnNamespace::Global)
        .with_params_info(["secret: Secret", "String"])
        .with_comments(["/// A Secret as debug text: always ***."])
        .set_into_module(&mut ns.module, |_: &mut Secret| Secret::MASK.to_string());
    ns
}

/// The text of an environment file. `compose` style (a project's `.env`) single-quotes each
/// value so compose takes it literally (no `${…}` interpolation, no `#` comment); `docker`
/// style (`docker run --env-file`) has no quoting at all, so the value is written as is. A
/// value that either format cannot hold (a newline, NUL; a `'` in compose style) is refused.
fn env_text(env: &Array, compose_style: bool) -> Res<crate::secret::Secret> {
    let mut text = String::new();
    for item in env {
        let m = item.clone().try_cast::<Map>().ok_or("compose::push_env: each entry is #{name, value}")?;
        let name = m
            .get("name")
            .and_then(|v| v.clone().into_string().ok())
            .ok_or("compose::push_env: an entry has no name")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("compose::push_env: `{name}` is not an environment variable name").into());
        }
        let value = match m.get("value") {
            Some(v) if v.is::<Secret>() => v.clone().cast::<Secret>().expose().to_string(),
            Some(v) if v.is_string() => v.clone().into_string().unwrap_or_default(),
            Some(v) if v.is_int() || v.is_bool() => v.to_string(),
            _ => return Err(format!("compose::push_env: `{name}` has no text value").into()),
        };
        // The value is never echoed: it may be a secret.
        if value.contains(['\n', '\r', '\0']) || (compose_style && value.contains('\'')) {
            return Err(format!(
                "compose::push_env: the value of `{name}` has a character an env file cannot hold (newline, NUL{})",
                if compose_style { ", `'`" } else { "" }
            )
            .into());
        }
        if compose_style {
            text.push_str(&format!("{name}='{value}'\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    Ok(crate::secret::Secret::new(text))
}

pub fn register_push_env(ctx: &Ctx, ns: &mut Namespace) {
    let c = ctx.clone();
    ns.add(
        "push_env",
        &["vmid: int", "path: String", "env: Array", "style: String", "-> Map"],
        "Make `path` in VM `vmid` an environment file (root, 0600, so a dry-run never shows its content) holding \
         `env` ([#{name, value}], values text or Secret); style \"compose\" (a project's .env: values single-quoted, \
         taken literally) or \"docker\" (`docker run --env-file`: written as is). Written only when it differs.",
        move |nc: NativeCallContext, vmid: i64, path: &str, env: Array, style: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = u32::try_from(vmid).map_err(|_| format!("compose::push_env: {vmid} is not a guest id"))?;
                let compose_style = match style {
                    "compose" => true,
                    "docker" => false,
                    _ => return Err(format!("compose::push_env: style `{style}` is neither compose nor docker").into()),
                };
                let text = env_text(&env, compose_style)?;
                let kind = super::guest::declared_kind(run, id)?;
                let want = crate::ops::guest::GuestFile {
                    path: path.to_string(),
                    content: text.expose().as_bytes().to_vec(),
                    mode: 0o600,
                    owner: Some("root".into()),
                    group: Some("root".into()),
                };
                super::file::carry_out(&c, crate::ops::guest::push(&run.facts, kind, id, &want))
            })
        },
    );
}
