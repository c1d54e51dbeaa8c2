//! `homelab_proxmox_vm`: a QEMU VM on Proxmox VE. The capability (validation, read, plan,
//! clone/create, update, delete) is `lab::proxmox::vm`; this file maps Terraform values to
//! it. Import IDs are `node/vmid`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lab::proxmox::vm::{self, Vm, VmActual};
use lab::proxmox::{Client, ProxmoxError};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, AttributeType, Block, Schema};
use tfplugin::serde_bridge;

use crate::config::proxmox::{self as pve, args_from, fill_from, unknowns_to_null, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};

pub const TYPE_NAME: &str = "homelab_proxmox_vm";
const SUMMARY: &str = "Invalid Proxmox VM";
/// Attributes Terraform adds to the capability's arguments.
const EXTRA: &[&str] = &["id", "ipv4_addresses", "pending_changes", "timeouts"];
/// Arguments Proxmox fills when the configuration leaves them out. `clone` is among them
/// for Terraform 1.0, which crashes planning a nested attribute that is neither set nor
/// computed; left out, it stays what it was (it only matters when the VM is created).
const CHOSEN: &[&str] = &["vm_id", "iso", "disks", "network", "cloud_init", "clone"];
const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub struct ProxmoxVmResource {
    state: Arc<ProviderState>,
}

impl ProxmoxVmResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

/// Finds an attribute by path (`["network", "mac_address"]`) in a block of nested attributes.
pub(crate) fn attribute_mut<'a>(block: &'a mut Block, path: &[&str]) -> Option<&'a mut Attribute> {
    let (first, rest) = path.split_first()?;
    let attribute = block.attributes.iter_mut().find(|a| a.name == *first)?;
    let mut current = attribute;
    for name in rest {
        let AttributeType::Nested { attributes, .. } = &mut current.ty else {
            return None;
        };
        current = attributes.iter_mut().find(|a| a.name == *name)?;
    }
    Some(current)
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema =
            serde_json::to_value(schemars::schema_for!(Vm)).expect("a JSON schema serialises");
        let mut block = derive::block_from_json_schema(
            "A QEMU virtual machine on Proxmox VE, cloned from a template (full or linked) or \
             created empty. Every task is awaited and its exit status checked; config locks (a \
             backup, a parallel clone) are waited out up to the `timeouts`; VMs created in \
             parallel never get the same id. Cores, memory, disks (grow only), network devices, \
             cloud-init, tags, description, `on_boot` and `started` change in place; what \
             Proxmox keeps pending until a reboot is reported (`pending_changes`) and applied by \
             `reboot_after_update`. `node`, `vm_id`, `clone` and a disk's `storage` replace the \
             VM. Changes made outside Terraform show up in the next plan. Import with \
             `node/vmid`.",
            &json_schema,
            Annotations {
                blocks: &[],
                requires_replace: &["node", "vm_id", "clone"],
                skip: &[],
                sensitive: &[],
                extra: vec![
                    Attribute::computed("id", Type::String)
                        .description("`node/vmid`, the import ID."),
                    Attribute::computed("ipv4_addresses", Type::List(Box::new(Type::String)))
                        .description(
                            "IPv4 addresses the guest agent reports (loopback and link-local left out); empty when the agent is disabled or the VM is stopped.",
                        ),
                    Attribute::computed("pending_changes", Type::List(Box::new(Type::String)))
                        .description(
                            "Config keys whose new value waits for the next boot of the running VM (see `reboot_after_update`).",
                        ),
                ],
            },
        );
        for name in CHOSEN {
            if let Some(a) = attribute_mut(&mut block, &[name]) {
                a.computed = true;
            }
        }
        if let Some(a) = attribute_mut(&mut block, &["network", "mac_address"]) {
            a.computed = true;
        }
        if let Some(a) = attribute_mut(&mut block, &["cloud_init", "storage"]) {
            a.computed = true;
        }
        if let Some(a) = attribute_mut(&mut block, &["cloud_init", "password"]) {
            a.sensitive = true;
        }
        let block = block.block(pve::timeouts_block(&[
            ("create", "30m"),
            ("update", "30m"),
            ("delete", "10m"),
        ]));
        Schema::new(0, block)
    })
}

fn spec_from(value: &Value) -> Result<Vm, Diagnostics> {
    // Values Proxmox fills in (unknown while planning a create) count as left out.
    args_from(&unknowns_to_null(value), EXTRA)
        .map_err(|e| Diagnostic::error(SUMMARY, format!("cannot read the arguments: {e}")).into())
}

