//! `homelab_proxmox_vm`: a QEMU VM on Proxmox VE. The capability (validation, read, plan,
//! clone/create, update, delete) is `lab::proxmox::vm`; the resource is the shared guest
//! skeleton (`proxmox_guest.rs`) over it. Import IDs are `node/vmid`.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use lab::deadline::Deadline;
use lab::proxmox::vm::{self, CreateFailure, Vm, VmActual};
use lab::proxmox::{Client, ProxmoxError};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use super::proxmox_guest::{strings, Found, Guest, GuestResource};
use crate::config::proxmox as pve;
use crate::config::ProviderState;
use crate::kit::{Backend, Definition, ErrorPaths, Kit};

pub const TYPE_NAME: &str = "homelab_proxmox_vm";

/// The resource: the guest skeleton over [`VmGuest`].
pub type ProxmoxVmResource = GuestResource<VmGuest>;

pub struct VmGuest;

/// Where a PVE parameter comes from, for pointing Proxmox's per-field errors.
fn pve_field_path(spec: Option<&Vm>, field: &str) -> Option<AttrPath> {
    {
        let top = |name: &str| Some(AttrPath::attr(name));
        let ci = |name: &str| Some(AttrPath::attr("cloud_init").then_attr(name));
        match field {
            "name" | "cores" | "sockets" | "memory" | "tags" | "description" => top(field),
            "onboot" => top("on_boot"),
            "agent" => Some(AttrPath::attr("agent").then_attr("enabled")),
            "newid" | "vmid" => top("vm_id"),
            "ciuser" => ci("user"),
            "cipassword" => ci("password"),
            "sshkeys" => ci("ssh_keys"),
            "ipconfig0" => ci("ipv4"),
            "nameserver" => ci("dns_servers"),
            "searchdomain" => ci("dns_domain"),
            "ide0" => top("iso"),
            "ide2" => ci("storage"),
            "storage" => top("disks"),
            other => {
                if let Some(i) = lab::proxmox::props::key_index(other, "net") {
                    return Some(AttrPath::attr("network").then_index(i64::from(i)));
                }
                let disks = spec.and_then(|s| s.disks.as_ref())?;
                let i = disks.iter().position(|d| d.slot == other)?;
                Some(AttrPath::attr("disks").then_index(i as i64))
            }
        }
    }
}

fn found(actual: VmActual) -> Found<Vm> {
    Found {
        running: actual.running(),
        node: actual.node,
        vmid: actual.vmid,
        spec: actual.spec,
        pending: actual.pending,
        template: actual.template,
    }
}

/// Agent addresses for the state: asked only when the agent is on and the VM runs.
async fn ipv4(client: &Client, found: &Found<Vm>, prior: Option<&Value>) -> Vec<String> {
    if !(found.spec.agent.enabled && found.running) {
        return Vec::new();
    }
    match vm::agent_ipv4(client, &found.node, found.vmid).await {
        Some(addresses) => addresses,
        // No answer right now: keep what was seen last rather than flap.
        None => strings(prior.and_then(|p| p.get_attr("ipv4_addresses"))),
    }
}

