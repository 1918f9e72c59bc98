//! `phoenix_lxc_configs.json`: containers keyed by CTID, plus the NVIDIA repository settings
//! the original read through its root-level fallback.

use super::firewall::{guest_firewall, GuestFirewall};
use super::net::{boot_order, check_gateway, cidr, ipv4, mac};
use super::paths::{self, Refusal};
use super::reader::{
    array, bool_, formatted, guest_id, nonempty_string, parse_guest_id, port, report_bad_id, str_list, string, u32_,
    u32_in, Ctx, Obj, GUEST_IDS,
};
use super::rules::{
    Format, APPARMOR_PROFILE, BRIDGE, DNS_NAME, HOST_PATH, LXC_OPTION, NAMESERVERS, NET_DEVICE, OS_TEMPLATE,
    PCT_OPTION, SIMPLE_NAME, SNAPSHOT_NAME, STORAGE_ID, URL,
};
use super::source::child_pointer;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct LxcFile {
    pub nvidia_driver_version: Option<String>,
    pub nvidia_repo_url: Option<String>,
    pub nvidia_runfile_url: Option<String>,
    /// CTID → container, in file order.
    #[serde(rename = "lxc_configs")]
    pub guests: IndexMap<u32, LxcGuest>,
    /// Every id declared, including guests that failed to decode (so references to them are
    /// not reported a second time as dangling).
    #[serde(skip)]
    pub(crate) declared: HashSet<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LxcGuest {
    #[serde(rename = "ctid")]
    pub id: u32,
    pub name: String,
    pub memory_mb: u32,
    pub cores: u32,
    pub swap_mb: Option<u32>,
    /// OS template (absolute path or volume id); absent only for clones.
    pub template: Option<String>,
    pub storage_pool: String,
    pub storage_size_gb: u32,
    pub network_config: LxcNetwork,
    pub mac_address: Option<String>,
    pub start_at_boot: Option<bool>,
    pub boot_order: Option<i64>,
    pub boot_delay: Option<u32>,
    pub unprivileged: Option<bool>,
    pub clone_from_ctid: Option<u32>,
    pub template_snapshot_name: Option<String>,
    pub enable_lifecycle_snapshots: Option<bool>,
    pub features: Vec<String>,
    pub application_script: Option<String>,
    /// Where `application_script` was found (`<config>/scripts/<name>` or `<config>/../bin/<name>`).
    pub application_script_path: Option<PathBuf>,
    pub dependencies: Vec<u32>,
    pub pct_options: Vec<String>,
    /// Raw lines for `/etc/pve/lxc/<id>.conf`.
    pub lxc_options: Vec<String>,
    pub apparmor_profile: Option<String>,
    pub apparmor_manages_nesting: Option<bool>,
    /// GPU indexes to pass through; empty for `"none"` or absent.
    pub gpu_assignment: Vec<u32>,
    pub id_maps: Vec<Value>,
    pub mount_points: Vec<MountPoint>,
    pub zfs_volumes: Vec<ZfsVolume>,
    pub firewall: Option<GuestFirewall>,
    pub traefik_service: Option<TraefikService>,
    pub bootstrap_ca_url: Option<String>,
    pub vllm_engine_config: Option<Value>,
    pub health_check: Option<Value>,
    pub health_checks: Option<Value>,
    pub tests: Option<Value>,
    pub ports: Vec<String>,
    pub portainer_role: Option<String>,
    pub trigger_sync_on_completion: Option<bool>,
    /// JSON pointer of this guest in its file (for cross-file diagnostics).
    #[serde(skip)]
    pub(crate) at: String,
    /// Pointers of the `dependencies` items, parallel to `dependencies`.
    #[serde(skip)]
    pub(crate) dep_at: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LxcNetwork {
    pub name: String,
    pub bridge: String,
    /// CIDR (`10.0.0.10/24`) or `dhcp`.
    pub ip: String,
    pub gw: Option<String>,
    pub nameservers: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MountPoint {
    pub host_path: String,
    pub container_path: String,
    pub owner_uid: Option<u32>,
    pub owner_gid: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZfsVolume {
    pub name: String,
    pub pool: String,
    pub size_gb: u32,
    pub mount_point: String,
}

/// `{name, port}`: a Traefik router/service and DNS record for the guest. Optional
/// `scheme` ("http"/"https": how Traefik reaches the upstream; default from the guest kind)
/// and `dns` ("gateway", the default, or "direct": the name resolves to the guest itself).
#[derive(Debug, Clone, Serialize)]
pub struct TraefikService {
    pub name: String,
    pub port: u16,
    pub scheme: Option<String>,
    pub dns: Option<String>,
}

const UPSTREAM_SCHEME: Format = Format {
    what: "an upstream scheme",
    help: "write \"http\" or \"https\" (https: the upstream has a certificate from the lab CA)",
    check: |s| if s == "http" || s == "https" { Ok(()) } else { Err("expected \"http\" or \"https\"".into()) },
};

const DNS_ROUTE: Format = Format {
    what: "a DNS routing",
    help:
        "write \"gateway\" (the name resolves to the gateway, the default) or \"direct\" (to this guest's own address)",
    check: |s| if s == "gateway" || s == "direct" { Ok(()) } else { Err("expected \"gateway\" or \"direct\"".into()) },
};

pub(crate) fn traefik_service(o: &mut Obj) -> Option<TraefikService> {
    let name = o.req("name", formatted(&DNS_NAME));
    let port = o.req("port", port);
    let scheme = o.opt("scheme", formatted(&UPSTREAM_SCHEME));
    let dns = o.opt("dns", formatted(&DNS_ROUTE));
    Some(TraefikService { name: name?, port: port?, scheme, dns })
}

/// Application scripts live in `<config>/scripts/`, or in `<config>/../bin/` (the original
/// layout), and must resolve inside one of them (or the config folder), symlinks included.
fn app_script(ctx: &Ctx, ptr: &str, config_dir: &Path, script: &str) -> Option<PathBuf> {
    let bases = [config_dir.join("scripts"), config_dir.join("..").join("bin")];
    let roots = paths::roots(config_dir, &["bin"]);
    let shown = super::diagnostic::shown(script);
    let problem = match paths::resolve(script, &bases, &roots) {
        Ok(found) => return Some(found),
        Err(Refusal::NotRelative(why)) => ctx
            .at_value(ptr, format!("application script `{shown}` is not a name inside the configuration"))
            .label(why)
            .help(format!(
                "write the script's name relative to {} or {} (no leading `/`, no `..`)",
                bases[0].display(),
                bases[1].display()
            )),
        Err(Refusal::NotFound) => ctx
            .at_value(ptr, format!("application script `{shown}` not found"))
            .label("no such file")
            .help(format!("put it at {} or {}", bases[0].join(script).display(), bases[1].join(script).display())),
        Err(Refusal::Outside { found, resolved }) => ctx
            .at_value(ptr, format!("application script `{shown}` resolves outside the configuration"))
            .label("a symlink pointing out")
            .help(format!(
                "{} leads to {}\ncopy the script into the configuration instead of linking to it",
                found.display(),
                resolved.display()
            )),
    };
    ctx.report(problem);
    None
}

/// `health_checks: [{name, script, args}]`: scripts under `<config>/scripts/health_checks/`
/// (where `health-check` runs them from), arguments passed to them as words.
fn check_health_checks(ctx: &Ctx, v: &Value, ptr: &str, config_dir: &Path) {
    let base = config_dir.join("scripts").join("health_checks");
    let roots = paths::roots(config_dir, &[]);
    array(ctx, v, ptr, |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        o.req("name", nonempty_string);
        let script = o.req("script", nonempty_string);
        o.opt("args", |c, v, p| {
            array(c, v, p, |c, v, p| match v {
                Value::Number(_) | Value::Bool(_) => Some(()),
                _ => string(c, v, p).map(|_| ()),
            })
        });
        o.finish();
        let script = script?;
        let sptr = child_pointer(ptr, "script");
        let shown = super::diagnostic::shown(&script);
        let problem = match paths::resolve(&script, std::slice::from_ref(&base), &roots) {
            Ok(_) => return Some(()),
            Err(Refusal::NotRelative(why)) => ctx
                .at_value(&sptr, format!("health-check script `{shown}` is not a name inside the configuration"))
                .label(why)
                .help(format!("write the script's name relative to {} (no leading `/`, no `..`)", base.display())),
            Err(Refusal::NotFound) => ctx
                .at_value(&sptr, format!("health-check script `{shown}` not found"))
                .label("no such file")
                .help(format!("put it at {}", base.join(&script).display())),
            Err(Refusal::Outside { found, resolved }) => ctx
                .at_value(&sptr, format!("health-check script `{shown}` resolves outside the configuration"))
                .label("a symlink pointing out")
                .help(format!(
                    "{} leads to {}\ncopy the script into the configuration instead of linking to it",
                    found.display(),
                    resolved.display()
                )),
        };
        ctx.report(problem);
        None
    });
}

/// `id_maps: [{type, container_id, host_id, range}]`, written as `lxc.idmap` lines. The
/// original's spelling (`"type": "gid"`, `size`) is accepted too; each field once.
fn id_map(ctx: &Ctx, v: &Value, ptr: &str) -> Option<Value> {
    let mut o = Obj::new(ctx, v, ptr)?;
    let one_of = |o: &mut Obj, names: [&'static str; 2], decode: &dyn Fn(&Ctx, &Value, &str) -> Option<()>| match (
        o.has(names[0]),
        o.has(names[1]),
    ) {
        (true, true) => {
            let p = o.field_ptr(names[1]);
            ctx.report(
                ctx.at_key(&p, format!("`{}` and `{}` are the same field", names[0], names[1]))
                    .label("second declaration")
                    .help(format!("keep `{}`", names[0])),
            );
            o.accept(names[1]);
            o.opt(names[0], decode);
        }
        (false, true) => {
            o.opt(names[1], decode);
        }
        _ => {
            o.accept(names[1]);
            o.req(names[0], decode);
        }
    };
    one_of(&mut o, ["type", "kind"], &|c, v, p| {
        let t = string(c, v, p)?;
        if ["u", "g", "uid", "gid"].contains(&t.as_str()) {
            return Some(());
        }
        c.report(
            c.at_value(p, format!("`{}` is not an id map type", c.path(p)))
                .label("expected \"u\" or \"g\"")
                .help("write \"u\" for user ids or \"g\" for group ids"),
        );
        None
    });
    one_of(&mut o, ["container_id", "container"], &|c, v, p| u32_(c, v, p).map(|_| ()));
    one_of(&mut o, ["host_id", "host"], &|c, v, p| u32_(c, v, p).map(|_| ()));
    one_of(&mut o, ["range", "size"], &|c, v, p| {
        u32_in(1, u32::MAX, "a map covers at least one id")(c, v, p).map(|_| ())
    });
    o.finish();
    Some(v.clone())
}

fn gpu_assignment(ctx: &Ctx, v: &Value, ptr: &str) -> Option<Vec<u32>> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => {
            ctx.type_error(ptr, "\"none\" or a list of GPU indexes such as \"0, 1\"", other);
            return None;
        }
    };
    if text.trim() == "none" {
        return Some(Vec::new());
    }
    let parsed: Option<Vec<u32>> = text.split(',').map(|p| p.trim().parse::<u32>().ok()).collect();
    if parsed.is_none() {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` is not a GPU assignment", ctx.path(ptr)))
                .label("expected \"none\" or indexes")
                .help("write \"none\", \"0\" or a comma-separated list such as \"0, 1\""),
        );
    }
    parsed
}

fn lxc_ip(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    if v.as_str() == Some("dhcp") {
        return Some("dhcp".into());
    }
    cidr(ctx, v, ptr)
}

/// Memory below 16 MiB is refused by `pct` and `qm` (pve-container, qemu-server).
pub(crate) const MEMORY_WHY: &str = "Proxmox refuses guests with less than 16 MiB of memory; give memory_mb in MiB";
const OWNER_WHY: &str = "an unprivileged container maps ids 0 to 65535 onto the host (100000 + id)";
pub(crate) const DISK_WHY: &str = "a disk of 0 GB cannot be created; give the size in GB";

pub(crate) fn decode(ctx: &Ctx, root: &Value, config_dir: &Path) -> Option<LxcFile> {
    let mut o = Obj::new(ctx, root, "")?;
    o.accept("$schema");
    let nvidia_driver_version = o.opt("nvidia_driver_version", formatted(&SIMPLE_NAME));
    let nvidia_repo_url = o.opt("nvidia_repo_url", formatted(&URL));
    let nvidia_runfile_url = o.opt("nvidia_runfile_url", formatted(&URL));
    let guests = o.req("lxc_configs", |ctx, v, ptr| {
        let Value::Object(entries) = v else {
            ctx.type_error(ptr, "an object mapping container ids to containers", v);
            return None;
        };
        let mut guests = IndexMap::new();
        let mut declared = HashSet::new();
        for (key, value) in entries {
            let at = child_pointer(ptr, key);
            let id = match parse_guest_id(key) {
                Some(id) if GUEST_IDS.contains(&id) => id,
                _ => {
                    report_bad_id(ctx, &at, &Value::String(key.clone()), true);
                    continue;
                }
            };
            if declared.contains(&id) {
                ctx.report(
                    ctx.at_key(&at, format!("container {id} is declared twice"))
                        .label("second declaration")
                        .help("give each container its own id"),
                );
                continue;
            }
            declared.insert(id);
            if let Some(g) = guest(ctx, value, &at, id, config_dir) {
                guests.insert(id, g);
            }
        }
        Some((guests, declared))
    });
    o.finish();
    let (guests, declared) = guests.unwrap_or_default();
    Some(LxcFile { nvidia_driver_version, nvidia_repo_url, nvidia_runfile_url, guests, declared })
}

fn guest(ctx: &Ctx, v: &Value, at: &str, id: u32, config_dir: &Path) -> Option<LxcGuest> {
    let mut o = Obj::new(ctx, v, at)?;
    let name = o.req("name", formatted(&DNS_NAME));
    let memory_mb = o.req("memory_mb", u32_in(16, u32::MAX, MEMORY_WHY));
    let cores = o.req("cores", u32_in(1, 8192, "Proxmox gives a container 1 to 8192 cores"));
    let swap_mb = o.opt("swap_mb", u32_);
    let clone_from_ctid = o.opt("clone_from_ctid", guest_id);
    let is_clone = o.has("clone_from_ctid");
    let template = if is_clone {
        o.opt("template", formatted(&OS_TEMPLATE))
    } else {
        if !o.has("template") {
            o.missing(
                "template",
                Some("containers that are not clones (no `clone_from_ctid`) are created from a template"),
            );
        }
        o.opt("template", formatted(&OS_TEMPLATE))
    };
    let storage_pool = o.req("storage_pool", formatted(&STORAGE_ID));
    let storage_size_gb = o.req("storage_size_gb", u32_in(1, u32::MAX, DISK_WHY));
    let network_ptr = o.field_ptr("network_config");
    let network_config = if o.has("network_config") {
        o.obj("network_config", |o| {
            let name = o.req("name", formatted(&NET_DEVICE));
            let bridge = o.req("bridge", formatted(&BRIDGE));
            let ip = o.req("ip", lxc_ip);
            let gw = o.opt("gw", ipv4);
            let nameservers = o.opt("nameservers", formatted(&NAMESERVERS));
            if let (Some(ip), Some(gw)) = (&ip, &gw) {
                check_gateway(o.ctx, ip, &child_pointer(&network_ptr, "gw"), gw);
            }
            Some(LxcNetwork { name: name?, bridge: bridge?, ip: ip?, gw, nameservers })
        })
        .flatten()
    } else {
        o.accept("network_config");
        o.missing("network_config", Some("it needs at least `name`, `bridge` and `ip`"));
        None
    };
    let mac_address = o.opt("mac_address", mac);
    let start_at_boot = o.opt("start_at_boot", bool_);
    let boot_order = o.opt("boot_order", boot_order);
    let boot_delay = o.opt("boot_delay", u32_);
    let unprivileged = o.opt("unprivileged", bool_);
    let template_snapshot_name = o.opt("template_snapshot_name", formatted(&SNAPSHOT_NAME));
    let enable_lifecycle_snapshots = o.opt("enable_lifecycle_snapshots", bool_);
    // Checked against the feature registry (stdlib/features/) by inventory::features.
    let features = o.list("features", string);
    let application_script = o.opt("application_script", nonempty_string);
    let application_script_path =
        application_script.as_ref().and_then(|s| app_script(ctx, &o.field_ptr("application_script"), config_dir, s));
    let (dependencies, dep_at): (Vec<u32>, Vec<String>) =
        o.list("dependencies", |c, v, p| guest_id(c, v, p).map(|id| (id, p.to_string()))).into_iter().unzip();
    let pct_options = o.list("pct_options", formatted(&PCT_OPTION));
    let lxc_options = o.list("lxc_options", formatted(&LXC_OPTION));
    let apparmor_profile = o.opt("apparmor_profile", formatted(&APPARMOR_PROFILE));
    let apparmor_manages_nesting = o.opt("apparmor_manages_nesting", bool_);
    let gpu_assignment = o.opt("gpu_assignment", gpu_assignment).unwrap_or_default();
    let id_maps = o.list("id_maps", id_map);
    let mount_points = o.list("mount_points", |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        let host_path = o.req("host_path", formatted(&HOST_PATH));
        let container_path = o.req("container_path", formatted(&HOST_PATH));
        // The host side is chowned to 100000 + id: the unprivileged map covers ids 0–65535.
        let owner_uid = o.opt("owner_uid", u32_in(0, 65535, OWNER_WHY));
        let owner_gid = o.opt("owner_gid", u32_in(0, 65535, OWNER_WHY));
        o.finish();
        Some(MountPoint { host_path: host_path?, container_path: container_path?, owner_uid, owner_gid })
    });
    let zfs_volumes = o.list("zfs_volumes", |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        let name = o.req("name", formatted(&SIMPLE_NAME));
        let pool = o.req("pool", formatted(&STORAGE_ID));
        let size_gb = o.req("size_gb", u32_in(1, u32::MAX, DISK_WHY));
        let mount_point = o.req("mount_point", formatted(&HOST_PATH));
        o.finish();
        Some(ZfsVolume { name: name?, pool: pool?, size_gb: size_gb?, mount_point: mount_point? })
    });
    let firewall = o.obj("firewall", guest_firewall);
    let traefik_service = o.obj("traefik_service", traefik_service).flatten();
    let bootstrap_ca_url = o.opt("bootstrap_ca_url", formatted(&URL));
    let vllm_engine_config = o.opaque("vllm_engine_config");
    let health_check = o.opaque("health_check");
    let health_checks = o.raw("health_checks").map(|(v, ptr)| {
        check_health_checks(ctx, v, &ptr, config_dir);
        v.clone()
    });
    let tests = o.opaque("tests");
    let ports = o.opt("ports", str_list).unwrap_or_default();
    let portainer_role = o.opt("portainer_role", string);
    let trigger_sync_on_completion = o.opt("trigger_sync_on_completion", bool_);
    o.finish();
    Some(LxcGuest {
        id,
        name: name?,
        memory_mb: memory_mb?,
        cores: cores?,
        swap_mb,
        template,
        storage_pool: storage_pool?,
        storage_size_gb: storage_size_gb?,
        network_config: network_config?,
        mac_address,
        start_at_boot,
        boot_order,
        boot_delay,
        unprivileged,
        clone_from_ctid,
        template_snapshot_name,
        enable_lifecycle_snapshots,
        features,
        application_script,
        application_script_path,
        dependencies,
        pct_options,
        lxc_options,
        apparmor_profile,
        apparmor_manages_nesting,
        gpu_assignment,
        id_maps,
        mount_points,
        zfs_volumes,
        firewall,
        traefik_service,
        bootstrap_ca_url,
        vllm_engine_config,
        health_check,
        health_checks,
        tests,
        ports,
        portainer_role,
        trigger_sync_on_completion,
        at: at.to_string(),
        dep_at,
    })
}
