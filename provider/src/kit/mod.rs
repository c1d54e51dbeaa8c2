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
use tfplugin::provider::{Ctx, PlanChange};
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
    /// Outputs an apply reads afresh (`pending_changes`, addresses): unknown in any plan
    /// that changes something ([`Kit::refresh`]).
    pub refreshed: &'static [&'static str],
    /// On update, what the plan leaves unknown and the configuration leaves out keeps its
    /// prior value, nested attributes included (values the backend chose once).
    pub keep_prior: bool,
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
            refreshed: &[],
            keep_prior: false,
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

    /// The plan behaviour the definition names, applied before a resource's own `plan`.
    pub(crate) fn plan_by_definition(&self, change: &mut PlanChange<'_>) {
        if self.definition.keep_prior && !change.prior.is_null() {
            keep_prior_unknowns(&mut change.planned, change.prior, change.config);
        }
    }

    /// Marks the definition's `refreshed` outputs unknown in a plan: the apply reads them.
    pub fn refresh(&self, planned: &mut Value) {
        for name in self.definition.refreshed {
            planned.set_attr(name, Value::unknown());
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

/// On update, puts back the prior value of everything the plan left unknown that the
/// configuration leaves out (attributes the backend fills, such as the MAC addresses inside
/// a guest's `network`): Terraform's proposed state does not carry prior values into nested
/// attributes, and a value the backend chose once (even "none") stays what it is until
/// something changes it.
fn keep_prior_unknowns(planned: &mut Value, prior: &Value, config: &Value) {
    if planned.is_unknown() {
        if config.is_null() && prior.is_known() {
            *planned = prior.clone();
        }
        return;
    }
    match planned {
        Value::Object(fields) => {
            for (k, v) in fields.iter_mut() {
                let before = prior.get_attr(k).unwrap_or(&Value::Null);
                let given = config.get_attr(k).unwrap_or(&Value::Null);
                keep_prior_unknowns(v, before, given);
            }
        }
        Value::List(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                let before = prior.index(i).unwrap_or(&Value::Null);
                let given = config.index(i).unwrap_or(&Value::Null);
                if !before.is_null() {
                    keep_prior_unknowns(v, before, given);
                }
            }
        }
        _ => {}
    }
}

/// A computed string attribute the backend reports (`id`, `arn`, `public_ip`).
pub fn output(name: &str, description: &str) -> Attribute {
    Attribute::computed(name, Type::String).description(description)
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

mod data_source;
mod resource;

pub use data_source::{data_source, Lookup, ManagedDataSource, NoArguments};
pub use resource::{fill_from, resource, Applied, Current, Failure, Managed, ManagedResource, Op};
