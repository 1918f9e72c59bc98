//! `nfs::` — /etc/exports lines, composed by the exports builder (never by string
//! concatenation in a plan, so an option or client cannot add an export).

use super::{at, Namespace, Res};
use crate::generate::exports::exports_line;
use crate::generate::fstab::fstab_line;
use rhai::{Array, NativeCallContext};

fn strings(what: &str, arr: Array) -> Res<Vec<String>> {
    arr.into_iter()
        .map(|v| {
            v.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|t| format!("{what}: expected strings, found {t}").into())
        })
        .collect()
}

pub fn namespace() -> Namespace {
    let mut ns = Namespace::new("nfs", "NFS: /etc/exports and /etc/fstab lines built safely from the configuration.");
    ns.add(
        "exports_line",
        &["path: String", "clients: Array", "options: Array", "-> String"],
        "One /etc/exports line, `<path> <client>(<options>) …` (no newline). Throws when a value would change \
         the line's structure: a blank, newline or parenthesis in the path or a client, a comma in a client or \
         an option, a path that is not absolute, no clients.",
        |nc: NativeCallContext, path: &str, clients: Array, options: Array| -> Res<String> {
            at(&nc, || {
                let clients = strings("clients", clients)?;
                let options = strings("options", options)?;
                Ok(exports_line(path, &clients, &options)?)
            })
        },
    );
    ns.add(
        "fstab_line",
        &["device: String", "mount_point: String", "-> String"],
        "One /etc/fstab line mounting an NFS export (`<server>:<path>`) at an absolute mount point, with \
         `defaults,_netdev,nofail` (no newline). Throws when a field holds a blank, a newline or a `#`.",
        |nc: NativeCallContext, device: &str, mount_point: &str| -> Res<String> {
            at(&nc, || Ok(fstab_line(device, mount_point, "nfs", &["defaults", "_netdev", "nofail"])?))
        },
    );
    ns
}
