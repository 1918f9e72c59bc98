//! The inventory: typed, validated contents of a config folder
//! (`phoenix_hypervisor_config.json`, `phoenix_lxc_configs.json`, `phoenix_vm_configs.json`,
//! `stacks/<name>/`). Loading reports every problem at once, each pointing at file:line:col.

mod bind_mounts;
pub mod certs;
pub mod diagnostic;
pub mod edge;
mod excerpt;
pub mod features;
pub mod firewall;
pub mod hypervisor;
pub mod lxc;
mod net;
mod paths;
mod read;
mod reader;
mod rules;
pub mod secret_ref;
mod source;
pub mod stack;
mod suggest;
mod validate;
pub mod vm;

pub use diagnostic::{render, ConfigErrors, ConfigProblem};
pub use firewall::{FirewallRule, GuestFirewall, HostFirewall};
pub use hypervisor::HypervisorConfig;
pub use lxc::{LxcFile, LxcGuest};
pub use secret_ref::{SecretError, SecretRef};
pub use stack::{Stack, StackManifest};
pub use vm::{VmDefaults, VmFile, VmGuest};

use crate::graph::{EdgeReason, GuestKind, GuestNode};
use indexmap::IndexMap;
use reader::Ctx;
use serde::Serialize;
use source::SourceFile;
use std::path::{Path, PathBuf};

pub const HYPERVISOR_FILE: &str = "phoenix_hypervisor_config.json";
pub const LXC_FILE: &str = "phoenix_lxc_configs.json";
pub const VM_FILE: &str = "phoenix_vm_configs.json";

#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub config_dir: PathBuf,
    pub hypervisor: HypervisorConfig,
    pub lxc: LxcFile,
    pub vm: VmFile,
    pub stacks: IndexMap<String, Stack>,
    /// `certificate-manifest.json`, when the folder has one.
    pub certs: Option<certs::CertManifest>,
    /// Non-fatal problems (literal secrets, quoted booleans, incomplete stack folders).
    /// Diagnostics, not state: left out of the serialized form.
    #[serde(skip)]
    pub warnings: Vec<ConfigProblem>,
}

/// A guest of either kind.
#[derive(Debug, Clone, Copy)]
pub enum GuestRef<'a> {
    Lxc(&'a LxcGuest),
    Vm(&'a VmGuest),
}

impl<'a> GuestRef<'a> {
    pub fn id(&self) -> u32 {
        match self {
            GuestRef::Lxc(g) => g.id,
            GuestRef::Vm(g) => g.id,
        }
    }

    pub fn kind(&self) -> GuestKind {
        match self {
            GuestRef::Lxc(_) => GuestKind::Lxc,
            GuestRef::Vm(_) => GuestKind::Vm,
        }
    }

    pub fn name(&self) -> &'a str {
        match self {
            GuestRef::Lxc(g) => &g.name,
            GuestRef::Vm(g) => &g.name,
        }
    }

    pub fn dependencies(&self) -> &'a [u32] {
        match self {
            GuestRef::Lxc(g) => &g.dependencies,
            GuestRef::Vm(g) => &g.dependencies,
        }
    }

    pub fn clone_source(&self) -> Option<u32> {
        match self {
            GuestRef::Lxc(g) => g.clone_from_ctid,
            GuestRef::Vm(g) => g.clone_from_vmid,
        }
    }

    pub fn boot_order(&self) -> Option<i64> {
        match self {
            GuestRef::Lxc(g) => g.boot_order,
            GuestRef::Vm(g) => g.boot_order,
        }
    }

    /// Only VMs can be Proxmox templates; LXC "templates" in the original are ordinary
    /// containers with a snapshot to clone from.
    pub fn is_template(&self) -> bool {
        match self {
            GuestRef::Lxc(_) => false,
            GuestRef::Vm(g) => g.is_template,
        }
    }

    fn node(&self) -> GuestNode {
        let mut edges: Vec<(u32, EdgeReason)> = Vec::new();
        if let Some(src) = self.clone_source() {
            edges.push((src, EdgeReason::CloneSource));
        }
        edges.extend(self.dependencies().iter().map(|d| (*d, EdgeReason::Dependency)));
        GuestNode { id: self.id(), kind: self.kind(), name: self.name().to_string(), edges }
    }
}

