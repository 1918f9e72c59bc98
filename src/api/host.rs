//! `host::` — the run itself, and imperative host commands.

use super::at;
use super::file::carry_out;
use super::{Ctx, Namespace, Res};
use crate::ops::exec::run_command;
use rhai::{Array, Dynamic, NativeCallContext};

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new(
        "host",
        "The host this run drives, and imperative commands on it.",
    );
    let c = ctx.clone();
    ns.add(
        "name",
        &["-> String"],
        "How the host is named: `local`, `ssh://root@pve:22`, `sim`.",
        move |nc: NativeCallContext| -> Res<String> {
            at(&nc, (|| -> Res<String> { Ok(c.run()?.host.clone()) })())
        },
    );
    let c = ctx.clone();
    ns.add(
        "dry_run",
        &["-> bool"],
        "Whether this run only shows what it would do.",
        move |nc: NativeCallContext| -> Res<bool> {
            at(&nc, (|| -> Res<bool> { Ok(c.run()?.dry_run) })())
        },
    );
    let c = ctx.clone();
    ns.add(
        "exec",
        &["argv: Array", "reason: String", "-> Map"],
        "Run a command on the host (an argv array, never a shell string). It always runs when called, so \
         guard it: `if r.changed { host::exec([\"exportfs\", \"-ra\"], \"exports changed\") }`. \
         A non-zero exit fails the plan (or the guest, inside graph::walk).",
        move |nc: NativeCallContext, argv: Array, reason: &str| -> Res<Dynamic> { at(&nc, (|| -> Res<Dynamic> {
            let argv: Vec<String> = argv
                .into_iter()
                .map(|a| a.into_string().map_err(|t| format!("host::exec: every argv element must be a string, not {t}")))
                .collect::<Result<_, _>>()?;
            carry_out(&c, run_command(&argv, reason))
        })()) },
    );
    ns
}
