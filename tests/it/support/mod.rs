pub mod phoenix;
pub mod portainer;
pub mod real_tools;
pub mod sshd;
