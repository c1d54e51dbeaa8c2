//! The resource kit: the one way to write a resource or a data source.
//!
//! A resource states what it is once, as a [`Definition`] (its lab argument type, its
//! computed outputs, which arguments replace it, which are secret or filled by the backend,
//! its timeouts, whether it lives on a host) and implements [`ManagedResource`]: create,
//! update, delete, read and import on typed arguments. [`Managed`], the one adapter to
//! tfplugin's `Resource`, owns the rest, the same for every resource:
//! - the schema, derived from the argument type's JSON Schema once and cached;
//! - checks at validate and plan with attribute paths, unknown values checked once known
//!   (`derive::validate_known`), the `timeouts` and `host` blocks included;
//! - a missing provider block (`aws`, `proxmox`) reported at plan, naming the block;
//! - the `host` block's plan (moving replaces) and connection, and `host_public_key`;
//! - one [`Deadline`] per operation from `timeouts`, carrying Terraform's stop signal, so
//!   every wait ends at Ctrl-C through its normal error path;
//! - state built from arguments plus outputs ([`Kit::state`]), with `timeouts` and `host`
//!   carried over, and the planned values kept where the plan knew them;
//! - never orphan: a [`Failure::Kept`] is recorded (Terraform taints a failed create), a
//!   [`Failure::Unchanged`] keeps the prior state.

use std::sync::Arc;
use std::time::Duration;

use lab::deadline::Deadline;
use lab::validation::FieldError;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::{ApplyRequest, Ctx, DataSource, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, AttributeType, Block, Schema};
use tfplugin::serde_bridge;

use crate::config::ProviderState;
use crate::derive::{self, Annotations};
use crate::host::{self, Connected};
use crate::timeouts;

/// The provider block a resource needs configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Needs no provider block (on-host resources: the `ssh` block only holds defaults).
    None,
    Aws,
    Proxmox,
    Netbird,
}

/// Where a field error's diagnostic points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorPaths {
    /// At the full path (`host.port`, `rules[1].cidr`).
    Full,
    /// At the top-level attribute, the full path in the message: inside a nested
    /// attribute's value, the deepest place Terraform up to 1.14 (1.0.3 and 1.11 among
    /// them) can underline.
    TopLevel,
}

/// A resource's `timeouts { }` block.
pub struct Timeouts {
    pub description: &'static str,
    /// `(operation, default)`, e.g. `("create", 10 minutes)`.
    pub operations: Vec<(&'static str, Duration)>,
}

/// What a resource or data source is, said once.
pub struct Definition {
    pub type_name: &'static str,
    pub description: &'static str,
    /// The summary of every argument error (`Invalid EC2 instance`).
    pub invalid: &'static str,
    /// Attributes whose change replaces the object; `a.b` names a nested attribute.
    pub requires_replace: &'static [&'static str],
    /// Attributes Terraform must not print; `a.b` names a nested attribute.
    pub sensitive: &'static [&'static str],
    /// Arguments the backend fills when the configuration leaves them out (optional and
    /// computed, so an unset value never shows as a change); `a.b` for nested ones.
    pub chosen: &'static [&'static str],
    /// Struct-typed fields written as blocks (see `derive::Annotations::blocks`).
    pub blocks: &'static [&'static str],
    /// Fields of the argument type the schema leaves to [`Definition::extend`].
    pub skip: &'static [&'static str],
    /// Computed attributes beyond the arguments (`id`, `arn`, `content_sha256`).
    pub outputs: Vec<Attribute>,
    pub timeouts: Option<Timeouts>,
    /// Lives on a host: gets the `host { }` block and `host_public_key`.
    pub on_host: bool,
    pub backend: Backend,
    pub errors: ErrorPaths,
    /// Anything the derivation cannot say (a hand-built block).
    pub extend: fn(Block) -> Block,
}

impl Default for Definition {
    fn default() -> Self {
        Self {
            type_name: "",
            description: "",
            invalid: "Invalid arguments",
            requires_replace: &[],
            sensitive: &[],
            chosen: &[],
            blocks: &[],
            skip: &[],
            outputs: Vec::new(),
            timeouts: None,
            on_host: false,
            backend: Backend::None,
            errors: ErrorPaths::Full,
            extend: |block| block,
        }
    }
}

