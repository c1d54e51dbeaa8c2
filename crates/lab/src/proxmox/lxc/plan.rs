//! Planning a container: the desired arguments against the container as read, as the
//! requests PVE takes (keys to set and delete in one config request, the root disk to
//! grow, power), and the check that the root disk only grows.

use super::args::{Container, RootFs};
use super::network::render_nic;
use super::read::ContainerActual;
use crate::proxmox::guest_config::{field, trim_gb, ConfigDiff, SIZE_EPSILON_GB};
use crate::proxmox::guest_flow::{Grow, Planned, Requests};
use crate::proxmox::props::{self, PropString};
use crate::validation::FieldError;

/// What an update changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerChanges {
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
    /// New root disk size in GB.
    pub grow_rootfs: Option<f64>,
    pub power: Option<bool>,
}

impl ContainerChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.delete.is_empty()
            && self.grow_rootfs.is_none()
            && self.power.is_none()
    }
}

impl Planned for ContainerChanges {
    fn requests(&self, vmid: u32) -> Requests<'_> {
        Requests {
            set: &self.set,
            delete: &self.delete,
            grow: self
                .grow_rootfs
                .map(|size_gb| Grow {
                    disk: "rootfs".to_string(),
                    size_gb,
                    what: format!(
                        "growing the root disk of container {vmid} to {} GB",
                        trim_gb(size_gb)
                    ),
                })
                .into_iter()
                .collect(),
            power: self.power,
        }
    }
}

/// Checks the root disk against the container's: it may only grow.
pub fn check_rootfs(desired: &RootFs, actual: &RootFs, vmid: u32) -> Vec<FieldError> {
    if desired.size_gb + SIZE_EPSILON_GB < actual.size_gb {
        vec![FieldError::new(
            vec![field("rootfs"), field("size_gb")],
            format!(
                "the root disk of container {vmid} is {} GB; Proxmox cannot shrink it (size_gb may only grow)",
                trim_gb(actual.size_gb)
            ),
        )]
    } else {
        Vec::new()
    }
}

/// Compares the desired arguments with the container as read.
pub fn plan(
    desired: &Container,
    actual: &ContainerActual,
) -> Result<ContainerChanges, Vec<FieldError>> {
    let errors = check_rootfs(&desired.rootfs, &actual.spec.rootfs, actual.vmid);
    if !errors.is_empty() {
        return Err(errors);
    }
    let config = &actual.config;
    let have = &actual.spec;
    let mut diff = ConfigDiff::new(config);
    if have.hostname != desired.hostname {
        diff.set("hostname", desired.hostname.clone());
    }
    if have.cores != desired.cores {
        diff.set("cores", desired.cores.to_string());
    }
    if have.memory != desired.memory {
        diff.set("memory", desired.memory.to_string());
    }
    if have.swap != desired.swap {
        diff.set("swap", desired.swap.to_string());
    }
    diff.on_boot(have.on_boot, desired.on_boot);
    if have.features != desired.features {
        let mut p = config
            .get("features")
            .map(|v| PropString::parse(v))
            .unwrap_or_default();
        if desired.features.nesting {
            p.set("nesting", "1");
        } else {
            p.remove("nesting");
        }
        if p.pairs.is_empty() && p.head.is_none() {
            diff.delete.push("features".into());
        } else {
            diff.set("features", p.render());
        }
    }
    diff.notes(
        &have.tags,
        &desired.tags,
        &have.description,
        &desired.description,
    );
    for (i, nic) in desired.network.iter().enumerate() {
        let key = format!("net{i}");
        let value = render_nic(nic, config.get(&key));
        diff.set(&key, value);
    }
    for key in config.keys() {
        if let Some(i) = props::key_index(key, "net") {
            if i as usize >= desired.network.len() {
                diff.delete.push(key.clone());
            }
        }
    }
    let mut changes = ContainerChanges {
        set: diff.set,
        delete: diff.delete,
        ..ContainerChanges::default()
    };
    if desired.rootfs.size_gb > have.rootfs.size_gb + SIZE_EPSILON_GB {
        changes.grow_rootfs = Some(desired.rootfs.size_gb);
    }
    if desired.started != actual.running() {
        changes.power = Some(desired.started);
    }
    Ok(changes)
}
