//! `graph::` — the guest graph: order, waves, closures, and the parallel walk.

use super::at;
use super::convert::{guest_id, guest_ids, ids_to_array};
use super::{Ctx, Namespace, Res};
use crate::executor::GuestOutcome;
use rhai::{Array, Dynamic, FnPtr, Map, NativeCallContext};

fn edges_to_array(edges: Vec<(u32, crate::graph::EdgeReason)>) -> Array {
    edges
        .into_iter()
        .map(|(id, why)| {
            let mut m = Map::new();
            m.insert("id".into(), (id as i64).into());
            m.insert("reason".into(), why.to_string().into());
            Dynamic::from(m)
        })
        .collect()
}

pub fn namespace(ctx: &Ctx) -> Namespace {
    let mut ns = Namespace::new("graph", "The guest dependency graph (dependencies, clone sources).");

    let c = ctx.clone();
    ns.add(
        "order",
        &["targets: Array", "-> Array"],
        "The targets and everything they need, prerequisites first (ties by id).",
        move |nc: NativeCallContext, t: Array| -> Res<Array> {
            at(&nc, || {
                let run = c.run()?;
                let ids = run.graph.order(&guest_ids(&t)?)?;
                Ok(ids_to_array(&ids))
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "waves",
        &["targets: Array", "-> Array"],
        "The closure of the targets as waves: each wave needs only guests of earlier waves.",
        move |nc: NativeCallContext, t: Array| -> Res<Array> {
            at(&nc, || {
                let run = c.run()?;
                let waves = run.graph.waves(&guest_ids(&t)?)?;
                Ok(waves.iter().map(|w| Dynamic::from(ids_to_array(w))).collect())
            })
        },
    );

    let c = ctx.clone();
    ns.add(
        "prerequisites",
        &["id: int", "-> Array"],
        "What a guest needs directly: [#{id, reason}] with reason \"dependency\" or \"clone source\".",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Array> {
            at(&nc, || Ok(edges_to_array(c.run()?.graph.prerequisites(guest_id(&id)?))))
        },
    );

    let c = ctx.clone();
    ns.add(
        "dependents",
        &["id: int", "-> Array"],
        "Guests that need this one directly: [#{id, reason}].",
        move |nc: NativeCallContext, id: Dynamic| -> Res<Array> {
            at(&nc, || Ok(edges_to_array(c.run()?.graph.dependents(guest_id(&id)?))))
        },
    );

    let c = ctx.clone();
    ns.add(
        "walk",
        &["targets: Array", "work: FnPtr", "-> Map"],
        "Call `work(id)` for every guest in the closure of the targets, prerequisites first, up to \
         --parallel guests at once. A guest whose work throws is failed and its dependents are skipped; \
         independent guests go on (unless --fail-fast). Returns #{\"<id>\": \"ok\" | \"failed: …\" | \"skipped: …\"}.",
        // `store_data`/`create_context` are marked volatile (not deprecated) by Rhai: they are
        // the supported way to call back into the script from other threads.
        #[allow(deprecated)]
        move |ctx: NativeCallContext, t: Array, work: FnPtr| -> Res<Map> {
            let run = c.run()?;
            let targets = guest_ids(&t)?;
            let store = ctx.store_data();
            let engine = ctx.engine();
            // A rehearsal keeps the first guest's whole error: it ends the rehearsal with a
            // diagnostic pointing into the callback (nothing is applied after it).
            let first_error = std::sync::Mutex::new(None);
            let outcomes = run.walk(&targets, |id| {
                let call_ctx = store.create_context(engine);
                crate::executor::with_guest(id, || {
                    work.call_within_context::<Dynamic>(&call_ctx, (id as i64,)).map(|_| ()).map_err(|e| {
                        // The innermost error says what went wrong; frames add only noise here.
                        let text = super::operator::error_text(e.unwrap_inner());
                        if run.dry_run {
                            if let Ok(mut first) = first_error.lock() {
                                first.get_or_insert(e);
                            }
                        }
                        text
                    })
                })
            })?;
            if let Some(e) = first_error.into_inner().ok().flatten() {
                return Err(e);
            }
            let mut m = Map::new();
            for (id, o) in outcomes {
                let text = match &o {
                    GuestOutcome::Ok => "ok".to_string(),
                    other => format!("{}: {}", other.label(), other.detail()),
                };
                m.insert(id.to_string().into(), text.into());
            }
            Ok(m)
        },
    );
    ns
}
