//! What `homelab_proxmox_vm` and `homelab_proxmox_lxc` share: the skeleton of a Proxmox
//! guest resource. A [`Guest`] says what differs (the lab capability's calls, the state's
//! outputs, plan-time checks); [`GuestResource`] is the one create / update / delete / read
//! / import over it: every call bounded by the operation's deadline, a guest that exists
//! after a failure recorded (tainted on create), values Proxmox cannot show kept from the
//! declaration, import IDs `node/vmid`.

use std::marker::PhantomData;
use std::sync::Arc;

use lab::deadline::Deadline;
use lab::proxmox::vm::CreateFailure;
use lab::proxmox::{Client, ProxmoxError};
use lab::validation::Validate;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;

use crate::config::proxmox as pve;
use crate::config::ProviderState;
use crate::kit::{Applied, Current, Definition, Failure, Kit, ManagedResource, Op};

/// A guest as Proxmox reports it.
pub struct Found<S> {
    pub node: String,
    pub vmid: u32,
    pub spec: S,
    /// Config keys that wait for the next boot.
    pub pending: Vec<String>,
    pub running: bool,
    /// A template, which guest resources never manage.
    pub template: bool,
}

/// What differs between a VM and a container.
#[tfplugin::async_trait]
pub trait Guest: Send + Sync + 'static {
    /// The lab capability's argument type.
    type Spec: DeserializeOwned + JsonSchema + Validate + Clone + Send + Sync;
    /// "VM", "container".
    const NOUN: &'static str;
    /// The warning's title when changes wait for the next boot.
    const PENDING_TITLE: &'static str;

    fn definition() -> Definition;
    fn node(spec: &Self::Spec) -> &str;

    /// The spec a state records (a container fills what an import could not read).
    fn recorded(kit: &Kit, state: &Value) -> Result<Self::Spec, Diagnostics> {
        kit.args(state)
    }

    /// Where a PVE parameter comes from, to point Proxmox's per-field errors.
    fn field_path(spec: Option<&Self::Spec>, field: &str) -> Option<AttrPath>;

    async fn read(
        client: &Client,
        node: &str,
        vmid: u32,
        fresh: bool,
    ) -> Result<Option<Found<Self::Spec>>, ProxmoxError>;
    async fn create(
        client: &Client,
        spec: &Self::Spec,
        deadline: &Deadline,
    ) -> Result<Found<Self::Spec>, CreateFailure>;
    /// Brings the guest to `spec`; returns it and the warnings (changes waiting for a boot).
    async fn update(
        client: &Client,
        vmid: u32,
        spec: &Self::Spec,
        prior: &Self::Spec,
        deadline: &Deadline,
    ) -> Result<(Found<Self::Spec>, Vec<String>), ProxmoxError>;
    async fn delete(
        client: &Client,
        node: &str,
        vmid: u32,
        deadline: &Deadline,
    ) -> Result<(), ProxmoxError>;

    /// Puts back what Proxmox cannot show (passwords, templates) from the declaration.
    fn keep_unreadable(found: &mut Self::Spec, declared: &Self::Spec);

    /// The state for a guest as found; `prior` is the state before (for values only asked
    /// when they can be known, such as agent addresses), `keep` what `timeouts` come from.
    async fn state(
        kit: &Kit,
        client: &Client,
        found: &Found<Self::Spec>,
        prior: Option<&Value>,
        keep: &Value,
    ) -> Result<Value, Diagnostics>;

    /// Attributes an update's plan may leave unknown and still be checked.
    const MAY_BE_UNKNOWN: &'static [&'static str];

    fn reboot_after_update(spec: &Self::Spec) -> bool;
    /// The warning for changes `keys` that wait for the guest's next boot.
    fn pending_warning(vmid: u32, keys: &[String]) -> String;

    /// The guest's own checks and replacements in an update's plan.
    fn plan_update(
        change: &mut PlanChange<'_>,
        kit: &Kit,
        prior: &Self::Spec,
        planned: &Self::Spec,
    ) -> Diagnostics;

    /// Checks of a create's plan that need Proxmox (a clone's template).
    async fn plan_create(_provider: &ProviderState, _kit: &Kit, _spec: &Self::Spec) -> Diagnostics {
        Diagnostics::new()
    }
}

