//! `qm::` — QEMU virtual machines.

use super::{Ctx, Namespace};
use crate::graph::GuestKind;

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new(
        "qm",
        "QEMU virtual machines: list, status, configuration, lifecycle.",
    );
    super::guest_read::add(&mut ns, ctx, GuestKind::Vm);
    ns
}
