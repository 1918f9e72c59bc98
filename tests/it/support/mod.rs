pub mod phoenix;
pub mod sshd;