impl Inventory {
    /// LXCs then VMs, each in file order.
    pub fn guest_ids(&self) -> Vec<u32> {
        self.lxc.guests.keys().chain(self.vm.guests.keys()).copied().collect()
    }

    /// An LXC wins over a VM with the same id (as in the original), though validation
    /// rejects such configs.
    pub fn guest(&self, id: u32) -> Option<GuestRef<'_>> {
        self.lxc.guests.get(&id).map(GuestRef::Lxc).or_else(|| self.vm.guests.get(&id).map(GuestRef::Vm))
    }

    pub fn guests(&self) -> impl Iterator<Item = GuestRef<'_>> {
        self.lxc.guests.values().map(GuestRef::Lxc).chain(self.vm.guests.values().map(GuestRef::Vm))
    }

    /// The name Portainer is reached at and its certificate is issued for:
    /// `portainer_api.portainer_hostname`, else `<the primary Portainer VM's name>.<domain_name>`.
    /// Always a name, never the VM's address: phoenix reaches the VM's address with the name kept
    /// for TLS (an SSH port forward cannot carry an IP URL), and a certificate names hosts.
    /// `None` when no VM has `portainer_role: "primary"`.
    pub fn portainer_hostname(&self) -> Option<String> {
        let configured = self.hypervisor.portainer_api.as_ref().and_then(|p| p.portainer_hostname.clone());
        let primary = self.guests().find_map(|g| match g {
            GuestRef::Vm(v) if matches!(v.portainer_role.as_deref(), Some("primary" | "server")) => {
                Some(v.name.clone())
            }
            GuestRef::Lxc(l) if matches!(l.portainer_role.as_deref(), Some("primary" | "server")) => {
                Some(l.name.clone())
            }
            _ => None,
        })?;
        Some(configured.unwrap_or_else(|| format!("{}.{}", primary, self.hypervisor.domain_name).to_ascii_lowercase()))
    }

    /// One node per guest, edges clone source first then dependencies (the original's order).
    pub fn graph_nodes(&self) -> Vec<GuestNode> {
        self.guests().map(|g| g.node()).collect()
    }
}

/// Reads one required file and decodes it, collecting problems.
fn load_file<T>(
    path: &Path,
    problems: &mut Vec<ConfigProblem>,
    decode: impl FnOnce(&Ctx, &serde_json::Value) -> Option<T>,
) -> Option<(T, SourceFile)> {
    let (file, root) = match read::read_json(path) {
        Ok(x) => x,
        Err(f) => {
            problems.push(f.into_problem());
            return None;
        }
    };
    let ctx = Ctx::new(&file);
    let decoded = decode(&ctx, &root);
    let mut duplicates = duplicate_key_problems(&file);
    reader::mask_secrets(&mut duplicates, &file, &ctx.secret_spans());
    problems.extend(duplicates);
    problems.extend(ctx.into_problems());
    decoded.map(|d| (d, file))
}

/// A key written twice in one object: serde_json would keep the last one silently, hiding
/// (for example) a second declaration of the same guest.
pub(crate) fn duplicate_key_problems(file: &SourceFile) -> Vec<ConfigProblem> {
    file.duplicate_keys()
        .into_iter()
        .map(|d| {
            let path = reader::display_path(file, &d.pointer);
            let (parent, key) = d.pointer.rsplit_once('/').unwrap_or(("", &d.pointer));
            let key = diagnostic::shown(&key.replace("~1", "/").replace("~0", "~"));
            let message = if parent == "/lxc_configs" {
                format!("container {key} is declared twice")
            } else {
                format!("`{path}` is declared twice")
            };
            let to_span = |r: &std::ops::Range<usize>| miette::SourceSpan::from((r.start, r.end - r.start));
            ConfigProblem::at(file, to_span(&d.second), message)
                .label("second declaration")
                .also_at(file, to_span(&d.first), "first declaration")
                .help(
                    "JSON keeps only the last of two equal keys, so the first would be ignored without a \
                     word; remove one of them or merge them",
                )
        })
        .collect()
}

