//! `homelab_aws_security_group`: a VPC security group holding exactly the declared rules.
//! The capability (rules as atoms, plan as the difference, apply, delete with retries) is
//! `lab::aws::security_group`; this file maps Terraform values to it.

use std::time::Duration;

use lab::aws::security_group::{self as sg, SecurityGroup};
use lab::aws::{Aws, AwsError};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::Attribute;

use crate::config::aws::{self as aws_config};
use crate::kit::{Applied, Backend, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_aws_security_group";

pub struct AwsSecurityGroupResource;

fn state_from(
    kit: &Kit,
    observed: &sg::Observed,
    declared: Option<&SecurityGroup>,
    aws: &Aws,
    keep: &Value,
) -> Result<Value, Diagnostics> {
    let owner = observed.owner_id.clone().unwrap_or_default();
    let arn = format!(
        "arn:aws:ec2:{}:{}:security-group/{}",
        aws.region, owner, observed.id
    );
    kit.state(
        &observed.as_declared(declared),
        &[
            ("id", observed.id.clone().into()),
            ("arn", arn.into()),
            ("owner_id", owner.into()),
        ],
        keep,
    )
}

/// Brings group `id` to the declared rules and returns the state it ends in. On failure
/// the state still records the group (so Terraform keeps track of it).
async fn converge(aws: &Aws, id: &str, op: &Op<'_, SecurityGroup>) -> Result<Applied, Failure> {
    let desired = &op.args;
    let converged = async {
        let gone = || AwsError::NotFound(format!("security group {id} disappeared"));
        let actual = sg::read(aws, id).await?.ok_or_else(gone)?;
        let plan = sg::plan(desired, &actual);
        if !plan.is_empty() {
            sg::apply(aws, id, &plan).await?;
        }
        sg::read(aws, id).await?.ok_or_else(gone)
    };
    match converged.await {
        Ok(observed) => Ok(state_from(op.kit, &observed, Some(desired), aws, op.config)?.into()),
        Err(e) => {
            // Record what exists so the next plan corrects it (a new group is tainted).
            let mut state = op.fallback_state(&[("id", Value::String(id.to_string()))]);
            if let Ok(Some(observed)) = sg::read(aws, id).await {
                if let Ok(read) = state_from(op.kit, &observed, Some(desired), aws, op.config) {
                    state = read;
                }
            }
            Err(Failure::Kept {
                state,
                diagnostics: aws_config::error("Cannot apply the security group's rules", e),
            })
        }
    }
}

#[tfplugin::async_trait]
impl ManagedResource for AwsSecurityGroupResource {
    type Args = SecurityGroup;
    const ARGS_FROM_CONFIG: bool = true;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description:
                "An EC2 security group with exactly the declared ingress and egress rules. Rules \
             change in place: apply revokes what AWS has beyond the declaration and authorises \
             what is missing, so AWS's default allow-all egress rule is removed unless declared. \
             A rule or tag changed outside Terraform shows in the next plan. Deletion is retried \
             while a network interface (an instance shutting down) still uses the group.",
            invalid: "Invalid security group",
            requires_replace: &["name", "description", "vpc_id"],
            chosen: &["vpc_id"],
            outputs: vec![
                Attribute::computed("id", Type::String).description("The group's ID (`sg-...`)."),
                Attribute::computed("arn", Type::String).description("The group's ARN."),
                Attribute::computed("owner_id", Type::String)
                    .description("The AWS account that owns the group."),
            ],
            timeouts: Some(aws_config::timeouts(vec![(
                "delete",
                Duration::from_secs(15 * 60),
            )])),
            backend: Backend::Aws,
            ..Definition::default()
        }
    }

    async fn create(&self, op: Op<'_, SecurityGroup>) -> Result<Applied, Failure> {
        let aws = op.kit.aws()?;
        let id = sg::create(&aws, &op.args)
            .await
            .map_err(|e| aws_config::error("Cannot create the security group", e))?;
        converge(&aws, &id, &op).await
    }

    async fn update(&self, op: Op<'_, SecurityGroup>) -> Result<Applied, Failure> {
        let aws = op.kit.aws()?;
        let Some(id) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Err(Failure::Unchanged(
                Diagnostic::error("Cannot update the security group", "no ID in state").into(),
            ));
        };
        converge(&aws, id, &op).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let aws = op.kit.aws()?;
        let Some(id) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Ok(());
        };
        sg::delete(&aws, id, &op.deadline)
            .await
            .map_err(|e| aws_config::error("Cannot delete the security group", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let aws = current.kit.aws()?;
        let state = current.state;
        let Some(id) = state.get_attr("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let observed = match sg::read(&aws, id).await {
            Ok(Some(observed)) => observed,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Ok(None),
            Err(e) => return Err(aws_config::error("Cannot read the security group", e)),
        };
        // A stub from import has no arguments yet: read them all.
        let declared = current.kit.args::<SecurityGroup>(state).ok();
        state_from(current.kit, &observed, declared.as_ref(), &aws, state).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        if !id.starts_with("sg-") {
            return Err(Diagnostic::error(
                "Invalid import ID",
                format!("The import ID is the security group's ID, e.g. sg-0123456789abcdef0; got {id:?}."),
            )
            .into());
        }
        let aws = kit.aws()?;
        let observed = sg::read(&aws, id)
            .await
            .map_err(|e| aws_config::error("Cannot import the security group", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the security group",
                    format!("security group {id} does not exist at {}", aws.endpoint),
                ))
            })?;
        state_from(kit, &observed, None, &aws, &Value::Null)
    }
}
