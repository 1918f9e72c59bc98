//! Config generators: text files phoenix writes, derived from the inventory. Pure functions;
//! the `file::` ops decide whether the host needs them.

pub mod firewall;
