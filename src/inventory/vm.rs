//! `phoenix_vm_configs.json`: `vm_defaults` plus the `vms[]` list.

use super::firewall::{guest_firewall, GuestFirewall};
use super::lxc::{traefik_service, TraefikService, DISK_WHY, MEMORY_WHY};
use super::net::{boot_order, check_gateway, cidr, ipv4};
use super::reader::{bool_, formatted, guest_id, nonempty_string, string, u32_, u32_in, Ctx, Obj};
use super::rules::{
    BRIDGE, DNS_NAME, FILE_NAME, HOST_PATH, LINUX_USER, NAMESERVERS, SIMPLE_NAME, SNAPSHOT_NAME, STORAGE_ID,
};
use super::source::child_pointer;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize)]
pub struct VmFile {
    #[serde(rename = "vm_defaults")]
    pub defaults: VmDefaults,
    /// VMID → VM, in file order.
    #[serde(rename = "vms")]
    pub guests: IndexMap<u32, VmGuest>,
    /// Every id declared, including VMs that failed to decode.
    #[serde(skip)]
    pub(crate) declared: HashSet<u32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VmDefaults {
    pub template: Option<String>,
    pub cores: Option<u32>,
    pub memory_mb: Option<u32>,
    pub disk_size_gb: Option<u32>,
    pub storage_pool: Option<String>,
    pub network_bridge: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VmGuest {
    #[serde(rename = "vmid")]
    pub id: u32,
    pub name: String,
    pub is_template: bool,
    pub template_image: Option<String>,
    pub template_snapshot_name: Option<String>,
    pub clone_from_vmid: Option<u32>,
    /// The VM's value, else `vm_defaults.cores`.
    pub cores: Option<u32>,
    /// The VM's value, else `vm_defaults.memory_mb`.
    pub memory_mb: Option<u32>,
    /// The VM's value, else `vm_defaults.disk_size_gb`.
    pub disk_size_gb: Option<u32>,
    /// The VM's value, else `vm_defaults.storage_pool`.
    pub storage_pool: Option<String>,
    /// The VM's value, else `vm_defaults.network_bridge`.
    pub network_bridge: Option<String>,
    pub start_at_boot: Option<bool>,
    pub boot_order: Option<i64>,
    pub boot_delay: Option<u32>,
    pub features: Vec<String>,
    pub portainer_role: Option<String>,
    pub portainer_environment_name: Option<String>,
    pub portainer_agent_hostname: Option<String>,
    pub dependencies: Vec<u32>,
    pub traefik_service: Option<TraefikService>,
    pub network_config: Option<VmNetwork>,
    pub user_config: Option<UserConfig>,
    pub volumes: Vec<VmVolume>,
    pub docker_stacks: Vec<StackRef>,
    pub firewall: Option<GuestFirewall>,
    pub trigger_sync_on_completion: Option<bool>,
    pub dns_records: Option<Value>,
    pub snapshots: Option<Value>,
    pub qm_options: Option<Value>,
    pub count: Option<Value>,
    #[serde(skip)]
    pub(crate) at: String,
    /// Pointers of the `dependencies` items, parallel to `dependencies`.
    #[serde(skip)]
    pub(crate) dep_at: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VmNetwork {
    /// CIDR (`10.0.0.111/24`) or `dhcp`.
    pub ip: String,
    pub gw: Option<String>,
    pub nameserver: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserConfig {
    pub username: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VmVolume {
    #[serde(rename = "type")]
    pub volume_type: String,
    pub name: String,
    pub path: String,
    pub mount_point: String,
    pub server: Option<String>,
}

/// A stack deployed on a VM: written as a plain name or `{name, environment}`.
#[derive(Debug, Clone, Serialize)]
pub struct StackRef {
    pub name: String,
    /// The manifest environment to use; the original only ever used `production`.
    pub environment: Option<String>,
    #[serde(skip)]
    pub(crate) at: String,
}

fn stack_ref(ctx: &Ctx, v: &Value, ptr: &str) -> Option<StackRef> {
    match v {
        Value::String(_) => {
            Some(StackRef { name: formatted(&SIMPLE_NAME)(ctx, v, ptr)?, environment: None, at: ptr.to_string() })
        }
        Value::Object(_) => {
            let mut o = Obj::new(ctx, v, ptr)?;
            let name = o.req("name", formatted(&SIMPLE_NAME));
            let environment = o.opt("environment", formatted(&SIMPLE_NAME));
            o.finish();
            Some(StackRef { name: name?, environment, at: ptr.to_string() })
        }
        other => {
            ctx.type_error(ptr, "a stack name or {\"name\": …, \"environment\": …}", other);
            None
        }
    }
}

/// The only volume type VMs mount (NFS, through fstab).
fn volume_type(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let t = string(ctx, v, ptr)?;
    if t == "nfs" {
        return Some(t);
    }
    ctx.report(
        ctx.at_value(ptr, format!("`{}` is not a supported volume type", ctx.path(ptr)))
            .label("expected \"nfs\"")
            .help("VM volumes are NFS mounts: write \"type\": \"nfs\""),
    );
    None
}

fn vm_ip(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    if v.as_str() == Some("dhcp") {
        return Some("dhcp".into());
    }
    cidr(ctx, v, ptr)
}

const CORES_WHY: &str = "a VM needs at least one core (qemu-server)";

pub(crate) fn decode(ctx: &Ctx, root: &Value) -> Option<VmFile> {
    let mut o = Obj::new(ctx, root, "")?;
    o.accept("$schema");
    let defaults = o
        .obj("vm_defaults", |o| VmDefaults {
            template: o.opt("template", string),
            cores: o.opt("cores", u32_in(1, u32::MAX, CORES_WHY)),
            memory_mb: o.opt("memory_mb", u32_in(16, u32::MAX, MEMORY_WHY)),
            disk_size_gb: o.opt("disk_size_gb", u32_in(1, u32::MAX, DISK_WHY)),
            storage_pool: o.opt("storage_pool", formatted(&STORAGE_ID)),
            network_bridge: o.opt("network_bridge", formatted(&BRIDGE)),
        })
        .unwrap_or_default();
    let mut guests = IndexMap::new();
    let mut declared = HashSet::new();
    if let Some((Value::Array(items), ptr)) = o.raw("vms") {
        for (i, item) in items.iter().enumerate() {
            let at = child_pointer(&ptr, &i.to_string());
            if let Some(g) = guest(ctx, item, &at, &defaults, &mut declared) {
                guests.insert(g.id, g);
            }
        }
    } else if let Some(v) = o.raw_value("vms").filter(|v| !v.is_null()) {
        ctx.type_error(&o.field_ptr("vms"), "an array of VMs", v);
    }
    o.finish();
    Some(VmFile { defaults, guests, declared })
}

fn guest(ctx: &Ctx, v: &Value, at: &str, defaults: &VmDefaults, declared: &mut HashSet<u32>) -> Option<VmGuest> {
    let mut o = Obj::new(ctx, v, at)?;
    let id = o.req("vmid", guest_id);
    if let Some(id) = id {
        if !declared.insert(id) {
            let ptr = o.field_ptr("vmid");
            ctx.report(
                ctx.at_value(&ptr, format!("VM {id} is declared twice"))
                    .label("second declaration")
                    .help("give each VM its own vmid"),
            );
            return None;
        }
    }
    let name = o.req("name", formatted(&DNS_NAME));
    let is_template = o.opt("is_template", bool_).unwrap_or(false);
    let template_image = o.opt("template_image", formatted(&FILE_NAME));
    let template_snapshot_name = o.opt("template_snapshot_name", formatted(&SNAPSHOT_NAME));
    let clone_from_vmid = o.opt("clone_from_vmid", guest_id);
    let cores = o.opt("cores", u32_in(1, u32::MAX, CORES_WHY)).or(defaults.cores);
    let memory_mb = o.opt("memory_mb", u32_in(16, u32::MAX, MEMORY_WHY)).or(defaults.memory_mb);
    let disk_size_gb = o.opt("disk_size_gb", u32_in(1, u32::MAX, DISK_WHY)).or(defaults.disk_size_gb);
    let storage_pool = o.opt("storage_pool", formatted(&STORAGE_ID)).or_else(|| defaults.storage_pool.clone());
    let network_bridge = o.opt("network_bridge", formatted(&BRIDGE)).or_else(|| defaults.network_bridge.clone());
    let start_at_boot = o.opt("start_at_boot", bool_);
    let boot_order = o.opt("boot_order", boot_order);
    let boot_delay = o.opt("boot_delay", u32_);
    // Checked against the feature registry (stdlib/features/) by inventory::features.
    let features = o.list("features", string);
    let portainer_role = o.opt("portainer_role", string);
    let portainer_environment_name = o.opt("portainer_environment_name", nonempty_string);
    let portainer_agent_hostname = o.opt("portainer_agent_hostname", formatted(&DNS_NAME));
    let (dependencies, dep_at): (Vec<u32>, Vec<String>) =
        o.list("dependencies", |c, v, p| guest_id(c, v, p).map(|id| (id, p.to_string()))).into_iter().unzip();
    let traefik_service = o.obj("traefik_service", traefik_service).flatten();
    let net_ptr = o.field_ptr("network_config");
    let network_config = o
        .obj("network_config", |o| {
            let ip = o.req("ip", vm_ip);
            let gw = o.opt("gw", ipv4);
            let nameserver = o.opt("nameserver", formatted(&NAMESERVERS));
            if let (Some(ip), Some(gw)) = (&ip, &gw) {
                check_gateway(o.ctx, ip, &child_pointer(&net_ptr, "gw"), gw);
            }
            Some(VmNetwork { ip: ip?, gw, nameserver })
        })
        .flatten();
    let user_config = o.obj("user_config", |o| UserConfig { username: o.opt("username", formatted(&LINUX_USER)) });
    let volumes = o.list("volumes", |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        let volume_type = o.req("type", volume_type);
        let name = o.req("name", formatted(&SIMPLE_NAME));
        let path = o.req("path", formatted(&HOST_PATH));
        let mount_point = o.req("mount_point", formatted(&HOST_PATH));
        let server = o.opt("server", ipv4);
        o.finish();
        Some(VmVolume { volume_type: volume_type?, name: name?, path: path?, mount_point: mount_point?, server })
    });
    let docker_stacks = o.list("docker_stacks", stack_ref);
    let firewall = o.obj("firewall", guest_firewall);
    let trigger_sync_on_completion = o.opt("trigger_sync_on_completion", bool_);
    let dns_records = o.opaque("dns_records");
    let snapshots = o.opaque("snapshots");
    let qm_options = o.opaque("qm_options");
    let count = o.opaque("count");
    o.finish();
    Some(VmGuest {
        id: id?,
        name: name?,
        is_template,
        template_image,
        template_snapshot_name,
        clone_from_vmid,
        cores,
        memory_mb,
        disk_size_gb,
        storage_pool,
        network_bridge,
        start_at_boot,
        boot_order,
        boot_delay,
        features,
        portainer_role,
        portainer_environment_name,
        portainer_agent_hostname,
        dependencies,
        traefik_service,
        network_config,
        user_config,
        volumes,
        docker_stacks,
        firewall,
        trigger_sync_on_completion,
        dns_records,
        snapshots,
        qm_options,
        count,
        at: at.to_string(),
        dep_at,
    })
}
