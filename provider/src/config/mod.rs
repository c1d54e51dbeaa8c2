//! Provider configuration: one module per block of `provider "homelab" { ... }`, and the
//! state `configure` builds from them, which every resource and data source holds an `Arc`
//! of. Each block is optional; a resource whose block is missing fails at plan with a
//! message naming the block.

pub mod aws;
pub mod netbird;
pub mod proxmox;
pub mod slot;
pub mod ssh;

/// What `configure` sets up, shared by every resource and data source.
#[derive(Default)]
pub struct ProviderState {
    /// The `aws` block: SDK clients for EC2 and Route 53.
    pub aws: aws::AwsSlot,
    /// The `proxmox` block: the Proxmox VE API client.
    pub proxmox: proxmox::ProxmoxSlot,
    /// The `netbird` block: the NetBird management API client.
    pub netbird: netbird::NetbirdSlot,
    /// The `ssh` block's defaults and the one SSH connection pool.
    pub ssh: ssh::SshSlot,
}
