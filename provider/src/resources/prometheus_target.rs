//! `homelab_prometheus_target`: one Prometheus file_sd target file (`<file_sd_dir>/<job>.json`)
//! per resource, on the local machine or on a `host` over SSH. The capability (render,
//! read back, plan) is `lab::prometheus_target`, the same one the Ansible module
//! `tabiri.homelab.prometheus_target` uses, with the same argument names.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use lab::file_plan;
use lab::prometheus_target::{self as target, PrometheusTarget};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::serde_bridge;

use crate::config::ProviderState;
use crate::derive::{self, Annotations};
use crate::host;

pub const TYPE_NAME: &str = "homelab_prometheus_target";
/// Attributes Terraform adds to the capability's arguments.
const COMPUTED: &[&str] = &["id", "content_sha256", "host", "host_public_key"];

pub struct PrometheusTargetResource {
    state: Arc<ProviderState>,
}

impl PrometheusTargetResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(PrometheusTarget))
            .expect("a JSON schema serialises");
        let block = derive::block_from_json_schema(
            "Scrape targets for one Prometheus job, written as a file_sd file \
             (`<file_sd_dir>/<job>.json`) that Prometheus re-reads when it changes, on this \
             machine or on a `host` over SSH. Writes are atomic; a hand edit of the file shows \
             up as drift in the next plan; an existing file is never overwritten by a create \
             (import it instead).",
            &json_schema,
            Annotations {
                requires_replace: &["job", "file_sd_dir"],
                extra: vec![
                    host::public_key_attribute(),
                    Attribute::computed("id", Type::String)
                        .description("The target file's absolute path: `file_sd_dir/job.json`."),
                    Attribute::computed("content_sha256", Type::String).description(
                        "SHA-256 of the file's bytes. A hand edit of the file changes it, so the next plan shows an update.",
                    ),
                ],
                ..Annotations::default()
            },
        )
        .block(host::block());
        Schema::new(0, block)
    })
}

fn target_from(value: &Value) -> Result<PrometheusTarget, Diagnostics> {
    derive::args_from(value, COMPUTED).map_err(|e| {
        Diagnostic::error(
            "Invalid Prometheus target",
            format!("cannot read the target arguments: {e}"),
        )
        .into()
    })
}

fn validate_target(value: &Value) -> Diagnostics {
    derive::validate_known::<PrometheusTarget, _>(
        "Invalid Prometheus target",
        value,
        &schema().value_type(),
        COMPUTED,
        PrometheusTarget::validate,
        derive::field_error_diagnostics,
    )
}

fn lab_error(summary: &str, error: lab::Error) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// The state for targets as found in the file; `kept` carries the `host` block over.
fn state_from(
    found: &PrometheusTarget,
    sha256: &str,
    kept: &Value,
    public_key: Value,
) -> Result<Value, Diagnostics> {
    let mut json = serde_json::to_value(found).map_err(|e| {
        Diagnostics::from(Diagnostic::error("Cannot record the target", e.to_string()))
    })?;
    if let Some(object) = json.as_object_mut() {
        object.insert("id".into(), found.file_path().display().to_string().into());
        object.insert("content_sha256".into(), sha256.into());
    }
    let mut value = serde_bridge::from_json(&json, &schema().value_type())
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot record the target", e)))?;
    host::carry_over(&mut value, kept, public_key);
    Ok(value)
}

/// The state for whatever file is at the target's path: its targets when it is one target
/// group, otherwise the recorded arguments with the file's hash, so the plan rewrites it.
fn state_for_file(
    path: &Path,
    bytes: &[u8],
    kept: &Value,
    public_key: Value,
) -> Result<Value, Diagnostics> {
    let sha256 = lab::files::sha256_hex(bytes);
    match target::parse_target_file(path, bytes) {
        Ok(found) => state_from(&found, &sha256, kept, public_key),
        Err(_) => {
            let mut value = kept.clone();
            value.set_attr("content_sha256", Value::String(sha256));
            host::carry_over(&mut value, kept, public_key);
            Ok(value)
        }
    }
}

