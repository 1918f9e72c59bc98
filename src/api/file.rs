//! `file::` — host files: read, ensure whole files, managed blocks, absence.

use super::at;
use super::convert::{known_keys, mode, opt_str, outcome, Options};
use super::{Ctx, Namespace, Res};
use crate::ops::dir::{ensure_dirs, DesiredDir};
use crate::ops::file::{ensure_absent, ensure_block, ensure_file, DesiredFile};
use crate::ops::Plan;
use rhai::{Dynamic, Map, NativeCallContext};

/// Hand an op's plan to the executor and turn the outcome into the plan-facing result.
pub(crate) fn carry_out(ctx: &Ctx, plan: Result<Plan, crate::ops::OpError>) -> Res<Dynamic> {
    let run = ctx.run()?;
    let o = run.execute(plan?, crate::executor::current_guest())?;
    let mut m = outcome(o.changed, o.actions);
    if let (Some(out), Some(mut map)) = (o.output, m.write_lock::<rhai::Map>()) {
        super::convert::insert_output(&mut map, &out);
    }
    Ok(m)
}

/// A numeric host uid/gid option (unset or `()` = not managed).
fn host_id(opts: &Map, key: &str) -> Res<Option<u32>> {
    match opts.get(key) {
        None => Ok(None),
        Some(v) if v.is_unit() => Ok(None),
        Some(v) => {
            let i = v.as_int().map_err(|t| format!("file::ensure_dir: `{key}` must be an integer id, not {t}"))?;
            u32::try_from(i).map(Some).map_err(|_| format!("file::ensure_dir: `{key}` {i} is not a valid id").into())
        }
    }
}

/// ensure_dir's options as the op's input.
fn desired_dir(path: &str, opts: &Map) -> Res<DesiredDir> {
    known_keys(opts, "file::ensure_dir", &["uid", "gid", "mode", "enforce_owner"])?;
    Ok(DesiredDir {
        path: path.to_string(),
        mode: mode(opts, "mode", 0o755)?,
        uid: host_id(opts, "uid")?,
        gid: host_id(opts, "gid")?,
        enforce_owner: match opts.get("enforce_owner") {
            None => true,
            Some(v) => v.as_bool().map_err(|t| format!("file::ensure_dir: `enforce_owner` must be a bool, not {t}"))?,
        },
    })
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("file", "Files on the host: read, ensure content/mode/owner, managed blocks.");

    let c = ctx.clone();
    ns.add(
        "read",
        &["path: String", "-> String"],
        "The text of a host file, or () when it does not exist. In a dry-run it reads as earlier steps would leave it.",
        move |nc: NativeCallContext, path: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let f = run.facts.file(path)?;
                Ok(match f.as_ref() {
                    Some(d) => String::from_utf8_lossy(&d.content).into_owned().into(),
                    None => Dynamic::UNIT,
                })
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "exists",
        &["path: String", "-> bool"],
        "Whether a host file exists.",
        move |nc: NativeCallContext, path: &str| -> Res<bool> { at(&nc, || Ok(c.run()?.facts.file(path)?.is_some())) },
    );

    let c = ctx.clone();
    ns.add(
        "ensure",
        &["path: String", "opts: Map", "-> Map"],
        "Make a host file read exactly like `opts`: #{content: String, mode: \"0644\", owner: \"root\", group: \"root\"} \
         (mode defaults to 0644; owner/group unset = leave as is). Written atomically. Returns #{changed, actions}.",
        move |nc: NativeCallContext, path: &str, opts: Map| -> Res<Dynamic> { at(&nc, || {
            let opts = Options::new(&opts, "file::ensure", &["content", "mode", "owner", "group"])?;
            let want = DesiredFile {
                path: path.to_string(),
                content: opts.required_str("content")?.into_bytes(),
                mode: opts.mode("mode", 0o644)?,
                owner: opts.str("owner")?,
                group: opts.str("group")?,
            };
            let run = c.run()?;
            carry_out(&c, ensure_file(&run.facts, &want))
        }) },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_block",
        &["path: String", "marker: String", "content: String", "-> Map"],
        "Keep a block of lines between `# BEGIN phoenix <marker>` and `# END phoenix <marker>` in a host \
         file equal to `content`, leaving every other line alone (appended when absent; a new file gets 0644).",
        move |nc: NativeCallContext, path: &str, marker: &str, content: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                carry_out(&c, ensure_block(&run.facts, path, marker, content, "#", 0o644))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_block",
        &["path: String", "marker: String", "content: String", "opts: Map", "-> Map"],
        "Like ensure_block/3 with options #{comment: \"#\", mode: \"0644\"} (comment prefix of the marker lines; mode of a new file).",
        move |nc: NativeCallContext, path: &str, marker: &str, content: &str, opts: Map| -> Res<Dynamic> { at(&nc, || {
            let opts = Options::new(&opts, "file::ensure_block", &["comment", "mode"])?;
            let comment = opts.str("comment")?.unwrap_or_else(|| "#".into());
            let m = opts.mode("mode", 0o644)?;
            let run = c.run()?;
            carry_out(&c, ensure_block(&run.facts, path, marker, content, &comment, m))
        }) },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_dir",
        &["path: String", "opts: Map", "-> Map"],
        "Make a host directory (and its missing parents) exist: #{uid: int, gid: int, mode: \"0755\", enforce_owner: true}. \
         uid/gid are numeric host ids (unset = not managed); mode applies to a directory it creates; with \
         enforce_owner false the owner is set only on a new directory. Returns #{changed, actions}.",
        move |nc: NativeCallContext, path: &str, opts: Map| -> Res<Dynamic> {
            at(&nc, || {
                let want = desired_dir(path, &opts)?;
                let run = c.run()?;
                carry_out(&c, ensure_dirs(&run.facts, &[want]))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_dirs",
        &["dirs: Array", "-> Map"],
        "ensure_dir for several directories read in one round trip: each item is #{path: String} plus \
         ensure_dir's options. Returns #{changed, actions}.",
        move |nc: NativeCallContext, dirs: rhai::Array| -> Res<Dynamic> {
            at(&nc, || {
                let mut wants = Vec::with_capacity(dirs.len());
                for d in dirs {
                    let mut m = d.try_cast::<Map>().ok_or("file::ensure_dirs: each item must be a map #{path, …}")?;
                    let path = opt_str(&m, "path")?.ok_or("file::ensure_dirs: an item has no `path`")?;
                    m.remove("path");
                    wants.push(desired_dir(&path, &m)?);
                }
                let run = c.run()?;
                carry_out(&c, ensure_dirs(&run.facts, &wants))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "ensure_absent",
        &["path: String", "-> Map"],
        "Remove a host file if it exists.",
        move |nc: NativeCallContext, path: &str| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                carry_out(&c, ensure_absent(&run.facts, path))
            })
        },
    );
    ns
}
