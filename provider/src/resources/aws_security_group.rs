//! `homelab_aws_security_group`: a VPC security group holding exactly the declared rules.
//! The capability (rules as atoms, plan as the difference, apply, delete with retries) is
//! `lab::aws::security_group`; this file maps Terraform values to it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lab::aws::security_group::{self as sg, SecurityGroup};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};

use crate::config::aws::{self as aws_config, validate_known};
use crate::config::ProviderState;
use crate::derive::{self, Annotations};
use crate::timeouts;

pub const TYPE_NAME: &str = "homelab_aws_security_group";
/// Attributes Terraform adds to the capability's arguments.
const COMPUTED: &[&str] = &["id", "arn", "owner_id", "timeouts"];
const DELETE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const SUMMARY: &str = "Invalid security group";

pub struct AwsSecurityGroupResource {
    state: Arc<ProviderState>,
}

impl AwsSecurityGroupResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(SecurityGroup))
            .expect("a JSON schema serialises");
        let mut block = derive::block_from_json_schema(
            "An EC2 security group with exactly the declared ingress and egress rules. Rules \
             change in place: apply revokes what AWS has beyond the declaration and authorises \
             what is missing, so AWS's default allow-all egress rule is removed unless declared. \
             A rule or tag changed outside Terraform shows in the next plan. Deletion is retried \
             while a network interface (an instance shutting down) still uses the group.",
            &json_schema,
            Annotations {
                blocks: &[],
                requires_replace: &["name", "description", "vpc_id"],
                skip: &[],
                sensitive: &[],
                extra: vec![
                    Attribute::computed("id", Type::String)
                        .description("The group's ID (`sg-...`)."),
                    Attribute::computed("arn", Type::String).description("The group's ARN."),
                    Attribute::computed("owner_id", Type::String)
                        .description("The AWS account that owns the group."),
                ],
            },
        );
        aws_config::mark_computed(&mut block, &["vpc_id"]);
        let block = block.block(aws_config::timeouts_block(&[("delete", "15m")]));
        Schema::new(0, block)
    })
}

fn group_from(value: &Value) -> Result<SecurityGroup, Diagnostics> {
    aws_config::args_from(value, COMPUTED)
        .map_err(|e| Diagnostic::error(SUMMARY, format!("cannot read the arguments: {e}")).into())
}

fn state_from(
    observed: &sg::Observed,
    declared: Option<&SecurityGroup>,
    aws: &lab::aws::Aws,
    keep: &Value,
) -> Result<Value, Diagnostics> {
    let group = observed.as_declared(declared);
    let json = serde_json::to_value(&group).map_err(|e| {
        Diagnostics::from(Diagnostic::error("Cannot record the group", e.to_string()))
    })?;
    let owner = observed.owner_id.clone().unwrap_or_default();
    let arn = format!(
        "arn:aws:ec2:{}:{}:security-group/{}",
        aws.region, owner, observed.id
    );
    aws_config::state_value(
        json,
        &[
            ("id", observed.id.clone().into()),
            ("arn", arn.into()),
            ("owner_id", owner.into()),
        ],
        &schema().value_type(),
        keep,
    )
}

impl AwsSecurityGroupResource {
    /// Brings group `id` to `desired` and returns the state it ends in. On failure the
    /// state still records the group (so Terraform keeps track of it) when it exists.
    async fn converge(
        &self,
        aws: &lab::aws::Aws,
        id: &str,
        desired: &SecurityGroup,
        request: &ApplyRequest<'_>,
    ) -> Outcome {
        let converged = async {
            let actual = sg::read(aws, id).await?.ok_or_else(|| {
                lab::aws::AwsError::NotFound(format!("security group {id} disappeared"))
            })?;
            let plan = sg::plan(desired, &actual);
            if !plan.is_empty() {
                sg::apply(aws, id, &plan).await?;
            }
            sg::read(aws, id).await?.ok_or_else(|| {
                lab::aws::AwsError::NotFound(format!("security group {id} disappeared"))
            })
        };
        let result = tokio::select! {
            result = converged => result,
            _ = request.ctx.cancel.cancelled() => Err(lab::aws::AwsError::NotFound("stopped by Terraform before the rules were applied".into())),
        };
        match result {
            Ok(observed) => match state_from(&observed, Some(desired), aws, request.config) {
                Ok(state) => Outcome::ok(state),
                Err(diags) => Outcome::failed(diags),
            },
            Err(e) => {
                // Record what exists so the next plan corrects it (a new group is tainted).
                let mut state = aws_config::unknowns_to_null(request.planned);
                state.set_attr("id", Value::String(id.to_string()));
                if let Ok(Some(observed)) = sg::read(aws, id).await {
                    if let Ok(read) = state_from(&observed, Some(desired), aws, request.config) {
                        state = read;
                    }
                }
                Outcome {
                    state,
                    private: Vec::new(),
                    diagnostics: aws_config::error("Cannot apply the security group's rules", e),
                }
            }
        }
    }
}

