//! stub
use super::reply::{fail, Step};
use super::state::SimState;
pub(crate) fn run(_st: &mut SimState, _argv: &[String], _stdin: Option<&[u8]>) -> Step {
    fail("not yet").into()
}
