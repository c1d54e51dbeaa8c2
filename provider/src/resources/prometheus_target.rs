//! `homelab_prometheus_target`: one Prometheus file_sd target file (`<file_sd_dir>/<job>.json`)
//! per resource, on the local machine or on a `host` over SSH. The capability (render,
//! read back, plan) is `lab::prometheus_target`, the same one the Ansible module
//! `tabiri.homelab.prometheus_target` uses, with the same argument names.

use std::path::Path;

use lab::file_plan;
use lab::prometheus_target::{self as target, PrometheusTarget};
use lab::validation::FieldError;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use crate::host;
use crate::kit::{Applied, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_prometheus_target";

pub struct PrometheusTargetResource;

fn lab_error(summary: &str, error: lab::Error) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// The state for targets as found in the file; `kept` carries the `host` block over.
fn state_from(
    kit: &Kit,
    found: &PrometheusTarget,
    sha256: &str,
    kept: &Value,
) -> Result<Value, Diagnostics> {
    let path = found.file_path().display().to_string();
    kit.state(
        found,
        &[("id", path.into()), ("content_sha256", sha256.into())],
        kept,
    )
}

/// The state for whatever file is at the target's path: its targets when it is one target
/// group, otherwise the recorded arguments with the file's hash, so the plan rewrites it.
fn state_for_file(
    kit: &Kit,
    path: &Path,
    bytes: &[u8],
    kept: &Value,
) -> Result<Value, Diagnostics> {
    let sha256 = lab::files::sha256_hex(bytes);
    match target::parse_target_file(path, bytes) {
        Ok(found) => state_from(kit, &found, &sha256, kept),
        Err(_) => {
            let mut value = kept.clone();
            value.set_attr("content_sha256", Value::String(sha256));
            Ok(value)
        }
    }
}

impl PrometheusTargetResource {
    async fn write(op: Op<'_, PrometheusTarget>, creating: bool) -> Result<Applied, Failure> {
        let on = op.host();
        let path = op.args.file_path();
        let cannot = |e| lab_error("Cannot write the Prometheus target file", e);
        let actual = on.host.read_file(&path).await.map_err(cannot)?;
        let plan = target::plan(&path, Some(&op.args), actual.as_deref());
        if creating && plan.action == file_plan::Action::Update {
            return Err(Failure::Unchanged(
                Diagnostic::error(
                    "The Prometheus target file exists",
                    format!(
                        "{} on {} already holds other targets; import it (terraform import \
                         {TYPE_NAME}.<name> <path, or [user@]address[:port]:path>) or remove it",
                        path.display(),
                        on.host.name()
                    ),
                )
                .into(),
            ));
        }
        // Nothing is written unless the whole write succeeds: state stays what it was.
        file_plan::apply_on(on.host.as_ref(), &plan)
            .await
            .map_err(cannot)?;
        Ok(op.planned.clone().into())
    }
}

#[tfplugin::async_trait]
impl ManagedResource for PrometheusTargetResource {
    type Args = PrometheusTarget;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "Scrape targets for one Prometheus job, written as a file_sd file \
                 (`<file_sd_dir>/<job>.json`) that Prometheus re-reads when it changes, on this \
                 machine or on a `host` over SSH. Writes are atomic; a hand edit of the file shows \
                 up as drift in the next plan; an existing file is never overwritten by a create \
                 (import it instead).",
            invalid: "Invalid Prometheus target",
            requires_replace: &["job", "file_sd_dir"],
            outputs: vec![
                Attribute::computed("id", Type::String)
                    .description("The target file's absolute path: `file_sd_dir/job.json`."),
                host::content_sha256_attribute(),
            ],
            on_host: true,
            ..Definition::default()
        }
    }

    fn check(args: &PrometheusTarget) -> Vec<FieldError> {
        args.validate()
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        let planned = &mut change.planned;
        let job = planned.get_attr("job").and_then(Value::as_str);
        let dir = planned.get_attr("file_sd_dir").and_then(Value::as_str);
        if let (Some(job), Some(dir)) = (job, dir) {
            let path = target::target_file_path(dir, job).display().to_string();
            planned.set_attr("id", Value::String(path));
        }
        if !planned.is_known_except(&["id", "content_sha256", "host", "host_public_key"]) {
            planned.set_attr("content_sha256", Value::unknown());
            return Diagnostics::new();
        }
        match kit.args::<PrometheusTarget>(planned) {
            Ok(desired) => {
                planned.set_attr(
                    "content_sha256",
                    Value::String(lab::files::sha256_hex(desired.render().as_bytes())),
                );
                Diagnostics::new()
            }
            Err(errors) => errors,
        }
    }

    async fn create(&self, op: Op<'_, PrometheusTarget>) -> Result<Applied, Failure> {
        Self::write(op, true).await
    }

    async fn update(&self, op: Op<'_, PrometheusTarget>) -> Result<Applied, Failure> {
        Self::write(op, false).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let Some(path) = op.prior.get_attr("id").and_then(Value::as_str) else {
            return Ok(());
        };
        op.host()
            .host
            .remove_file(Path::new(path))
            .await
            .map(drop)
            .map_err(|e| lab_error("Cannot remove the Prometheus target file", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let Some(path) = current.state.get_attr("id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let path = Path::new(path);
        match current.host().host.read_file(path).await {
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => state_for_file(current.kit, path, &bytes, current.state).map(Some),
            Err(e) => Err(lab_error("Cannot read the Prometheus target file", e)),
        }
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let file = kit
            .import_file(id, "/etc/prometheus/file_sd/node.json")
            .await?;
        let found = target::parse_target_file(&file.path, &file.bytes).map_err(|reason| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import the Prometheus target file",
                format!("cannot import {}: {reason}", file.path.display()),
            ))
        })?;
        state_from(
            kit,
            &found,
            &lab::files::sha256_hex(&file.bytes),
            &file.located,
        )
    }
}