impl PrometheusTargetResource {
    async fn write(&self, request: &ApplyRequest<'_>, creating: bool) -> Outcome {
        let desired = match target_from(request.planned) {
            Ok(t) => t,
            Err(diags) => return Outcome::failed(diags),
        };
        let errors =
            derive::field_error_diagnostics("Invalid Prometheus target", &desired.validate());
        if errors.has_errors() {
            return Outcome::failed(errors);
        }
        let on = match host::connect(&self.state, request.planned) {
            Ok(on) => on,
            Err(diags) => return Outcome::unchanged(request.prior, request.private, diags),
        };
        let path = desired.file_path();
        let written = async {
            let cannot = |e| lab_error("Cannot write the Prometheus target file", e);
            let (actual, key) = on.read_file(&path).await.map_err(cannot)?;
            let plan = target::plan(&path, Some(&desired), actual.as_deref());
            if creating && plan.action == file_plan::Action::Update {
                return Err(Diagnostics::from(Diagnostic::error(
                    "The Prometheus target file exists",
                    format!(
                        "{} on {} already holds other targets; import it (terraform import \
                         {TYPE_NAME}.<name> <path, or [user@]address[:port]:path>) or remove it",
                        path.display(),
                        on.host.name()
                    ),
                )));
            }
            file_plan::apply_on(on.host.as_ref(), &plan)
                .await
                .map_err(cannot)?;
            Ok(key)
        }
        .await;
        match written {
            Ok(key) => {
                let mut state = request.planned.clone();
                state.set_attr(host::PUBLIC_KEY, key);
                Outcome::ok(state)
            }
            // Nothing was written: state stays what it was.
            Err(diags) => Outcome::unchanged(request.prior, request.private, diags),
        }
    }
}

#[tfplugin::async_trait]
impl Resource for PrometheusTargetResource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = host::validate(config);
        diags.extend(validate_target(config));
        diags
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        let mut diags = host::validate(&change.planned);
        diags.extend(validate_target(&change.planned));
        if diags.has_errors() {
            return diags;
        }
        host::plan(change);
        let planned = &mut change.planned;
        let job = planned
            .get_attr("job")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let dir = planned
            .get_attr("file_sd_dir")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let (Some(job), Some(dir)) = (job, dir) {
            let path = target::target_file_path(&dir, &job).display().to_string();
            planned.set_attr("id", Value::String(path));
        }
        if !planned.is_known_except(COMPUTED) {
            planned.set_attr("content_sha256", Value::unknown());
            return diags;
        }
        match target_from(planned) {
            Ok(desired) => planned.set_attr(
                "content_sha256",
                Value::String(lab::files::sha256_hex(desired.render().as_bytes())),
            ),
            Err(errors) => diags.extend(errors),
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
        let Some(path) = request.prior.get_attr("id").and_then(Value::as_str) else {
            return Diagnostics::new();
        };
        let on = match host::connect(&self.state, request.prior) {
            Ok(on) => on,
            Err(diags) => return diags,
        };
        match on.host.remove_file(Path::new(path)).await {
            Ok(_) => Diagnostics::new(),
            Err(e) => lab_error("Cannot remove the Prometheus target file", e),
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let Some(path) = state.get_attr("id").and_then(Value::as_str) else {
            return Outcome::ok(Value::Null);
        };
        let on = match host::connect(&self.state, state) {
            Ok(on) => on,
            Err(diags) => return Outcome::unchanged(state, private, diags),
        };
        let path = Path::new(path);
        match on.read_file(path).await {
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok((None, _)) => Outcome::ok(Value::Null),
            Ok((Some(bytes), key)) => match state_for_file(path, &bytes, state, key) {
                Ok(new_state) => Outcome::with_private(new_state, private),
                Err(diags) => Outcome::unchanged(state, private, diags),
            },
            Err(e) => Outcome::unchanged(
                state,
                private,
                lab_error("Cannot read the Prometheus target file", e),
            ),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        let (located, path, on) =
            host::locate_import(&self.state, id, "/etc/prometheus/file_sd/node.json")?;
        let cannot = |e| lab_error("Cannot import the Prometheus target file", e);
        let (bytes, key) = on.read_file(&path).await.map_err(cannot)?;
        let bytes = bytes.ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import the Prometheus target file",
                format!(
                    "there is no file at {} on {}",
                    path.display(),
                    on.host.name()
                ),
            ))
        })?;
        let found = target::parse_target_file(&path, &bytes).map_err(|reason| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import the Prometheus target file",
                format!("cannot import {}: {reason}", path.display()),
            ))
        })?;
        state_from(&found, &lab::files::sha256_hex(&bytes), &located, key)
    }
}
