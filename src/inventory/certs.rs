//! `certificate-manifest.json`: the certificates the lab CA issues, in the original's format (an
//! array of `{common_name, sans[]?, cert_path, key_path, owner "u:g", permissions "NNN",
//! post_renewal_command}`), decoded strictly, plus the certificates the services need without
//! an entry (the gateway, Traefik, Portainer: [`desired`]).
//!
//! What changed from the original, and why:
//! - `permissions` is the *private key's* mode and may never let others read it (the original
//!   chmod-ed the gateway key 644); the certificate is public and always gets 0644.
//! - A path is a host path under a container's bind mount (the original's layout: the file is
//!   written through the container, so `owner` resolves to the container's user, which is who
//!   reads it), or a path inside the guest named by `"guest": <id>`.
//! - `post_renewal_command` is never given to a shell (the original `eval`-ed it). It is
//!   `{"guest": 101, "reload": "nginx"}` (reload the unit if it is running),
//!   `{"guest": 101, "argv": ["systemctl", "reload", "nginx"]}`, or the original's string form
//!   when it is exactly `pct exec <id> -- <words>` / `qm guest exec <id> -- <words>` with no
//!   shell syntax in the words.
//! - Lifetime and renewal window are declared (`lifetime`, `renew_before`), default 90 days and
//!   a third of the lifetime, instead of 24 h certificates renewed in their last 12 h.
//!
//! The file may also be an object `{"lifetime", "renew_before", "certificates": [...]}` whose
//! durations are the defaults of its entries.

use super::diagnostic::ConfigProblem;
use super::edge::Edge;
use super::reader::{formatted, nonempty_string, string, Ctx, Obj};
use super::rules::{dns_name, linux_user, HOST_PATH};
use super::source::child_pointer;
use super::{GuestRef, LxcFile, VmFile};
use crate::graph::GuestKind;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

pub const CERT_MANIFEST_FILE: &str = "certificate-manifest.json";

/// 90 days: long enough that a missed timer run is harmless, short enough to rotate keys.
pub const DEFAULT_LIFETIME_SECS: u64 = 90 * 86_400;

/// Where derived certificates go inside their guests.
const GATEWAY_DIR: &str = "/etc/nginx/ssl";
const TRAEFIK_DIR: &str = "/etc/traefik/certs";
const PORTAINER_DIR: &str = "/etc/portainer/certs";

/// The decoded manifest.
#[derive(Debug, Clone, Serialize, Default)]
pub struct CertManifest {
    pub entries: Vec<CertSpec>,
}

/// One certificate as phoenix wants it: issued by the lab CA for `common_name` and `sans`,
/// installed inside `guest`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CertSpec {
    pub common_name: String,
    /// Every name the certificate must carry (the common name first, no duplicates; DNS names
    /// lowercase, IP addresses as written).
    pub sans: Vec<String>,
    pub guest: u32,
    pub guest_kind: GuestKind,
    /// Paths inside `guest`.
    pub cert_path: String,
    pub key_path: String,
    pub owner: String,
    pub group: String,
    /// The private key's mode (never readable by others); the certificate gets 0644.
    pub key_mode: u32,
    pub post_install: Option<PostInstall>,
    pub lifetime_secs: u64,
    /// Re-issue when the certificate expires within this many seconds.
    pub renew_before_secs: u64,
    /// Where it comes from, for messages: `certificate-manifest.json entry 2`, `derived: gateway`.
    pub origin: String,
}

/// What runs after a certificate was (re)installed: never a shell line.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum PostInstall {
    /// `systemctl reload-or-restart <unit>` in the guest, only if the unit is running (a
    /// stopped service reads the new certificate when it starts).
    Reload { guest: u32, unit: String },
    /// An argv run in the guest.
    Exec { guest: u32, argv: Vec<String> },
    /// `docker restart <container>` in the guest, only if it is running: Portainer reads its
    /// `--sslcert` at start only (a stopped one reads the new certificate when it starts).
    RestartContainer { guest: u32, container: String },
}

/// Characters that mean something to a shell: a string post command holding one is refused,
/// because the original ran it through `eval` and its meaning is the shell's.
const SHELL_SYNTAX: &[char] =
    &['|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~', '{', '}', '!', '\n'];

