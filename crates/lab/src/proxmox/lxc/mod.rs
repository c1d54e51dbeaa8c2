//! LXC containers (`homelab_proxmox_lxc`): arguments, read, plan, create, update, delete.
//!
//! The same steps as [`vm`](super::vm): create from an OS template, set what can change in
//! one config request, grow the root disk, start; reads take pending values as the
//! container will run with them. What PVE keeps no record of (the OS template, the root
//! password, the SSH keys given at creation) is kept from what was last applied.
//!
//! `args` the arguments and their checks, `network` the interfaces (checks, read and
//! request values side by side), `read`, `plan` and `apply`; the update flow is the
//! one VMs and containers share (`guest_flow`).

mod apply;
mod args;
mod network;
mod plan;
mod read;
#[cfg(test)]
mod tests;

pub use apply::{create, delete, update, Updated};
pub use args::{Container, Features, RootFs};
pub use network::ContainerNic;
pub use plan::{check_rootfs, plan, ContainerChanges};
pub use read::{keep_unreadable, read, ContainerActual};
