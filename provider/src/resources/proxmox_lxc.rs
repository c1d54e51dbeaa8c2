//! `homelab_proxmox_lxc`: an LXC container on Proxmox VE. The capability is
//! `lab::proxmox::lxc`; this file maps Terraform values to it. Import IDs are `node/vmid`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lab::proxmox::lxc::{self, Container, ContainerActual};
use lab::proxmox::Client;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::serde_bridge;

use super::proxmox_vm::{attribute_mut, parse_import_id};
use crate::config::proxmox::{self as pve, args_from, fill_from, unknowns_to_null, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};

pub const TYPE_NAME: &str = "homelab_proxmox_lxc";
const SUMMARY: &str = "Invalid Proxmox container";
const EXTRA: &[&str] = &["id", "pending_changes", "timeouts"];
/// Arguments Proxmox cannot show: after an import they are recorded, never a replacement.
const UNREADABLE: &[&str] = &["ostemplate", "ssh_keys", "password"];
const CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub struct ProxmoxLxcResource {
    state: Arc<ProviderState>,
}

impl ProxmoxLxcResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(Container))
            .expect("a JSON schema serialises");
        let mut block = derive::block_from_json_schema(
            "An LXC container on Proxmox VE, created from an OS template. Every task is \
             awaited and its exit status checked; config locks are waited out up to the \
             `timeouts`; containers created in parallel never get the same id. Host name, \
             cores, memory, swap, network interfaces, features, tags, description, `on_boot` \
             and `started` change in place, the root disk grows in place; `node`, `vm_id`, \
             `ostemplate`, `unprivileged`, the root disk's storage, `ssh_keys` and `password` \
             replace the container. Import with `node/vmid`.",
            &json_schema,
            Annotations {
                blocks: &[],
                requires_replace: &[
                    "node",
                    "vm_id",
                    "ostemplate",
                    "unprivileged",
                    "ssh_keys",
                    "password",
                ],
                skip: &[],
                sensitive: &["password"],
                extra: vec![
                    Attribute::computed("id", Type::String)
                        .description("`node/vmid`, the import ID."),
                    Attribute::computed("pending_changes", Type::List(Box::new(Type::String)))
                        .description(
                            "Config keys whose new value waits for the next start of the running container (see `reboot_after_update`).",
                        ),
                ],
            },
        );
        if let Some(a) = attribute_mut(&mut block, &["vm_id"]) {
            a.computed = true;
        }
        if let Some(a) = attribute_mut(&mut block, &["network", "mac_address"]) {
            a.computed = true;
        }
        if let Some(a) = attribute_mut(&mut block, &["rootfs", "storage"]) {
            a.requires_replace = true;
        }
        let block = block.block(pve::timeouts_block(&[
            ("create", "30m"),
            ("update", "30m"),
            ("delete", "10m"),
        ]));
        Schema::new(0, block)
    })
}

fn spec_from(value: &Value) -> Result<Container, Diagnostics> {
    // Values Proxmox fills in (unknown while planning a create) count as left out.
    args_from(&unknowns_to_null(value), EXTRA)
        .map_err(|e| Diagnostic::error(SUMMARY, format!("cannot read the arguments: {e}")).into())
}

fn state_from(actual: &ContainerActual, keep: &Value) -> Result<Value, Diagnostics> {
    let mut json = serde_json::to_value(&actual.spec).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot record the container",
            e.to_string(),
        ))
    })?;
    if let Some(object) = json.as_object_mut() {
        object.insert(
            "id".into(),
            format!("{}/{}", actual.node, actual.vmid).into(),
        );
        object.insert("pending_changes".into(), actual.pending.clone().into());
        // Not recorded by Proxmox and unknown (after an import): null, not "".
        if actual.spec.ostemplate.is_empty() {
            object.insert("ostemplate".into(), serde_json::Value::Null);
        }
    }
    let mut value = serde_bridge::from_json(&json, &schema().value_type())
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot record the container", e)))?;
    if let Some(timeouts) = keep.get_attr("timeouts") {
        value.set_attr("timeouts", timeouts.clone());
    }
    Ok(value)
}

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

fn args_only(value: &Value) -> Value {
    let mut v = value.clone();
    if let Value::Object(fields) = &mut v {
        for name in EXTRA {
            fields.remove(*name);
        }
    }
    v
}

impl ProxmoxLxcResource {
    fn client(&self) -> Result<Arc<Client>, Diagnostics> {
        self.state.proxmox.client(TYPE_NAME)
    }

