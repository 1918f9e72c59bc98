//! The one writer of generated text: every file, file line and property string phoenix
//! composes from configuration values goes through a builder here. Builders are pure; each
//! refuses a value that would change the structure of what it writes (a newline, the format's
//! own separators) with a [`GenerateError`] naming the field and the value — defence in depth
//! behind the configuration's validation.

pub mod compose;
pub mod dnsmasq;
pub mod error;
pub mod exports;
pub mod firewall;
pub mod firewall_merge;
pub mod fstab;
pub mod hostname;
pub mod lxc_conf;
pub mod managed_block;
pub mod nginx;
pub mod propstring;
pub mod renewal_timer;
pub mod systemd_unit;
pub mod traefik;

pub use error::{GenerateError, Refusal};
