//! Reading a container: where it runs, its state, and its config as PVE will run it
//! (pending values applied) turned back into the arguments; plus what PVE keeps no record
//! of, kept from what was last applied ([`keep_unreadable`]).

use std::collections::BTreeMap;

use super::apply::pending_warning;
use super::args::{Container, Features, RootFs};
use super::network::network_from;
use crate::proxmox::client::Client;
use crate::proxmox::error::ProxmoxError;
use crate::proxmox::guest_config::{description_from, on_boot_from, tags_from};
use crate::proxmox::guest_flow::{self, observed};
use crate::proxmox::guests::Kind;
use crate::proxmox::props::{self, PropString};

/// A container as Proxmox has it.
#[derive(Debug, Clone)]
pub struct ContainerActual {
    pub vmid: u32,
    pub node: String,
    pub status: String,
    pub lock: Option<String>,
    /// The arguments as read; what PVE does not record is empty (see [`keep_unreadable`]).
    pub spec: Container,
    /// Config keys waiting for the next start.
    pub pending: Vec<String>,
    pub config: BTreeMap<String, String>,
}

impl ContainerActual {
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

/// Reads container `vmid`; None when it does not exist. One request beyond the shared
/// cluster list (two with `fresh`).
pub async fn read(
    client: &Client,
    node_hint: &str,
    vmid: u32,
    fresh: bool,
) -> Result<Option<ContainerActual>, ProxmoxError> {
    let Some((found, config, pending)) =
        guest_flow::read_config(client, Kind::Lxc, node_hint, vmid, fresh).await?
    else {
        return Ok(None);
    };
    let spec = spec_from_config(&found.node, vmid, &config, found.status == "running");
    Ok(Some(ContainerActual {
        vmid,
        node: found.node,
        status: found.status,
        lock: found.lock,
        spec,
        pending,
        config,
    }))
}

observed!(ContainerActual, Kind::Lxc);

pub(super) fn spec_from_config(
    node: &str,
    vmid: u32,
    config: &BTreeMap<String, String>,
    running: bool,
) -> Container {
    let number = |key: &str, default: u32| {
        config
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rootfs = config
        .get("rootfs")
        .map(|v| PropString::parse(v))
        .unwrap_or_default();
    let features = config
        .get("features")
        .map(|v| PropString::parse(v))
        .unwrap_or_default();
    Container {
        node: node.to_string(),
        vm_id: Some(vmid),
        hostname: config
            .get("hostname")
            .cloned()
            .unwrap_or_else(|| format!("CT{vmid}")),
        ostemplate: String::new(),
        cores: number("cores", 1),
        memory: number("memory", 512),
        swap: number("swap", 512),
        rootfs: RootFs {
            storage: rootfs
                .head
                .as_deref()
                .and_then(|h| h.split(':').next())
                .unwrap_or_default()
                .to_string(),
            size_gb: props::bytes_to_gb(
                rootfs.get("size").and_then(props::parse_size).unwrap_or(0),
            ),
        },
        network: network_from(config),
        unprivileged: config
            .get("unprivileged")
            .and_then(|v| props::parse_bool(v))
            .unwrap_or(false),
        features: Features {
            nesting: features
                .get("nesting")
                .and_then(props::parse_bool)
                .unwrap_or(false),
        },
        ssh_keys: Vec::new(),
        password: None,
        started: running,
        on_boot: on_boot_from(config),
        tags: tags_from(config),
        description: description_from(config),
        reboot_after_update: false,
    }
}

/// Fills what PVE does not record from what was last applied (`prior`): the OS template,
/// SSH keys, password and `reboot_after_update`.
pub fn keep_unreadable(actual: &mut Container, prior: &Container) {
    actual.ostemplate = prior.ostemplate.clone();
    actual.ssh_keys = prior.ssh_keys.clone();
    actual.password = prior.password.clone();
    actual.reboot_after_update = prior.reboot_after_update;
}
