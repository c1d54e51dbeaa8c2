//! Reading a VM: where it runs, its state, and its config as PVE will run it
//! (`/pending`, pending values applied) turned back into the arguments, block by block;
//! plus what PVE cannot show, kept from what was last applied ([`keep_unreadable`]).

use std::collections::BTreeMap;

use super::agent::{agent_enabled, Agent};
use super::apply::pending_warning;
use super::args::Vm;
use super::cloud_init::cloud_init_from;
use super::disks::{disks_from, iso_from};
use super::network::network_from;
use crate::proxmox::client::Client;
use crate::proxmox::error::ProxmoxError;
use crate::proxmox::guest_config::{description_from, on_boot_from, tags_from};
use crate::proxmox::guest_flow::{self, observed};
use crate::proxmox::guests::{natural_key, Kind};
use crate::proxmox::props::PropString;

/// A VM as Proxmox has it.
#[derive(Debug, Clone)]
pub struct VmActual {
    pub vmid: u32,
    pub node: String,
    /// `running`, `stopped`, `paused`, ...
    pub status: String,
    /// A config lock (`backup`, `clone`, `migrate`, ...).
    pub lock: Option<String>,
    pub template: bool,
    /// The arguments as read (what PVE cannot show is None or empty; see
    /// [`keep_unreadable`]).
    pub spec: Vm,
    /// Config keys whose new value waits for the next boot.
    pub pending: Vec<String>,
    /// The config the VM will run with (pending values applied), key by key.
    pub config: BTreeMap<String, String>,
}

impl VmActual {
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

/// Reads VM `vmid` (looked up on `node_hint`'s cluster; it may have moved). None when it
/// does not exist. With `fresh`, status and lock come from the node instead of the
/// shared cluster list. Costs one request beyond the shared list.
pub async fn read(
    client: &Client,
    node_hint: &str,
    vmid: u32,
    fresh: bool,
) -> Result<Option<VmActual>, ProxmoxError> {
    let Some((found, config, pending)) =
        guest_flow::read_config(client, Kind::Qemu, node_hint, vmid, fresh).await?
    else {
        return Ok(None);
    };
    let running = found.status == "running";
    let spec = spec_from_config(&found.node, vmid, &config, running);
    Ok(Some(VmActual {
        vmid,
        node: found.node,
        status: found.status,
        lock: found.lock,
        template: found.template,
        spec,
        pending,
        config,
    }))
}

observed!(VmActual, Kind::Qemu);

fn memory_mb(value: Option<&String>) -> u32 {
    value
        .map(|v| PropString::parse(v))
        .and_then(|p| p.head.clone().or(p.get("current").map(str::to_string)))
        .and_then(|m| m.parse().ok())
        .unwrap_or(512)
}

pub(super) fn spec_from_config(
    node: &str,
    vmid: u32,
    config: &BTreeMap<String, String>,
    running: bool,
) -> Vm {
    let number = |key: &str, default: u32| {
        config
            .get(key)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(default)
    };
    Vm {
        node: node.to_string(),
        name: config
            .get("name")
            .cloned()
            .unwrap_or_else(|| format!("VM{vmid}")),
        vm_id: Some(vmid),
        clone: None,
        iso: iso_from(config),
        cores: number("cores", 1),
        sockets: number("sockets", 1),
        memory: memory_mb(config.get("memory")),
        disks: Some(disks_from(config)),
        network: Some(network_from(config)),
        cloud_init: cloud_init_from(config),
        started: running,
        on_boot: on_boot_from(config),
        tags: tags_from(config),
        description: description_from(config),
        agent: Agent {
            enabled: agent_enabled(config.get("agent")),
            ..Agent::default()
        },
        reboot_after_update: false,
    }
}

/// Fills what PVE cannot show from what was last applied (`prior`): the template a VM came
/// from, the cloud-init password, the agent wait settings, `reboot_after_update`. Lists
/// are put in `prior`'s order (disks by slot), so a read never reorders them.
pub fn keep_unreadable(actual: &mut Vm, prior: &Vm) {
    actual.clone = prior.clone.clone();
    actual.reboot_after_update = prior.reboot_after_update;
    actual.agent.wait_for_ip = prior.agent.wait_for_ip;
    actual.agent.timeout = prior.agent.timeout.clone();
    if let (Some(ci), Some(prior_ci)) = (actual.cloud_init.as_mut(), prior.cloud_init.as_ref()) {
        ci.password = prior_ci.password.clone();
        if ci.storage.is_none() {
            ci.storage = prior_ci.storage.clone();
        }
    }
    if let (Some(disks), Some(prior_disks)) = (actual.disks.as_mut(), prior.disks.as_ref()) {
        let position = |slot: &str| {
            prior_disks
                .iter()
                .position(|d| d.slot == slot)
                .unwrap_or(usize::MAX)
        };
        disks.sort_by_key(|d| (position(&d.slot), natural_key(&d.slot)));
    }
}