/// What a resource's methods share: its definition, its schema, the provider's state.
pub struct Kit {
    pub definition: Definition,
    pub provider: Arc<ProviderState>,
    schema: Schema,
    value_type: Type,
    /// Attributes that are not the argument type's: outputs, `timeouts`, `host`.
    not_arguments: Vec<String>,
}

impl Kit {
    fn new<A: JsonSchema>(definition: Definition, provider: Arc<ProviderState>) -> Self {
        let json_schema =
            serde_json::to_value(schemars::schema_for!(A)).expect("a JSON schema serialises");
        let top_level = |names: &'static [&'static str]| -> Vec<&'static str> {
            names.iter().copied().filter(|n| !n.contains('.')).collect()
        };
        let requires_replace = top_level(definition.requires_replace);
        let sensitive = top_level(definition.sensitive);
        let mut outputs = definition.outputs.clone();
        if definition.on_host {
            outputs.push(host::public_key_attribute());
        }
        let mut not_arguments: Vec<String> = outputs.iter().map(|a| a.name.clone()).collect();
        let mut block = derive::block_from_json_schema(
            definition.description,
            &json_schema,
            Annotations {
                requires_replace: &requires_replace,
                skip: definition.skip,
                sensitive: &sensitive,
                extra: outputs,
                blocks: definition.blocks,
            },
        );
        for path in definition.chosen {
            nested(&mut block, path).computed = true;
        }
        for path in definition
            .requires_replace
            .iter()
            .filter(|p| p.contains('.'))
        {
            nested(&mut block, path).requires_replace = true;
        }
        for path in definition.sensitive.iter().filter(|p| p.contains('.')) {
            nested(&mut block, path).sensitive = true;
        }
        if let Some(t) = &definition.timeouts {
            let operations: Vec<(&str, String)> = t
                .operations
                .iter()
                .map(|(op, default)| (*op, lab::duration::format(*default)))
                .collect();
            let operations: Vec<(&str, &str)> =
                operations.iter().map(|(op, d)| (*op, d.as_str())).collect();
            block = block.block(timeouts::block(t.description, &operations));
            not_arguments.push("timeouts".into());
        }
        if definition.on_host {
            block = block.block(host::block());
            not_arguments.push(host::BLOCK.into());
        }
        block = (definition.extend)(block);
        let schema = Schema::new(0, block);
        Self {
            value_type: schema.value_type(),
            schema,
            definition,
            provider,
            not_arguments,
        }
    }

    fn not_arguments(&self) -> Vec<&str> {
        self.not_arguments.iter().map(String::as_str).collect()
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn value_type(&self) -> &Type {
        &self.value_type
    }

    /// The arguments in a value (configuration, plan or state); unknown values (what the
    /// backend fills, still unknown while planning) count as left out.
    pub fn args<A: DeserializeOwned>(&self, value: &Value) -> Result<A, Diagnostics> {
        derive::args_from(&derive::unknowns_to_null(value), &self.not_arguments()).map_err(|e| {
            Diagnostic::error(
                self.definition.invalid,
                format!("cannot read the arguments: {e}"),
            )
            .into()
        })
    }

    /// Field errors as diagnostics, pointed as the definition says.
    pub fn field_errors(&self, errors: &[FieldError]) -> Diagnostics {
        (self.report())(self.definition.invalid, errors)
    }

    fn report(&self) -> fn(&str, &[FieldError]) -> Diagnostics {
        match self.definition.errors {
            ErrorPaths::Full => derive::field_error_diagnostics,
            ErrorPaths::TopLevel => top_level_field_errors,
        }
    }

    /// A state value from the arguments as found plus the outputs; `timeouts`, the `host`
    /// block and `host_public_key`, which no backend records, come from `keep` (the plan,
    /// the prior state, or an import's [`ImportedFile::located`]).
    pub fn state(
        &self,
        args: &impl Serialize,
        outputs: &[(&str, serde_json::Value)],
        keep: &Value,
    ) -> Result<Value, Diagnostics> {
        let cannot = |e: String| {
            Diagnostics::from(Diagnostic::error(
                format!("Cannot record the state of {}", self.definition.type_name),
                e,
            ))
        };
        let mut json = serde_json::to_value(args).map_err(|e| cannot(e.to_string()))?;
        if let Some(object) = json.as_object_mut() {
            for (name, value) in outputs {
                object.insert((*name).to_string(), value.clone());
            }
        }
        let mut value = serde_bridge::from_json(&json, &self.value_type).map_err(cannot)?;
        for carried in ["timeouts", host::BLOCK, host::PUBLIC_KEY] {
            if self.not_arguments.iter().any(|n| n == carried) {
                value.set_attr(
                    carried,
                    keep.get_attr(carried).cloned().unwrap_or(Value::Null),
                );
            }
        }
        Ok(value)
    }

    /// Checks a value that may hold unknowns: the `host` and `timeouts` blocks and the
    /// capability's own `validate`.
    fn validate<A: DeserializeOwned>(
        &self,
        value: &Value,
        check: fn(&A) -> Vec<FieldError>,
    ) -> Diagnostics {
        let mut diags = if self.definition.on_host {
            host::validate(value)
        } else {
            Diagnostics::new()
        };
        diags.extend(derive::validate_known(
            self.definition.invalid,
            value,
            &self.value_type,
            &self.not_arguments(),
            check,
            self.report(),
        ));
        diags
    }

    /// The provider block this resource needs, configured. While planning, a block whose
    /// values are not known yet passes.
    fn backend_ready(&self, planning: bool) -> Result<(), Diagnostics> {
        let type_name = self.definition.type_name;
        match self.definition.backend {
            Backend::None => Ok(()),
            Backend::Aws => self.provider.aws.check(type_name, planning),
            Backend::Proxmox => self.provider.proxmox.check(type_name, planning),
            Backend::Netbird => self.provider.netbird.check(type_name, planning),
        }
    }

    /// The AWS clients of the `aws` block, or the error naming it.
    pub fn aws(&self) -> Result<Arc<lab::aws::Aws>, Diagnostics> {
        self.provider.aws.client(self.definition.type_name)
    }

    /// The Proxmox API client of the `proxmox` block, or the error naming it.
    pub fn proxmox(&self) -> Result<Arc<lab::proxmox::Client>, Diagnostics> {
        self.provider.proxmox.client(self.definition.type_name)
    }

    /// The NetBird management client of the `netbird` block, or the error naming it.
    pub fn netbird(&self) -> Result<Arc<lab::netbird::Client>, Diagnostics> {
        self.provider.netbird.client(self.definition.type_name)
    }

    fn deadline(&self, value: &Value, operation: &str, ctx: &Ctx) -> Result<Deadline, Diagnostics> {
        let default = self
            .definition
            .timeouts
            .as_ref()
            .and_then(|t| t.operations.iter().find(|(op, _)| *op == operation))
            .map(|(_, d)| *d)
            // Operations without a timeout setting are bounded by Terraform's own stop.
            .unwrap_or(Duration::from_secs(24 * 3600));
        let length = timeouts::get(value, operation, default)?;
        Ok(Deadline::after(length, format!("timeouts.{operation}")).stopped_by(ctx.cancel.clone()))
    }

    fn connect(&self, value: &Value) -> Result<Option<Connected>, Diagnostics> {
        if self.definition.on_host {
            host::connect(&self.provider, value).map(Some)
        } else {
            Ok(None)
        }
    }

    /// For the import of a file on a host: the file an import ID
    /// (`[user@]address[:port]:/abs/path`, or a local path like `example`) names.
    pub async fn import_file(&self, id: &str, example: &str) -> Result<ImportedFile, Diagnostics> {
        let (mut located, path, on) = host::locate_import(&self.provider, id, example)?;
        let cannot = |detail: String| {
            Diagnostics::from(Diagnostic::error(
                format!("Cannot import {}", self.definition.type_name),
                detail,
            ))
        };
        let (bytes, key) = on
            .read_file(&path)
            .await
            .map_err(|e| cannot(e.to_string()))?;
        let bytes = bytes.ok_or_else(|| {
            cannot(format!(
                "there is no file at {} on {}",
                path.display(),
                on.host.name()
            ))
        })?;
        located.set_attr(host::PUBLIC_KEY, key);
        Ok(ImportedFile {
            located,
            path,
            bytes,
        })
    }
}

