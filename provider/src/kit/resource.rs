//! Resources: the [`ManagedResource`] trait a resource implements, what each operation
//! hands it ([`Op`], [`Current`]) and returns ([`Applied`], [`Failure`]), and [`Managed`],
//! the one adapter to tfplugin's `Resource` that does the rest the same for every resource.

use std::sync::Arc;

use lab::deadline::Deadline;
use lab::validation::Validate;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::Schema;

use super::*;
use crate::config::ProviderState;
use crate::derive;
use crate::host::{self, Connected};

/// One operation on a resource: its arguments (checked), the values Terraform sent, the
/// deadline from `timeouts`, and the host it lives on.
pub struct Op<'a, A> {
    pub args: A,
    pub prior: &'a Value,
    pub planned: &'a Value,
    pub config: &'a Value,
    pub deadline: Deadline,
    pub kit: &'a Kit,
    host: Option<Connected>,
}

impl<A> Op<'_, A> {
    /// The host of an on-host resource.
    pub fn host(&self) -> &Connected {
        self.host
            .as_ref()
            .expect("only on-host resources (Definition::on_host) ask for their host")
    }

    /// The state to record when the object exists but what it is now could not be read:
    /// the prior state (the plan, on a create, unknowns as null) with `outputs` set, so
    /// Terraform keeps tracking it.
    pub fn fallback_state(&self, outputs: &[(&str, Value)]) -> Value {
        let mut state = if self.prior.is_null() {
            derive::unknowns_to_null(self.planned)
        } else {
            self.prior.clone()
        };
        for (name, value) in outputs {
            state.set_attr(name, value.clone());
        }
        state
    }
}

/// A read: the state Terraform has, and the host for an on-host resource.
pub struct Current<'a> {
    pub state: &'a Value,
    pub kit: &'a Kit,
    host: Option<Connected>,
}

impl Current<'_> {
    pub fn host(&self) -> &Connected {
        self.host
            .as_ref()
            .expect("only on-host resources (Definition::on_host) ask for their host")
    }
}

/// A create or update that went through, with warnings to show.
pub struct Applied {
    pub state: Value,
    pub warnings: Diagnostics,
}

impl From<Value> for Applied {
    fn from(state: Value) -> Self {
        Self {
            state,
            warnings: Diagnostics::new(),
        }
    }
}

/// A create or update that failed.
pub enum Failure {
    /// Nothing changed: the prior state stays (none, for a create).
    Unchanged(Diagnostics),
    /// The object exists but did not get where it should: this state is recorded, so it
    /// is never orphaned (Terraform marks a failed create tainted and replaces it next).
    Kept {
        state: Value,
        diagnostics: Diagnostics,
    },
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Self {
        Failure::Unchanged(diagnostics)
    }
}

/// A resource, written with the kit.
#[tfplugin::async_trait]
pub trait ManagedResource: Send + Sync + 'static {
    /// The lab capability's argument type: its JSON Schema is the resource's schema, its
    /// `Validate` the checks at validate and plan.
    type Args: DeserializeOwned + JsonSchema + Validate + Send + Sync;

    fn definition() -> Definition;

    /// Where create and update take their arguments from: the plan (default), or the
    /// configuration, for resources whose backend-chosen arguments must stay unset there.
    const ARGS_FROM_CONFIG: bool = false;

    /// Refines a plan that passed the checks (computed values known already, replacements
    /// only the backend can decide).
    async fn plan(&self, _change: &mut PlanChange<'_>, _kit: &Kit) -> Diagnostics {
        Diagnostics::new()
    }

    async fn create(&self, op: Op<'_, Self::Args>) -> Result<Applied, Failure>;
    async fn update(&self, op: Op<'_, Self::Args>) -> Result<Applied, Failure>;
    /// Deletes what `op.prior` records; one already gone is fine.
    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics>;
    /// The actual state; `None` when the object is gone.
    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics>;
    /// The state of the object an import ID names.
    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics>;
}

/// The adapter from a [`ManagedResource`] to tfplugin's `Resource`.
pub struct Managed<R: ManagedResource> {
    resource: R,
    kit: Kit,
}

/// `resource` as tfplugin's `Resource`, its schema derived once here.
pub fn resource<R: ManagedResource>(
    resource: R,
    provider: Arc<ProviderState>,
) -> Arc<dyn Resource> {
    Arc::new(Managed {
        resource,
        kit: Kit::new::<R::Args>(R::definition(), provider),
    })
}

impl<R: ManagedResource> Managed<R> {
    /// Arguments, deadline and host for an operation; an error here has changed nothing.
    fn prepare<'a>(
        &'a self,
        request: &ApplyRequest<'a>,
        operation: &str,
    ) -> Result<Op<'a, R::Args>, Diagnostics> {
        self.kit.backend_ready(false)?;
        let source = if R::ARGS_FROM_CONFIG {
            request.config
        } else {
            request.planned
        };
        let args: R::Args = self.kit.args(source)?;
        let errors = args.validate();
        if !errors.is_empty() {
            return Err(self.kit.field_errors(&errors));
        }
        Ok(Op {
            args,
            prior: request.prior,
            planned: request.planned,
            config: request.config,
            deadline: self.kit.deadline(request.planned, operation, request.ctx)?,
            kit: &self.kit,
            host: self.kit.connect(request.planned)?,
        })
    }

    /// The state after a create or update: the planned values, with what the plan left
    /// unknown filled from what the resource found, and the key the host presented.
    async fn finish(
        &self,
        request: &ApplyRequest<'_>,
        host: Option<&Connected>,
        result: Result<Applied, Failure>,
    ) -> Outcome {
        match result {
            Ok(applied) => {
                let mut state = fill_from(request.planned, &applied.state);
                if let Err(diags) = self.record_key(&mut state, host).await {
                    return Outcome {
                        state,
                        private: Vec::new(),
                        diagnostics: diags,
                    };
                }
                Outcome {
                    state,
                    private: Vec::new(),
                    diagnostics: applied.warnings,
                }
            }
            Err(Failure::Unchanged(diags)) => {
                Outcome::unchanged(request.prior, request.private, diags)
            }
            Err(Failure::Kept {
                mut state,
                mut diagnostics,
            }) => {
                if let Err(diags) = self.record_key(&mut state, host).await {
                    diagnostics.extend(diags);
                }
                Outcome {
                    state,
                    private: Vec::new(),
                    diagnostics,
                }
            }
        }
    }

    async fn record_key(
        &self,
        state: &mut Value,
        host: Option<&Connected>,
    ) -> Result<(), Diagnostics> {
        if let Some(host) = host {
            let key = host.public_key().await.map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot record the host key",
                    e.to_string(),
                ))
            })?;
            state.set_attr(host::PUBLIC_KEY, key);
        }
        Ok(())
    }

    async fn apply(&self, request: ApplyRequest<'_>, operation: &str) -> Outcome {
        let op = match self.prepare(&request, operation) {
            Ok(op) => op,
            Err(diags) => return Outcome::unchanged(request.prior, request.private, diags),
        };
        let host = op.host.clone();
        let result = if operation == "create" {
            self.resource.create(op).await
        } else {
            self.resource.update(op).await
        };
        self.finish(&request, host.as_ref(), result).await
    }
}

