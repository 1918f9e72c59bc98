//! Checks that span files: guest references, id clashes, cycles, duplicate addresses, stack
//! references. Per-field checks (types, syntax, features) happen while decoding each file.

use super::diagnostic::ConfigProblem;
use super::lxc::LxcFile;
use super::reader::Ctx;
use super::source::{child_pointer, SourceFile};
use super::stack::Stack;
use super::suggest::did_you_mean;
use super::vm::VmFile;
use crate::graph::{GuestGraph, GuestNode};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::Path;

pub(crate) struct Inputs<'a> {
    pub lxc: &'a LxcFile,
    pub lxc_src: &'a SourceFile,
    pub vm: &'a VmFile,
    pub vm_src: &'a SourceFile,
    pub stacks: &'a IndexMap<String, Stack>,
    pub config_dir: &'a Path,
    pub stacks_dir: Option<&'a Path>,
    pub nodes: Vec<GuestNode>,
}

pub(crate) fn cross_check(i: &Inputs) -> Vec<ConfigProblem> {
    let lxc = Ctx::new(i.lxc_src);
    let vm = Ctx::new(i.vm_src);
    shared_ids(i, &vm);
    references(i, &lxc, &vm);
    cycles(i, &lxc, &vm);
    duplicate_addresses(i, &lxc, &vm);
    stack_refs(i, &vm);
    let mut out = lxc.into_problems();
    out.extend(vm.into_problems());
    out
}

fn shared_ids(i: &Inputs, vm: &Ctx) {
    for g in i.vm.guests.values() {
        if let Some(ct) = i.lxc.guests.get(&g.id) {
            let ptr = child_pointer(&g.at, "vmid");
            vm.report(
                vm.at_value(&ptr, format!("id {} is used by both container `{}` and VM `{}`", g.id, ct.name, g.name))
                    .label("also a container id")
                    .help(format!(
                        "Proxmox ids are shared by containers and VMs; give this VM an id that \
                         {} does not use",
                        super::LXC_FILE
                    )),
            );
        }
    }
}

fn not_declared(ctx: &Ctx, ptr: &str, who: &str, relation: &str, id: u32, file_hint: &str) {
    ctx.report(
        ctx.at_value(ptr, format!("{who} {relation} {id}, which is not declared"))
            .label("unknown guest")
            .help(format!("declare guest {id} in {file_hint}, or fix the id")),
    );
}

fn references(i: &Inputs, lxc: &Ctx, vm: &Ctx) {
    let both = "phoenix_lxc_configs.json or phoenix_vm_configs.json";
    let is_guest = |id: &u32| i.lxc.declared.contains(id) || i.vm.declared.contains(id);
    for g in i.lxc.guests.values() {
        let who = format!("container {}", g.id);
        if let Some(src) = g.clone_from_ctid {
            let ptr = child_pointer(&g.at, "clone_from_ctid");
            if i.vm.declared.contains(&src) && !i.lxc.declared.contains(&src) {
                lxc.report(
                    lxc.at_value(&ptr, format!("{who} is cloned from {src}, which is a VM"))
                        .label("a VM id")
                        .help("containers can only be cloned from containers; point clone_from_ctid at a container id"),
                );
            } else if !i.lxc.declared.contains(&src) {
                not_declared(lxc, &ptr, &who, "is cloned from", src, "phoenix_lxc_configs.json");
            }
        }
        for (dep, ptr) in g.dependencies.iter().zip(&g.dep_at) {
            if !is_guest(dep) {
                not_declared(lxc, ptr, &who, "depends on", *dep, both);
            }
        }
    }
    for g in i.vm.guests.values() {
        let who = format!("VM {}", g.id);
        if let Some(src) = g.clone_from_vmid {
            let ptr = child_pointer(&g.at, "clone_from_vmid");
            if i.lxc.declared.contains(&src) && !i.vm.declared.contains(&src) {
                vm.report(
                    vm.at_value(&ptr, format!("{who} is cloned from {src}, which is a container"))
                        .label("a container id")
                        .help("VMs can only be cloned from VMs; point clone_from_vmid at a VM id"),
                );
            } else if !i.vm.declared.contains(&src) {
                not_declared(vm, &ptr, &who, "is cloned from", src, "phoenix_vm_configs.json");
            }
        }
        for (dep, ptr) in g.dependencies.iter().zip(&g.dep_at) {
            if !is_guest(dep) {
                not_declared(vm, ptr, &who, "depends on", *dep, both);
            }
        }
    }
}

/// Where guest `from` names guest `to` (clone source first, as the graph orders edges).
fn edge_pointer(i: &Inputs, from: u32, to: u32) -> Option<(bool, String)> {
    if let Some(g) = i.lxc.guests.get(&from) {
        if g.clone_from_ctid == Some(to) {
            return Some((true, child_pointer(&g.at, "clone_from_ctid")));
        }
        let k = g.dependencies.iter().position(|d| *d == to)?;
        return Some((true, g.dep_at.get(k)?.clone()));
    }
    let g = i.vm.guests.get(&from)?;
    if g.clone_from_vmid == Some(to) {
        return Some((false, child_pointer(&g.at, "clone_from_vmid")));
    }
    let k = g.dependencies.iter().position(|d| *d == to)?;
    Some((false, g.dep_at.get(k)?.clone()))
}

