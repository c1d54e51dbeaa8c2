//! `homelab_aws_instance`: one EC2 instance. The capability (launch, wait, in-place
//! changes with stop/modify/start, terminate) is `lab::aws::instance`; this file maps
//! Terraform values to it and keeps every launched instance in state, even when the wait
//! for it fails (Terraform then marks it tainted and the next apply replaces it).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lab::aws::instance::{self as ec2, Instance};
use lab::aws::{Aws, AwsError};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};

use crate::config::aws::{self as aws_config, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};
use crate::timeouts;

pub const TYPE_NAME: &str = "homelab_aws_instance";
/// Attributes Terraform adds to the capability's arguments.
const COMPUTED: &[&str] = &[
    "id",
    "arn",
    "instance_state",
    "public_ip",
    "private_ip",
    "public_dns",
    "private_dns",
    "vpc_id",
    "availability_zone",
    "timeouts",
];
/// Arguments AWS fills when the configuration leaves them out.
const AWS_CHOSEN: &[&str] = &[
    "subnet_id",
    "security_group_ids",
    "associate_public_ip",
    "root_volume_size",
];
const CREATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const SUMMARY: &str = "Invalid EC2 instance";

pub struct AwsInstanceResource {
    state: Arc<ProviderState>,
}

impl AwsInstanceResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(Instance))
            .expect("a JSON schema serialises");
        let computed = |name: &str, description: &str| {
            Attribute::computed(name, Type::String).description(description)
        };
        let mut block = derive::block_from_json_schema(
            "An EC2 instance. Create waits (bounded by `timeouts.create`) until it runs; an \
             instance that does not get there is kept in state as tainted, so the next apply \
             replaces it and nothing is orphaned. `instance_type` and `user_data` change in \
             place (stop, modify, start); `ami`, `subnet_id` and `key_name` replace the \
             instance. Delete terminates it and waits until it is gone.",
            &json_schema,
            Annotations {
                blocks: &[],
                requires_replace: &["ami", "subnet_id", "key_name", "associate_public_ip"],
                skip: &[],
                sensitive: &[],
                extra: vec![
                    computed("id", "The instance ID (`i-...`)."),
                    computed("arn", "The instance's ARN."),
                    computed(
                        "instance_state",
                        "`pending`, `running`, `stopping`, `stopped`, `shutting-down`.",
                    ),
                    computed("public_ip", "The public IPv4 address, if any."),
                    computed("private_ip", "The private IPv4 address."),
                    computed("public_dns", "The public DNS name, if any."),
                    computed("private_dns", "The private DNS name."),
                    computed("vpc_id", "The VPC the instance runs in."),
                    computed("availability_zone", "The availability zone it runs in."),
                ],
            },
        );
        aws_config::mark_computed(&mut block, AWS_CHOSEN);
        let block = block.block(aws_config::timeouts_block(&[
            ("create", "10m"),
            ("update", "10m"),
            ("delete", "20m"),
        ]));
        Schema::new(0, block)
    })
}

fn instance_from(value: &Value) -> Result<Instance, Diagnostics> {
    aws_config::args_from(value, COMPUTED)
        .map_err(|e| Diagnostic::error(SUMMARY, format!("cannot read the arguments: {e}")).into())
}

/// The state for an instance as EC2 reports it, keeping what the declaration says where
/// EC2 cannot report it (`user_data_replace_on_change`, an explicit `associate_public_ip`).
fn state_from(
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
    let json = serde_json::to_value(&instance).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot record the instance",
            e.to_string(),
        ))
    })?;
    let s = |v: &Option<String>| serde_json::to_value(v).unwrap_or_default();
    let arn = format!("arn:aws:ec2:{}::instance/{}", aws.region, observed.id);
    aws_config::state_value(
        json,
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
        &schema().value_type(),
        keep,
    )
}

impl AwsInstanceResource {
    fn clients(&self) -> Result<Arc<Aws>, Diagnostics> {
        self.state.aws.clients(TYPE_NAME)
    }

    /// After a failure on an instance that exists: the best state we can record, so
    /// Terraform keeps tracking it.
    async fn state_after_failure(
        &self,
        aws: &Aws,
        id: &str,
        declared: &Instance,
        request: &ApplyRequest<'_>,
    ) -> Value {
        if let Ok(Some(observed)) = ec2::read(aws, id).await {
            if let Ok(state) = state_from(&observed, Some(declared), aws, request.config) {
                return state;
            }
        }
        let mut state = if request.prior.is_null() {
            aws_config::unknowns_to_null(request.planned)
        } else {
            request.prior.clone()
        };
        state.set_attr("id", Value::String(id.to_string()));
        state
    }
}

fn interrupted(what: &str) -> AwsError {
    AwsError::NotFound(format!("stopped by Terraform while {what}"))
}