/// Defaults a manifest gives its entries.
struct Defaults {
    lifetime: u64,
    renew_before: Option<u64>,
}

/// A Go duration as step's `--not-after` takes it: `2160h`, `90m`, `1h30m` (h, m, s units).
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut num = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match ch {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    (num.is_empty() && total > 0).then_some(total)
}

/// Seconds as a Go duration step accepts (`2160h`, `90m`, `45s`).
pub fn go_duration(secs: u64) -> String {
    if secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

fn duration(ctx: &Ctx, v: &Value, ptr: &str) -> Option<u64> {
    let s = nonempty_string(ctx, v, ptr)?;
    match parse_duration(&s) {
        Some(n) if n >= 3600 => Some(n),
        Some(_) => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is shorter than an hour", ctx.path(ptr)))
                    .help("a certificate renewed by an hourly timer must live longer, e.g. \"2160h\" (90 days)"),
            );
            None
        }
        None => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is not a duration", ctx.path(ptr)))
                    .label(format!("this is {s:?}"))
                    .help("write hours, minutes or seconds as step takes them, e.g. \"2160h\" (90 days) or \"720h\""),
            );
            None
        }
    }
}

/// A name a certificate may carry: a DNS name (a leading `*.` allowed) or an IP address.
fn san(ctx: &Ctx, v: &Value, ptr: &str) -> Option<String> {
    let s = nonempty_string(ctx, v, ptr)?;
    if s.parse::<std::net::IpAddr>().is_ok() {
        return Some(s);
    }
    let name = s.strip_prefix("*.").unwrap_or(&s);
    match dns_name(name) {
        Ok(()) if name.contains(|c: char| c.is_ascii_alphabetic()) => Some(s.to_ascii_lowercase()),
        Ok(()) => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is neither a DNS name nor an IP address", ctx.path(ptr))).help(
                    "write a host name such as \"nginx.lab.example.internal\" or an address such as \"10.20.0.20\"",
                ),
            );
            None
        }
        Err(label) => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is not a DNS name a certificate can carry", ctx.path(ptr)))
                    .label(label)
                    .help("use letters, digits and `-` in dot-separated labels, e.g. \"nginx.lab.example.internal\" (or `*.` then such a name)"),
            );
            None
        }
    }
}

/// `"user:group"`, each a Linux name or a numeric id.
fn owner(ctx: &Ctx, v: &Value, ptr: &str) -> Option<(String, String)> {
    let s = nonempty_string(ctx, v, ptr)?;
    let ok = |n: &str| !n.is_empty() && (n.bytes().all(|b| b.is_ascii_digit()) || linux_user(n).is_ok());
    match s.split_once(':') {
        Some((u, g)) if ok(u) && ok(g) => Some((u.to_string(), g.to_string())),
        _ => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is not `user:group`", ctx.path(ptr)))
                    .label(format!("this is {s:?}"))
                    .help(
                    "write a user and a group that exist in the guest, each a name or a number, e.g. \"root:www-data\"",
                ),
            );
            None
        }
    }
}