#[tfplugin::async_trait]
impl Guest for VmGuest {
    type Spec = Vm;
    const NOUN: &'static str = "VM";
    const PENDING_TITLE: &'static str = "Changes wait for a reboot";

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A QEMU virtual machine on Proxmox VE, cloned from a template (full or linked) or \
             created empty. Every task is awaited and its exit status checked; config locks (a \
             backup, a parallel clone) are waited out up to the `timeouts`; VMs created in \
             parallel never get the same id. Cores, memory, disks (grow only), network devices, \
             cloud-init, tags, description, `on_boot` and `started` change in place; what \
             Proxmox keeps pending until a reboot is reported (`pending_changes`) and applied by \
             `reboot_after_update`. `node`, `vm_id`, `clone` and a disk's `storage` replace the \
             VM. Changes made outside Terraform show up in the next plan. Import with \
             `node/vmid`.",
            invalid: "Invalid Proxmox VM",
            requires_replace: &["node", "vm_id", "clone"],
            sensitive: &["cloud_init.password"],
            // Arguments Proxmox fills when the configuration leaves them out. `clone` is among
            // them for Terraform 1.0.0 to 1.0.4, which crash planning a nested attribute that is neither
            // set nor computed; left out, it stays what it was (it only matters at creation).
            chosen: &[
                "vm_id",
                "iso",
                "disks",
                "network",
                "cloud_init",
                "clone",
                "network.mac_address",
                "cloud_init.storage",
            ],
            outputs: vec![
                Attribute::computed("id", Type::String).description("`node/vmid`, the import ID."),
                Attribute::computed("ipv4_addresses", Type::List(Box::new(Type::String))).description(
                    "IPv4 addresses the guest agent reports (loopback and link-local left out); empty when the agent is disabled or the VM is stopped.",
                ),
                Attribute::computed("pending_changes", Type::List(Box::new(Type::String))).description(
                    "Config keys whose new value waits for the next boot of the running VM (see `reboot_after_update`).",
                ),
            ],
            timeouts: Some(pve::timeouts(vec![
                ("create", Duration::from_secs(30 * 60)),
                ("update", Duration::from_secs(30 * 60)),
                ("delete", Duration::from_secs(10 * 60)),
            ])),
            backend: Backend::Proxmox,
            errors: ErrorPaths::TopLevel,
            refreshed: &["ipv4_addresses", "pending_changes"],
            ..Definition::default()
        }
    }

    fn node(spec: &Vm) -> &str {
        &spec.node
    }

    fn field_path(spec: Option<&Vm>, field: &str) -> Option<AttrPath> {
        pve_field_path(spec, field)
    }

    async fn read(
        client: &Client,
        node: &str,
        vmid: u32,
        fresh: bool,
    ) -> Result<Option<Found<Vm>>, ProxmoxError> {
        Ok(vm::read(client, node, vmid, fresh).await?.map(found))
    }

    async fn create(
        client: &Client,
        spec: &Vm,
        deadline: &Deadline,
    ) -> Result<Found<Vm>, CreateFailure> {
        vm::create(client, spec, deadline, &AtomicU32::new(0))
            .await
            .map(found)
    }

    async fn update(
        client: &Client,
        vmid: u32,
        spec: &Vm,
        prior: &Vm,
        deadline: &Deadline,
    ) -> Result<(Found<Vm>, Vec<String>), ProxmoxError> {
        let prior_password = prior.cloud_init.as_ref().and_then(|c| c.password.as_ref());
        let updated = vm::update(client, &prior.node, vmid, spec, prior_password, deadline).await?;
        Ok((found(updated.actual), updated.warnings))
    }

    async fn delete(
        client: &Client,
        node: &str,
        vmid: u32,
        deadline: &Deadline,
    ) -> Result<(), ProxmoxError> {
        vm::delete(client, node, vmid, deadline).await
    }

    fn keep_unreadable(found: &mut Vm, declared: &Vm) {
        vm::keep_unreadable(found, declared);
    }

    async fn state(
        kit: &Kit,
        client: &Client,
        found: &Found<Vm>,
        prior: Option<&Value>,
        keep: &Value,
    ) -> Result<Value, Diagnostics> {
        let ipv4 = ipv4(client, found, prior).await;
        kit.state(
            &found.spec,
            &[
                ("id", format!("{}/{}", found.node, found.vmid).into()),
                ("ipv4_addresses", ipv4.into()),
                ("pending_changes", found.pending.clone().into()),
            ],
            keep,
        )
    }

    async fn plan_create(provider: &ProviderState, kit: &Kit, spec: &Vm) -> Diagnostics {
        check_template(provider, kit, spec).await
    }

    const MAY_BE_UNKNOWN: &'static [&'static str] = &[
        "id",
        "ipv4_addresses",
        "pending_changes",
        "vm_id",
        "iso",
        "disks",
        "network",
        "cloud_init",
    ];
    fn reboot_after_update(spec: &Vm) -> bool {
        spec.reboot_after_update
    }

    fn pending_warning(vmid: u32, keys: &[String]) -> String {
        vm::pending_warning(vmid, keys)
    }

    fn plan_update(
        change: &mut PlanChange<'_>,
        kit: &Kit,
        prior: &Vm,
        planned: &Vm,
    ) -> Diagnostics {
        // Proxmox does not record the template: after an import `clone` is unknown, and
        // setting it only records it; it never replaces the VM.
        if prior.clone.is_none() {
            change
                .requires_replace
                .retain(|p| p.first_attr() != Some("clone"));
        }
        let (Some(before), Some(after)) = (&prior.disks, &planned.disks) else {
            return Diagnostics::new();
        };
        let shrink = vm::check_disks(after, before, &format!("VM {}", prior.vm_id.unwrap_or(0)));
        if !shrink.is_empty() {
            return kit.field_errors(&shrink);
        }
        for (i, disk) in after.iter().enumerate() {
            if before
                .iter()
                .any(|d| d.slot == disk.slot && d.storage != disk.storage)
            {
                change.requires_replace.push(
                    AttrPath::attr("disks")
                        .then_index(i as i64)
                        .then_attr("storage"),
                );
            }
        }
        Diagnostics::new()
    }
}

/// Plan-time checks of a clone's disks against its template (one request, creates only).
async fn check_template(provider: &ProviderState, kit: &Kit, spec: &Vm) -> Diagnostics {
    let (Some(clone), Some(disks), Some(client)) =
        (&spec.clone, &spec.disks, provider.proxmox.ready())
    else {
        return Diagnostics::new();
    };
    match vm::template_disks(&client, clone.template_id).await {
        Ok(Some((_, template))) => {
            kit.field_errors(&vm::check_clone_disks(disks, clone, &template))
        }
        Ok(None) => Diagnostic::error(
            kit.definition.invalid,
            format!(
                "clone.template_id: template {} does not exist in the cluster",
                clone.template_id
            ),
        )
        .at(AttrPath::attr("clone").then_attr("template_id"))
        .into(),
        Err(e) => pve::error("Cannot read the template", &e, &|_| None),
    }
}
