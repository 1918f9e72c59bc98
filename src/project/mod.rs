//! The project's scripts: where its folder is, and how a plan or stdlib module is found there
//! (disk first, then the copies embedded in the binary). Used by the engine, by the verbs, and by
//! the convergence record, which hashes the feature modules a guest uses.

pub mod embedded;
pub mod resolver;
pub mod root;
