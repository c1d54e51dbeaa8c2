//! Planning a VM: the desired arguments against the VM as read, as the requests PVE takes
//! (keys to set and delete in one config request, disks to grow, power). Each block plans
//! its own keys in its own file; this one puts them together in PVE's order.

use super::agent::agent_value;
use super::args::Vm;
use super::disks::{self, iso_value, ISO_SLOT};
use super::read::VmActual;
use super::{cloud_init, network};
use crate::proxmox::guest_config::{trim_gb, ConfigDiff};
use crate::proxmox::guest_flow::{Grow, Planned, Requests};
use crate::secret::Secret;
use crate::validation::FieldError;

/// What an update changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmChanges {
    /// Config keys to set, in one request.
    pub set: Vec<(String, String)>,
    /// Config keys to remove (disks become unused disks).
    pub delete: Vec<String>,
    /// Disks to grow: slot and new size in GB.
    pub grow: Vec<(String, f64)>,
    /// Start (`Some(true)`) or shut down (`Some(false)`).
    pub power: Option<bool>,
}

impl VmChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.delete.is_empty()
            && self.grow.is_empty()
            && self.power.is_none()
    }

    /// Config keys touched, for messages.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.set.iter().map(|(k, _)| k.clone()).collect();
        keys.extend(self.delete.iter().cloned());
        keys.extend(self.grow.iter().map(|(slot, _)| format!("{slot} (resize)")));
        keys
    }
}

impl Planned for VmChanges {
    fn requests(&self, vmid: u32) -> Requests<'_> {
        Requests {
            set: &self.set,
            delete: &self.delete,
            grow: self
                .grow
                .iter()
                .map(|(slot, size_gb)| Grow {
                    disk: slot.clone(),
                    size_gb: *size_gb,
                    what: format!(
                        "growing disk {slot} of VM {vmid} to {} GB",
                        trim_gb(*size_gb)
                    ),
                })
                .collect(),
            power: self.power,
        }
    }
}

/// Compares the desired arguments with the VM as read and returns the changes, in the
/// request forms PVE takes. `prior_password` is the cloud-init password last applied
/// (PVE never shows it back).
pub fn plan(
    desired: &Vm,
    actual: &VmActual,
    prior_password: Option<&Secret>,
    creating: bool,
) -> Result<VmChanges, Vec<FieldError>> {
    let config = &actual.config;
    let mut diff = ConfigDiff::new(config);
    let mut grow = Vec::new();
    if actual.spec.name != desired.name {
        diff.set("name", desired.name.clone());
    }
    if actual.spec.cores != desired.cores {
        diff.set("cores", desired.cores.to_string());
    }
    if actual.spec.sockets != desired.sockets {
        diff.set("sockets", desired.sockets.to_string());
    }
    if actual.spec.memory != desired.memory {
        diff.set("memory", desired.memory.to_string());
    }
    diff.on_boot(actual.spec.on_boot, desired.on_boot);
    diff.notes(
        &actual.spec.tags,
        &desired.tags,
        &actual.spec.description,
        &desired.description,
    );
    if actual.spec.agent.enabled != desired.agent.enabled {
        diff.set(
            "agent",
            agent_value(config.get("agent"), desired.agent.enabled),
        );
    }
    if let Some(iso) = &desired.iso {
        if actual.spec.iso.as_ref() != Some(iso) {
            diff.set(ISO_SLOT, iso_value(iso));
        }
    }
    if let Some(disks) = &desired.disks {
        let have = actual.spec.disks.clone().unwrap_or_default();
        disks::plan(disks, &have, actual.vmid, &mut diff, &mut grow)?;
    }
    if let Some(network) = &desired.network {
        network::plan(network, &mut diff);
    }
    if let Some(ci) = &desired.cloud_init {
        cloud_init::plan(ci, actual, desired, prior_password, creating, &mut diff);
    }
    let mut changes = VmChanges {
        set: diff.set,
        delete: diff.delete,
        grow,
        power: None,
    };
    if desired.started != actual.running() {
        changes.power = Some(desired.started);
    }
    changes.delete.sort();
    changes.delete.dedup();
    Ok(changes)
}