fn cycles(i: &Inputs, lxc: &Ctx, vm: &Ctx) {
    for path in GuestGraph::find_cycles(&i.nodes) {
        let (Some(&from), Some(&to)) = (path.first(), path.get(1)) else {
            continue;
        };
        let Some((in_lxc, ptr)) = edge_pointer(i, from, to) else {
            continue;
        };
        let ctx = if in_lxc { lxc } else { vm };
        let shown: Vec<String> = path.iter().map(u32::to_string).collect();
        ctx.report(
            ctx.at_value(&ptr, format!("dependency cycle: {}", shown.join(" → ")))
                .label(format!("{from} needs {to} here"))
                .help(
                    "each arrow means \"needs\" (a dependency or clone source); remove one of them \
                     so the guests can be created in order",
                ),
        );
    }
}

struct Seen {
    who: String,
    path: String,
    file: String,
}

fn duplicate_addresses(i: &Inputs, lxc: &Ctx, vm: &Ctx) {
    let mut ips: HashMap<String, Seen> = HashMap::new();
    let mut macs: HashMap<String, Seen> = HashMap::new();
    let mut check = |ctx: &Ctx, map_is_ip: bool, key: String, ptr: String, who: String| {
        let map = if map_is_ip { &mut ips } else { &mut macs };
        if let Some(first) = map.get(&key) {
            let what = if map_is_ip { "IP address" } else { "MAC address" };
            ctx.report(
                ctx.at_value(&ptr, format!("{what} {key} of {who} is already used by {}", first.who))
                    .label("duplicate")
                    .help(format!(
                        "the first use is `{}` in {}; give each guest its own {what}",
                        first.path, first.file
                    )),
            );
        } else {
            let file = Path::new(&ctx.file.name)
                .file_name()
                .map_or_else(|| ctx.file.name.clone(), |n| n.to_string_lossy().into_owned());
            let seen = Seen { who, path: ctx.path(&ptr), file };
            map.insert(key, seen);
        }
    };
    for g in i.lxc.guests.values() {
        let who = format!("container {}", g.id);
        let ip = &g.network_config.ip;
        if ip != "dhcp" {
            let addr = ip.split('/').next().unwrap_or(ip).to_string();
            check(lxc, true, addr, child_pointer(&child_pointer(&g.at, "network_config"), "ip"), who.clone());
        }
        if let Some(mac) = &g.mac_address {
            check(lxc, false, mac.to_uppercase(), child_pointer(&g.at, "mac_address"), who);
        }
    }
    for g in i.vm.guests.values() {
        let Some(net) = &g.network_config else {
            continue;
        };
        if net.ip != "dhcp" {
            let addr = net.ip.split('/').next().unwrap_or(&net.ip).to_string();
            let ptr = child_pointer(&child_pointer(&g.at, "network_config"), "ip");
            check(vm, true, addr, ptr, format!("VM {}", g.id));
        }
    }
}

fn stack_refs(i: &Inputs, vm: &Ctx) {
    let names: Vec<&str> = i.stacks.keys().map(String::as_str).collect();
    // Object-form entries are pointed at by their `name` / `environment` value.
    let part = |at: &str, key: &str| {
        let ptr = child_pointer(at, key);
        if vm.file.location(&ptr).is_some() {
            ptr
        } else {
            at.to_string()
        }
    };
    for g in i.vm.guests.values() {
        for s in &g.docker_stacks {
            let Some(stack) = i.stacks.get(&s.name) else {
                let help = match (i.stacks_dir, did_you_mean(&s.name, names.iter().copied())) {
                    (_, Some(m)) => format!("did you mean `{m}`?"),
                    (Some(dir), None) => format!(
                        "a stack is a folder {}/<name> holding phoenix.json and docker-compose.yml",
                        dir.display()
                    ),
                    (None, None) => format!(
                        "no stacks folder was found; create {} with one folder per stack",
                        i.config_dir.join("stacks").display()
                    ),
                };
                vm.report(
                    vm.at_value(
                        &part(&s.at, "name"),
                        format!("VM {} deploys stack `{}`, which does not exist", g.id, s.name),
                    )
                    .label("unknown stack")
                    .help(help),
                );
                continue;
            };
            if let Some(env) = &s.environment {
                if !stack.manifest.environments.contains_key(env) {
                    let envs: Vec<&str> = stack.manifest.environments.keys().map(String::as_str).collect();
                    vm.report(
                        vm.at_value(
                            &part(&s.at, "environment"),
                            format!("stack `{}` has no environment `{env}`", s.name),
                        )
                        .label("unknown environment")
                        .help(format!(
                            "environments in {}: {}",
                            stack.dir.join("phoenix.json").display(),
                            if envs.is_empty() { "(none)".to_string() } else { envs.join(", ") }
                        )),
                    );
                }
            }
        }
    }
}