/// A file an import ID named, read from its host.
pub struct ImportedFile {
    /// The `host` block and `host_public_key` to record (the `keep` of [`Kit::state`]).
    pub located: Value,
    pub path: std::path::PathBuf,
    pub bytes: Vec<u8>,
}

/// A lab failure as a diagnostic: the summary says what was being done, the detail is
/// lab's own message (which names the host, the file or the command).
pub fn lab_error(summary: &str, error: lab::Error) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// Field errors as diagnostics at the top-level attribute, the whole path in the message
/// (`disks[0].slot: ...`): the deepest place Terraform up to 1.14 (1.0.3 and 1.11 among
/// them) can underline inside a nested attribute's value.
pub fn top_level_field_errors(summary: &str, errors: &[FieldError]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for error in errors {
        let mut diagnostic = Diagnostic::error(summary, error.to_string());
        if let Some(lab::validation::PathSegment::Field(name)) = error.path.first() {
            diagnostic = diagnostic.at(AttrPath::attr(name.clone()));
        }
        diags.push(diagnostic);
    }
    diags
}

/// The attribute at a dotted path (`network.mac_address`) among nested attributes. A path
/// that names nothing is a mistake in a definition: it panics, and `every_schema_builds`
/// finds it before any `terraform` run does.
fn nested<'a>(block: &'a mut Block, path: &str) -> &'a mut Attribute {
    let mut names = path.split('.');
    let first = names.next().expect("a path has a first name");
    let mut current = block
        .attributes
        .iter_mut()
        .find(|a| a.name == first)
        .unwrap_or_else(|| panic!("no attribute {first} (in {path})"));
    for name in names {
        let AttributeType::Nested { attributes, .. } = &mut current.ty else {
            panic!("{path}: {} is not a nested attribute", current.name);
        };
        current = attributes
            .iter_mut()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no attribute {name} in {path}"));
    }
    current
}

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
    /// The lab capability's argument type; its JSON Schema is the resource's schema.
    type Args: DeserializeOwned + JsonSchema + Send + Sync;

    fn definition() -> Definition;

    /// Where create and update take their arguments from: the plan (default), or the
    /// configuration, for resources whose backend-chosen arguments must stay unset there.
    const ARGS_FROM_CONFIG: bool = false;

    /// The capability's own checks (its `validate`).
    fn check(args: &Self::Args) -> Vec<FieldError>;

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
        let errors = R::check(&args);
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
        self.kit.validate::<R::Args>(config, R::check)
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        // The configuration, not the plan: what the backend fills is checked as given.
        let mut diags = self.kit.validate::<R::Args>(change.config, R::check);
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

