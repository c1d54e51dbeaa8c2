//! The QEMU guest agent: the `agent` block (read from and written to the PVE config side
//! by side), and what is asked of the agent itself: the VM's IPv4 addresses, once at a
//! refresh or waited for (bounded) after a create or update.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::deadline::{Backoff, Deadline};
use crate::proxmox::client::{Client, Method, Repeat};
use crate::proxmox::error::ProxmoxError;
use crate::proxmox::guest_config::field;
use crate::proxmox::props::{self, PropString};
use crate::validation::FieldError;

/// The QEMU guest agent.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Enable the agent device (the guest must run `qemu-guest-agent`).
    #[serde(default)]
    pub enabled: bool,

    /// After create and update, wait until the agent reports an IPv4 address. The wait is
    /// bounded by `timeout`; an agent that never answers is an error naming it.
    #[serde(default)]
    pub wait_for_ip: bool,

    /// How long to wait for the agent, e.g. `2m`.
    #[serde(default = "default_agent_timeout")]
    pub timeout: String,
}

impl Default for Agent {
    fn default() -> Self {
        Self {
            enabled: false,
            wait_for_ip: false,
            timeout: default_agent_timeout(),
        }
    }
}

fn default_agent_timeout() -> String {
    "5m".to_string()
}

/// Requests to the agent never wait longer than this for one answer.
const AGENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A refresh asks the agent once, briefly.
const AGENT_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks the `agent` block; waiting for an address needs a running VM (`started`).
pub(super) fn check(agent: &Agent, started: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(e) = crate::duration::parse(&agent.timeout) {
        errors.push(FieldError::new(vec![field("agent"), field("timeout")], e));
    }
    if agent.wait_for_ip && !agent.enabled {
        errors.push(FieldError::new(
            vec![field("agent"), field("wait_for_ip")],
            "wait_for_ip needs the agent: set agent.enabled = true".to_string(),
        ));
    }
    if agent.wait_for_ip && !started {
        errors.push(FieldError::new(
            vec![field("agent"), field("wait_for_ip")],
            "wait_for_ip needs a running VM: set started = true".to_string(),
        ));
    }
    errors
}

// ------------------------------------------------------------------------- read

pub(super) fn agent_enabled(value: Option<&String>) -> bool {
    let Some(value) = value else { return false };
    let p = PropString::parse(value);
    p.head
        .as_deref()
        .or(p.get("enabled"))
        .and_then(props::parse_bool)
        .unwrap_or(false)
}

// ------------------------------------------------------------------------- write

/// The `agent` value that turns the device on or off, keeping its other options.
pub(super) fn agent_value(current: Option<&String>, enabled: bool) -> String {
    match current {
        Some(current) => {
            let mut p = PropString::parse(current);
            if p.pairs.is_empty() || p.head.is_some() {
                p.head = Some(props::bool_text(enabled).to_string());
            } else {
                p.set("enabled", props::bool_text(enabled));
            }
            p.render()
        }
        None => props::bool_text(enabled).to_string(),
    }
}

// ------------------------------------------------------------ asking the agent

/// IPv4 addresses the guest agent reports (loopback and link-local left out). One short
/// request; None when the agent does not answer.
pub async fn agent_ipv4(client: &Client, node: &str, vmid: u32) -> Option<Vec<String>> {
    let data = client
        .call(
            Method::Get,
            &format!("/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
            &[],
            Repeat::Once,
            Some(AGENT_READ_TIMEOUT),
        )
        .await
        .ok()?;
    Some(ipv4_from_interfaces(&data))
}

pub(super) fn ipv4_from_interfaces(data: &Json) -> Vec<String> {
    let interfaces = data.get("result").unwrap_or(data);
    let mut out = Vec::new();
    for iface in interfaces.as_array().into_iter().flatten() {
        for address in iface
            .get("ip-addresses")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let kind = address.get("ip-address-type").and_then(Json::as_str);
            let Some(ip) = address.get("ip-address").and_then(Json::as_str) else {
                continue;
            };
            if kind != Some("ipv4") {
                continue;
            }
            let Ok(parsed) = ip.parse::<std::net::Ipv4Addr>() else {
                continue;
            };
            if parsed.is_loopback() || parsed.is_link_local() {
                continue;
            }
            out.push(ip.to_string());
        }
    }
    out
}

/// Waits until the guest agent reports an IPv4 address, at most until `deadline` (which
/// names the setting). Each request is bounded, so a hanging agent cannot stall it.
pub async fn wait_for_ipv4(
    client: &Client,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<Vec<String>, ProxmoxError> {
    let path = format!("/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces");
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let timeout =
            AGENT_REQUEST_TIMEOUT.min(deadline.remaining().max(Duration::from_millis(100)));
        let last_seen = match client
            .call(Method::Get, &path, &[], Repeat::Once, Some(timeout))
            .await
        {
            Ok(data) => {
                let found = ipv4_from_interfaces(&data);
                if !found.is_empty() {
                    return Ok(found);
                }
                "the agent answers but reports no IPv4 address yet".to_string()
            }
            Err(e) => e
                .pve_message()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
        };
        if !deadline.sleep(backoff.next_delay()).await {
            return Err(deadline
                .ended(
                    format!(
                        "the QEMU guest agent of VM {vmid} to report an IPv4 address (is qemu-guest-agent installed and running in the guest?)"
                    ),
                    last_seen,
                )
                .into());
        }
    }
}