/// The one guest resource over a [`Guest`].
pub struct GuestResource<G> {
    state: Arc<ProviderState>,
    guest: PhantomData<G>,
}

impl<G: Guest> GuestResource<G> {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self {
            state,
            guest: PhantomData,
        }
    }

    fn client(&self, kit: &Kit) -> Result<Arc<Client>, Diagnostics> {
        self.state.proxmox.client(kit.definition.type_name)
    }

    /// The best state after a failure on a guest that exists, so Terraform keeps tracking it.
    async fn state_after_failure(
        client: &Client,
        node: &str,
        vmid: u32,
        op: &Op<'_, G::Spec>,
    ) -> Value {
        if let Ok(Some(mut found)) = G::read(client, node, vmid, true).await {
            G::keep_unreadable(&mut found.spec, &op.args);
            if let Ok(state) = G::state(op.kit, client, &found, None, op.planned).await {
                return state;
            }
        }
        op.fallback_state(&[
            ("vm_id", Value::Number(i64::from(vmid).into())),
            ("id", Value::String(format!("{node}/{vmid}"))),
        ])
    }

    fn error(what: &str, e: &ProxmoxError, spec: Option<&G::Spec>) -> Diagnostics {
        pve::error(
            &format!("Cannot {what} the Proxmox {}", G::NOUN),
            e,
            &|field| G::field_path(spec, field),
        )
    }
}