/// The key's mode: three or four octal digits, no special bits, readable by its owner and by
/// nobody else.
fn key_mode(ctx: &Ctx, v: &Value, ptr: &str) -> Option<u32> {
    let s = nonempty_string(ctx, v, ptr)?;
    let digits = s.strip_prefix('0').filter(|d| d.len() == 3).unwrap_or(&s);
    let mode = match u32::from_str_radix(digits, 8) {
        Ok(m) if digits.len() == 3 && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) => m,
        _ => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is not an octal mode", ctx.path(ptr)))
                    .label(format!("this is {s:?}"))
                    .help("write three octal digits for the private key, e.g. \"600\" or \"640\""),
            );
            return None;
        }
    };
    if mode & 0o007 != 0 {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` {s} would let every user read or change the private key", ctx.path(ptr)))
                .label("others have access here")
                .help(
                    "a private key is read by its service only: use \"600\", or \"640\" with the service's group as the \
                     owner's group (e.g. \"root:www-data\"); the certificate itself always gets 644",
                ),
        );
        return None;
    }
    if mode & 0o400 == 0 {
        ctx.report(
            ctx.at_value(ptr, format!("`{}` {s} does not let the key's owner read it", ctx.path(ptr)))
                .help("use \"600\" (or \"640\" for a service that reads it through its group)"),
        );
        return None;
    }
    Some(mode)
}

/// The guests a manifest may name, and how host paths reach them.
pub(crate) struct Guests<'a> {
    pub lxc: &'a LxcFile,
    pub vm: &'a VmFile,
}

impl Guests<'_> {
    fn kind(&self, id: u32) -> Option<GuestKind> {
        if self.lxc.guests.contains_key(&id) {
            Some(GuestKind::Lxc)
        } else if self.vm.guests.contains_key(&id) {
            Some(GuestKind::Vm)
        } else {
            None
        }
    }

    /// The container and in-container path a host path reaches through a bind mount.
    fn through_bind_mount(&self, host: &str) -> Option<(u32, String)> {
        self.lxc.guests.values().find_map(|g| {
            g.mount_points.iter().find_map(|m| {
                let rest = host.strip_prefix(m.host_path.as_str())?.strip_prefix('/')?;
                Some((g.id, format!("{}/{rest}", m.container_path.trim_end_matches('/'))))
            })
        })
    }
}

fn guest_ref(ctx: &Ctx, guests: &Guests, v: &Value, ptr: &str) -> Option<(u32, GuestKind)> {
    let id = super::reader::guest_id(ctx, v, ptr)?;
    match guests.kind(id) {
        Some(k) => Some((id, k)),
        None => {
            ctx.report(
                ctx.at_value(ptr, format!("guest {id} is not declared"))
                    .help("name a container of phoenix_lxc_configs.json or a VM of phoenix_vm_configs.json"),
            );
            None
        }
    }
}

/// The original's string form, if it is exactly `pct exec <id> -- words…` or
/// `qm guest exec <id> -- words…` without shell syntax.
fn post_from_string(ctx: &Ctx, guests: &Guests, s: &str, ptr: &str) -> Option<PostInstall> {
    let how =
        "write {\"guest\": 101, \"reload\": \"nginx\"} (reloads the unit if it runs) or {\"guest\": 101, \"argv\": \
               [\"systemctl\", \"reload\", \"nginx\"]}; a string is accepted only as `pct exec <id> -- <command>` or \
               `qm guest exec <id> -- <command>` without shell syntax (it is never given to a shell)";
    if let Some(c) = s.chars().find(|c| SHELL_SYNTAX.contains(c)) {
        ctx.report(
            ctx.at_value(
                ptr,
                format!(
                    "`{}` uses shell syntax ({}), which phoenix never runs",
                    ctx.path(ptr),
                    super::diagnostic::escaped(c)
                ),
            )
            .label("the original ran this through `eval`")
            .help(how),
        );
        return None;
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let (kind, id, rest) = match words.as_slice() {
        ["pct", "exec", id, "--", rest @ ..] => (GuestKind::Lxc, *id, rest),
        ["qm", "guest", "exec", id, "--", rest @ ..] => (GuestKind::Vm, *id, rest),
        _ => {
            ctx.report(
                ctx.at_value(ptr, format!("`{}` is not a command in a guest", ctx.path(ptr)))
                    .label("phoenix runs post-install commands inside guests only")
                    .help(how),
            );
            return None;
        }
    };
    let Some(id) = super::reader::parse_guest_id(id) else {
        ctx.report(ctx.at_value(ptr, format!("`{}`: {id:?} is not a guest id", ctx.path(ptr))).help(how));
        return None;
    };
    if rest.is_empty() {
        ctx.report(ctx.at_value(ptr, format!("`{}` has no command after `--`", ctx.path(ptr))).help(how));
        return None;
    }
    if guests.kind(id) != Some(kind) {
        let what = if kind == GuestKind::Lxc { "container" } else { "VM" };
        ctx.report(
            ctx.at_value(ptr, format!("`{}` names {what} {id}, which is not declared", ctx.path(ptr)))
                .help("name a declared guest (pct for containers, qm guest exec for VMs)"),
        );
        return None;
    }
    Some(PostInstall::Exec { guest: id, argv: rest.iter().map(|w| w.to_string()).collect() })
}

fn post_install(ctx: &Ctx, guests: &Guests, v: &Value, ptr: &str) -> Option<PostInstall> {
    if let Value::String(s) = v {
        string(ctx, v, ptr)?;
        return post_from_string(ctx, guests, s, ptr);
    }
    let mut o = Obj::new(ctx, v, ptr)?;
    let guest = o.req("guest", |c, v, p| guest_ref(c, guests, v, p));
    let reload = o.opt("reload", |c, v, p| {
        let s = nonempty_string(c, v, p)?;
        if s.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '@' | '.' | '_' | '-' | ':')) {
            Some(s)
        } else {
            c.report(
                c.at_value(p, format!("`{}` is not a systemd unit name", c.path(p)))
                    .help("e.g. \"nginx\" or \"traefik.service\""),
            );
            None
        }
    });
    let argv = o.opt("argv", |c, v, p| {
        let words = super::reader::array(c, v, p, nonempty_string)?;
        if words.is_empty() {
            c.report(
                c.at_value(p, format!("`{}` is empty", c.path(p)))
                    .help("give the program and its arguments, e.g. [\"systemctl\", \"reload\", \"nginx\"]"),
            );
            return None;
        }
        Some(words)
    });
    let both = o.has("reload") && o.has("argv");
    let neither = !o.has("reload") && !o.has("argv");
    let obj_ptr = o.ptr.clone();
    o.finish();
    if both || neither {
        ctx.report(
            ConfigProblem::at(
                ctx.file,
                ctx.file.object_span(&obj_ptr),
                format!("`{}` needs exactly one of `reload` or `argv`", ctx.path(&obj_ptr)),
            )
            .help("e.g. {\"guest\": 101, \"reload\": \"nginx\"}"),
        );
        return None;
    }
    let (guest, _) = guest?;
    match (reload, argv) {
        (Some(unit), None) => Some(PostInstall::Reload { guest, unit }),
        (None, Some(argv)) => Some(PostInstall::Exec { guest, argv }),
        _ => None,
    }
}

/// One manifest entry.
fn entry(ctx: &Ctx, guests: &Guests, defaults: &Defaults, v: &Value, ptr: &str, index: usize) -> Option<CertSpec> {
    let mut o = Obj::new(ctx, v, ptr)?;
    let common_name = o.req("common_name", san);
    let sans = o.list("sans", san);
    let cert_path = o.req("cert_path", formatted(&HOST_PATH));
    let key_path = o.req("key_path", formatted(&HOST_PATH));
    let guest = o.opt("guest", |c, v, p| guest_ref(c, guests, v, p));
    let guest_given = o.has("guest");
    let owner = o.req("owner", owner);
    let key_mode = o.req("permissions", key_mode);
    let post = o.opt("post_renewal_command", |c, v, p| post_install(c, guests, v, p));
    let lifetime = o.opt("lifetime", duration);
    let renew_before = o.opt("renew_before", duration);
    let lifetime_ptr = o.field_ptr("renew_before");
    let cert_ptr = o.field_ptr("cert_path");
    let key_ptr = o.field_ptr("key_path");
    o.finish();

    let (common_name, cert_path, key_path, (owner, group), key_mode) =
        (common_name?, cert_path?, key_path?, owner?, key_mode?);
    if guest_given && guest.is_none() {
        return None;
    }
    if cert_path == key_path {
        ctx.report(
            ctx.at_value(&key_ptr, "`key_path` is the same file as `cert_path`")
                .help("the private key needs a file of its own, e.g. …/name.key beside …/name.crt"),
        );
        return None;
    }
    // Where the files live: inside the named guest, or through a container's bind mount.
    let (guest, kind, cert_path, key_path) = match guest {
        Some((id, kind)) => (id, kind, cert_path, key_path),
        None => {
            let located: Vec<Option<(u32, String)>> =
                [&cert_path, &key_path].iter().map(|p| guests.through_bind_mount(p)).collect();
            match (&located[0], &located[1]) {
                (Some((a, c)), Some((b, k))) if a == b => (*a, GuestKind::Lxc, c.clone(), k.clone()),
                (Some((a, _)), Some((b, _))) => {
                    ctx.report(
                        ctx.at_value(&key_ptr, format!("the key reaches container {b}, the certificate container {a}"))
                            .help("put both files in the same container's bind mount"),
                    );
                    return None;
                }
                _ => {
                    let (p, path) = if located[0].is_none() { (&cert_ptr, &cert_path) } else { (&key_ptr, &key_path) };
                    ctx.report(
                        ctx.at_value(p, format!("{path} is under no container's bind mount"))
                            .label("phoenix installs certificates through the guest that reads them")
                            .help(
                                "put the file under a `mount_points` host_path of the container that uses it, or add \
                                 \"guest\": <id> to this entry and write the paths as that guest sees them",
                            ),
                    );
                    return None;
                }
            }
        }
    };
    let lifetime = lifetime.unwrap_or(defaults.lifetime);
    let renew_before = renew_before.or(defaults.renew_before).unwrap_or(lifetime / 3);
    if renew_before >= lifetime {
        ctx.report(
            ctx.at_value(&lifetime_ptr, "`renew_before` is not shorter than the lifetime")
                .help("renewal must start before the end of a certificate's life: e.g. a third of it (the default)"),
        );
        return None;
    }
    let mut names = vec![common_name.clone()];
    for s in sans {
        if !names.contains(&s) {
            names.push(s);
        }
    }
    Some(CertSpec {
        common_name,
        sans: names,
        guest,
        guest_kind: kind,
        cert_path,
        key_path,
        owner,
        group,
        key_mode,
        post_install: post,
        lifetime_secs: lifetime,
        renew_before_secs: renew_before,
        origin: format!("{CERT_MANIFEST_FILE} entry {}", index + 1),
    })
}

/// Decodes the manifest (an array, or an object with defaults and `certificates`).
pub(crate) fn decode(ctx: &Ctx, root: &Value, guests: &Guests) -> Option<CertManifest> {
    let (list, list_ptr, defaults) = match root {
        Value::Array(_) => (root, String::new(), Defaults { lifetime: DEFAULT_LIFETIME_SECS, renew_before: None }),
        Value::Object(_) => {
            let mut o = Obj::new(ctx, root, "")?;
            o.accept("$schema");
            let lifetime = o.opt("lifetime", duration).unwrap_or(DEFAULT_LIFETIME_SECS);
            let renew_before = o.opt("renew_before", duration);
            let list = o.raw("certificates");
            let missing = list.is_none();
            if missing {
                o.missing("certificates", Some("it lists the certificates, as the original's array did"));
            }
            o.finish();
            let (list, ptr) = list?;
            (list, ptr, Defaults { lifetime, renew_before })
        }
        other => {
            ctx.type_error("", "an array of certificates (or an object with `certificates`)", other);
            return None;
        }
    };
    let Value::Array(items) = list else {
        ctx.type_error(&list_ptr, "an array", list);
        return None;
    };
    let mut entries = Vec::new();
    let mut by_name: HashMap<String, String> = HashMap::new();
    let mut by_file: HashMap<(u32, String), String> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let ptr = child_pointer(&list_ptr, &i.to_string());
        let Some(e) = entry(ctx, guests, &defaults, item, &ptr, i) else {
            continue;
        };
        let cn_ptr = child_pointer(&ptr, "common_name");
        if let Some(first) = by_name.insert(e.common_name.clone(), cn_ptr.clone()) {
            ctx.report(
                ctx.at_value(&cn_ptr, format!("certificate {} is declared twice", e.common_name))
                    .also_at(ctx.file, ctx.file.value_span(&first), "first declaration")
                    .help("merge the two entries: one certificate can carry every name in `sans`"),
            );
            continue;
        }
        for (path, key) in [(&e.cert_path, "cert_path"), (&e.key_path, "key_path")] {
            let p = child_pointer(&ptr, key);
            if let Some(first) = by_file.insert((e.guest, path.clone()), p.clone()) {
                ctx.report(
                    ctx.at_value(&p, format!("guest {} file {path} is written by two entries", e.guest))
                        .also_at(ctx.file, ctx.file.value_span(&first), "also written here")
                        .help("give each certificate and key a file of its own"),
                );
            }
        }
        entries.push(e);
    }
    Some(CertManifest { entries })
}

/// The Portainer server: the VM whose `portainer_role` is `primary` (or the only one with a role).
fn portainer_guest<'a>(guests: impl Iterator<Item = GuestRef<'a>>) -> Option<(u32, GuestKind)> {
    let with_role: Vec<(u32, GuestKind, String)> = guests
        .filter_map(|g| match g {
            GuestRef::Vm(v) => v.portainer_role.clone().map(|r| (v.id, GuestKind::Vm, r)),
            GuestRef::Lxc(l) => l.portainer_role.clone().map(|r| (l.id, GuestKind::Lxc, r)),
        })
        .collect();
    with_role.iter().find(|(_, _, r)| r == "primary" || r == "server").map(|(id, k, _)| (*id, *k))
}

/// A certificate the services need, with phoenix's defaults for where it lives.
fn derived(
    common_name: String,
    sans: BTreeSet<String>,
    guest: u32,
    kind: GuestKind,
    dir: &str,
    file: &str,
    post: Option<PostInstall>,
    origin: &str,
) -> CertSpec {
    let mut names = vec![common_name.clone()];
    names.extend(sans.into_iter().filter(|s| *s != common_name));
    CertSpec {
        common_name,
        sans: names,
        guest,
        guest_kind: kind,
        cert_path: format!("{dir}/{file}.crt"),
        key_path: format!("{dir}/{file}.key"),
        owner: "root".into(),
        group: "root".into(),
        key_mode: 0o600,
        post_install: post,
        lifetime_secs: DEFAULT_LIFETIME_SECS,
        renew_before_secs: DEFAULT_LIFETIME_SECS / 3,
        origin: format!("derived: {origin}"),
    }
}

/// Every certificate the lab needs, in a stable order: the derived ones (gateway, Traefik,
/// Portainer), then the manifest's; a manifest entry with the same common name replaces the
/// derived one.
///
/// - **gateway** (the Nginx guest): `<gateway name>.<domain>` plus every route's host, at
///   `/etc/nginx/ssl/gateway.{crt,key}`, nginx reloaded when it runs.
/// - **Traefik**: `<traefik guest name>.<domain>` plus every route host (the gateway reaches
///   Traefik's `websecure` with the client's host name), at `/etc/traefik/certs/traefik.{crt,key}`,
///   traefik reloaded when it runs.
/// - **Portainer**: `portainer` = (its host name, the server's container name) — see
///   `Inventory::portainer_hostname` —, in the Portainer server guest at
///   `/etc/portainer/certs/portainer.{crt,key}` (its stack mounts them), the container restarted
///   when it runs (Portainer reads its certificate at start only).
pub fn desired(
    manifest: Option<&CertManifest>,
    edge: &Edge,
    portainer: Option<(&str, &str)>,
    guests: &mut dyn Iterator<Item = GuestRef<'_>>,
) -> Vec<CertSpec> {
    let hosts: BTreeSet<String> = edge.routes.iter().map(|r| r.host.to_ascii_lowercase()).collect();
    let mut out = Vec::new();
    if let Some(gw) = &edge.gateway {
        out.push(derived(
            format!("{}.{}", gw.name, edge.domain).to_ascii_lowercase(),
            hosts.clone(),
            gw.id,
            GuestKind::Lxc,
            GATEWAY_DIR,
            "gateway",
            Some(PostInstall::Reload { guest: gw.id, unit: "nginx".into() }),
            "gateway (every routed name)",
        ));
    }
    if let Some(t) = &edge.traefik {
        out.push(derived(
            format!("{}.{}", t.name, edge.domain).to_ascii_lowercase(),
            hosts.clone(),
            t.id,
            GuestKind::Lxc,
            TRAEFIK_DIR,
            "traefik",
            Some(PostInstall::Reload { guest: t.id, unit: "traefik".into() }),
            "traefik (its name and every routed name)",
        ));
    }
    if let (Some((name, container)), Some((id, kind))) = (portainer, portainer_guest(guests)) {
        out.push(derived(
            name.to_ascii_lowercase(),
            BTreeSet::new(),
            id,
            kind,
            PORTAINER_DIR,
            "portainer",
            Some(PostInstall::RestartContainer { guest: id, container: container.to_string() }),
            "portainer (portainer_api.portainer_hostname, else <its VM>.<domain>)",
        ));
    }
    if let Some(m) = manifest {
        out.retain(|d| !m.entries.iter().any(|e| e.common_name == d.common_name));
        out.extend(m.entries.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests;