    async fn state_after_failure(
        &self,
        client: &Client,
        node: &str,
        vmid: u32,
        declared: &Container,
        request: &ApplyRequest<'_>,
    ) -> Value {
        if let Ok(Some(mut actual)) = lxc::read(client, node, vmid, true).await {
            lxc::keep_unreadable(&mut actual.spec, declared);
            if let Ok(state) = state_from(&actual, request.planned) {
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
}

#[tfplugin::async_trait]
impl Resource for ProxmoxLxcResource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_known::<Container, _>(
            SUMMARY,
            config,
            &schema().value_type(),
            EXTRA,
            Container::validate,
        )
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        let creating = change.prior.is_null();
        let mut diags = self.validate(change.config).await;
        if diags.has_errors() {
            return diags;
        }
        if let Err(e) = self.client() {
            if !self.state.proxmox.unknown() {
                return e;
            }
        }
        if creating {
            return diags;
        }
        pve::keep_prior_unknowns(&mut change.planned, change.prior, change.config);
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
        if !change
            .planned
            .is_known_except(&["id", "pending_changes", "vm_id", "network"])
        {
            change.planned.set_attr("pending_changes", Value::unknown());
            return diags;
        }
        let (Ok(prior), Ok(planned)) = (
            spec_from(&with_placeholders(change.prior)),
            spec_from(&args_only(&change.planned)),
        ) else {
            return diags;
        };
        let shrink = lxc::check_rootfs(&planned.rootfs, &prior.rootfs, prior.vm_id.unwrap_or(0));
        if !shrink.is_empty() {
            diags.extend(pve::field_errors(SUMMARY, &shrink));
            return diags;
        }
        let pending = strings(change.prior.get_attr("pending_changes"));
        if !pending.is_empty() {
            if planned.reboot_after_update {
                change.planned.set_attr("pending_changes", Value::unknown());
            } else {
                diags.push(Diagnostic::warning(
                    "Changes wait for a restart",
                    format!(
                        "container {} runs with changes Proxmox applies at its next start: {}. Reboot it, or set reboot_after_update = true.",
                        prior.vm_id.unwrap_or(0),
                        pending.join(", ")
                    ),
                ));
            }
        }
        let any_change = schema()
            .block
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| !["id", "pending_changes"].contains(n))
            .any(|name| {
                let before = change.prior.get_attr(name).unwrap_or(&Value::Null);
                let after = change.planned.get_attr(name).unwrap_or(&Value::Null);
                !before.sem_eq(after)
            });
        if any_change {
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
            "creating the container",
            lxc::create(&client, &spec, &deadline, &created),
        )
        .await;
        let failure = match result {
            Ok(Ok(mut actual)) => {
                lxc::keep_unreadable(&mut actual.spec, &spec);
                return match state_from(&actual, request.planned) {
                    Ok(state) => Outcome::ok(fill_from(request.planned, &state)),
                    Err(d) => Outcome::failed(d),
                };
            }
            Ok(Err(failure)) => (
                failure.vmid,
                pve::error(
                    "Cannot create the Proxmox container",
                    &failure.error,
                    &pve_field_path,
                ),
            ),
            Err(interrupted) => (
                Some(created.load(Ordering::SeqCst)).filter(|v| *v != 0),
                interrupted,
            ),
        };
        match failure {
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
            spec_from(&with_placeholders(request.prior)),
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
                Diagnostic::error("Cannot update the Proxmox container", "no vm_id in state")
                    .into(),
            );
        };
        let result = pve::cancellable(
            request.ctx,
            "updating the container",
            lxc::update(&client, &prior.node, vmid, &spec, &deadline),
        )
        .await;
        match result {
            Ok(Ok(mut updated)) => {
                lxc::keep_unreadable(&mut updated.actual.spec, &spec);
                let mut outcome = match state_from(&updated.actual, request.planned) {
                    Ok(state) => Outcome::ok(fill_from(request.planned, &state)),
                    Err(d) => return Outcome::failed(d),
                };
                for warning in updated.warnings {
                    outcome
                        .diagnostics
                        .push(Diagnostic::warning("Changes wait for a restart", warning));
                }
                outcome
            }
            Ok(Err(e)) => Outcome {
                state: self
                    .state_after_failure(&client, &prior.node, vmid, &spec, &request)
                    .await,
                private: Vec::new(),
                diagnostics: pve::error("Cannot update the Proxmox container", &e, &pve_field_path),
            },
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
                pve::delete_guest(&request, &client, "container", DELETE_TIMEOUT, lxc::delete).await
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
        let prior: Container = match args_from(&with_placeholders(state), EXTRA) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::failed(
                    Diagnostic::error(SUMMARY, format!("cannot read the state: {e}")).into(),
                )
            }
        };
        let mut actual = match lxc::read(&client, node, vmid, false).await {
            Ok(Some(actual)) => actual,
            Ok(None) => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome {
                    state: state.clone(),
                    private: private.to_vec(),
                    diagnostics: pve::error("Cannot read the Proxmox container", &e, &|_| None),
                }
            }
        };
        lxc::keep_unreadable(&mut actual.spec, &prior);
        if state.get_attr("ostemplate").is_some_and(Value::is_null) {
            actual.spec.ostemplate = String::new();
        }
        match state_from(&actual, state) {
            Ok(new_state) => Outcome {
                state: new_state,
                private: private.to_vec(),
                diagnostics: Diagnostics::new(),
            },
            Err(d) => Outcome::failed(d),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        let (node, vmid) = parse_import_id(id, "container")?;
        let client = self.client()?;
        let actual = lxc::read(&client, &node, vmid, true)
            .await
            .map_err(|e| pve::error("Cannot import the Proxmox container", &e, &|_| None))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the Proxmox container",
                    format!("there is no container {vmid} on node {node}"),
                ))
            })?;
        state_from(&actual, &Value::Null)
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