/// The state for a VM as read, keeping `timeouts` from `keep`.
fn state_from(actual: &VmActual, ipv4: &[String], keep: &Value) -> Result<Value, Diagnostics> {
    let mut json = serde_json::to_value(&actual.spec)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot record the VM", e.to_string())))?;
    if let Some(object) = json.as_object_mut() {
        object.insert(
            "id".into(),
            format!("{}/{}", actual.node, actual.vmid).into(),
        );
        object.insert("ipv4_addresses".into(), ipv4.into());
        object.insert("pending_changes".into(), actual.pending.clone().into());
    }
    let mut value = serde_bridge::from_json(&json, &schema().value_type())
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot record the VM", e)))?;
    if let Some(timeouts) = keep.get_attr("timeouts") {
        value.set_attr("timeouts", timeouts.clone());
    }
    Ok(value)
}

/// Where a PVE parameter comes from, for pointing Proxmox's per-field errors.
fn pve_field_path(spec: Option<&Vm>) -> impl Fn(&str) -> Option<AttrPath> + '_ {
    move |field: &str| {
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

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_elements)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl ProxmoxVmResource {
    fn client(&self) -> Result<Arc<Client>, Diagnostics> {
        self.state.proxmox.client(TYPE_NAME)
    }

    /// Agent addresses for the state: asked only when the agent is on and the VM runs.
    async fn ipv4(&self, client: &Client, actual: &VmActual, prior: Option<&Value>) -> Vec<String> {
        if !(actual.spec.agent.enabled && actual.running()) {
            return Vec::new();
        }
        match vm::agent_ipv4(client, &actual.node, actual.vmid).await {
            Some(found) => found,
            // No answer right now: keep what was seen last rather than flap.
            None => strings(prior.and_then(|p| p.get_attr("ipv4_addresses"))),
        }
    }

    /// The best state after a failure on a VM that exists, so Terraform keeps tracking it.
    async fn state_after_failure(
        &self,
        client: &Client,
        node: &str,
        vmid: u32,
        declared: &Vm,
        request: &ApplyRequest<'_>,
    ) -> Value {
        if let Ok(Some(mut actual)) = vm::read(client, node, vmid, true).await {
            vm::keep_unreadable(&mut actual.spec, declared);
            if let Ok(state) = state_from(&actual, &[], request.planned) {
                return state;
            }
        }
        let mut state = if request.prior.is_null() {
            unknowns_to_null(request.planned)
        } else {
            request.prior.clone()
        };
        state.set_attr("vm_id", Value::Number(i64::from(vmid).into()));
        state.set_attr("id", Value::String(format!("{node}/{vmid}")));
        state
    }

    /// Plan-time checks of a clone's disks against its template (one request, creates only).
    async fn check_template(&self, spec: &Vm) -> Diagnostics {
        let (Some(clone), Some(disks), Some(client)) =
            (&spec.clone, &spec.disks, self.state.proxmox.ready())
        else {
            return Diagnostics::new();
        };
        match vm::template_disks(&client, clone.template_id).await {
            Ok(Some((_, template))) => {
                pve::field_errors(SUMMARY, &vm::check_clone_disks(disks, clone, &template))
            }
            Ok(None) => Diagnostic::error(
                SUMMARY,
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
}

fn timeout_error(e: &ProxmoxError) -> bool {
    matches!(e, ProxmoxError::Timeout { .. })
}

#[tfplugin::async_trait]
impl Resource for ProxmoxVmResource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_known::<Vm, _>(SUMMARY, config, &schema().value_type(), EXTRA, Vm::validate)
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        let creating = change.prior.is_null();
        // The configuration, not the plan: attributes Proxmox fills are checked as given.
        let mut diags = self.validate(change.config).await;
        if diags.has_errors() {
            return diags;
        }
        if let Err(e) = self.client() {
            if !self.state.proxmox.unknown() {
                return e;
            }
        }
        if !creating {
            pve::keep_prior_unknowns(&mut change.planned, change.prior, change.config);
        }
        if !change.planned.is_known_except(&[
            "id",
            "ipv4_addresses",
            "pending_changes",
            "vm_id",
            "iso",
            "disks",
            "network",
            "cloud_init",
        ]) {
            if !creating {
                change.planned.set_attr("ipv4_addresses", Value::unknown());
                change.planned.set_attr("pending_changes", Value::unknown());
            }
            return diags;
        }
        if creating {
            if let Ok(spec) = spec_from(&args_only(&change.planned)) {
                diags.extend(self.check_template(&spec).await);
            }
            return diags;
        }
        let (Ok(prior), Ok(planned)) = (
            spec_from(change.prior),
            spec_from(&args_only(&change.planned)),
        ) else {
            return diags;
        };
        // Proxmox does not record the template: after an import `clone` is unknown, and
        // setting it only records it; it never replaces the VM.
        if prior.clone.is_none() {
            change
                .requires_replace
                .retain(|p| p.first_attr() != Some("clone"));
        }
        if let (Some(before), Some(after)) = (&prior.disks, &planned.disks) {
            let shrink =
                vm::check_disks(after, before, &format!("VM {}", prior.vm_id.unwrap_or(0)));
            if !shrink.is_empty() {
                diags.extend(pve::field_errors(SUMMARY, &shrink));
                return diags;
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
        }
        let pending = strings(change.prior.get_attr("pending_changes"));
        if !pending.is_empty() {
            if planned.reboot_after_update {
                change.planned.set_attr("pending_changes", Value::unknown());
            } else {
                diags.push(Diagnostic::warning(
                    "Changes wait for a reboot",
                    vm::pending_warning(prior.vm_id.unwrap_or(0), &pending),
                ));
            }
        }
        let changed = |name: &str| {
            let before = change.prior.get_attr(name).unwrap_or(&Value::Null);
            let after = change.planned.get_attr(name).unwrap_or(&Value::Null);
            !before.sem_eq(after)
        };
        let any_change = schema()
            .block
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| !["id", "ipv4_addresses", "pending_changes"].contains(n))
            .any(changed);
        if any_change {
            change.planned.set_attr("ipv4_addresses", Value::unknown());
            change.planned.set_attr("pending_changes", Value::unknown());
        }
        diags
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        let client = match self.client() {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let spec = match spec_from(&args_only(request.planned)) {
            Ok(s) => s,
            Err(d) => return Outcome::failed(d),
        };
        let deadline = match pve::deadline(request.planned, "create", CREATE_TIMEOUT) {
            Ok(d) => d,
            Err(d) => return Outcome::failed(d),
        };
        let created = AtomicU32::new(0);
        let result = pve::cancellable(
            request.ctx,
            "creating the VM",
            vm::create(&client, &spec, &deadline, &created),
        )
        .await;
        let field_path = pve_field_path(Some(&spec));
        let failure = match result {
            Ok(Ok(actual)) => {
                let ipv4 = self.ipv4(&client, &actual, None).await;
                return match state_from(&actual, &ipv4, request.planned) {
                    Ok(state) => Outcome::ok(fill_from(request.planned, &state)),
                    Err(d) => Outcome::failed(d),
                };
            }
            Ok(Err(failure)) => (
                failure.vmid,
                pve::error("Cannot create the Proxmox VM", &failure.error, &field_path),
            ),
            Err(interrupted) => (
                Some(created.load(Ordering::SeqCst)).filter(|v| *v != 0),
                interrupted,
            ),
        };
        match failure {
            // The VM exists: record it (Terraform marks it tainted), so nothing is orphaned
            // and the next apply replaces it.
            (Some(vmid), diagnostics) => Outcome {
                state: self
                    .state_after_failure(&client, &spec.node, vmid, &spec, &request)
                    .await,
                private: Vec::new(),
                diagnostics,
            },
            (None, diagnostics) => Outcome::failed(diagnostics),
        }
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        let client = match self.client() {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let (spec, prior) = match (
            spec_from(&args_only(request.planned)),
            spec_from(request.prior),
        ) {
            (Ok(s), Ok(p)) => (s, p),
            (Err(d), _) | (_, Err(d)) => return Outcome::failed(d),
        };
        let deadline = match pve::deadline(request.planned, "update", UPDATE_TIMEOUT) {
            Ok(d) => d,
            Err(d) => return Outcome::failed(d),
        };
        let Some(vmid) = pve::vmid_of(request.prior) else {
            return Outcome::failed(
                Diagnostic::error("Cannot update the Proxmox VM", "no vm_id in state").into(),
            );
        };
        let prior_password = prior.cloud_init.as_ref().and_then(|c| c.password.as_ref());
        let result = pve::cancellable(
            request.ctx,
            "updating the VM",
            vm::update(&client, &prior.node, vmid, &spec, prior_password, &deadline),
        )
        .await;
        match result {
            Ok(Ok(mut updated)) => {
                vm::keep_unreadable(&mut updated.actual.spec, &spec);
                let ipv4 = self
                    .ipv4(&client, &updated.actual, Some(request.prior))
                    .await;
                let mut outcome = match state_from(&updated.actual, &ipv4, request.planned) {
                    Ok(state) => Outcome::ok(fill_from(request.planned, &state)),
                    Err(d) => return Outcome::failed(d),
                };
                for warning in updated.warnings {
                    outcome
                        .diagnostics
                        .push(Diagnostic::warning("Changes wait for a reboot", warning));
                }
                outcome
            }
            Ok(Err(e)) => {
                let mut diagnostics = pve::error(
                    "Cannot update the Proxmox VM",
                    &e,
                    &pve_field_path(Some(&spec)),
                );
                if timeout_error(&e) {
                    diagnostics.push(Diagnostic::warning(
                        "The VM may be half-way through the change",
                        "Proxmox may still be working on it; the next plan shows what is left to do.",
                    ));
                }
                Outcome {
                    state: self
                        .state_after_failure(&client, &prior.node, vmid, &spec, &request)
                        .await,
                    private: Vec::new(),
                    diagnostics,
                }
            }
            Err(interrupted) => Outcome {
                state: self
                    .state_after_failure(&client, &prior.node, vmid, &spec, &request)
                    .await,
                private: Vec::new(),
                diagnostics: interrupted,
            },
        }
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        match self.client() {
            Ok(client) => {
                pve::delete_guest(&request, &client, "VM", DELETE_TIMEOUT, vm::delete).await
            }
            Err(d) => d,
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let client = match self.client() {
            Ok(c) => c,
            Err(d) => {
                return Outcome {
                    state: state.clone(),
                    private: private.to_vec(),
                    diagnostics: d,
                }
            }
        };
        let Some((node, vmid)) = pve::guest_location(state) else {
            return Outcome::ok(Value::Null);
        };
        let prior = match spec_from(state) {
            Ok(p) => p,
            Err(d) => return Outcome::failed(d),
        };
        let mut actual = match vm::read(&client, node, vmid, false).await {
            Ok(Some(actual)) => actual,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome {
                    state: state.clone(),
                    private: private.to_vec(),
                    diagnostics: pve::error("Cannot read the Proxmox VM", &e, &|_| None),
                }
            }
        };
        vm::keep_unreadable(&mut actual.spec, &prior);
        let ipv4 = self.ipv4(&client, &actual, Some(state)).await;
        match state_from(&actual, &ipv4, state) {
            Ok(new_state) => Outcome {
                state: new_state,
                private: private.to_vec(),
                diagnostics: Diagnostics::new(),
            },
            Err(d) => Outcome::failed(d),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        let (node, vmid) = parse_import_id(id, "VM")?;
        let client = self.client()?;
        let mut actual = vm::read(&client, &node, vmid, true)
            .await
            .map_err(|e| pve::error("Cannot import the Proxmox VM", &e, &|_| None))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the Proxmox VM",
                    format!("there is no VM {vmid} on node {node}"),
                ))
            })?;
        if actual.template {
            return Err(Diagnostic::error(
                "Cannot import the Proxmox VM",
                format!("VM {vmid} is a template; templates are not managed by {TYPE_NAME}"),
            )
            .into());
        }
        let defaults = actual.spec.clone();
        vm::keep_unreadable(&mut actual.spec, &defaults);
        let ipv4 = self.ipv4(&client, &actual, None).await;
        state_from(&actual, &ipv4, &Value::Null)
    }
}

/// The arguments of a value: the resource's own extras left out (so `timeouts` and the
/// computed results do not reach the capability type).
fn args_only(value: &Value) -> Value {
    let mut v = value.clone();
    if let Value::Object(fields) = &mut v {
        for name in EXTRA {
            fields.remove(*name);
        }
    }
    v
}

/// `node/vmid`.
pub(crate) fn parse_import_id(id: &str, what: &str) -> Result<(String, u32), Diagnostics> {
    let bad = || {
        Diagnostics::from(Diagnostic::error(
            "Invalid import ID",
            format!("The import ID of a Proxmox {what} is node/vmid, e.g. pve1/101; got {id:?}."),
        ))
    };
    let (node, vmid) = id.split_once('/').ok_or_else(bad)?;
    let vmid: u32 = vmid.parse().map_err(|_| bad())?;
    if lab::proxmox::checks::node_name(node).is_err() || vmid < 100 {
        return Err(bad());
    }
    Ok((node.to_string(), vmid))
}
