//! `homelab_compose_stack`: a Docker Compose project on a host, run by the Compose CLI on
//! that host. The capability (read in one remote command, per-service plan, staged and
//! validated switch, `up --wait` with rollback, `down`) is `lab::compose`; this file maps
//! Terraform values to it. Drift shows in two outputs: `content_sha256` (the files in the
//! project directory, edited by hand or not) and `pending_changes` (what an apply would do
//! to the containers: a stopped or removed container, a rebuilt image, an orphan).

use std::collections::BTreeMap;

use lab::compose::apply::{self as stack_on, Inspection};
use lab::compose::model::Model;
use lab::compose::plan::plan;
use lab::compose::ComposeStack;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use crate::host::{self, Connected};
use crate::kit::{lab_error, Applied, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_compose_stack";

pub struct ComposeStackResource;

fn services_type() -> Type {
    Type::Map(Box::new(Type::Object(
        [
            ("state", Type::String),
            ("health", Type::String),
            ("image_id", Type::String),
            ("containers", Type::List(Box::new(Type::String))),
            ("config_hash", Type::String),
            ("image", Type::String),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), t))
        .collect(),
    )))
}

/// Per service, the Compose configuration hash and image it was deployed with, as the
/// state recorded them at apply.
type Recorded = BTreeMap<String, (String, Option<String>)>;

fn recorded(state: &Value) -> Recorded {
    let Some(Value::Map(services)) = state.get_attr("services") else {
        return Recorded::new();
    };
    services
        .iter()
        .filter_map(|(name, s)| {
            let hash = s.get_attr("config_hash").and_then(Value::as_str)?;
            let image = s
                .get_attr("image")
                .and_then(Value::as_str)
                .map(str::to_string);
            Some((name.clone(), (hash.to_string(), image)))
        })
        .collect()
}

/// The state for a project as read: `compose` as the host has it (a hand edit shows as a
/// diff), the files' hash, the services (with what they were deployed with, as
/// `recorded`), and what an apply would change.
fn state_from(
    kit: &Kit,
    declared: &ComposeStack,
    inspection: &Inspection,
    keep: &Value,
    recorded: &Recorded,
) -> Result<Value, Diagnostics> {
    let actual = &inspection.actual;
    let mut found = declared.clone();
    if let Some(compose) = &actual.compose {
        found.compose = compose.clone();
    }
    let pending = match &inspection.model {
        Some(Ok(model)) => plan(declared, model, actual).lines(),
        Some(Err(message)) => vec![format!("the compose file does not parse: {message}")],
        None => Vec::new(),
    };
    let mut services = stack_on::services(&actual.containers);
    for (name, service) in services.iter_mut() {
        if let Some((hash, image)) = recorded.get(name) {
            service.config_hash = Some(hash.clone());
            service.image = image.clone();
        }
    }
    let services = serde_json::to_value(services).expect("services serialise");
    kit.state(
        &found,
        &[
            ("id", declared.project.clone().into()),
            ("content_sha256", actual.content_sha256().into()),
            ("services", services),
            ("pending_changes", pending.into()),
        ],
        keep,
    )
}

impl ComposeStackResource {
    /// After a failed apply: the project as it is now, so nothing is lost track of.
    async fn state_after_failure(
        on: &Connected,
        op: &Op<'_, ComposeStack>,
        declared: &ComposeStack,
        error: lab::Error,
    ) -> Failure {
        let diagnostics = lab_error("Cannot apply the Compose stack", error);
        match stack_on::inspect(on.host.as_ref(), declared, true).await {
            // Nothing of the project exists: nothing to record.
            Ok(found) if found.actual.containers.is_empty() && found.actual.compose.is_none() => {
                Failure::Unchanged(diagnostics)
            }
            Ok(found) => {
                match state_from(op.kit, declared, &found, op.planned, &recorded(op.prior)) {
                    Ok(state) => Failure::Kept { state, diagnostics },
                    Err(_) => Failure::Unchanged(diagnostics),
                }
            }
            Err(_) if op.prior.is_null() => Failure::Unchanged(diagnostics),
            Err(_) => Failure::Kept {
                state: op.prior.clone(),
                diagnostics,
            },
        }
    }

