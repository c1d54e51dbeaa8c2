//! Changing containers in Proxmox: create from the OS template (every argument in the
//! create request, then start), update through the flow VMs and containers share, and
//! delete.

use std::sync::atomic::{AtomicU32, Ordering};

use super::args::Container;
use super::network::render_nic;
use super::plan::plan;
use super::read::{read, ContainerActual};
use crate::deadline::Deadline;
use crate::proxmox::client::Client;
use crate::proxmox::error::ProxmoxError;
use crate::proxmox::guest_config::trim_gb;
use crate::proxmox::guest_flow::{self, failed_create, wait_created, CreateFailure};
use crate::proxmox::guests::{self, Kind};
use crate::proxmox::props;

/// Creates the container from its OS template, starts it when asked, and reads it back.
/// `created` gets the id as soon as the container exists.
pub async fn create(
    client: &Client,
    spec: &Container,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<ContainerActual, CreateFailure> {
    let (vmid, data) = client
        .create_with_id(spec.vm_id, deadline, |id| {
            let mut params: Vec<(String, String)> = vec![
                ("vmid".into(), id.to_string()),
                ("ostemplate".into(), spec.ostemplate.clone()),
                ("hostname".into(), spec.hostname.clone()),
                ("cores".into(), spec.cores.to_string()),
                ("memory".into(), spec.memory.to_string()),
                ("swap".into(), spec.swap.to_string()),
                (
                    "rootfs".into(),
                    format!("{}:{}", spec.rootfs.storage, trim_gb(spec.rootfs.size_gb)),
                ),
                (
                    "unprivileged".into(),
                    props::bool_text(spec.unprivileged).into(),
                ),
                ("onboot".into(), props::bool_text(spec.on_boot).into()),
            ];
            for (i, nic) in spec.network.iter().enumerate() {
                params.push((format!("net{i}"), render_nic(nic, None)));
            }
            if spec.features.nesting {
                params.push(("features".into(), "nesting=1".into()));
            }
            if !spec.ssh_keys.is_empty() {
                params.push(("ssh-public-keys".into(), spec.ssh_keys.join("\n") + "\n"));
            }
            if let Some(password) = &spec.password {
                params.push(("password".into(), password.expose().to_string()));
            }
            if !spec.tags.is_empty() {
                let joined: Vec<&str> = spec.tags.iter().map(String::as_str).collect();
                params.push(("tags".into(), joined.join(";")));
            }
            if !spec.description.is_empty() {
                params.push(("description".into(), spec.description.clone()));
            }
            let path = format!("/nodes/{}/lxc", spec.node);
            async move {
                let refs: Vec<(&str, String)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                guests::post_create(client, Kind::Lxc, &spec.node, id, &path, &refs).await
            }
        })
        .await?;
    created.store(vmid, Ordering::SeqCst);
    let fail = CreateFailure::at;
    let waited = wait_created(
        client,
        Kind::Lxc,
        &spec.node,
        vmid,
        &data,
        &format!("creation of container {vmid}"),
        deadline,
    )
    .await;
    if let Err(error) = waited {
        return Err(failed_create(client, Kind::Lxc, &spec.node, vmid, error).await);
    }
    if spec.started {
        guests::start(client, Kind::Lxc, &spec.node, vmid, deadline)
            .await
            .map_err(fail(vmid))?;
    }
    client.invalidate_guests().await;
    read(client, &spec.node, vmid, true)
        .await
        .map_err(fail(vmid))?
        .ok_or_else(|| CreateFailure {
            vmid: None,
            error: ProxmoxError::Conflict(format!(
                "container {vmid} disappeared right after it was created"
            )),
        })
}

/// The result of an update.
pub type Updated = guest_flow::Updated<ContainerActual>;

/// Brings container `vmid` to `desired`.
pub async fn update(
    client: &Client,
    node: &str,
    vmid: u32,
    desired: &Container,
    deadline: &Deadline,
) -> Result<Updated, ProxmoxError> {
    let updated = guest_flow::update(
        client,
        node,
        vmid,
        desired.reboot_after_update,
        |actual: &ContainerActual| plan(desired, actual),
        deadline,
    )
    .await?;
    client.invalidate_guests().await;
    Ok(updated)
}

/// The message for changes that wait for the container's next start.
pub(super) fn pending_warning(vmid: u32, keys: &[String]) -> String {
    format!(
        "container {vmid} runs with changes Proxmox applies at its next start: {}. Reboot it, or set reboot_after_update = true to have the next apply reboot it.",
        keys.join(", ")
    )
}

/// Shuts the container down and destroys it with its volumes.
pub async fn delete(
    client: &Client,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    guests::destroy(client, Kind::Lxc, node, vmid, deadline).await
}