/// Loads and validates a config folder. Any error fails the load and is returned with every
/// other problem found (warnings included); warnings alone do not.
pub fn load(config_dir: &Path) -> Result<Inventory, ConfigErrors> {
    let mut problems = Vec::new();
    let hv = load_file(&config_dir.join(HYPERVISOR_FILE), &mut problems, hypervisor::decode);
    let lxc = load_file(&config_dir.join(LXC_FILE), &mut problems, |c, v| lxc::decode(c, v, config_dir));
    let vm = load_file(&config_dir.join(VM_FILE), &mut problems, vm::decode);
    let stacks = stack::discover(config_dir, &mut problems);

    if let (Some((lxc, lxc_src)), Some((vm, vm_src))) = (&lxc, &vm) {
        let nodes = lxc
            .guests
            .values()
            .map(GuestRef::Lxc)
            .chain(vm.guests.values().map(GuestRef::Vm))
            .map(|g| g.node())
            .collect();
        let stacks_dir = stack::stacks_dir(config_dir);
        problems.extend(validate::cross_check(&validate::Inputs {
            lxc,
            lxc_src,
            vm,
            vm_src,
            stacks: &stacks,
            config_dir,
            stacks_dir: stacks_dir.as_deref(),
            nodes,
        }));
    }

    problems.extend(bind_mounts::check(hv.as_ref(), lxc.as_ref()));

    let cert_manifest = config_dir.join(certs::CERT_MANIFEST_FILE);
    let certs = match (&lxc, &vm) {
        (Some((lxc, _)), Some((vm, _))) if cert_manifest.exists() => {
            let guests = certs::Guests { lxc, vm };
            load_file(&cert_manifest, &mut problems, |c, v| certs::decode(c, v, &guests)).map(|(m, _)| m)
        }
        _ => None,
    };

    match (hv, lxc, vm) {
        (Some((hypervisor, hv_src)), Some((lxc, lxc_src)), Some((vm, vm_src)))
            if problems.iter().all(|p| !p.is_error()) =>
        {
            let mut inv = Inventory {
                config_dir: config_dir.to_path_buf(),
                hypervisor,
                lxc,
                vm,
                stacks,
                certs,
                warnings: problems,
            };
            // The edge (routes, DNS names) spans every file: checked once the rest is sound.
            match edge::derive_with_warnings(&inv) {
                Ok((_, warnings)) => {
                    let found = edge_problems(&inv, &warnings, &hv_src, &lxc_src, &vm_src);
                    inv.warnings.extend(found);
                    Ok(inv)
                }
                Err(errors) => {
                    let mut problems = inv.warnings.clone();
                    problems.extend(edge_problems(&inv, &errors.0, &hv_src, &lxc_src, &vm_src));
                    Err(ConfigErrors { problems })
                }
            }
        }
        _ => Err(ConfigErrors { problems }),
    }
}

/// The edge model's problems as diagnostics in the file each one is in.
fn edge_problems(
    inv: &Inventory,
    found: &[edge::EdgeProblem],
    hv: &SourceFile,
    lxc: &SourceFile,
    vm: &SourceFile,
) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    for e in found {
        let stack_src;
        let file = match &e.origin {
            edge::Origin::Hypervisor => hv,
            edge::Origin::Lxc => lxc,
            edge::Origin::Vm => vm,
            edge::Origin::Stack(name) => {
                let path = inv.stacks.get(name).map(|s| s.dir.join(stack::MANIFEST));
                match path.map(|p| read::read_json(&p)) {
                    Some(Ok((f, _))) => {
                        stack_src = f;
                        &stack_src
                    }
                    _ => {
                        let problem = ConfigProblem::about_path(e.message.clone()).help(e.help.clone());
                        out.push(if e.warning { problem.warning() } else { problem });
                        continue;
                    }
                }
            }
        };
        let ctx = Ctx::new(file);
        let problem = ctx.at_value(&e.pointer, e.message.clone()).help(e.help.clone());
        ctx.report(if e.warning { problem.warning() } else { problem });
        out.extend(ctx.into_problems());
    }
    out
}

#[cfg(test)]
mod tests;