    async fn write(op: Op<'_, ComposeStack>) -> Result<Applied, Failure> {
        let on = op.host();
        match stack_on::apply(on.host.as_ref(), &op.args, &op.deadline).await {
            Ok(applied) => {
                let services = serde_json::to_value(stack_on::services(&applied.actual.containers))
                    .expect("services serialise");
                let state = op.kit.state(
                    &op.args,
                    &[
                        ("id", op.args.project.clone().into()),
                        ("content_sha256", op.args.content_sha256().into()),
                        ("services", services),
                        ("pending_changes", serde_json::json!([])),
                    ],
                    op.planned,
                )?;
                Ok(state.into())
            }
            Err(e) => {
                // A failed update put the previous version back: what is there now is the
                // prior arguments' project.
                let declared = if op.prior.is_null() {
                    op.args.clone()
                } else {
                    op.kit.args(op.prior)?
                };
                Err(Self::state_after_failure(on, &op, &declared, e).await)
            }
        }
    }
}

#[tfplugin::async_trait]
impl ManagedResource for ComposeStackResource {
    type Args = ComposeStack;

    fn definition() -> Definition {
        let mut content = Attribute::computed("content_sha256", Type::String).description(
            "SHA-256 over every file of the project directory the stack writes (compose.yaml, \
             .env, `files`): a hand edit on the host changes it, so the next plan shows an update.",
        );
        content.sensitive = true;
        Definition {
            type_name: TYPE_NAME,
            description: "A Docker Compose project on a host, run by the Compose CLI on that host (so \
                 relative bind mounts, env files and secret files are the host's). The compose \
                 file, the `.env` values and extra files are written into the project directory; a \
                 new version is staged and checked by `docker compose config` before it replaces \
                 the running one, then `up --wait`: when the services are not healthy in \
                 `wait_timeout`, the previous version is brought back and the apply fails naming the \
                 service and the end of its log. Every change shows in the plan: the compose file \
                 or a file edited on the host, a value in `env`, an image rebuilt under the same \
                 tag, a container stopped, removed or started outside the project. Import with \
                 `project` (local) or `[user@]address[:port]:project`.",
            invalid: "Invalid Compose stack",
            requires_replace: &["project", "project_dir"],
            sensitive: &["env", "files"],
            outputs: vec![
                Attribute::computed("id", Type::String).description("The project name."),
                content,
                Attribute::computed("services", services_type()).description(
                    "Per service: `state` (`running`, `exited`...), `health` (`healthy`, `unhealthy`, \
                     `starting`, null without a healthcheck), `image_id`, the `containers`' names, and \
                     the `config_hash` (Compose's) and `image` it was deployed with.",
                ),
                Attribute::computed("pending_changes", Type::List(Box::new(Type::String))).description(
                    "What an apply would do, one line per file or service (`web: recreate (image \
                     changed)`); empty when the project runs as declared.",
                ),
            ],
            on_host: true,
            refreshed: &["services", "pending_changes"],
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        let planned = &mut change.planned;
        if let Some(project) = planned.get_attr("project").cloned() {
            planned.set_attr("id", project);
        }
        if !planned.is_known_except(&[
            "id",
            "content_sha256",
            "services",
            "pending_changes",
            host::PUBLIC_KEY,
        ]) {
            planned.set_attr("content_sha256", Value::unknown());
            kit.refresh(planned);
            return Diagnostics::new();
        }
        let desired: ComposeStack = match kit.args(planned) {
            Ok(d) => d,
            Err(diags) => return diags,
        };
        planned.set_attr("content_sha256", Value::String(desired.content_sha256()));
        planned.set_attr("pending_changes", Value::List(Vec::new()));
        let unchanged = !change.prior.is_null()
            && change.prior.get_attr("content_sha256") == planned.get_attr("content_sha256")
            && change
                .prior
                .get_attr("pending_changes")
                .and_then(Value::as_elements)
                .is_some_and(|p| p.is_empty());
        if !unchanged {
            planned.set_attr("services", Value::unknown());
        }
        // Compose itself checks a new compose file on the host, at plan: one that does not
        // parse, or uses what this engine cannot run, never reaches apply. Arguments equal
        // to the state's were checked by the read that made it.
        if kit
            .args::<ComposeStack>(change.prior)
            .is_ok_and(|prior| prior == desired)
        {
            return Diagnostics::new();
        }
        let Ok(on) = host::connect(&kit.provider, planned) else {
            return Diagnostics::new();
        };
        match stack_on::plan_on(on.host.as_ref(), &desired).await {
            Ok(_) => Diagnostics::new(),
            Err(e @ lab::Error::Compose { .. }) => {
                Diagnostic::error(kit.definition.invalid, e.to_string())
                    .at(tfplugin::path::AttrPath::attr("compose"))
                    .into()
            }
            // The host is not reachable yet (created in this apply): apply checks again.
            Err(_) => Diagnostics::new(),
        }
    }

    async fn create(&self, op: Op<'_, ComposeStack>) -> Result<Applied, Failure> {
        Self::write(op).await
    }

    async fn update(&self, op: Op<'_, ComposeStack>) -> Result<Applied, Failure> {
        Self::write(op).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let declared: ComposeStack = op.kit.args(op.prior)?;
        stack_on::destroy(op.host().host.as_ref(), &declared)
            .await
            .map_err(|e| lab_error("Cannot destroy the Compose stack", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let declared: ComposeStack = current.kit.args(current.state)?;
        let host = current.host().host.as_ref();
        let cannot = |e| lab_error("Cannot read the Compose stack", e);
        let quick = stack_on::inspect(host, &declared, false)
            .await
            .map_err(cannot)?;
        if quick.actual.containers.is_empty() && quick.actual.compose.is_none() {
            // Gone behind Terraform's back: the next plan creates it again.
            return Ok(None);
        }
        // No file changed since the apply: the containers are judged by what was deployed
        // (recorded in `services`), without asking Compose to resolve the model again.
        let record = recorded(current.state);
        let files_match = declared.rendered_files().iter().all(|(path, bytes)| {
            quick.actual.files.get(path).cloned().flatten() == Some(lab::files::sha256_hex(bytes))
        });
        let found = if files_match && !record.is_empty() {
            let model = Model::recorded(&record, &quick.actual.images);
            Inspection {
                actual: quick.actual,
                model: Some(Ok(model)),
            }
        } else {
            stack_on::inspect(host, &declared, true)
                .await
                .map_err(cannot)?
        };
        // `env` and `files` stay as declared; their hash in `content_sha256` shows any change.
        state_from(current.kit, &declared, &found, current.state, &record).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let (located, project, on) = host::locate_named_import(&kit.provider, id, "nextcloud")?;
        lab::compose::check_project_name(&project)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid import ID", e)))?;
        let adopted = stack_on::adopt(on.host.as_ref(), &project, None)
            .await
            .map_err(|e| lab_error("Cannot import the Compose stack", e))?;
        let found = stack_on::inspect(on.host.as_ref(), &adopted, true)
            .await
            .map_err(|e| lab_error("Cannot import the Compose stack", e))?;
        let mut located = located;
        located.set_attr(
            host::PUBLIC_KEY,
            on.public_key()
                .await
                .map_err(|e| lab_error("Cannot import the Compose stack", e))?,
        );
        state_from(kit, &adopted, &found, &located, &Recorded::new())
    }
}