#[tfplugin::async_trait]
impl Resource for AwsSecurityGroupResource {
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
            SecurityGroup::validate,
        )
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        if let Err(diags) = self.state.aws.clients(TYPE_NAME) {
            return diags;
        }
        validate_known(
            SUMMARY,
            &change.planned,
            &schema().value_type(),
            COMPUTED,
            SecurityGroup::validate,
        )
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        let aws = match self.state.aws.clients(TYPE_NAME) {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        let desired = match group_from(request.config) {
            Ok(group) => group,
            Err(diags) => return Outcome::failed(diags),
        };
        let errors = desired.validate();
        if !errors.is_empty() {
            return Outcome::failed(derive::field_error_diagnostics(SUMMARY, &errors));
        }
        let id = match sg::create(&aws, &desired).await {
            Ok(id) => id,
            Err(e) => {
                return Outcome::failed(aws_config::error("Cannot create the security group", e))
            }
        };
        self.converge(&aws, &id, &desired, &request).await
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        let aws = match self.state.aws.clients(TYPE_NAME) {
            Ok(aws) => aws,
            Err(diags) => return Outcome::failed(diags),
        };
        let desired = match group_from(request.config) {
            Ok(group) => group,
            Err(diags) => return Outcome::failed(diags),
        };
        let Some(id) = request.prior.get_attr("id").and_then(Value::as_str) else {
            return Outcome::failed(
                Diagnostic::error("Cannot update the security group", "no ID in state").into(),
            );
        };
        let id = id.to_string();
        let mut outcome = self.converge(&aws, &id, &desired, &request).await;
        if outcome.diagnostics.has_errors() && outcome.state.is_null() {
            outcome.state = request.prior.clone();
        }
        outcome
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        let aws = match self.state.aws.clients(TYPE_NAME) {
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
            result = sg::delete(&aws, id, timeout) => match result {
                Ok(()) => Diagnostics::new(),
                Err(e) => aws_config::error("Cannot delete the security group", e),
            },
            _ = request.ctx.cancel.cancelled() => Diagnostic::error("Interrupted", format!("Stopped while deleting security group {id}; it may still exist.")).into(),
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let aws = match self.state.aws.clients(TYPE_NAME) {
            Ok(aws) => aws,
            Err(diags) => return Outcome::unchanged(state, private, diags),
        };
        let Some(id) = state.get_attr("id").and_then(Value::as_str) else {
            return Outcome::ok(Value::Null);
        };
        let observed = match sg::read(&aws, id).await {
            Ok(Some(observed)) => observed,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome::unchanged(
                    state,
                    private,
                    aws_config::error("Cannot read the security group", e),
                )
            }
        };
        // A stub from import has no arguments yet: read them all.
        let declared = group_from(state).ok();
        match state_from(&observed, declared.as_ref(), &aws, state) {
            Ok(new_state) => Outcome::with_private(new_state, private),
            Err(diags) => Outcome::failed(diags),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        if !id.starts_with("sg-") {
            return Err(Diagnostic::error(
                "Invalid import ID",
                format!("The import ID is the security group's ID, e.g. sg-0123456789abcdef0; got {id:?}."),
            )
            .into());
        }
        let aws = self.state.aws.clients(TYPE_NAME)?;
        let observed = sg::read(&aws, id)
            .await
            .map_err(|e| aws_config::error("Cannot import the security group", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the security group",
                    format!("security group {id} does not exist at {}", aws.endpoint),
                ))
            })?;
        state_from(&observed, None, &aws, &Value::Null)
    }
}
