//! `host::` — the run itself, and imperative host commands.

use super::at;
use super::error::ApiError;
use super::file::carry_out;
use super::{Ctx, Namespace, Res};
use crate::ops::exec::run_command;
use rhai::{Array, Dynamic, NativeCallContext};

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("host", "The host this run drives, and imperative commands on it.");
    let c = ctx.clone();
    ns.add(
        "name",
        &["-> String"],
        "How the host is named: `local`, `ssh://root@pve:22`, `sim`.",
        move |nc: NativeCallContext| -> Res<String> { at(&nc, || Ok(c.run()?.host.clone())) },
    );
    let c = ctx.clone();
    ns.add(
        "dry_run",
        &["-> bool"],
        "Whether this run only shows what it would do.",
        move |nc: NativeCallContext| -> Res<bool> { at(&nc, || Ok(c.run()?.dry_run)) },
    );
    let c = ctx.clone();
    ns.add(
        "rehearsing",
        &["-> bool"],
        "Whether this is the rehearsal before an apply (a dry-run, but not the operator's --dry-run). A plan \
         that contains a failure (one sync stage of several) reports it without failing here, so the apply \
         still runs the parts that can run, and fails there.",
        move |nc: NativeCallContext| -> Res<bool> { at(&nc, || Ok(c.run()?.rehearsal)) },
    );
    let c = ctx.clone();
    ns.add(
        "exec",
        &["argv: Array", "reason: String", "-> Map"],
        "Run a command on the host (an argv array, never a shell string). It always runs when called, so \
         guard it: `if r.changed { host::exec([\"exportfs\", \"-ra\"], \"exports changed\") }`. \
         A non-zero exit fails the plan (or the guest, inside graph::walk).",
        move |nc: NativeCallContext, argv: Array, reason: &str| -> Res<Dynamic> {
            at(&nc, || {
                let argv: Vec<String> = argv
                    .into_iter()
                    .map(|a| {
                        a.into_string().map_err(|t| format!("host::exec: every argv element must be a string, not {t}"))
                    })
                    .collect::<Result<_, _>>()?;
                carry_out(&c, run_command(&argv, reason))
            })
        },
    );
    let c = ctx.clone();
    ns.add(
        "probe",
        &["argv: Array", "-> Map"],
        "Run a read-only command on the host and return #{code, stdout, stderr} (for checks: it must change nothing; \
         it also runs in a dry-run). A read like any other: the rehearsal records it and the apply is served that \
         answer once, until its first action; later calls ask the host.",
        move |nc: NativeCallContext, argv: Array| -> Res<Dynamic> {
            at(&nc, || {
                let argv: Vec<String> = argv
                    .into_iter()
                    .map(|a| {
                        a.into_string()
                            .map_err(|t| format!("host::probe: every argv element must be a string, not {t}"))
                    })
                    .collect::<Result<_, _>>()?;
                let run = c.run()?;
                let out = run.facts.probe(&crate::command::Command::new(argv))?;
                let mut m = rhai::Map::new();
                super::convert::insert_output(&mut m, &crate::executor::CommandOutput::from(&out));
                Ok(m.into())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "run_script",
        &["path: String", "args: Array", "-> Map"],
        "Run a script of the configuration folder (e.g. \"scripts/health_checks/check_http.sh\") on the host with \
         `bash -s -- <args>`, the script sent on stdin (so it works over SSH too); returns #{code, stdout, stderr}. \
         For read-only checks: it also runs in a dry-run, and is a read like host::probe (recorded, served once).",
        move |nc: NativeCallContext, path: &str, args: Array| -> Res<Dynamic> {
            at(&nc, || {
                let run = c.run()?;
                let file = run.inventory.config_dir.join(path);
                let script = std::fs::read(&file).map_err(|source| ApiError::ConfigFile {
                    function: "host::run_script",
                    path: file.clone(),
                    source,
                })?;
                let mut argv = vec!["bash".to_string(), "-s".to_string(), "--".to_string()];
                for a in args {
                    argv.push(
                        a.into_string().map_err(|t| format!("host::run_script: arguments must be strings, not {t}"))?,
                    );
                }
                let out = run.facts.probe(&crate::command::Command::new(argv).with_stdin(script))?;
                let mut m = rhai::Map::new();
                super::convert::insert_output(&mut m, &crate::executor::CommandOutput::from(&out));
                Ok(m.into())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "confirm",
        &["question: String", "-> bool"],
        "Ask before something destructive: true with --yes; on a terminal, asks (y/N); otherwise fails asking for --yes. \
         A dry-run answers true without asking (it changes nothing); a run asks once, after its rehearsal, before \
         anything is applied.",
        move |nc: NativeCallContext, question: &str| -> Res<bool> {
            at(&nc, || {
                c.run()?.confirm(question).map_err(Into::into)
            })
        },
    );
    ns
}
