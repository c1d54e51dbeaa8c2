//! `homelab_traefik_route`: one Traefik route file per resource. The capability (render,
//! read back, plan, apply, wait for Traefik) is `lab::traefik_route`; this file maps
//! Terraform values to it.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use lab::traefik_route::{self as route, Ownership, TraefikRoute};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::serde_bridge;

use crate::derive::{self, Annotations};

pub const TYPE_NAME: &str = "homelab_traefik_route";
/// Attributes Terraform adds to the capability's arguments.
const COMPUTED: &[&str] = &["id", "config_path", "content_sha256"];
/// How long apply waits for Traefik to report the router live (when `traefik_api_url` is set).
const ROUTED_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TraefikRouteResource;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(TraefikRoute))
            .expect("a JSON schema serialises");
        let block = derive::block_from_json_schema(
            "A Traefik route: a router (rule, entrypoints, middlewares, priority, TLS certificate \
             resolver) and its load-balanced service, written as one file into a Traefik \
             file-provider directory. Writes are atomic; a file this provider did not write is \
             never overwritten (import it instead); hand edits show up as drift in the next plan.",
            &json_schema,
            Annotations {
                requires_replace: &["name", "config_dir"],
                skip: &[],
                // The API URL may carry basic-auth credentials.
                sensitive: &["traefik_api_url"],
                extra: vec![
                    Attribute::computed("id", Type::String)
                        .description("The route file's absolute path."),
                    Attribute::computed("config_path", Type::String)
                        .description("The route file's absolute path: `config_dir/name.toml`."),
                    Attribute::computed("content_sha256", Type::String).description(
                        "SHA-256 of the file's bytes. A hand edit of the file changes it, so the next plan shows an update.",
                    ),
                ],
            },
        );
        Schema::new(0, block)
    })
}

fn route_from(value: &Value) -> Result<TraefikRoute, Diagnostics> {
    derive::args_from(value, COMPUTED).map_err(|e| {
        Diagnostic::error(
            "Invalid Traefik route",
            format!("cannot read the route arguments: {e}"),
        )
        .into()
    })
}

fn validate_route(route: &TraefikRoute) -> Diagnostics {
    derive::field_error_diagnostics("Invalid Traefik route", &route.validate())
}

/// The state Terraform stores for a route as it is on disk.
fn state_from(
    route: &TraefikRoute,
    sha256: &str,
    traefik_api_url: &Value,
) -> Result<Value, Diagnostics> {
    let mut json = serde_json::to_value(route).map_err(|e| {
        Diagnostics::from(Diagnostic::error("Cannot record the route", e.to_string()))
    })?;
    let path = route.file_path().display().to_string();
    if let Some(object) = json.as_object_mut() {
        object.insert("id".into(), path.clone().into());
        object.insert("config_path".into(), path.into());
        object.insert("content_sha256".into(), sha256.into());
        object.remove("traefik_api_url");
    }
    let mut value = serde_bridge::from_json(&json, &schema().value_type())
        .map_err(|e| Diagnostics::from(Diagnostic::error("Cannot record the route", e)))?;
    // The API URL is not in the file; it stays what the configuration (or state) said.
    value.set_attr("traefik_api_url", traefik_api_url.clone());
    Ok(value)
}

fn lab_error(summary: &str, error: lab::Error) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// Writes the route, then (when asked) waits until Traefik serves it.
async fn write(request: &ApplyRequest<'_>, ownership: Ownership) -> Outcome {
    let desired = match route_from(request.planned) {
        Ok(route) => route,
        Err(diags) => return Outcome::failed(diags),
    };
    let errors = validate_route(&desired);
    if errors.has_errors() {
        return Outcome::failed(errors);
    }
    let path = desired.file_path();
    let written = route::read_route_file(&path).and_then(|actual| {
        let plan = route::plan(&path, Some(&desired), actual.as_ref());
        route::apply(&plan, ownership)
    });
    if let Err(e) = written {
        // Nothing was written, so nothing new exists: keep what state had before.
        return Outcome::unchanged(
            request.prior,
            request.private,
            lab_error("Cannot write the Traefik route", e),
        );
    }
    let mut outcome = Outcome::ok(request.planned.clone());
    if let Some(api_url) = &desired.traefik_api_url {
        let waited = tokio::select! {
            result = route::wait_until_routed(api_url, &desired, ROUTED_TIMEOUT) => result,
            _ = request.ctx.cancel.cancelled() => {
                outcome.diagnostics.error("Interrupted", "Stopped while waiting for Traefik to serve the route; the file is written.");
                return outcome;
            }
        };
        if let Err(e) = waited {
            // The file is written and recorded; Terraform marks a new route tainted, so the
            // next apply writes it again once the cause is fixed.
            outcome
                .diagnostics
                .extend(lab_error("Traefik does not serve the route", e));
        }
    }
    outcome
}

