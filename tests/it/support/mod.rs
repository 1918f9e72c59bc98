pub mod sshd;
pub mod phoenix;
