//! Changing VMs in Proxmox: create (a clone or an empty VM, then every argument in one
//! config change, start, and the agent's address when asked), update through the flow VMs
//! and containers share, and delete.

use std::sync::atomic::{AtomicU32, Ordering};

use super::agent::wait_for_ipv4;
use super::args::Vm;
use super::clone::clone_template;
use super::disks::{iso_value, new_disk_value, ISO_SLOT};
use super::network::render_nic;
use super::plan::{plan, VmChanges};
use super::read::{read, VmActual};
use crate::deadline::Deadline;
use crate::proxmox::client::Client;
use crate::proxmox::error::ProxmoxError;
use crate::proxmox::guest_flow::{
    self, failed_create, plan_conflict, wait_created, CreateFailure, Planned,
};
use crate::proxmox::guests::{self, Kind};
use crate::secret::Secret;

/// Clones or creates the VM, applies every argument, starts it and waits for the agent
/// when asked. Returns the VM as read at the end.
/// `created` gets the VM id as soon as a VM exists, so a caller that stops waiting still
/// knows what to record.
pub async fn create(
    client: &Client,
    spec: &Vm,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<VmActual, CreateFailure> {
    let vmid = match &spec.clone {
        Some(clone) => clone_template(client, spec, clone, deadline, created).await?,
        None => create_empty(client, spec, deadline, created).await?,
    };
    let fail = CreateFailure::at;
    let actual = read(client, &spec.node, vmid, true)
        .await
        .map_err(fail(vmid))?
        .ok_or_else(|| CreateFailure {
            vmid: None,
            error: ProxmoxError::Conflict(format!(
                "VM {vmid} disappeared right after it was created"
            )),
        })?;
    let changes = plan(spec, &actual, None, true)
        .map_err(plan_conflict)
        .map_err(fail(vmid))?;
    apply_changes(client, &actual, &changes, deadline)
        .await
        .map_err(fail(vmid))?;
    if spec.started && spec.agent.wait_for_ip {
        let agent_deadline = deadline.within(spec.agent_timeout(), "agent.timeout");
        wait_for_ipv4(client, &actual.node, vmid, &agent_deadline)
            .await
            .map_err(fail(vmid))?;
    }
    client.invalidate_guests().await;
    read(client, &actual.node, vmid, true)
        .await
        .map_err(fail(vmid))?
        .ok_or_else(|| CreateFailure {
            vmid: None,
            error: ProxmoxError::Conflict(format!("VM {vmid} disappeared while it was configured")),
        })
}

async fn create_empty(
    client: &Client,
    spec: &Vm,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<u32, CreateFailure> {
    let (vmid, data) = client
        .create_with_id(spec.vm_id, deadline, |id| {
            let mut params: Vec<(&str, String)> = vec![
                ("vmid", id.to_string()),
                ("name", spec.name.clone()),
                ("cores", spec.cores.to_string()),
                ("sockets", spec.sockets.to_string()),
                ("memory", spec.memory.to_string()),
                ("ostype", "l26".to_string()),
                ("scsihw", "virtio-scsi-single".to_string()),
            ];
            let mut owned: Vec<(String, String)> = Vec::new();
            for disk in spec.disks.iter().flatten() {
                owned.push((disk.slot.clone(), new_disk_value(disk)));
            }
            for (i, nic) in spec.network.iter().flatten().enumerate() {
                owned.push((format!("net{i}"), render_nic(nic, None)));
            }
            if let Some(iso) = &spec.iso {
                params.push((ISO_SLOT, iso_value(iso)));
            }
            let path = format!("/nodes/{}/qemu", spec.node);
            async move {
                let mut all: Vec<(&str, String)> = params;
                for (k, v) in &owned {
                    all.push((k.as_str(), v.clone()));
                }
                guests::post_create(client, Kind::Qemu, &spec.node, id, &path, &all).await
            }
        })
        .await?;
    created.store(vmid, Ordering::SeqCst);
    let waited = wait_created(
        client,
        Kind::Qemu,
        &spec.node,
        vmid,
        &data,
        &format!("creation of VM {vmid}"),
        deadline,
    )
    .await;
    match waited {
        Ok(()) => Ok(vmid),
        Err(e) => Err(failed_create(client, Kind::Qemu, &spec.node, vmid, e).await),
    }
}

/// Carries out changes on a VM: one config request, disk growth, then power.
pub async fn apply_changes(
    client: &Client,
    actual: &VmActual,
    changes: &VmChanges,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let requests = changes.requests(actual.vmid);
    guest_flow::send(
        client,
        Kind::Qemu,
        &actual.node,
        actual.vmid,
        &requests,
        deadline,
    )
    .await
}

/// The result of an update.
pub type Updated = guest_flow::Updated<VmActual>;

/// Brings VM `vmid` to `desired`: config, disks, power; reboots for pending changes when
/// `reboot_after_update` says so, otherwise reports them; waits for the agent when asked.
pub async fn update(
    client: &Client,
    node: &str,
    vmid: u32,
    desired: &Vm,
    prior_password: Option<&Secret>,
    deadline: &Deadline,
) -> Result<Updated, ProxmoxError> {
    let updated = guest_flow::update(
        client,
        node,
        vmid,
        desired.reboot_after_update,
        |actual: &VmActual| plan(desired, actual, prior_password, false),
        deadline,
    )
    .await?;
    if desired.started && desired.agent.wait_for_ip {
        let agent_deadline = deadline.within(desired.agent_timeout(), "agent.timeout");
        wait_for_ipv4(client, &updated.actual.node, vmid, &agent_deadline).await?;
    }
    client.invalidate_guests().await;
    Ok(updated)
}

/// The message for changes that wait for a reboot.
pub fn pending_warning(vmid: u32, keys: &[String]) -> String {
    format!(
        "VM {vmid} runs with changes Proxmox applies at the next boot: {}. Reboot the VM, or set reboot_after_update = true to have the next apply reboot it.",
        keys.join(", ")
    )
}

/// Shuts the VM down (stopping it if it does not power off in time) and destroys it with
/// its disks. Waits out config locks (a running backup) until `deadline`. A VM that does
/// not exist is already deleted.
pub async fn delete(
    client: &Client,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    guests::destroy(client, Kind::Qemu, node, vmid, deadline).await
}
