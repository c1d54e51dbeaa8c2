//! Proxmox VE guests: the API client and the VM, container and node capabilities behind
//! `homelab_proxmox_vm`, `homelab_proxmox_lxc`, `homelab_proxmox_nodes` and `homelab_proxmox_backup_job`.
//!
//! Built to avoid what users of other Proxmox providers meet: every task (UPID) is awaited
//! until it stops and its exit status checked, with the task log in the error; config
//! locks (a backup, a parallel clone) are waited out up to the caller's deadline instead
//! of failing at once; only requests that are safe to repeat are retried after a network
//! error; guest ids are allocated under one lock so parallel creates never collide; the
//! guest agent is asked with short, bounded requests and a wait for it always ends with
//! an error naming the timeout; and a refresh reads the cluster's resource list once for
//! all guests, plus one request per guest.
//!
//! - [`client`]: HTTPS client, ticket login with CSRF token and re-login, API tokens,
//!   retries, the shared cluster resource list and guest id allocation.
//! - [`tasks`]: waiting for a UPID to stop; the task log on failure.
//! - [`props`]: PVE property strings (`virtio=BC:24:11:..,bridge=vmbr0`), sizes, encodings.
//! - [`settings`]: how to reach the cluster: endpoint, credentials, certificate
//!   trust, and their environment fallbacks.
//! - [`checks`]: validators shared by VMs and containers (CIDRs, SSH keys, tags, names).
//! - [`guests`]: what VMs and containers share: lookup, pending config, locks, power.
//! - `guest_config`: the settings VMs and containers share (ids, tags, notes,
//!   addresses), read and planned the same way; `guest_flow`: the update flow both take
//!   (read, plan, send, read back, reboot for pending changes) and the end of a create.
//! - `defaults`: the serde defaults of the argument types.
//! - [`vm`]: QEMU VMs: arguments, read, plan, create/update/delete, a folder by concern.
//! - [`lxc`]: LXC containers: the same steps.
//! - [`nodes`]: the cluster's nodes, for placement.
//! - [`backup_job`]: scheduled vzdump jobs (`/cluster/backup`).

pub mod backup_job;
mod ca_file;
pub mod checks;
pub mod client;
mod defaults;
pub mod error;
mod guest_config;
mod guest_flow;
pub mod guests;
pub mod lxc;
pub mod nodes;
pub mod props;
pub mod settings;
pub mod tasks;
pub mod vm;

pub use crate::deadline::Deadline;
pub use client::{Auth, Client, ClientConfig};
pub use error::ProxmoxError;
pub use settings::ProxmoxSettings;
