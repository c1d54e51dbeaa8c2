//! QEMU virtual machines (`homelab_proxmox_vm`): arguments, read, plan, create, update,
//! delete.
//!
//! - Clones from a template (full or linked) or creates an empty VM, then sets every
//!   argument in one config change, grows disks, starts it and, when asked, waits (bounded)
//!   for the guest agent to report an address. Cloud-init settings are written after the
//!   clone, so nothing the template had is silently kept or lost.
//! - A read takes the VM's config as PVE will run it (`/pending`: pending values applied)
//!   and notes which keys wait for a reboot, so a change PVE could not apply live does not
//!   show up again in every plan; [`VmActual::pending`] says what waits.
//! - Arguments PVE cannot show (the template a VM was cloned from, the cloud-init password,
//!   how long to wait for the agent) are kept from what was last applied
//!   ([`keep_unreadable`]).
//! - `disks`, `network` and `cloud_init` left out (None) are not managed: whatever the
//!   template brought stays.
//!
//! One file per concern: `args` the arguments and their checks; one file per block, each
//! with its checks, its read from the PVE config and its request values side by side
//! (`disks` with the install CD-ROM, `network`, `cloud_init`, `agent`); `read`,
//! `plan`, and the changes: `apply` (create, update, delete) and `clone`. The update
//! flow itself is the one VMs and containers share (`guest_flow`).

mod agent;
mod apply;
mod args;
mod clone;
mod cloud_init;
mod disks;
mod network;
mod plan;
mod read;
#[cfg(test)]
mod tests;

pub use super::guest_config::trim_gb;
pub use super::guest_flow::CreateFailure;
pub use agent::{agent_ipv4, wait_for_ipv4, Agent};
pub use apply::{apply_changes, create, delete, pending_warning, update, Updated};
pub use args::{CloneFrom, Vm};
pub use clone::{check_clone_disks, clone_target_storage, template_disks};
pub use cloud_init::CloudInit;
pub use disks::{check_disks, valid_slot, Disk};
pub use network::{NetworkDevice, NET_MODELS};
pub use plan::{plan, VmChanges};
pub use read::{keep_unreadable, read, VmActual};
