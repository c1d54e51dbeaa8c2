//! `homelab_route53_record`: one Route 53 record set. The capability (validation, read,
//! CREATE/UPSERT/DELETE and the wait for INSYNC) is `lab::aws::route53`; this file maps
//! Terraform values to it. Import IDs are hashicorp/aws's `ZONEID_NAME_TYPE`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lab::aws::route53::{self as r53, Alias, Record};
use lab::aws::Aws;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, NestedBlock, Schema};

use crate::config::aws::{self as aws_config, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};

pub const TYPE_NAME: &str = "homelab_route53_record";
const COMPUTED: &[&str] = &["id", "fqdn"];
/// How long a change may take to reach every Route 53 name server.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const SUMMARY: &str = "Invalid Route 53 record";

pub struct Route53RecordResource {
    state: Arc<ProviderState>,
}

impl Route53RecordResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema =
            serde_json::to_value(schemars::schema_for!(Record)).expect("a JSON schema serialises");
        let block = derive::block_from_json_schema(
            "A DNS record set in a Route 53 hosted zone: values with a TTL, or an alias. \
             Changes are written with UPSERT; a new name, type or zone replaces the record. A \
             record that already exists and was not created here is an error saying to import \
             it, unless `allow_overwrite` is true. Import IDs are `ZONEID_NAME_TYPE`, as in \
             hashicorp/aws.",
            &json_schema,
            Annotations {
                blocks: &[],
                requires_replace: &["zone_id", "name", "type"],
                // A block, as in hashicorp/aws (`alias { ... }`).
                skip: &["alias"],
                sensitive: &[],
                extra: vec![
                    Attribute::computed("id", Type::String)
                        .description("`ZONEID_NAME_TYPE`, the import ID."),
                    Attribute::computed("fqdn", Type::String).description(
                        "The record's name as DNS sees it: lower case, no trailing dot.",
                    ),
                ],
            },
        );
        let alias_schema =
            serde_json::to_value(schemars::schema_for!(Alias)).expect("a JSON schema serialises");
        let alias = derive::block_from_json_schema(
            "An alias to an AWS resource (load balancer, CloudFront distribution, another record \
             in the zone) instead of `records` and `ttl`.",
            &alias_schema,
            Annotations::default(),
        );
        let block = block.block(NestedBlock::single("alias", alias));
        Schema::new(0, block)
    })
}

fn record_from(value: &Value) -> Result<Record, Diagnostics> {
    aws_config::args_from(value, COMPUTED)
        .map_err(|e| Diagnostic::error(SUMMARY, format!("cannot read the arguments: {e}")).into())
}

fn state_from(record: &Record) -> Result<Value, Diagnostics> {
    let json = serde_json::to_value(record).map_err(|e| {
        Diagnostics::from(Diagnostic::error("Cannot record the record", e.to_string()))
    })?;
    aws_config::state_value(
        json,
        &[
            (
                "id",
                r53::import_id(&record.zone_id, &record.name, &record.record_type).into(),
            ),
            ("fqdn", r53::normalize_name(&record.name).into()),
        ],
        &schema().value_type(),
        &Value::Null,
    )
}

impl Route53RecordResource {
    fn clients(&self) -> Result<Arc<Aws>, Diagnostics> {
        self.state.aws.clients(TYPE_NAME)
    }

    async fn write(&self, request: &ApplyRequest<'_>, creating: bool) -> Outcome {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        let desired = match record_from(request.config) {
            Ok(record) => record,
            Err(diags) => return Outcome::failed(diags),
        };
        let errors = desired.validate();
        if !errors.is_empty() {
            return Outcome::failed(derive::field_error_diagnostics(SUMMARY, &errors));
        }
        let keep_prior = |diagnostics: Diagnostics| Outcome {
            state: request.prior.clone(),
            private: Vec::new(),
            diagnostics,
        };
        let name = &desired.name;
        let kind = &desired.record_type;
        let mut upsert = !creating;
        if creating {
            match r53::read(&aws, &desired.zone_id, name, kind).await {
                Ok(Some(_)) if !desired.allow_overwrite => {
                    let id = r53::import_id(&desired.zone_id, name, kind);
                    return Outcome::failed(
                        Diagnostic::error(
                            "Route 53 record already exists",
                            format!(
                                "A {kind} record for {} already exists in hosted zone {} and was not created by this resource. \
                                 Import it to manage it here (terraform import <address> {id}), or set allow_overwrite = true \
                                 to take it over.",
                                r53::normalize_name(name),
                                desired.zone_id
                            ),
                        )
                        .into(),
                    );
                }
                Ok(Some(_)) => upsert = true,
                Ok(None) => {}
                Err(e) => {
                    return Outcome::failed(aws_config::error("Cannot read the Route 53 record", e))
                }
            }
        }
        let written = tokio::select! {
            result = r53::write(&aws, &desired, upsert, SYNC_TIMEOUT) => result,
            _ = request.ctx.cancel.cancelled() => {
                return keep_prior(Diagnostic::error("Interrupted", "Stopped while writing the record.").into());
            }
        };
        if let Err(e) = written {
            return keep_prior(aws_config::error("Cannot write the Route 53 record", e));
        }
        match r53::read(&aws, &desired.zone_id, name, kind).await {
            Ok(Some(observed)) => match state_from(&observed.as_declared(Some(&desired))) {
                Ok(state) => Outcome::ok(state),
                Err(diags) => Outcome::failed(diags),
            },
            Ok(None) => Outcome::failed(
                Diagnostic::error(
                    "Route 53 record not found after writing it",
                    format!(
                        "{kind} {name} in zone {} is missing right after the change",
                        desired.zone_id
                    ),
                )
                .into(),
            ),
            Err(e) => Outcome::failed(aws_config::error("Cannot read the Route 53 record", e)),
        }
    }
}

