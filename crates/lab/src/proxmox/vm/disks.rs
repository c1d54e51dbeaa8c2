//! A VM's drives: the `disks` block (slots, storages, sizes) and the install CD-ROM
//! (`iso`), each read from the PVE config and written back as PVE's drive values, side by
//! side, with the checks a disk list meets (no disk shrinks).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proxmox::checks;
use crate::proxmox::guest_config::{field, trim_gb, ConfigDiff, SIZE_EPSILON_GB};
use crate::proxmox::guests::natural_key;
use crate::proxmox::props::{self, PropString};
use crate::validation::{FieldError, PathSegment};

/// One disk.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// The slot: `scsi0`-`scsi30`, `virtio0`-`virtio15`, `sata0`-`sata5` or `ide0`-`ide3`
    /// (`ide0` and `ide2` hold the install CD-ROM and the cloud-init drive).
    pub slot: String,

    /// The storage holding the disk, e.g. `local-lvm`. Changing it replaces the VM.
    pub storage: String,

    /// Size in GB (GiB). Grows in place; cannot shrink.
    pub size_gb: f64,
}

/// The slot of the install CD-ROM.
pub(super) const ISO_SLOT: &str = "ide0";
/// The slot of the cloud-init drive a VM gets when it has none.
pub(super) const CLOUD_INIT_SLOT: &str = "ide2";

/// Whether `slot` is a disk slot PVE has.
pub fn valid_slot(slot: &str) -> bool {
    let ranges = [("scsi", 30), ("virtio", 15), ("sata", 5), ("ide", 3)];
    ranges.iter().any(|(prefix, max)| {
        slot.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_digit())
                && (rest == "0" || !rest.starts_with('0'))
                && rest.parse::<u32>().is_ok_and(|n| n <= *max)
        })
    })
}

/// Checks a `disks` list; `iso` and `cloud_init` say whether those claim their slots.
pub(super) fn check(disks: &[Disk], iso: bool, cloud_init: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |path: Vec<PathSegment>, message: String| {
        errors.push(FieldError::new(path, message));
    };
    let mut seen = BTreeSet::new();
    for (i, disk) in disks.iter().enumerate() {
        let at = |name: &str| vec![field("disks"), PathSegment::Index(i), field(name)];
        if !valid_slot(&disk.slot) {
            err(
                at("slot"),
                format!(
                    "{:?} is not a disk slot: use scsi0-scsi30, virtio0-virtio15, sata0-sata5 or ide0-ide3",
                    disk.slot
                ),
            );
        } else if disk.slot == CLOUD_INIT_SLOT && cloud_init {
            err(
                at("slot"),
                "ide2 holds the cloud-init drive; use another slot".into(),
            );
        } else if disk.slot == ISO_SLOT && iso {
            err(
                at("slot"),
                "ide0 holds the install CD-ROM (iso); use another slot".into(),
            );
        }
        if !seen.insert(disk.slot.clone()) {
            err(at("slot"), format!("slot {} is listed twice", disk.slot));
        }
        if let Err(e) = checks::storage_id(&disk.storage) {
            err(at("storage"), e);
        }
        if !disk.size_gb.is_finite() || disk.size_gb <= 0.0 {
            err(
                at("size_gb"),
                format!("size_gb must be more than 0; got {}", disk.size_gb),
            );
        }
    }
    errors
}

// ------------------------------------------------------------------------- read

pub(super) fn is_cloud_init_drive(value: &str) -> bool {
    let p = PropString::parse(value);
    p.head.as_deref().is_some_and(|v| v.contains("cloudinit"))
}

pub(super) fn is_cdrom(value: &str) -> bool {
    let p = PropString::parse(value);
    p.get("media") == Some("cdrom") || p.head.as_deref() == Some("cdrom")
}

pub(super) fn disk_slots(config: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut slots: Vec<(String, String)> = config
        .iter()
        .filter(|(k, v)| valid_slot(k) && !is_cdrom(v) && !is_cloud_init_drive(v))
        .filter(|(_, v)| {
            PropString::parse(v)
                .head
                .as_deref()
                .is_some_and(|h| h != "none")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    slots.sort_by_key(|(k, _)| natural_key(k));
    slots
}

pub(super) fn disk_from(slot: &str, value: &str) -> Disk {
    let p = PropString::parse(value);
    let volume = p.head.clone().unwrap_or_default();
    let storage = volume.split(':').next().unwrap_or_default().to_string();
    let bytes = p.get("size").and_then(props::parse_size).unwrap_or(0);
    Disk {
        slot: slot.to_string(),
        storage,
        size_gb: props::bytes_to_gb(bytes),
    }
}

/// The disks of a config, in slot order.
pub(super) fn disks_from(config: &BTreeMap<String, String>) -> Vec<Disk> {
    disk_slots(config)
        .iter()
        .map(|(slot, value)| disk_from(slot, value))
        .collect()
}

/// The ISO volume in the CD-ROM of `ide0`, if any.
pub(super) fn iso_from(config: &BTreeMap<String, String>) -> Option<String> {
    config.get(ISO_SLOT).filter(|v| is_cdrom(v)).and_then(|v| {
        PropString::parse(v)
            .head
            .filter(|h| h != "none" && h != "cdrom")
    })
}

// ------------------------------------------------------------------------- write

/// A new disk as PVE allocates it: `local-lvm:32`.
pub(super) fn new_disk_value(disk: &Disk) -> String {
    format!("{}:{}", disk.storage, trim_gb(disk.size_gb))
}

/// The CD-ROM holding `iso`.
pub(super) fn iso_value(iso: &str) -> String {
    format!("{iso},media=cdrom")
}

/// Checks a disk list against a VM's (or template's) disks: no disk shrinks, and a slot
/// keeps its storage. Errors point at `disks[i]`.
pub fn check_disks(desired: &[Disk], actual: &[Disk], whose: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, disk) in desired.iter().enumerate() {
        let Some(have) = actual.iter().find(|d| d.slot == disk.slot) else {
            continue;
        };
        if disk.size_gb + SIZE_EPSILON_GB < have.size_gb {
            errors.push(FieldError::new(
                vec![field("disks"), PathSegment::Index(i), field("size_gb")],
                format!(
                    "{} is {} GB on {whose}; Proxmox cannot shrink disks (size_gb may only grow)",
                    disk.slot,
                    trim_gb(have.size_gb)
                ),
            ));
        }
    }
    errors
}

/// Plans a `disks` list against the VM's disks (`have`): new slots are added, larger
/// sizes grown (`grow`), unlisted slots detached. Errors when a disk would shrink.
pub(super) fn plan(
    disks: &[Disk],
    have: &[Disk],
    vmid: u32,
    diff: &mut ConfigDiff<'_>,
    grow: &mut Vec<(String, f64)>,
) -> Result<(), Vec<FieldError>> {
    let whose = format!("VM {vmid}");
    let errors = check_disks(disks, have, &whose);
    if !errors.is_empty() {
        return Err(errors);
    }
    for disk in disks {
        match have.iter().find(|d| d.slot == disk.slot) {
            Some(current) => {
                if disk.size_gb > current.size_gb + SIZE_EPSILON_GB {
                    grow.push((disk.slot.clone(), disk.size_gb));
                }
            }
            None => diff.set(&disk.slot, new_disk_value(disk)),
        }
    }
    for current in have {
        if !disks.iter().any(|d| d.slot == current.slot) {
            diff.delete.push(current.slot.clone());
        }
    }
    Ok(())
}
