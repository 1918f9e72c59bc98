pub mod phoenix;
pub mod real_tools;
pub mod sshd;
