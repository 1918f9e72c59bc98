//! `guest::` — commands and files inside a declared guest, the same for LXC and VM.

use super::convert::{guest_id, known_keys, mode, opt_str};
use super::error::ApiError;
use super::file::carry_out;
use super::{at, Ctx, Namespace, Res};
use crate::graph::GuestKind;
use crate::ops::guest::{copy_from_guest, exec, push, Guard, GuestFile, GuestSource};
use crate::run::Run;
use rhai::{Array, Dynamic, Map, NativeCallContext};

fn strings(what: &str, a: Array) -> Res<Vec<String>> {
    a.into_iter()
        .map(|v| v.into_string().map_err(|t| format!("{what}: every argv element must be a string, not {t}").into()))
        .collect()
}

/// The kind of a declared guest.
pub(crate) fn declared_kind(run: &Run, id: u32) -> Res<GuestKind> {
    run.inventory.guest(id).map(|g| g.kind()).ok_or_else(|| format!("guest {id} is not declared").into())
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("guest", "Inside a guest: commands, checks and files (pct exec / qm guest exec).");

    let c = ctx.clone();
    ns.add(
        "exec",
        &["id: int", "argv: Array", "-> Map"],
        "Run a command inside a guest. It has no guard, so it shows as \"always runs\": prefer exec/3 with `unless`.",
        move |nc: NativeCallContext, id: Dynamic, argv: Array| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let kind = declared_kind(run, id)?;
                let argv = strings("guest::exec", argv)?;
                carry_out(&c, exec(&run.facts, kind, id, &argv, &Guard::Always, ""))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "exec",
        &["id: int", "argv: Array", "opts: Map", "-> Map"],
        "Run a command inside a guest unless a check command already succeeds there: \
         #{unless: [\"test\", \"-x\", \"/usr/bin/docker\"], reason: \"install docker\"}. After it runs, the check is taken to succeed. \
         Returns #{changed, actions} plus, when it ran, #{code, stdout, stderr} (same shape for LXC and VM). \
         A non-zero exit fails the guest.",
        move |nc: NativeCallContext, id: Dynamic, argv: Array, opts: Map| -> Res<Dynamic> {
            at(&nc, || {
                known_keys(&opts, "guest::exec", &["unless", "reason"])?;
                let run = c.run()?;
                let id = guest_id(&id)?;
                let kind = declared_kind(run, id)?;
                let argv = strings("guest::exec", argv)?;
                let guard = match opts.get("unless") {
                    Some(v) if !v.is_unit() => {
                        let check = v.clone().try_cast::<Array>().ok_or("guest::exec: `unless` must be an argv array")?;
                        Guard::Unless(strings("guest::exec unless", check)?)
                    }
                    _ => Guard::Always,
                };
                let reason = opt_str(&opts, "reason")?.unwrap_or_default();
                carry_out(&c, exec(&run.facts, kind, id, &argv, &guard, &reason))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "probe",
        &["id: int", "argv: Array", "-> Map"],
        "Run a read-only command inside a guest and return #{code, stdout, stderr} — the same shape for LXC \
         (`pct exec`) and VM (`qm guest exec`, its JSON parsed, bounded by a timeout). It must change nothing: it \
         also runs in a dry-run. For a guest this dry-run would create, returns #{code: ()} (unknown until apply).",
        move |nc: NativeCallContext, id: Dynamic, argv: Array| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let kind = declared_kind(run, id)?;
                let argv = strings("guest::probe", argv)?;
                let mut m = Map::new();
                if run.facts.is_modelled(id) {
                    m.insert("code".into(), Dynamic::UNIT);
                    return Ok(m.into());
                }
                let cmd = crate::ops::guest::in_guest_command(kind, id, &argv, None);
                let out = run.facts.probe(&cmd)?;
                let result = crate::ops::guest::guest_output(kind, &cmd, &out)?;
                super::convert::insert_output(&mut m, &result);
                Ok(m.into())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "is_template",
        &["id: int", "-> bool"],
        "Whether the guest is a template: a VM declared `is_template`, or a guest another declared guest clones \
         from. The one meaning of the word in plans: templates are converged, left stopped and never started by \
         the power verbs. (Proxmox's `template: 1` is the host's record of a finished VM template build.)",
        move |nc: NativeCallContext, id: Dynamic| -> Res<bool> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let declared = run.inventory.guest(id).ok_or_else(|| format!("guest {id} is not declared"))?;
                Ok(crate::ops::guest::is_template(declared.is_template(), &run.graph.dependents(id)))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "changed",
        &["id: int", "-> bool"],
        "Whether an action of this run has changed the guest so far (in a dry-run: would change it). State \
         machines verify what they changed (health checks) and leave an untouched guest alone.",
        move |nc: NativeCallContext, id: Dynamic| -> Res<bool> { at(&nc, || Ok(c.run()?.touched(guest_id(&id)?))) },
    );

    let c = ctx.clone();
    ns.add(
        "check",
        &["id: int", "argv: Array", "-> bool"],
        "Whether a read-only check command succeeds inside a guest; () when unknown until apply (a guest this dry-run would create).",
        move |nc: NativeCallContext, id: Dynamic, argv: Array| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let kind = declared_kind(run, id)?;
                let argv = strings("guest::check", argv)?;
                Ok(match run.facts.guest_check(kind, id, &argv)? {
                    Some(b) => b.into(),
                    None => Dynamic::UNIT,
                })
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "read_file",
        &["id: int", "path: String", "-> String"],
        "A file inside a guest as text; () when it does not exist (or cannot be known before apply).",
        move |nc: NativeCallContext, id: Dynamic, path: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let id = guest_id(&id)?;
                let kind = declared_kind(run, id)?;
                Ok(match run.facts.guest_file(kind, id, path)? {
                    Some(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned().into(),
                    _ => Dynamic::UNIT,
                })
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "push",
        &["id: int", "path: String", "opts: Map", "-> Map"],
        "Make a file inside a guest hold #{content: String}, or #{source: \"scripts/x.sh\"} (a file of the \
         configuration folder), or #{from: #{guest: 103, path: \"/etc/step-ca/certs/root_ca.crt\"}} (a text file of \
         another guest, read when the copy runs: right for content another guest makes earlier in the same run; \
         a source that does not exist then fails this guest), with #{mode: \"0644\", owner, group}. Written only \
         when the content differs.",
        move |nc: NativeCallContext, id: Dynamic, path: &str, opts: Map| -> Res<Dynamic> {
            at(&nc, || {
                known_keys(&opts, "guest::push", &["content", "source", "from", "mode", "owner", "group"])?;
                let run = c.run()?;
                let id = guest_id(&id)?;
                let kind = declared_kind(run, id)?;
                let mut want = GuestFile {
                    path: path.to_string(),
                    content: Vec::new(),
                    mode: mode(&opts, "mode", 0o644)?,
                    owner: opt_str(&opts, "owner")?,
                    group: opt_str(&opts, "group")?,
                };
                if let Some(from) = opts.get("from").filter(|v| !v.is_unit()) {
                    if opts.contains_key("content") || opts.contains_key("source") {
                        return Err("guest::push: give exactly one of `content`, `source` or `from`".into());
                    }
                    let from = from.clone().try_cast::<Map>().ok_or("guest::push: `from` must be #{guest, path}")?;
                    known_keys(&from, "guest::push from", &["guest", "path"])?;
                    let src_id = guest_id(from.get("guest").ok_or("guest::push: `from` needs `guest`")?)?;
                    let src = GuestSource {
                        kind: declared_kind(run, src_id)?,
                        id: src_id,
                        path: opt_str(&from, "path")?.ok_or("guest::push: `from` needs `path`")?,
                    };
                    return carry_out(&c, copy_from_guest(&run.facts, kind, id, &src, &want));
                }
                want.content = match (opt_str(&opts, "content")?, opt_str(&opts, "source")?) {
                    (Some(text), None) => text.into_bytes(),
                    (None, Some(src)) => {
                        let p = run.inventory.config_dir.join(&src);
                        std::fs::read(&p).map_err(|source| ApiError::ConfigFile {
                            function: "guest::push",
                            path: p.clone(),
                            source,
                        })?
                    }
                    _ => return Err("guest::push: give exactly one of `content`, `source` or `from`".into()),
                };
                carry_out(&c, push(&run.facts, kind, id, &want))
            })
        },
    );
    ns
}
