//! `unit::` — systemd unit lines built by the unit builder, so a configuration value cannot add
//! a directive to a unit file a feature writes.

use super::{at, Namespace, Res};
use crate::generate::systemd_unit::exec_line;
use rhai::{Array, NativeCallContext};

pub fn namespace() -> Namespace {
    let mut ns = Namespace::new("unit", "systemd unit lines built safely from the configuration.");
    ns.add(
        "exec_line",
        &["argv: Array", "-> String"],
        "An ExecStart= command line from an argv array: each argument quoted and escaped as systemd reads it \
         (blanks, quotes, `%` specifiers, `$` variables). Throws on an argument with a newline or another \
         control character.",
        |nc: NativeCallContext, argv: Array| -> Res<String> {
            at(&nc, || {
                let argv: Vec<String> = argv.into_iter().map(|a| a.to_string()).collect();
                Ok(exec_line(&argv)?)
            })
        },
    );
    ns
}
