//! `homelab_proxmox_lxc`: an LXC container on Proxmox VE. The capability is
//! `lab::proxmox::lxc`; the resource is the shared guest skeleton (`proxmox_guest.rs`)
//! over it. Import IDs are `node/vmid`.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use lab::deadline::Deadline;
use lab::proxmox::lxc::{self, Container, ContainerActual};
use lab::proxmox::vm::CreateFailure;
use lab::proxmox::{Client, ProxmoxError};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use super::proxmox_guest::{Found, Guest, GuestResource};
use crate::config::proxmox as pve;
use crate::kit::{Backend, Definition, ErrorPaths, Kit};

pub const TYPE_NAME: &str = "homelab_proxmox_lxc";
/// Arguments Proxmox cannot show: after an import they are recorded, never a replacement.
const UNREADABLE: &[&str] = &["ostemplate", "ssh_keys", "password"];

/// The resource: the guest skeleton over [`LxcGuest`].
pub type ProxmoxLxcResource = GuestResource<LxcGuest>;

pub struct LxcGuest;

fn pve_field_path(field: &str) -> Option<AttrPath> {
    let top = |name: &str| Some(AttrPath::attr(name));
    match field {
        "hostname" | "cores" | "memory" | "swap" | "tags" | "description" | "ostemplate"
        | "password" | "unprivileged" => top(field),
        "onboot" => top("on_boot"),
        "vmid" => top("vm_id"),
        "rootfs" | "storage" => top("rootfs"),
        "features" => top("features"),
        "ssh-public-keys" => top("ssh_keys"),
        other => lab::proxmox::props::key_index(other, "net")
            .map(|i| AttrPath::attr("network").then_index(i64::from(i))),
    }
}

fn found(actual: ContainerActual) -> Found<Container> {
    Found {
        running: actual.running(),
        node: actual.node,
        vmid: actual.vmid,
        spec: actual.spec,
        pending: actual.pending,
        template: false,
    }
}

/// A state value with the required-but-unrecorded `ostemplate` filled (it is null after an
/// import), so it reads into the argument type.
fn with_placeholders(state: &Value) -> Value {
    let mut v = state.clone();
    if v.get_attr("ostemplate").is_some_and(Value::is_null) {
        v.set_attr("ostemplate", Value::String(String::new()));
    }
    v
}

#[tfplugin::async_trait]
impl Guest for LxcGuest {
    type Spec = Container;
    const NOUN: &'static str = "container";
    const PENDING_TITLE: &'static str = "Changes wait for a restart";
    const MAY_BE_UNKNOWN: &'static [&'static str] = &["id", "pending_changes", "vm_id", "network"];
    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "An LXC container on Proxmox VE, created from an OS template. Every task is \
             awaited and its exit status checked; config locks are waited out up to the \
             `timeouts`; containers created in parallel never get the same id. Host name, \
             cores, memory, swap, network interfaces, features, tags, description, `on_boot` \
             and `started` change in place, the root disk grows in place; `node`, `vm_id`, \
             `ostemplate`, `unprivileged`, the root disk's storage, `ssh_keys` and `password` \
             replace the container. Import with `node/vmid`.",
            invalid: "Invalid Proxmox container",
            requires_replace: &[
                "node",
                "vm_id",
                "ostemplate",
                "unprivileged",
                "ssh_keys",
                "password",
                "rootfs.storage",
            ],
            sensitive: &["password"],
            chosen: &["vm_id", "network.mac_address"],
            outputs: vec![
                Attribute::computed("id", Type::String).description("`node/vmid`, the import ID."),
                Attribute::computed("pending_changes", Type::List(Box::new(Type::String))).description(
                    "Config keys whose new value waits for the next start of the running container (see `reboot_after_update`).",
                ),
            ],
            timeouts: Some(pve::timeouts(vec![
                ("create", Duration::from_secs(30 * 60)),
                ("update", Duration::from_secs(30 * 60)),
                ("delete", Duration::from_secs(10 * 60)),
            ])),
            backend: Backend::Proxmox,
            errors: ErrorPaths::TopLevel,
            refreshed: &["pending_changes"],
            ..Definition::default()
        }
    }

    fn node(spec: &Container) -> &str {
        &spec.node
    }

    fn recorded(kit: &Kit, state: &Value) -> Result<Container, Diagnostics> {
        kit.args(&with_placeholders(state))
    }

    fn field_path(_: Option<&Container>, field: &str) -> Option<AttrPath> {
        pve_field_path(field)
    }

    async fn read(
        client: &Client,
        node: &str,
        vmid: u32,
        fresh: bool,
    ) -> Result<Option<Found<Container>>, ProxmoxError> {
        Ok(lxc::read(client, node, vmid, fresh).await?.map(found))
    }

    async fn create(
        client: &Client,
        spec: &Container,
        deadline: &Deadline,
    ) -> Result<Found<Container>, CreateFailure> {
        lxc::create(client, spec, deadline, &AtomicU32::new(0))
            .await
            .map(found)
    }

    async fn update(
        client: &Client,
        vmid: u32,
        spec: &Container,
        prior: &Container,
        deadline: &Deadline,
    ) -> Result<(Found<Container>, Vec<String>), ProxmoxError> {
        let updated = lxc::update(client, &prior.node, vmid, spec, deadline).await?;
        Ok((found(updated.actual), updated.warnings))
    }

    async fn delete(
        client: &Client,
        node: &str,
        vmid: u32,
        deadline: &Deadline,
    ) -> Result<(), ProxmoxError> {
        lxc::delete(client, node, vmid, deadline).await
    }

    fn keep_unreadable(found: &mut Container, declared: &Container) {
        lxc::keep_unreadable(found, declared);
    }

    async fn state(
        kit: &Kit,
        _client: &Client,
        found: &Found<Container>,
        _prior: Option<&Value>,
        keep: &Value,
    ) -> Result<Value, Diagnostics> {
        let mut state = kit.state(
            &found.spec,
            &[
                ("id", format!("{}/{}", found.node, found.vmid).into()),
                ("pending_changes", found.pending.clone().into()),
            ],
            keep,
        )?;
        // Not recorded by Proxmox and unknown (after an import): null, not "".
        if found.spec.ostemplate.is_empty() {
            state.set_attr("ostemplate", Value::Null);
        }
        Ok(state)
    }

    fn reboot_after_update(spec: &Container) -> bool {
        spec.reboot_after_update
    }

    fn pending_warning(vmid: u32, keys: &[String]) -> String {
        format!(
            "container {vmid} runs with changes Proxmox applies at its next start: {}. Reboot it, or set reboot_after_update = true.",
            keys.join(", ")
        )
    }

    fn plan_update(
        change: &mut PlanChange<'_>,
        kit: &Kit,
        prior: &Container,
        planned: &Container,
    ) -> Diagnostics {
        // What Proxmox does not record is unknown after an import (ostemplate null): setting
        // it then only records it, it never replaces the container.
        if change
            .prior
            .get_attr("ostemplate")
            .is_some_and(Value::is_null)
        {
            change
                .requires_replace
                .retain(|p| !p.first_attr().is_some_and(|a| UNREADABLE.contains(&a)));
        }
        kit.field_errors(&lxc::check_rootfs(
            &planned.rootfs,
            &prior.rootfs,
            prior.vm_id.unwrap_or(0),
        ))
    }
}