/// The argument type of a data source that takes none.
#[derive(serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// A data source, written with the kit: its definition (outputs, backend), its argument
/// type and checks, and its read.
#[tfplugin::async_trait]
pub trait ManagedDataSource: Send + Sync + 'static {
    type Args: DeserializeOwned + JsonSchema + Send + Sync;
    fn definition() -> Definition;
    fn check(args: &Self::Args) -> Vec<FieldError>;
    /// The data source's state for `args` (checked); `config` is what Terraform sent.
    async fn read(&self, args: Self::Args, config: &Value, kit: &Kit)
        -> Result<Value, Diagnostics>;
}

/// The adapter from a [`ManagedDataSource`] to tfplugin's `DataSource`.
pub struct Lookup<D: ManagedDataSource> {
    data_source: D,
    kit: Kit,
}

/// `data_source` as tfplugin's `DataSource`, its schema derived once here.
pub fn data_source<D: ManagedDataSource>(
    data_source: D,
    provider: Arc<ProviderState>,
) -> Arc<dyn DataSource> {
    Arc::new(Lookup {
        data_source,
        kit: Kit::new::<D::Args>(D::definition(), provider),
    })
}

#[tfplugin::async_trait]
impl<D: ManagedDataSource> DataSource for Lookup<D> {
    fn type_name(&self) -> &str {
        self.kit.definition.type_name
    }

    fn schema(&self) -> Schema {
        self.kit.schema.clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        self.kit.validate::<D::Args>(config, D::check)
    }

    async fn read(&self, config: &Value, _ctx: &Ctx) -> Outcome {
        let read = async {
            self.kit.backend_ready(false)?;
            let args: D::Args = self.kit.args(config)?;
            let errors = D::check(&args);
            if !errors.is_empty() {
                return Err(self.kit.field_errors(&errors));
            }
            self.data_source.read(args, config, &self.kit).await
        };
        match read.await {
            Ok(state) => Outcome::ok(state),
            Err(diags) => Outcome::failed(diags),
        }
    }
}
