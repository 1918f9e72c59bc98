//! The VM as the inventory declares it, in `qm` terms, with every generated value checked once.

use super::{invalid, ISO_DIR, SNIPPET_DIR, SNIPPET_STORAGE};
use crate::generate::{self, propstring::PropertyString, GenerateError};
use crate::inventory::{HypervisorConfig, VmGuest};
use crate::ops::OpError;

/// The cloud image a template is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudImage {
    /// File name, e.g. `noble-server-cloudimg-amd64.img`.
    pub file: String,
    /// Host path: `/var/lib/vz/template/iso/<file>`.
    pub path: String,
    pub url: String,
}

/// The VM as the inventory declares it, in `qm` terms. `None` = not declared: left as it is.
#[derive(Debug, Clone)]
pub struct DesiredVm {
    pub id: u32,
    pub name: String,
    pub cores: Option<u32>,
    pub memory: Option<u32>,
    pub disk_gb: Option<u32>,
    pub storage: Option<String>,
    pub bridge: String,
    /// `firewall=1` on net0 (the guest declares an enabled firewall).
    pub firewall: bool,
    pub onboot: Option<bool>,
    pub startup: Option<String>,
    pub ciuser: Option<String>,
    /// authorized_keys text (one key per line, newline-terminated).
    pub sshkeys: Option<String>,
    pub ipconfig0: Option<String>,
    pub nameserver: Option<String>,
    pub searchdomain: Option<String>,
    pub clone_from: Option<u32>,
    /// Set for a template (`is_template`), which is built from this image.
    pub image: Option<CloudImage>,
}

/// Derive the desired VM from its declaration and the host configuration (cloud image release,
/// SSH key, DNS, search domain).
pub fn desired(g: &VmGuest, hv: &HypervisorConfig) -> Result<DesiredVm, OpError> {
    let id = g.id;
    let image = if g.is_template {
        let Some(file) = &g.template_image else {
            return Err(invalid(id, "is_template needs `template_image` (the cloud image file name)"));
        };
        if file.contains('/') || file.starts_with('.') {
            return Err(invalid(id, format!("template_image `{file}` must be a plain file name")));
        }
        let release = hv.vm_defaults.as_ref().and_then(|d| d.ubuntu_release.clone()).ok_or_else(|| {
            invalid(id, "a template needs `vm_defaults.ubuntu_release` in phoenix_hypervisor_config.json (the cloud image release)")
        })?;
        Some(CloudImage {
            file: file.clone(),
            path: format!("{ISO_DIR}/{file}"),
            url: format!("https://cloud-images.ubuntu.com/{release}/current/{file}"),
        })
    } else {
        None
    };
    let startup = match g.boot_order {
        Some(o) if o < 0 => return Err(invalid(id, format!("boot_order {o} must not be negative"))),
        Some(o) => {
            let mut s = format!("order={o}");
            if let Some(d) = g.boot_delay {
                s.push_str(&format!(",up={d}"));
            }
            Some(s)
        }
        None => None,
    };
    let net = g.network_config.as_ref();
    let ipconfig0 = net
        .map(|n| {
            let gw = if n.ip == "dhcp" { None } else { n.gw.as_deref() };
            PropertyString::new("ipconfig0").pair("ip", &n.ip)?.pair_opt("gw", gw).map(PropertyString::build)
        })
        .transpose()
        .map_err(|e| invalid(id, e.to_string()))?;
    // The VM's own resolver, else the host's (the original hard-coded one).
    let host_dns = hv
        .network
        .as_ref()
        .and_then(|n| n.interfaces.as_ref())
        .map(|i| i.dns_nameservers.join(" "))
        .filter(|s| !s.is_empty());
    let nameserver = net.and_then(|n| n.nameserver.clone()).filter(|s| !s.trim().is_empty()).or(host_dns);
    let sshkeys = hv
        .users
        .as_ref()
        .and_then(|u| u.ssh_public_key.as_ref())
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .map(|k| format!("{k}\n"));
    let d = DesiredVm {
        id,
        name: g.name.clone(),
        cores: g.cores,
        memory: g.memory_mb,
        disk_gb: g.disk_size_gb,
        storage: g.storage_pool.clone(),
        bridge: g.network_bridge.clone().unwrap_or_else(|| "vmbr0".to_string()),
        firewall: g.firewall.as_ref().is_some_and(|f| f.enabled),
        onboot: g.start_at_boot,
        startup,
        ciuser: g.user_config.as_ref().and_then(|u| u.username.clone()),
        sshkeys,
        ipconfig0,
        nameserver,
        searchdomain: Some(hv.domain_name.clone()).filter(|d| !d.is_empty()),
        clone_from: g.clone_from_vmid,
        image,
    };
    d.check_generated().map_err(|e| invalid(id, e.to_string()))?;
    Ok(d)
}

impl DesiredVm {
    pub(super) fn storage(&self) -> Result<&str, OpError> {
        self.storage.as_deref().ok_or_else(|| invalid(self.id, "needs `storage_pool` (or `vm_defaults.storage_pool`)"))
    }

    pub(super) fn image(&self) -> Result<&CloudImage, OpError> {
        self.image.as_ref().ok_or_else(|| invalid(self.id, "is not a template (`is_template` with `template_image`)"))
    }

    /// `net0` as declared: the model and bridge, `firewall=1` when the firewall is enabled.
    pub(super) fn net0(&self) -> Result<String, GenerateError> {
        Ok(PropertyString::new("net0")
            .bare("virtio")?
            .pair("bridge", &self.bridge)?
            .pair_opt("firewall", self.firewall.then_some("1"))?
            .build())
    }

    /// Every value that becomes a property string, a conf line or the VM's name, put through its
    /// builder once, so a hostile value stops the op before any action is planned.
    fn check_generated(&self) -> Result<(), GenerateError> {
        generate::hostname::check("name", &self.name)?;
        self.net0()?;
        if let Some(st) = &self.storage {
            generate::propstring::volume("storage", st, "0")?;
        }
        if let Some(u) = &self.ciuser {
            generate::error::token("ciuser", u, &[(',', generate::Refusal::Comma)])?;
        }
        if let Some(ns) = &self.nameserver {
            generate::error::no_control("nameserver", ns)?;
        }
        if let Some(sd) = &self.searchdomain {
            generate::error::token("searchdomain", sd, &[])?;
        }
        if let Some(keys) = &self.sshkeys {
            // One key: a newline inside it would authorise a second one.
            generate::error::no_control("users.ssh_public_key", keys.trim_end_matches('\n'))?;
        }
        Ok(())
    }

    /// The cloud-init vendor-data snippet that installs the guest agent at first boot.
    pub fn snippet_name(&self) -> String {
        format!("phoenix-agent-{}.yaml", self.id)
    }

    pub fn snippet_path(&self) -> String {
        format!("{SNIPPET_DIR}/{}", self.snippet_name())
    }

    /// The snippet goes in as vendor-data: a `user=` snippet would replace the user-data
    /// qemu-server generates (`ciuser`, `sshkeys`, hostname), so the declared user and key
    /// would never reach the VM. Vendor-data runs alongside it.
    pub(super) fn cicustom(&self) -> String {
        format!("vendor={SNIPPET_STORAGE}:snippets/{}", self.snippet_name())
    }
}

/// The cloud-config that makes a cloud image answer the guest agent: cloud images ship without
/// qemu-guest-agent, and every readiness check phoenix makes goes through it.
pub fn agent_user_data() -> String {
    "#cloud-config\npackages:\n  - qemu-guest-agent\nruncmd:\n  - [systemctl, enable, --now, qemu-guest-agent]\n"
        .to_string()
}
