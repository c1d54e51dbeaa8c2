//! `homelab_aws_instance`: one EC2 instance. The capability (launch, wait, in-place
//! changes with stop/modify/start, terminate) is `lab::aws::instance`; this file maps
//! Terraform values to it and keeps every launched instance in state, even when the wait
//! for it fails (Terraform then marks it tainted and the next apply replaces it).

use std::time::Duration;

use lab::aws::instance::{self as ec2, Instance};
use lab::aws::{Aws, AwsError};
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;

use crate::config::aws::{self as aws_config};
use crate::kit::{
    output, Applied, Backend, Current, Definition, Failure, Kit, ManagedResource, Op,
};

pub const TYPE_NAME: &str = "homelab_aws_instance";

pub struct AwsInstanceResource;

/// The state for an instance as EC2 reports it, keeping what the declaration says where
/// EC2 cannot report it (`user_data_replace_on_change`, an explicit `associate_public_ip`).
fn state_from(
    kit: &Kit,
    observed: &ec2::Observed,
    declared: Option<&Instance>,
    aws: &Aws,
    keep: &Value,
) -> Result<Value, Diagnostics> {
    let mut instance = observed.instance.clone();
    if let Some(declared) = declared {
        instance.user_data_replace_on_change = declared.user_data_replace_on_change;
        if declared.associate_public_ip.is_some() || instance.associate_public_ip.is_none() {
            instance.associate_public_ip = declared.associate_public_ip;
        }
        if declared.user_data.as_deref() == Some("") && instance.user_data.is_none() {
            instance.user_data = Some(String::new());
        }
    }
    let s = |v: &Option<String>| serde_json::to_value(v).unwrap_or_default();
    let arn = format!("arn:aws:ec2:{}::instance/{}", aws.region, observed.id);
    kit.state(
        &instance,
        &[
            ("id", observed.id.clone().into()),
            ("arn", arn.into()),
            ("instance_state", observed.state.clone().into()),
            ("public_ip", s(&observed.public_ip)),
            ("private_ip", s(&observed.private_ip)),
            ("public_dns", s(&observed.public_dns)),
            ("private_dns", s(&observed.private_dns)),
            ("vpc_id", s(&observed.vpc_id)),
            ("availability_zone", s(&observed.availability_zone)),
        ],
        keep,
    )
}

/// After a failure on an instance that exists: the best state we can record, so
/// Terraform keeps tracking it.
async fn state_after_failure(aws: &Aws, id: &str, op: &Op<'_, Instance>) -> Value {
    if let Ok(Some(observed)) = ec2::read(aws, id).await {
        if let Ok(state) = state_from(op.kit, &observed, Some(&op.args), aws, op.config) {
            return state;
        }
    }
    op.fallback_state(&[("id", Value::String(id.to_string()))])
}

