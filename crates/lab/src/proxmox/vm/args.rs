//! The arguments of a VM (`homelab_proxmox_vm`): the serde/JSON Schema type whose doc
//! comments are the resource's documentation, and its checks. Each block (disks, network,
//! cloud-init, agent) is declared and checked in its own file; this one holds the VM itself
//! and the template it may be cloned from.

use std::collections::BTreeSet;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::agent::{self, Agent};
use super::cloud_init::{self, CloudInit};
use super::disks::{self, Disk};
use super::network::{self, NetworkDevice};
use crate::proxmox::checks;
use crate::proxmox::defaults::{default_memory, one};
use crate::proxmox::guest_config::{check_guest_id, check_notes, field};
use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};

/// A QEMU virtual machine on a Proxmox VE node.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// The node the VM runs on, e.g. `pve1`.
    pub node: String,

    /// The VM's name, a DNS name such as `nextcloud`.
    pub name: String,

    /// The VM id. Leave it out to take the next free id; ids are handed out under one lock,
    /// so VMs created in parallel never collide.
    #[serde(default)]
    pub vm_id: Option<u32>,

    /// Clone this template instead of creating an empty VM. Proxmox does not remember the
    /// template a VM came from: after `terraform import` the first plan records this
    /// argument (an update that sends nothing to Proxmox), never a replacement.
    #[serde(default)]
    pub clone: Option<CloneFrom>,

    /// Install media for an empty VM: an ISO volume attached as CD-ROM on `ide0`, e.g.
    /// `local:iso/debian-12.9.0-amd64-netinst.iso`. Conflicts with `clone` (a clone boots
    /// its template's disk). Left out, whatever CD-ROM the VM has stays.
    #[serde(default)]
    pub iso: Option<String>,

    /// CPU cores per socket (at least 1).
    #[serde(default = "one")]
    pub cores: u32,

    /// CPU sockets (at least 1).
    #[serde(default = "one")]
    pub sockets: u32,

    /// Memory in MB (at least 16).
    #[serde(default = "default_memory")]
    pub memory: u32,

    /// Disks by slot. A disk grows in place when `size_gb` grows; a smaller size is
    /// rejected at plan (Proxmox cannot shrink disks); a new slot adds a disk; a slot
    /// dropped from the list is detached and kept by Proxmox as an unused disk. Left out,
    /// the template's disks stay as they are.
    #[serde(default)]
    pub disks: Option<Vec<Disk>>,

    /// Network devices, in order: the first is `net0`. Left out, the template's stay.
    #[serde(default)]
    pub network: Option<Vec<NetworkDevice>>,

    /// Cloud-init settings, written to the VM after it is cloned or created; a cloud-init
    /// drive is added when the VM has none. Left out, the template's settings stay.
    #[serde(default)]
    pub cloud_init: Option<CloudInit>,

    /// Whether the VM runs. Changed in place (start, or a clean shutdown).
    #[serde(default = "crate::defaults::yes")]
    pub started: bool,

    /// Start the VM when its node boots.
    #[serde(default)]
    pub on_boot: bool,

    /// Tags, lowercase (Proxmox stores them lowercase and sorted).
    #[serde(default)]
    pub tags: BTreeSet<String>,

    /// Free text shown in the Proxmox UI's notes.
    #[serde(default)]
    pub description: String,

    /// The QEMU guest agent.
    #[serde(default)]
    pub agent: Agent,

    /// Reboot a running VM after an update when Proxmox keeps some of the changes pending
    /// until the next boot (e.g. more cores without CPU hotplug). Without it, such changes
    /// are reported and wait for a reboot.
    #[serde(default)]
    pub reboot_after_update: bool,
}

/// The template to clone.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloneFrom {
    /// The template's VM id, e.g. `9000`. It may live on another node of the cluster.
    pub template_id: u32,

    /// A full copy (`true`) or a linked clone sharing the template's base disks (`false`;
    /// fast, but the disks stay on the template's storage).
    #[serde(default = "crate::defaults::yes")]
    pub full: bool,
}

impl Vm {
    /// The agent wait, parsed (validate first).
    pub fn agent_timeout(&self) -> Duration {
        crate::duration::parse(&self.agent.timeout).unwrap_or(Duration::from_secs(300))
    }
}

impl Validate for Vm {
    /// Every problem with the arguments, each with its path.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |path: Vec<PathSegment>, message: String| {
            errors.push(FieldError::new(path, message));
        };
        if let Err(e) = checks::node_name(&self.node) {
            err(vec![field("node")], e);
        }
        if let Err(e) = checks::dns_name(&self.name) {
            err(vec![field("name")], e);
        }
        if let Some(id) = self.vm_id {
            if let Err(e) = check_guest_id(id, "VM") {
                err(vec![field("vm_id")], e);
            }
        }
        if let Some(clone) = &self.clone {
            if let Err(e) = check_guest_id(clone.template_id, "VM") {
                err(vec![field("clone"), field("template_id")], e);
            }
            if self.vm_id == Some(clone.template_id) {
                err(
                    vec![field("vm_id")],
                    "the VM cannot have its template's id".into(),
                );
            }
            if self.iso.is_some() {
                err(
                    vec![field("iso")],
                    "iso conflicts with clone: install media are for VMs created empty; a clone boots its template's disk (remove iso, or remove clone to create an empty VM)".into(),
                );
            }
        }
        if let Some(iso) = &self.iso {
            if let Err(e) = checks::volume_id(iso, "iso") {
                err(vec![field("iso")], e);
            }
        }
        if self.cores == 0 {
            err(vec![field("cores")], "cores must be at least 1".into());
        }
        if self.sockets == 0 {
            err(vec![field("sockets")], "sockets must be at least 1".into());
        }
        if self.memory < 16 {
            err(
                vec![field("memory")],
                format!(
                    "memory is in MB and must be at least 16 (Proxmox's minimum); got {}",
                    self.memory
                ),
            );
        }
        if let Some(disks) = &self.disks {
            errors.extend(disks::check(
                disks,
                self.iso.is_some(),
                self.cloud_init.is_some(),
            ));
        }
        if let Some(network) = &self.network {
            errors.extend(network::check(network));
        }
        if let Some(ci) = &self.cloud_init {
            errors.extend(cloud_init::check(ci));
        }
        check_notes(&self.tags, &self.description, &mut errors);
        errors.extend(agent::check(&self.agent, self.started));
        errors
    }
}