#[tfplugin::async_trait]
impl Resource for Route53RecordResource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_known(
            SUMMARY,
            config,
            &schema().value_type(),
            COMPUTED,
            Record::validate,
        )
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return diags,
        };
        let mut diags = validate_known(
            SUMMARY,
            &change.planned,
            &schema().value_type(),
            COMPUTED,
            Record::validate,
        );
        if diags.has_errors() {
            return diags;
        }
        let planned = &mut change.planned;
        let text = |name: &str| {
            planned
                .get_attr(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (zone_id, name, kind) = (text("zone_id"), text("name"), text("type"));
        if let Some(name) = &name {
            planned.set_attr("fqdn", Value::String(r53::normalize_name(name)));
        }
        if let (Some(zone_id), Some(name), Some(kind)) = (zone_id, name, kind) {
            planned.set_attr("id", Value::String(r53::import_id(&zone_id, &name, &kind)));
            // The name must lie inside its zone: ask Route 53 for the zone's name.
            match r53::zone_name(&aws, &zone_id).await {
                Ok(zone_name) => {
                    let record = Record {
                        zone_id,
                        name,
                        record_type: kind,
                        ttl: None,
                        records: None,
                        alias: None,
                        allow_overwrite: false,
                    };
                    if let Some(error) = record.validate_in_zone(&zone_name) {
                        diags.extend(derive::field_error_diagnostics(SUMMARY, &[error]));
                    }
                }
                // A zone that does not exist (yet, or any more) must not block a plan:
                // destroy plans through here too. The apply names it again if it still
                // does not exist then.
                Err(e) if e.is_not_found() => diags.push(Diagnostic::warning(
                    "Hosted zone not found",
                    format!("{e}. Creating the record fails unless the zone exists by then."),
                )),
                Err(e) => diags.extend(aws_config::error("Cannot read the hosted zone", e)),
            }
        }
        diags
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        self.write(&request, true).await
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        self.write(&request, false).await
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return diags,
        };
        let text = |name: &str| request.prior.get_attr(name).and_then(Value::as_str);
        let (Some(zone_id), Some(name), Some(kind)) = (text("zone_id"), text("name"), text("type"))
        else {
            return Diagnostics::new();
        };
        match r53::delete(&aws, zone_id, name, kind, SYNC_TIMEOUT).await {
            Ok(()) => Diagnostics::new(),
            Err(e) => aws_config::error("Cannot delete the Route 53 record", e),
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return Outcome::unchanged(state, private, diags),
        };
        let text = |name: &str| state.get_attr(name).and_then(Value::as_str);
        let (Some(zone_id), Some(name), Some(kind)) = (text("zone_id"), text("name"), text("type"))
        else {
            return Outcome::ok(Value::Null);
        };
        let observed = match r53::read(&aws, zone_id, name, kind).await {
            Ok(Some(observed)) => observed,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome::unchanged(
                    state,
                    private,
                    aws_config::error("Cannot read the Route 53 record", e),
                )
            }
        };
        let declared = record_from(state).ok();
        match state_from(&observed.as_declared(declared.as_ref())) {
            Ok(new_state) => Outcome::with_private(new_state, private),
            Err(diags) => Outcome::failed(diags),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        let (zone_id, name, kind) = r53::parse_import_id(id)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid import ID", e)))?;
        let aws = self.clients()?;
        let observed = r53::read(&aws, &zone_id, &name, &kind)
            .await
            .map_err(|e| aws_config::error("Cannot import the Route 53 record", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the Route 53 record",
                    format!("hosted zone {zone_id} has no {kind} record for {name}"),
                ))
            })?;
        state_from(&observed.as_declared(None))
    }
}
