//! `phoenix_hypervisor_config.json`: the host itself (network, storage, users, firewall,
//! Portainer access). Field names are the original tool's.

use super::firewall::{host_firewall, HostFirewall};
use super::net::{cidr, ipv4};
use super::reader::{bool_, formatted, guest_id, map, nonempty_string, port, secret, string, u32_, u32_in, Ctx, Obj};
use super::rules::{
    Format, CONTENT_TYPES_FORMAT, DISK, DNS_NAME, DOCKER_IMAGE, HOST_PATH, LINUX_USER, NET_DEVICE, NFS_CLIENT,
    NFS_OPTION, SIMPLE_NAME, STORAGE_ID, TIMEZONE, URL, WORKGROUP, ZFS_DATASET, ZFS_POOL, ZFS_PROPERTIES,
};
use super::secret_ref::SecretRef;
use super::source::child_pointer;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub struct HypervisorConfig {
    pub version: Option<Value>,
    pub author: Option<String>,
    pub domain_name: String,
    pub users: Option<Users>,
    pub core_paths: Option<Value>,
    pub timezone: Option<String>,
    pub network: Option<Network>,
    pub docker: Option<DockerImages>,
    pub nfs: Option<Nfs>,
    pub samba: Option<Samba>,
    pub zfs: Option<Zfs>,
    pub proxmox_storage_ids: IndexMap<String, String>,
    pub mount_point_base: Option<String>,
    pub proxmox_defaults: Option<Value>,
    pub tests: Option<Value>,
    pub behavior: Option<Value>,
    pub step_ca: Option<Value>,
    pub vm_defaults: Option<HvVmDefaults>,
    pub nvidia_driver: Option<NvidiaDriver>,
    /// The host firewall, from `firewall` or (original layout) `shared_volumes.firewall`.
    pub firewall: Option<HostFirewall>,
    /// The rest of `shared_volumes` (unused leftovers in the original), kept opaque.
    pub shared_volumes: IndexMap<String, Value>,
    pub shared_zfs_volumes: IndexMap<String, SharedZfsVolume>,
    pub portainer_api: Option<PortainerApi>,
    pub dns_server: Option<DnsServer>,
    /// Which guests play the edge roles, when the defaults (feature `step_ca`, feature
    /// `traefik`, application script `nginx_gateway.sh`) are not what the operator wants.
    pub edge: Option<EdgeRoles>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Users {
    pub username: String,
    /// `None` when absent or the original's sentinel `NOT_SET` (no password).
    pub password_hash: Option<SecretRef>,
    pub sudo_access: Option<bool>,
    pub ssh_public_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub interfaces: Option<Interface>,
    pub hostname: Option<String>,
    pub workgroup: Option<String>,
    pub nfs_server: Option<String>,
    pub portainer_agent_port: Option<u16>,
    pub external_registry_url: Option<Value>,
    pub portainer_server_ip: Option<Value>,
    pub portainer_server_port: Option<Value>,
    pub default_subnet: Option<Value>,
    pub fallback_dns: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    pub name: Option<String>,
    pub address: Option<String>,
    pub gateway: Option<String>,
    pub dns_nameservers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DockerImages {
    pub portainer_agent_image: Option<String>,
    pub portainer_server_image: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nfs {
    pub exports: Vec<NfsExport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NfsExport {
    pub path: String,
    pub clients: Vec<String>,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Samba {
    pub user: Option<String>,
    pub password: Option<SecretRef>,
    pub shares: Vec<SambaShare>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SambaShare {
    pub name: String,
    pub path: String,
    /// Ignored by the original; kept as written.
    pub options: Option<Value>,
    pub valid_users: Vec<String>,
    pub browsable: Option<bool>,
    pub read_only: Option<bool>,
    pub guest_ok: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Zfs {
    pub arc_max_gb: Option<u32>,
    pub pools: Vec<ZfsPool>,
    pub settings: Option<ZfsSettings>,
    pub datasets: Vec<ZfsDataset>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZfsPool {
    pub name: String,
    pub raid_level: Option<String>,
    pub disks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZfsSettings {
    pub allow_destructive_operations: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZfsDataset {
    pub name: String,
    pub pool: String,
    /// Comma-separated `k=v` list, as the original wrote it.
    pub properties: Option<String>,
    pub proxmox_storage_type: Option<String>,
    pub proxmox_content_type: Option<String>,
    pub storage_class: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HvVmDefaults {
    pub ubuntu_release: Option<String>,
    /// Other keys (unused by the original), kept opaque.
    #[serde(flatten)]
    pub other: IndexMap<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NvidiaDriver {
    pub install: Option<bool>,
    pub version: Option<String>,
    pub runfile_url: Option<String>,
    pub cuda_version: Option<Value>,
    pub install_vllm_libs: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedZfsVolume {
    pub pool: String,
    pub size_gb: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortainerApi {
    pub admin_user: Option<String>,
    pub admin_password: Option<SecretRef>,
    pub api_key: Option<SecretRef>,
    pub portainer_hostname: Option<String>,
    /// `AGENT_SECRET` shared by the Portainer server and every agent: an agent accepts only a
    /// server that presents it. A reference only ({"env"} or {"file"}): a new field has no
    /// legacy plain-text form to keep.
    pub agent_secret: Option<SecretRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DnsServer {
    pub enabled: Option<bool>,
    pub upstream_servers: Vec<String>,
    pub authoritative_zones: Option<Value>,
}

/// `edge`: explicit role assignments (each optional; a role left out keeps its default).
/// The ids must name declared guests (checked with the edge model, `inventory::edge`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct EdgeRoles {
    pub gateway_guest: Option<u32>,
    pub traefik_guest: Option<u32>,
    pub ca_guest: Option<u32>,
}

/// `portainer_api.agent_secret`: a secret reference, never the secret itself.
fn agent_secret(ctx: &Ctx, v: &Value, ptr: &str) -> Option<SecretRef> {
    let r = secret(ctx, v, ptr)?;
    if r.is_literal() {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` must refer to the secret, not hold it", ctx.path(ptr)))
                .label("the agent secret in plain text")
                .help(
                    "write {\"env\": \"PORTAINER_AGENT_SECRET\"} or {\"file\": \"/root/.phoenix/agent_secret\"}; \
                     the Portainer server and every agent get the same value",
                ),
        );
        return None;
    }
    Some(r)
}

/// Samba share paths: the original wrote them relative to the mount base (`quickOS/share`);
/// absolute paths work too. Either way normalised, and usable in a line of smb.conf.
const SHARE_PATH: Format = Format {
    what: "a share path",
    help: "write the path without `.`, `..`, `//`, spaces, `,`, `;` or `=`, e.g. \"quickOS/shared-data\"",
    check: |s| super::rules::host_path(&format!("/{}", s.strip_prefix('/').unwrap_or(s))),
};

/// An export path: absolute and normalised, not `/` itself (exporting the root file system
/// is never meant), with a last component that names a storage (`nfs-<name>`, as the
/// original called the storage it added for each export).
const NFS_EXPORT_PATH: Format = Format {
    what: "an export path",
    help: "write an absolute, normalised path below `/` whose last component is letters, digits, `-`, `_` or `.`, e.g. \"/tank/shared\"",
    check: |s| {
        super::rules::host_path(s)?;
        let base = s.rsplit('/').next().unwrap_or("");
        if base.is_empty() {
            return Err("the root file system".into());
        }
        super::rules::storage_id(&format!("nfs-{base}")).map_err(|e| format!("`nfs-{base}` is no storage id: {e}"))
    },
};

/// The storage types setup creates for a dataset.
const STORAGE_TYPE: Format = Format {
    what: "a supported storage type",
    help: "write \"zfspool\" or \"dir\"",
    check: |s| if s == "zfspool" || s == "dir" { Ok(()) } else { Err("expected \"zfspool\" or \"dir\"".into()) },
};

/// Decodes the whole file. `None` only when the root is not an object (already reported).
pub(crate) fn decode(ctx: &Ctx, root: &Value) -> Option<HypervisorConfig> {
    let mut o = Obj::new(ctx, root, "")?;
    o.accept("$schema");
    let version = o.opaque("version");
    let author = o.opt("author", string);
    let domain_name = o.req("domain_name", formatted(&DNS_NAME));
    let users = o.obj("users", users);
    let core_paths = o.opaque("core_paths");
    let timezone = o.opt("timezone", formatted(&TIMEZONE));
    let network = o.obj("network", network);
    let docker = o.obj("docker", |o| DockerImages {
        portainer_agent_image: o.opt("portainer_agent_image", formatted(&DOCKER_IMAGE)),
        portainer_server_image: o.opt("portainer_server_image", formatted(&DOCKER_IMAGE)),
    });
    let nfs = o.obj("nfs", |o| Nfs { exports: o.list("exports", nfs_export) });
    let samba = o.obj("samba", samba);
    let zfs = o.obj("zfs", zfs);
    let proxmox_storage_ids = o
        .opt("proxmox_storage_ids", |c, v, p| map(c, v, p, |c, _, v, p| formatted(&STORAGE_ID)(c, v, p)))
        .unwrap_or_default();
    let mount_point_base = o.opt("mount_point_base", formatted(&HOST_PATH));
    let proxmox_defaults = o.opaque("proxmox_defaults");
    let tests = o.opaque("tests");
    let behavior = o.opaque("behavior");
    let step_ca = o.opaque("step_ca");
    let vm_defaults = o.obj("vm_defaults", |o| HvVmDefaults {
        ubuntu_release: o.opt("ubuntu_release", formatted(&SIMPLE_NAME)),
        other: o.rest(),
    });
    let nvidia_driver = o.obj("nvidia_driver", |o| NvidiaDriver {
        install: o.opt("install", bool_),
        version: o.opt("version", formatted(&SIMPLE_NAME)),
        runfile_url: o.opt("runfile_url", formatted(&URL)),
        cuda_version: o.opaque("cuda_version"),
        install_vllm_libs: o.opaque("install_vllm_libs"),
    });
    let top_firewall = o.obj("firewall", host_firewall);
    let top_firewall_ptr = o.field_ptr("firewall");
    let shared = o.obj("shared_volumes", |o| {
        let fw = o.obj("firewall", host_firewall);
        (fw, o.field_ptr("firewall"), o.rest())
    });
    let shared_zfs_volumes = o
        .opt("shared_zfs_volumes", |c, v, p| {
            map(c, v, p, |c, _, v, p| {
                let mut o = Obj::new(c, v, p)?;
                let pool = o.req("pool", formatted(&ZFS_POOL));
                let size_gb =
                    o.req("size_gb", u32_in(1, u32::MAX, "a volume of 0 GB cannot be created; give the size in GB"));
                o.finish();
                Some(SharedZfsVolume { pool: pool?, size_gb: size_gb? })
            })
        })
        .unwrap_or_default();
    let portainer_api = o.obj("portainer_api", |o| PortainerApi {
        admin_user: o.opt("admin_user", string),
        admin_password: o.opt("admin_password", secret),
        api_key: o.opt("api_key", secret),
        portainer_hostname: o.opt("portainer_hostname", formatted(&DNS_NAME)),
        agent_secret: o.opt("agent_secret", agent_secret),
    });
    let dns_server = o.obj("dns_server", |o| DnsServer {
        enabled: o.opt("enabled", bool_),
        upstream_servers: o.list("upstream_servers", ipv4),
        authoritative_zones: o.opaque("authoritative_zones"),
    });
    let edge = o.obj("edge", |o| EdgeRoles {
        gateway_guest: o.opt("gateway_guest", guest_id),
        traefik_guest: o.opt("traefik_guest", guest_id),
        ca_guest: o.opt("ca_guest", guest_id),
    });
    let datasets_ptr = child_pointer(&o.field_ptr("zfs"), "datasets");
    if let Some(z) = &zfs {
        check_storage_ids(ctx, &z.datasets, &datasets_ptr, &proxmox_storage_ids);
    }
    o.finish();

    let (shared_fw, shared_fw_ptr, shared_volumes) = shared.unwrap_or((None, String::new(), IndexMap::new()));
    let firewall = match (top_firewall, shared_fw) {
        (Some(_), Some(s)) => {
            ctx.report(
                ctx.at_key(&shared_fw_ptr, "the host firewall is declared twice").label("second declaration").help(
                    format!(
                        "keep one of `{}` and `{}`; phoenix would not know which to apply",
                        ctx.path(&top_firewall_ptr),
                        ctx.path(&shared_fw_ptr)
                    ),
                ),
            );
            Some(s)
        }
        (a, b) => a.or(b),
    };

    Some(HypervisorConfig {
        version,
        author,
        domain_name: domain_name?,
        users: users.flatten(),
        core_paths,
        timezone,
        network,
        docker,
        nfs,
        samba,
        zfs,
        proxmox_storage_ids,
        mount_point_base,
        proxmox_defaults,
        tests,
        behavior,
        step_ca,
        vm_defaults,
        nvidia_driver,
        firewall,
        shared_volumes,
        shared_zfs_volumes,
        portainer_api,
        dns_server,
        edge,
    })
}

fn users(o: &mut Obj) -> Option<Users> {
    let username = o.req("username", formatted(&LINUX_USER));
    let password_hash = match o.raw("password_hash") {
        // The original's sentinel for "no password"; not a secret, so no warning.
        Some((Value::String(s), _)) if s == "NOT_SET" => None,
        Some((v, p)) => secret(o.ctx, v, &p),
        None => None,
    };
    let sudo_access = o.opt("sudo_access", bool_);
    let ssh_public_key = o.opt("ssh_public_key", string);
    Some(Users { username: username?, password_hash, sudo_access, ssh_public_key })
}

fn network(o: &mut Obj) -> Network {
    Network {
        interfaces: o.obj("interfaces", |o| Interface {
            name: o.opt("name", formatted(&NET_DEVICE)),
            address: o.opt("address", cidr),
            gateway: o.opt("gateway", ipv4),
            dns_nameservers: o.list("dns_nameservers", ipv4),
        }),
        hostname: o.opt("hostname", formatted(&DNS_NAME)),
        workgroup: o.opt("workgroup", formatted(&WORKGROUP)),
        nfs_server: o.opt("nfs_server", ipv4),
        portainer_agent_port: o.opt("portainer_agent_port", port),
        external_registry_url: o.opaque("external_registry_url"),
        portainer_server_ip: o.opaque("portainer_server_ip"),
        portainer_server_port: o.opaque("portainer_server_port"),
        default_subnet: o.opaque("default_subnet"),
        fallback_dns: o.opaque("fallback_dns"),
    }
}

fn nfs_export(ctx: &Ctx, v: &Value, ptr: &str) -> Option<NfsExport> {
    let mut o = Obj::new(ctx, v, ptr)?;
    let path = o.req("path", formatted(&NFS_EXPORT_PATH));
    let clients = o.list("clients", formatted(&NFS_CLIENT));
    let options = o.list("options", formatted(&NFS_OPTION));
    o.finish();
    Some(NfsExport { path: path?, clients, options })
}

fn samba(o: &mut Obj) -> Samba {
    Samba {
        user: o.opt("user", formatted(&LINUX_USER)),
        password: o.opt("password", secret),
        shares: o.list("shares", |ctx, v, ptr| {
            let mut o = Obj::new(ctx, v, ptr)?;
            let name = o.req("name", formatted(&SIMPLE_NAME));
            let path = o.req("path", formatted(&SHARE_PATH));
            let options = o.opaque("options");
            let valid_users = o.list("valid_users", formatted(&LINUX_USER));
            let browsable = o.opt("browsable", bool_);
            let read_only = o.opt("read_only", bool_);
            let guest_ok = o.opt("guest_ok", bool_);
            o.finish();
            Some(SambaShare { name: name?, path: path?, options, valid_users, browsable, read_only, guest_ok })
        }),
    }
}

fn zfs(o: &mut Obj) -> Zfs {
    let arc_max_gb = o.opt("arc_max_gb", u32_);
    let pools = o.list("pools", |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        let name = o.req("name", formatted(&ZFS_POOL));
        let raid_level = o.opt("raid_level", formatted(&SIMPLE_NAME));
        let disks = o.list("disks", formatted(&DISK));
        o.finish();
        Some(ZfsPool { name: name?, raid_level, disks })
    });
    let settings = o.obj("settings", |o| ZfsSettings {
        allow_destructive_operations: o.opt("allow_destructive_operations", bool_),
    });
    let datasets_ptr = o.field_ptr("datasets");
    let datasets = o.list("datasets", |ctx, v, ptr| {
        let mut o = Obj::new(ctx, v, ptr)?;
        let name = o.req("name", formatted(&ZFS_DATASET));
        let pool = o.req("pool", nonempty_string);
        let properties = o.opt("properties", formatted(&ZFS_PROPERTIES));
        let proxmox_storage_type = o.opt("proxmox_storage_type", formatted(&STORAGE_TYPE));
        let proxmox_content_type = o.opt("proxmox_content_type", formatted(&CONTENT_TYPES_FORMAT));
        let storage_class = o.opaque("storage_class");
        o.finish();
        Some(ZfsDataset {
            name: name?,
            pool: pool?,
            properties,
            proxmox_storage_type,
            proxmox_content_type,
            storage_class,
        })
    });
    check_dataset_pools(o.ctx, &pools, &datasets_ptr, o.raw_value("datasets"));
    Zfs { arc_max_gb, pools, settings, datasets }
}

/// The storage id setup gives a dataset (as `stages/storage.rhai` derives it: the mapping in
/// `proxmox_storage_ids`, else `<pool>-<dataset>`) must be one Proxmox accepts.
fn check_storage_ids(ctx: &Ctx, datasets: &[ZfsDataset], datasets_ptr: &str, ids: &IndexMap<String, String>) {
    for (i, ds) in datasets.iter().enumerate() {
        if ds.proxmox_storage_type.is_none() {
            continue;
        }
        let key = format!("{}_{}", ds.pool, ds.name).replace(['-', '/'], "_");
        if ids.contains_key(&key) {
            continue; // The mapped id was checked as a storage id itself.
        }
        let id = format!("{}-{}", ds.pool, ds.name).replace('/', "-");
        if let Err(why) = super::rules::storage_id(&id) {
            let ptr = child_pointer(&child_pointer(datasets_ptr, &i.to_string()), "name");
            ctx.report(
                ctx.at_value(
                    &ptr,
                    format!(
                        "dataset `{}/{}` would get the storage id `{}`, which Proxmox refuses",
                        ds.pool,
                        ds.name,
                        super::diagnostic::shown(&id)
                    ),
                )
                .label(why)
                .help(format!(
                    "rename the dataset, or give its storage an id in `proxmox_storage_ids`: \"{key}\": \"…\""
                )),
            );
        }
    }
}

/// Every dataset must live on a pool this file declares (setup creates pools first).
fn check_dataset_pools(ctx: &Ctx, pools: &[ZfsPool], datasets_ptr: &str, raw: Option<&Value>) {
    let Some(Value::Array(items)) = raw else {
        return;
    };
    let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    for (i, item) in items.iter().enumerate() {
        let Some(pool) = item.get("pool").and_then(Value::as_str) else {
            continue;
        };
        if names.contains(&pool) {
            continue;
        }
        let ptr = child_pointer(&child_pointer(datasets_ptr, &i.to_string()), "pool");
        let help = match super::suggest::did_you_mean(pool, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? declared pools: {}", names.join(", ")),
            None if names.is_empty() => "declare the pool under `zfs.pools` first".to_string(),
            None => format!("use one of the declared pools: {}", names.join(", ")),
        };
        ctx.report(
            ctx.at_value(
                &ptr,
                format!("dataset pool `{}` is not declared in `zfs.pools`", super::diagnostic::shown(pool)),
            )
            .label("unknown pool")
            .help(help),
        );
    }
}