#[tfplugin::async_trait]
impl<R: ManagedResource> Resource for Managed<R> {
    fn type_name(&self) -> &str {
        self.kit.definition.type_name
    }

    fn schema(&self) -> Schema {
        self.kit.schema.clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        self.kit.validate::<R::Args>(config, R::Args::validate)
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        // The configuration, not the plan: what the backend fills is checked as given.
        let mut diags = self
            .kit
            .validate::<R::Args>(change.config, R::Args::validate);
        if diags.has_errors() {
            return diags;
        }
        if let Err(e) = self.kit.backend_ready(true) {
            return e;
        }
        if self.kit.definition.on_host {
            let recorded = host::check_recorded_key(&self.kit.provider, change);
            if recorded.has_errors() {
                return recorded;
            }
            host::plan(change);
        }
        self.kit.plan_by_definition(change);
        diags.extend(self.resource.plan(change, &self.kit).await);
        diags
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        self.apply(request, "create").await
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        self.apply(request, "update").await
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        let prepared = (|| {
            self.kit.backend_ready(false)?;
            Ok::<_, Diagnostics>(Op {
                args: (),
                prior: request.prior,
                planned: request.planned,
                config: request.config,
                deadline: self.kit.deadline(request.prior, "delete", request.ctx)?,
                kit: &self.kit,
                host: self.kit.connect(request.prior)?,
            })
        })();
        match prepared {
            Ok(op) => self.resource.delete(op).await.err().unwrap_or_default(),
            Err(diags) => diags,
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let host = match self
            .kit
            .backend_ready(false)
            .and_then(|()| self.kit.connect(state))
        {
            Ok(host) => host,
            Err(diags) => return Outcome::unchanged(state, private, diags),
        };
        let shared = host.clone();
        let current = Current {
            state,
            kit: &self.kit,
            host,
        };
        match self.resource.read(current).await {
            // Gone behind Terraform's back: the next plan creates it again.
            Ok(None) => Outcome::ok(Value::Null),
            Ok(Some(mut found)) => match self.record_key(&mut found, shared.as_ref()).await {
                Ok(()) => Outcome::with_private(found, private),
                Err(diags) => Outcome::unchanged(state, private, diags),
            },
            Err(diags) => Outcome::unchanged(state, private, diags),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        self.kit.backend_ready(false)?;
        self.resource.import(id, &self.kit).await
    }
}

/// `planned` with every unknown replaced by the value at the same place in `actual` (or
/// null): the result of an apply, which must keep every value the plan knew.
pub fn fill_from(planned: &Value, actual: &Value) -> Value {
    if planned.is_unknown() {
        return derive::unknowns_to_null(actual);
    }
    match planned {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let other = actual.get_attr(k).unwrap_or(&Value::Null);
                    (k.clone(), fill_from(v, other))
                })
                .collect(),
        ),
        Value::List(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| fill_from(v, actual.index(i).unwrap_or(&Value::Null)))
                .collect(),
        ),
        // Set elements have no place to match by: a set the plan fully knew stays, one
        // with unknowns is what was found.
        Value::Set(_) if planned.is_known() => planned.clone(),
        Value::Set(_) => derive::unknowns_to_null(actual),
        _ => planned.clone(),
    }
}