/// Strings of a list value.
pub fn strings(value: Option<&Value>) -> Vec<String> {
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

/// `node/vmid`.
fn parse_import_id(id: &str, what: &str) -> Result<(String, u32), Diagnostics> {
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

#[tfplugin::async_trait]
impl<G: Guest> ManagedResource for GuestResource<G> {
    type Args = G::Spec;

    fn definition() -> Definition {
        Definition {
            // Values Proxmox chose once (even "none") stay what they are until something
            // changes them: Terraform's proposed state does not carry prior values into
            // nested attributes.
            keep_prior: true,
            ..G::definition()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        if change.prior.is_null() {
            return match kit.args::<G::Spec>(&change.planned) {
                Ok(spec) => G::plan_create(&self.state, kit, &spec).await,
                Err(_) => Diagnostics::new(),
            };
        }
        if !change.planned.is_known_except(G::MAY_BE_UNKNOWN) {
            kit.refresh(&mut change.planned);
            return Diagnostics::new();
        }
        let (Ok(prior), Ok(planned)) = (
            G::recorded(kit, change.prior),
            kit.args::<G::Spec>(&change.planned),
        ) else {
            return Diagnostics::new();
        };
        let mut diags = G::plan_update(change, kit, &prior, &planned);
        if diags.has_errors() {
            return diags;
        }
        let pending = strings(change.prior.get_attr("pending_changes"));
        if !pending.is_empty() {
            if G::reboot_after_update(&planned) {
                change.planned.set_attr("pending_changes", Value::unknown());
            } else {
                let vmid = pve::vmid_of(change.prior).unwrap_or(0);
                diags.push(Diagnostic::warning(
                    G::PENDING_TITLE,
                    G::pending_warning(vmid, &pending),
                ));
            }
        }
        let any_change = kit
            .schema()
            .block
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .filter(|n| *n != "id" && !kit.definition.refreshed.contains(n))
            .any(|name| {
                let before = change.prior.get_attr(name).unwrap_or(&Value::Null);
                let after = change.planned.get_attr(name).unwrap_or(&Value::Null);
                !before.sem_eq(after)
            });
        if any_change {
            kit.refresh(&mut change.planned);
        }
        diags
    }

    async fn create(&self, op: Op<'_, G::Spec>) -> Result<Applied, Failure> {
        let client = self.client(op.kit)?;
        match G::create(&client, &op.args, &op.deadline).await {
            Ok(mut found) => {
                G::keep_unreadable(&mut found.spec, &op.args);
                Ok(G::state(op.kit, &client, &found, None, op.planned)
                    .await?
                    .into())
            }
            // The guest exists: record it (Terraform marks it tainted), so nothing is
            // orphaned and the next apply replaces it.
            Err(CreateFailure {
                vmid: Some(vmid),
                error,
            }) => Err(Failure::Kept {
                state: Self::state_after_failure(&client, G::node(&op.args), vmid, &op).await,
                diagnostics: Self::error("create", &error, Some(&op.args)),
            }),
            Err(CreateFailure { vmid: None, error }) => {
                Err(Self::error("create", &error, Some(&op.args)).into())
            }
        }
    }

    async fn update(&self, op: Op<'_, G::Spec>) -> Result<Applied, Failure> {
        let client = self.client(op.kit)?;
        let prior = G::recorded(op.kit, op.prior)?;
        let Some(vmid) = pve::vmid_of(op.prior) else {
            return Err(Diagnostics::from(Diagnostic::error(
                format!("Cannot update the Proxmox {}", G::NOUN),
                "no vm_id in state",
            ))
            .into());
        };
        match G::update(&client, vmid, &op.args, &prior, &op.deadline).await {
            Ok((mut found, warnings)) => {
                G::keep_unreadable(&mut found.spec, &op.args);
                let state = G::state(op.kit, &client, &found, Some(op.prior), op.planned).await?;
                let mut applied = Applied::from(state);
                for warning in warnings {
                    applied
                        .warnings
                        .push(Diagnostic::warning(G::PENDING_TITLE, warning));
                }
                Ok(applied)
            }
            Err(e) => {
                let mut diagnostics = Self::error("update", &e, Some(&op.args));
                if matches!(e, ProxmoxError::Timeout(_)) {
                    diagnostics.push(Diagnostic::warning(
                        format!("The {} may be half-way through the change", G::NOUN),
                        "Proxmox may still be working on it; the next plan shows what is left to do.",
                    ));
                }
                Err(Failure::Kept {
                    state: Self::state_after_failure(&client, G::node(&prior), vmid, &op).await,
                    diagnostics,
                })
            }
        }
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let client = self.client(op.kit)?;
        let Some((node, vmid)) = pve::guest_location(op.prior) else {
            return Ok(());
        };
        G::delete(&client, node, vmid, &op.deadline)
            .await
            .map_err(|e| Self::error("delete", &e, None))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let client = self.client(current.kit)?;
        let state = current.state;
        let Some((node, vmid)) = pve::guest_location(state) else {
            return Ok(None);
        };
        let prior = G::recorded(current.kit, state)?;
        let mut found = match G::read(&client, node, vmid, false).await {
            Ok(Some(found)) => found,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Ok(None),
            Err(e) => return Err(Self::error("read", &e, None)),
        };
        G::keep_unreadable(&mut found.spec, &prior);
        G::state(current.kit, &client, &found, Some(state), state)
            .await
            .map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let (node, vmid) = parse_import_id(id, G::NOUN)?;
        let client = self.client(kit)?;
        let cannot = |detail: String| {
            Diagnostics::from(Diagnostic::error(
                format!("Cannot import the Proxmox {}", G::NOUN),
                detail,
            ))
        };
        let mut found = G::read(&client, &node, vmid, true)
            .await
            .map_err(|e| Self::error("import", &e, None))?
            .ok_or_else(|| cannot(format!("there is no {} {vmid} on node {node}", G::NOUN)))?;
        if found.template {
            return Err(cannot(format!(
                "{} {vmid} is a template; templates are not managed by {}",
                G::NOUN,
                kit.definition.type_name
            )));
        }
        // Nothing declared yet: what was read is all there is (lists in their natural order).
        let read = found.spec.clone();
        G::keep_unreadable(&mut found.spec, &read);
        G::state(kit, &client, &found, None, &Value::Null).await
    }
}