#[tfplugin::async_trait]
impl Resource for TraefikRouteResource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        // Values from other resources may be unknown until apply; plan checks them again.
        if !config.is_known() {
            return Diagnostics::new();
        }
        match route_from(config) {
            Ok(route) => validate_route(&route),
            Err(diags) => diags,
        }
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        let planned = &mut change.planned;
        let name = planned
            .get_attr("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let dir = planned
            .get_attr("config_dir")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let (Some(name), Some(dir)) = (name, dir) {
            let path = Value::String(route::route_file_path(&dir, &name).display().to_string());
            planned.set_attr("id", path.clone());
            planned.set_attr("config_path", path);
        }
        if !planned.is_known_except(COMPUTED) {
            planned.set_attr("content_sha256", Value::unknown());
            return Diagnostics::new();
        }
        let desired = match route_from(planned) {
            Ok(route) => route,
            Err(diags) => return diags,
        };
        let diags = validate_route(&desired);
        if diags.has_errors() {
            return diags;
        }
        planned.set_attr("content_sha256", Value::String(desired.rendered_sha256()));
        diags
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome {
        // A file with our header but no state (say, state was lost) is adopted; a foreign
        // file is refused with a hint to import it.
        write(&request, Ownership::RequireHeader).await
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        // The file is in state, so it is ours even if it was imported without our header.
        write(&request, Ownership::Owned).await
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        let Some(path) = request
            .prior
            .get_attr("config_path")
            .and_then(Value::as_str)
        else {
            return Diagnostics::new();
        };
        let path = Path::new(path);
        let removed = route::read_route_file(path).and_then(|actual| {
            let plan = route::plan(path, None, actual.as_ref());
            route::apply(&plan, Ownership::Owned)
        });
        match removed {
            Ok(()) => Diagnostics::new(),
            Err(e) => lab_error("Cannot remove the Traefik route", e),
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let Some(path) = state.get_attr("config_path").and_then(Value::as_str) else {
            return Outcome::ok(Value::Null);
        };
        let file = match route::read_route_file(Path::new(path)) {
            Ok(Some(file)) => file,
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Outcome::ok(Value::Null),
            Err(e) => return Outcome::failed(lab_error("Cannot read the Traefik route", e)),
        };
        let api_url = state
            .get_attr("traefik_api_url")
            .cloned()
            .unwrap_or(Value::Null);
        let new_state = match &file.parsed {
            Some(parsed) => state_from(parsed, &file.sha256, &api_url),
            // Not one of our route files any more: keep the recorded arguments and let the
            // changed hash drive an update that rewrites it.
            None => {
                let mut kept = state.clone();
                kept.set_attr("content_sha256", Value::String(file.sha256.clone()));
                Ok(kept)
            }
        };
        match new_state {
            Ok(state) => Outcome::with_private(state, private),
            Err(diags) => Outcome::failed(diags),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        let path = Path::new(id);
        if !path.is_absolute() {
            return Err(Diagnostic::error(
                "Invalid import ID",
                format!("The import ID is the route file's absolute path, e.g. /etc/traefik/dynamic/whoami.toml; got {id:?}."),
            )
            .into());
        }
        let imported = route::import_route(path)
            .map_err(|e| lab_error("Cannot import the Traefik route", e))?;
        let file = route::read_route_file(path)
            .map_err(|e| lab_error("Cannot import the Traefik route", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the Traefik route",
                    format!("{id} disappeared while importing"),
                ))
            })?;
        state_from(&imported, &file.sha256, &Value::Null)
    }
}