#[tfplugin::async_trait]
impl ManagedResource for AwsInstanceResource {
    type Args = Instance;
    // The configuration, not the plan: arguments AWS chooses are still unknown there.
    const ARGS_FROM_CONFIG: bool = true;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description:
                "An EC2 instance. Create waits (bounded by `timeouts.create`) until it runs; an \
             instance that does not get there is kept in state as tainted, so the next apply \
             replaces it and nothing is orphaned. `instance_type` and `user_data` change in \
             place (stop, modify, start); `ami`, `subnet_id` and `key_name` replace the \
             instance. Delete terminates it and waits until it is gone.",
            invalid: "Invalid EC2 instance",
            requires_replace: &["ami", "subnet_id", "key_name", "associate_public_ip"],
            // Arguments AWS fills when the configuration leaves them out.
            chosen: &[
                "subnet_id",
                "security_group_ids",
                "associate_public_ip",
                "root_volume_size",
            ],
            outputs: vec![
                output("id", "The instance ID (`i-...`)."),
                output("arn", "The instance's ARN."),
                output(
                    "instance_state",
                    "`pending`, `running`, `stopping`, `stopped`, `shutting-down`.",
                ),
                output("public_ip", "The public IPv4 address, if any."),
                output("private_ip", "The private IPv4 address."),
                output("public_dns", "The public DNS name, if any."),
                output("private_dns", "The private DNS name."),
                output("vpc_id", "The VPC the instance runs in."),
                output("availability_zone", "The availability zone it runs in."),
            ],
            timeouts: Some(aws_config::timeouts(vec![
                ("create", Duration::from_secs(10 * 60)),
                ("update", Duration::from_secs(10 * 60)),
                ("delete", Duration::from_secs(20 * 60)),
            ])),
            backend: Backend::Aws,
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, _kit: &Kit) -> Diagnostics {
        let planned = &mut change.planned;
        if change.prior.is_null() {
            planned.set_attr("instance_state", Value::String("running".into()));
            return Diagnostics::new();
        }
        let differs = |name: &str| {
            let before = change.prior.get_attr(name).unwrap_or(&Value::Null);
            let after = planned.get_attr(name).unwrap_or(&Value::Null);
            !after.is_known() || !before.sem_eq(after)
        };
        let user_data_changed = differs("user_data");
        let type_changed = differs("instance_type");
        let replace_on_change = planned
            .get_attr("user_data_replace_on_change")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if user_data_changed && replace_on_change {
            change.requires_replace.push(AttrPath::attr("user_data"));
        } else if user_data_changed || type_changed {
            // Stop and start: EC2 hands out a new public address unless it is elastic.
            planned.set_attr("public_ip", Value::unknown());
            planned.set_attr("public_dns", Value::unknown());
            planned.set_attr("instance_state", Value::String("running".into()));
        }
        Diagnostics::new()
    }

    async fn create(&self, op: Op<'_, Instance>) -> Result<Applied, Failure> {
        let aws = op.kit.aws()?;
        let id = ec2::launch(&aws, &op.args)
            .await
            .map_err(|e| aws_config::error("Cannot launch the EC2 instance", e))?;
        let running = match ec2::wait_running(&aws, &id, &op.deadline).await {
            Ok(observed) => {
                state_from(op.kit, &observed, Some(&op.args), &aws, op.config).map_err(|d| {
                    AwsError::NotFound(
                        d.iter()
                            .map(|d| d.detail.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                    )
                })
            }
            Err(e) => Err(e),
        };
        match running {
            Ok(state) => Ok(state.into()),
            // Launched but not running: record it (Terraform taints it), never orphan it.
            Err(e) => Err(Failure::Kept {
                state: state_after_failure(&aws, &id, &op).await,
                diagnostics: Diagnostic::error(
                    "EC2 instance did not start",
                    format!(
                        "Instance {id} was launched but did not reach running: {e}. It is recorded in state \
                         as tainted, so the next apply terminates and replaces it."
                    ),
                )
                .into(),
            }),
        }
    }

    async fn update(&self, op: Op<'_, Instance>) -> Result<Applied, Failure> {
        let aws = op.kit.aws()?;
        let Some(id) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Err(Failure::Unchanged(
                Diagnostic::error("Cannot update the EC2 instance", "no ID in state").into(),
            ));
        };
        let work = async {
            let actual = ec2::read(&aws, id)
                .await?
                .ok_or_else(|| AwsError::NotFound(format!("instance {id} no longer exists")))?;
            let plan = ec2::plan(&op.args, &actual.instance);
            if !plan.replace.is_empty() {
                return Err(AwsError::NotFound(format!(
                    "{} cannot change on a launched instance; plan again to replace it",
                    plan.replace.join(", ")
                )));
            }
            if !plan.is_empty() {
                ec2::apply(&aws, id, &plan, &op.deadline).await?;
            }
            ec2::read(&aws, id)
                .await?
                .ok_or_else(|| AwsError::NotFound(format!("instance {id} disappeared")))
        };
        match work.await {
            Ok(observed) => {
                Ok(state_from(op.kit, &observed, Some(&op.args), &aws, op.config)?.into())
            }
            Err(e) => Err(Failure::Kept {
                state: state_after_failure(&aws, id, &op).await,
                diagnostics: aws_config::error("Cannot update the EC2 instance", e),
            }),
        }
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let aws = op.kit.aws()?;
        let Some(id) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Ok(());
        };
        ec2::terminate(&aws, id, &op.deadline)
            .await
            .map_err(|e| aws_config::error("Cannot terminate the EC2 instance", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let aws = current.kit.aws()?;
        let state = current.state;
        let Some(id) = state.get_attr("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let observed = match ec2::read(&aws, id).await {
            Ok(Some(observed)) => observed,
            // Terminated behind Terraform's back: the next plan launches a new one.
            Ok(None) => return Ok(None),
            Err(e) => return Err(aws_config::error("Cannot read the EC2 instance", e)),
        };
        let declared = current.kit.args::<Instance>(state).ok();
        state_from(current.kit, &observed, declared.as_ref(), &aws, state).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        if !id.starts_with("i-") {
            return Err(Diagnostic::error(
                "Invalid import ID",
                format!("The import ID is the instance ID, e.g. i-0123456789abcdef0; got {id:?}."),
            )
            .into());
        }
        let aws = kit.aws()?;
        let observed = ec2::read(&aws, id)
            .await
            .map_err(|e| aws_config::error("Cannot import the EC2 instance", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the EC2 instance",
                    format!(
                        "instance {id} does not exist (or is terminated) at {}",
                        aws.endpoint
                    ),
                ))
            })?;
        state_from(kit, &observed, None, &aws, &Value::Null)
    }
}