#[tfplugin::async_trait]
impl Resource for AwsInstanceResource {
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
            Instance::validate,
        )
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        if let Err(diags) = self.clients() {
            return diags;
        }
        let diags = validate_known(
            SUMMARY,
            &change.planned,
            &schema().value_type(),
            COMPUTED,
            Instance::validate,
        );
        if diags.has_errors() {
            return diags;
        }
        let planned = &mut change.planned;
        if change.prior.is_null() {
            planned.set_attr("instance_state", Value::String("running".into()));
            return diags;
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
        diags
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        // The configuration, not the plan: arguments AWS chooses are still unknown there.
        let desired = match instance_from(request.config) {
            Ok(instance) => instance,
            Err(diags) => return Outcome::failed(diags),
        };
        let errors = desired.validate();
        if !errors.is_empty() {
            return Outcome::failed(derive::field_error_diagnostics(SUMMARY, &errors));
        }
        let timeout = match timeouts::get(request.config, "create", CREATE_TIMEOUT) {
            Ok(t) => t,
            Err(diags) => return Outcome::failed(diags),
        };
        let id = match ec2::launch(&aws, &desired).await {
            Ok(id) => id,
            Err(e) => {
                return Outcome::failed(aws_config::error("Cannot launch the EC2 instance", e))
            }
        };
        let waited = tokio::select! {
            result = ec2::wait_running(&aws, &id, timeout) => result,
            _ = request.ctx.cancel.cancelled() => Err(interrupted("waiting for the instance to run")),
        };
        match waited.and_then(|observed| {
            state_from(&observed, Some(&desired), &aws, request.config).map_err(|d| {
                AwsError::NotFound(
                    d.iter()
                        .map(|d| d.detail.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })
        }) {
            Ok(state) => Outcome::ok(state),
            Err(e) => {
                // Launched but not running: record it (Terraform taints it), never orphan it.
                let state = self
                    .state_after_failure(&aws, &id, &desired, &request)
                    .await;
                Outcome {
                    state,
                    private: Vec::new(),
                    diagnostics: Diagnostic::error(
                        "EC2 instance did not start",
                        format!(
                            "Instance {id} was launched but did not reach running: {e}. It is recorded in state \
                             as tainted, so the next apply terminates and replaces it."
                        ),
                    )
                    .into(),
                }
            }
        }
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        let desired = match instance_from(request.config) {
            Ok(instance) => instance,
            Err(diags) => return Outcome::failed(diags),
        };
        let Some(id) = request
            .prior
            .get_attr("id")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Outcome::failed(
                Diagnostic::error("Cannot update the EC2 instance", "no ID in state").into(),
            );
        };
        let timeout = match timeouts::get(request.config, "update", UPDATE_TIMEOUT) {
            Ok(t) => t,
            Err(diags) => return Outcome::failed(diags),
        };
        let work = async {
            let actual = ec2::read(&aws, &id)
                .await?
                .ok_or_else(|| AwsError::NotFound(format!("instance {id} no longer exists")))?;
            let plan = ec2::plan(&desired, &actual.instance);
            if !plan.replace.is_empty() {
                return Err(AwsError::NotFound(format!(
                    "{} cannot change on a launched instance; plan again to replace it",
                    plan.replace.join(", ")
                )));
            }
            if !plan.is_empty() {
                ec2::apply(&aws, &id, &plan, timeout).await?;
            }
            ec2::read(&aws, &id)
                .await?
                .ok_or_else(|| AwsError::NotFound(format!("instance {id} disappeared")))
        };
        let result = tokio::select! {
            result = work => result,
            _ = request.ctx.cancel.cancelled() => Err(interrupted("updating the instance")),
        };
        match result {
            Ok(observed) => match state_from(&observed, Some(&desired), &aws, request.config) {
                Ok(state) => Outcome::ok(state),
                Err(diags) => Outcome::failed(diags),
            },
            Err(e) => Outcome {
                state: self
                    .state_after_failure(&aws, &id, &desired, &request)
                    .await,
                private: Vec::new(),
                diagnostics: aws_config::error("Cannot update the EC2 instance", e),
            },
        }
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return diags,
        };
        let Some(id) = request.prior.get_attr("id").and_then(Value::as_str) else {
            return Diagnostics::new();
        };
        let timeout = match timeouts::get(request.prior, "delete", DELETE_TIMEOUT) {
            Ok(t) => t,
            Err(diags) => return diags,
        };
        tokio::select! {
            result = ec2::terminate(&aws, id, timeout) => match result {
                Ok(()) => Diagnostics::new(),
                Err(e) => aws_config::error("Cannot terminate the EC2 instance", e),
            },
            _ = request.ctx.cancel.cancelled() => Diagnostic::error(
                "Interrupted",
                format!("Stopped while waiting for instance {id} to terminate; it is kept in state."),
            ).into(),
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let aws = match self.clients() {
            Ok(aws) => aws,
            Err(diags) => return Outcome::unchanged(state, private, diags),
        };
        let Some(id) = state.get_attr("id").and_then(Value::as_str) else {
            return Outcome::ok(Value::Null);
        };
        let observed = match ec2::read(&aws, id).await {
            Ok(Some(observed)) => observed,
            // Terminated behind Terraform's back: the next plan launches a new one.
            Ok(None) => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome::unchanged(
                    state,
                    private,
                    aws_config::error("Cannot read the EC2 instance", e),
                )
            }
        };
        let declared = instance_from(state).ok();
        match state_from(&observed, declared.as_ref(), &aws, state) {
            Ok(new_state) => Outcome::with_private(new_state, private),
            Err(diags) => Outcome::failed(diags),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        if !id.starts_with("i-") {
            return Err(Diagnostic::error(
                "Invalid import ID",
                format!("The import ID is the instance ID, e.g. i-0123456789abcdef0; got {id:?}."),
            )
            .into());
        }
        let aws = self.clients()?;
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
        state_from(&observed, None, &aws, &Value::Null)
    }
}
