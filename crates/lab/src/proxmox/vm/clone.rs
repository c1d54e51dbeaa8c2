//! Cloning a VM from a template: the clone request (waiting out the template's lock, with
//! the half-made VM removed when the clone fails), and the checks a clone's disk list meets
//! against the template's disks, at plan and before the clone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::apply::delete;
use super::args::{CloneFrom, Vm};
use super::disks::{check_disks, disks_from, Disk};
use crate::deadline::{Backoff, Deadline};
use crate::proxmox::client::Client;
use crate::proxmox::error::ProxmoxError;
use crate::proxmox::guest_config::{field, trim_gb};
use crate::proxmox::guest_flow::{plan_conflict, wait_created, CreateFailure};
use crate::proxmox::guests::{self, Kind};
use crate::proxmox::props;
use crate::validation::{FieldError, PathSegment};

pub(super) async fn clone_template(
    client: &Client,
    spec: &Vm,
    clone: &CloneFrom,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<u32, CreateFailure> {
    let template = clone.template_id;
    let (source_node, template_disks) =
        template_disks(client, template).await?.ok_or_else(|| {
            ProxmoxError::Conflict(format!("template {template} does not exist in the cluster"))
        })?;
    let storage = clone_target_storage(spec.disks.as_deref(), clone, &template_disks)
        .map_err(plan_conflict)?;
    let what = format!("clone of template {template}");
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let attempt = client
            .create_with_id(spec.vm_id, deadline, |id| {
                let mut params: Vec<(&str, String)> = vec![
                    ("newid", id.to_string()),
                    ("name", spec.name.clone()),
                    ("full", props::bool_text(clone.full).to_string()),
                ];
                if let Some(storage) = &storage {
                    params.push(("storage", storage.clone()));
                }
                if source_node != spec.node {
                    params.push(("target", spec.node.clone()));
                }
                let path = format!("/nodes/{source_node}/qemu/{template}/clone");
                async move {
                    guests::post_create(client, Kind::Qemu, &spec.node, id, &path, &params).await
                }
            })
            .await;
        let (vmid, data) = match attempt {
            Ok(done) => done,
            Err(e) if e.is_lock_conflict() => {
                // The template is locked by another clone (or a backup): wait and ask again.
                let lock = format!("{what}: the template's config lock");
                wait_for_lock(deadline, &mut backoff, lock, &e).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        created.store(vmid, Ordering::SeqCst);
        let waited = wait_created(
            client,
            Kind::Qemu,
            &spec.node,
            vmid,
            &data,
            &format!("{what} to VM {vmid}"),
            deadline,
        )
        .await;
        match waited {
            Ok(()) => return Ok(vmid),
            Err(e @ ProxmoxError::Timeout { .. }) => {
                return Err(CreateFailure {
                    vmid: Some(vmid),
                    error: e,
                })
            }
            Err(e) => {
                // PVE removes a VM whose clone failed; make sure, so nothing is left over.
                let leftover = guests::exists(client, Kind::Qemu, &spec.node, vmid)
                    .await
                    .unwrap_or(true);
                if leftover {
                    if let Err(cleanup) = delete(client, &spec.node, vmid, deadline).await {
                        return Err(CreateFailure {
                            vmid: Some(vmid),
                            error: ProxmoxError::Conflict(format!(
                                "{e}; removing the half-made VM {vmid} failed too: {cleanup}"
                            )),
                        });
                    }
                }
                created.store(0, Ordering::SeqCst);
                if e.is_lock_conflict() {
                    wait_for_lock(deadline, &mut backoff, format!("{what}: a config lock"), &e)
                        .await?;
                    continue;
                }
                return Err(e.into());
            }
        }
    }
}

/// After a clone refused for a config lock (`e`): waits before the next attempt, or ends
/// with the deadline's error naming `lock`.
async fn wait_for_lock(
    deadline: &Deadline,
    backoff: &mut Backoff,
    lock: String,
    e: &ProxmoxError,
) -> Result<(), CreateFailure> {
    let seen = e.pve_message().unwrap_or_default().to_string();
    if deadline.sleep(backoff.next_delay()).await {
        Ok(())
    } else {
        Err(ProxmoxError::from(deadline.ended(lock, seen)).into())
    }
}

/// The storage a clone's disks go to, checked against the template's disks: a full clone
/// copies every template disk to one storage (the one the listed disks of the template's
/// slots share); a linked clone keeps them on the template's storage. Errors point at
/// `disks[i].storage`.
pub fn clone_target_storage(
    disks: Option<&[Disk]>,
    clone: &CloneFrom,
    template_disks: &[Disk],
) -> Result<Option<String>, Vec<FieldError>> {
    let Some(disks) = disks else {
        return Ok(None);
    };
    let from_template: Vec<(usize, &Disk, &Disk)> = disks
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            template_disks
                .iter()
                .find(|t| t.slot == d.slot)
                .map(|t| (i, d, t))
        })
        .collect();
    let at = |i: usize| vec![field("disks"), PathSegment::Index(i), field("storage")];
    let mut errors = Vec::new();
    if !clone.full {
        for (i, disk, template) in &from_template {
            if disk.storage != template.storage {
                errors.push(FieldError::new(
                    at(*i),
                    format!(
                        "a linked clone keeps template {}'s disk {} on {}; set storage = {:?} or clone with full = true",
                        clone.template_id, disk.slot, template.storage, template.storage
                    ),
                ));
            }
        }
        return if errors.is_empty() {
            Ok(None)
        } else {
            Err(errors)
        };
    }
    let Some((_, first, _)) = from_template.first() else {
        return Ok(None);
    };
    for (i, disk, _) in &from_template {
        if disk.storage != first.storage {
            errors.push(FieldError::new(
                at(*i),
                format!(
                    "a full clone copies all of template {}'s disks to one storage; {} is on {:?} but {} on {:?}",
                    clone.template_id, first.slot, first.storage, disk.slot, disk.storage
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let same = from_template.iter().all(|(_, d, t)| d.storage == t.storage);
    Ok((!same).then(|| first.storage.clone()))
}

/// Checks a clone's disk list against its template at plan: every template disk listed
/// (or the list left out), none smaller than the template's, storages a clone can give.
pub fn check_clone_disks(
    disks: &[Disk],
    clone: &CloneFrom,
    template_disks: &[Disk],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for template in template_disks {
        if !disks.iter().any(|d| d.slot == template.slot) {
            errors.push(FieldError::new(
                vec![field("disks")],
                format!(
                    "template {} has disk {} ({} GB on {}), which disks does not list: add {{ slot = {:?}, storage = {:?}, size_gb = {} }} (or larger), or leave disks out to keep the template's disks as they are",
                    clone.template_id,
                    template.slot,
                    trim_gb(template.size_gb),
                    template.storage,
                    template.slot,
                    template.storage,
                    trim_gb(template.size_gb)
                ),
            ));
        }
    }
    errors.extend(check_disks(
        disks,
        template_disks,
        &format!("template {}", clone.template_id),
    ));
    if let Err(e) = clone_target_storage(Some(disks), clone, template_disks) {
        errors.extend(e);
    }
    errors
}

/// Reads a template's disks, for checking a clone's disk list at plan.
pub async fn template_disks(
    client: &Client,
    template_id: u32,
) -> Result<Option<(String, Vec<Disk>)>, ProxmoxError> {
    let Some(guest) = client.find_guest(template_id).await? else {
        return Ok(None);
    };
    let config = client
        .get(
            &format!("/nodes/{}/qemu/{template_id}/config", guest.node),
            &[],
        )
        .await?;
    let map: BTreeMap<String, String> = config
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| props::json_text(v).map(|t| (k.clone(), t)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((guest.node, disks_from(&map))))
}
