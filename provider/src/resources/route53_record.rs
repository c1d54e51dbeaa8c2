//! `homelab_route53_record`: one Route 53 record set. The capability (validation, read,
//! CREATE/UPSERT/DELETE and the wait for INSYNC) is `lab::aws::route53`; this file maps
//! Terraform values to it. Import IDs are hashicorp/aws's `ZONEID_NAME_TYPE`.

use std::time::Duration;

use lab::aws::route53::{self as r53, Alias, Record};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;
use tfplugin::schema::{Attribute, Block, NestedBlock};

use crate::config::aws::{self as aws_config};
use crate::derive::{self, Annotations};
use crate::kit::{Applied, Backend, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_route53_record";
/// How long a change may take to reach every Route 53 name server.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const SYNC_WAIT: &str = "the Route 53 sync wait";

pub struct Route53RecordResource;

/// The `alias { }` block, as in hashicorp/aws.
fn with_alias_block(block: Block) -> Block {
    let alias_schema =
        serde_json::to_value(schemars::schema_for!(Alias)).expect("a JSON schema serialises");
    let alias = derive::block_from_json_schema(
        "An alias to an AWS resource (load balancer, CloudFront distribution, another record \
         in the zone) instead of `records` and `ttl`.",
        &alias_schema,
        Annotations::default(),
    );
    block.block(NestedBlock::single("alias", alias))
}

fn state_from(kit: &Kit, record: &Record) -> Result<Value, Diagnostics> {
    kit.state(
        record,
        &[
            (
                "id",
                r53::import_id(&record.zone_id, &record.name, &record.record_type).into(),
            ),
            ("fqdn", r53::normalize_name(&record.name).into()),
        ],
        &Value::Null,
    )
}

impl Route53RecordResource {
    async fn write(&self, op: Op<'_, Record>, creating: bool) -> Result<Applied, Failure> {
        let aws = op.kit.aws()?;
        let desired = &op.args;
        let name = &desired.name;
        let kind = &desired.record_type;
        let mut upsert = !creating;
        if creating {
            match r53::read(&aws, &desired.zone_id, name, kind).await {
                Ok(Some(_)) if !desired.allow_overwrite => {
                    let id = r53::import_id(&desired.zone_id, name, kind);
                    return Err(Failure::Unchanged(
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
                    ));
                }
                Ok(Some(_)) => upsert = true,
                Ok(None) => {}
                Err(e) => {
                    return Err(aws_config::error("Cannot read the Route 53 record", e).into())
                }
            }
        }
        let deadline = op.deadline.within(SYNC_TIMEOUT, SYNC_WAIT);
        r53::write(&aws, desired, upsert, &deadline)
            .await
            .map_err(|e| aws_config::error("Cannot write the Route 53 record", e))?;
        match r53::read(&aws, &desired.zone_id, name, kind).await {
            Ok(Some(observed)) => {
                Ok(state_from(op.kit, &observed.as_declared(Some(desired)))?.into())
            }
            Ok(None) => Err(Diagnostics::from(Diagnostic::error(
                "Route 53 record not found after writing it",
                format!(
                    "{kind} {name} in zone {} is missing right after the change",
                    desired.zone_id
                ),
            ))
            .into()),
            Err(e) => Err(aws_config::error("Cannot read the Route 53 record", e).into()),
        }
    }
}

#[tfplugin::async_trait]
impl ManagedResource for Route53RecordResource {
    type Args = Record;
    const ARGS_FROM_CONFIG: bool = true;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description:
                "A DNS record set in a Route 53 hosted zone: values with a TTL, or an alias. \
             Changes are written with UPSERT; a new name, type or zone replaces the record. A \
             record that already exists and was not created here is an error saying to import \
             it, unless `allow_overwrite` is true. Import IDs are `ZONEID_NAME_TYPE`, as in \
             hashicorp/aws.",
            invalid: "Invalid Route 53 record",
            requires_replace: &["zone_id", "name", "type"],
            // A block, as in hashicorp/aws (`alias { ... }`).
            skip: &["alias"],
            outputs: vec![
                Attribute::computed("id", Type::String)
                    .description("`ZONEID_NAME_TYPE`, the import ID."),
                Attribute::computed("fqdn", Type::String)
                    .description("The record's name as DNS sees it: lower case, no trailing dot."),
            ],
            backend: Backend::Aws,
            extend: with_alias_block,
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        let aws = match kit.aws() {
            Ok(aws) => aws,
            Err(diags) => return diags,
        };
        let mut diags = Diagnostics::new();
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
                        diags.extend(kit.field_errors(&[error]));
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

    async fn create(&self, op: Op<'_, Record>) -> Result<Applied, Failure> {
        self.write(op, true).await
    }

    async fn update(&self, op: Op<'_, Record>) -> Result<Applied, Failure> {
        self.write(op, false).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let aws = op.kit.aws()?;
        let text = |name: &str| op.prior.get_attr(name).and_then(Value::as_str);
        let (Some(zone_id), Some(name), Some(kind)) = (text("zone_id"), text("name"), text("type"))
        else {
            return Ok(());
        };
        let deadline = op.deadline.within(SYNC_TIMEOUT, SYNC_WAIT);
        r53::delete(&aws, zone_id, name, kind, &deadline)
            .await
            .map_err(|e| aws_config::error("Cannot delete the Route 53 record", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let aws = current.kit.aws()?;
        let state = current.state;
        let text = |name: &str| state.get_attr(name).and_then(Value::as_str);
        let (Some(zone_id), Some(name), Some(kind)) = (text("zone_id"), text("name"), text("type"))
        else {
            return Ok(None);
        };
        let observed = match r53::read(&aws, zone_id, name, kind).await {
            Ok(Some(observed)) => observed,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Ok(None),
            Err(e) => return Err(aws_config::error("Cannot read the Route 53 record", e)),
        };
        let declared = current.kit.args::<Record>(state).ok();
        state_from(current.kit, &observed.as_declared(declared.as_ref())).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let (zone_id, name, kind) = r53::parse_import_id(id)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid import ID", e)))?;
        let aws = kit.aws()?;
        let observed = r53::read(&aws, &zone_id, &name, &kind)
            .await
            .map_err(|e| aws_config::error("Cannot import the Route 53 record", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the Route 53 record",
                    format!("hosted zone {zone_id} has no {kind} record for {name}"),
                ))
            })?;
        state_from(kit, &observed.as_declared(None))
    }
}
