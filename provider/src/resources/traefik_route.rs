//! `homelab_traefik_route`: one Traefik route file per resource, on the local machine or on
//! a `host` over SSH. The capability (render, read back, plan, apply, wait for Traefik) is
//! `lab::traefik_route`; this file maps Terraform values to it.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lab::file_plan;
use lab::traefik_route::{self as route, Ownership, RouteFile, TraefikRoute};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{ApplyRequest, Ctx, Outcome, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::serde_bridge;

use crate::config::ProviderState;
use crate::derive::{self, Annotations};
use crate::host;

pub const TYPE_NAME: &str = "homelab_traefik_route";
/// Attributes Terraform adds to the capability's arguments.
const COMPUTED: &[&str] = &[
    "id",
    "config_path",
    "content_sha256",
    "host",
    "host_public_key",
];
/// How long apply waits for Traefik to report the router live (when `traefik_api_url` is set).
const ROUTED_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TraefikRouteResource {
    state: Arc<ProviderState>,
}

impl TraefikRouteResource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(TraefikRoute))
            .expect("a JSON schema serialises");
        let block = derive::block_from_json_schema(
            "A Traefik route: a router (rule, entrypoints, middlewares, priority, TLS certificate \
             resolver) and its load-balanced service, written as one file into a Traefik \
             file-provider directory, on this machine or on a `host` over SSH. Writes are \
             atomic; a file this provider did not write is never overwritten (import it \
             instead); hand edits show up as drift in the next plan.",
            &json_schema,
            Annotations {
                requires_replace: &["name", "config_dir"],
                skip: &[],
                blocks: &[],
                // The API URL may carry basic-auth credentials.
                sensitive: &["traefik_api_url"],
                extra: vec![
                    host::public_key_attribute(),
                    Attribute::computed("id", Type::String)
                        .description("The route file's absolute path."),
                    Attribute::computed("config_path", Type::String)
                        .description("The route file's absolute path: `config_dir/name.toml`."),
                    Attribute::computed("content_sha256", Type::String).description(
                        "SHA-256 of the file's bytes. A hand edit of the file changes it, so the next plan shows an update.",
                    ),
                ],
            },
        )
        .block(host::block());
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

/// The state Terraform stores for a route as it is on disk. `kept` is the value (plan or
/// state) whose Terraform-only attributes carry over: the API URL, which is not in the
/// file, and the `host` block.
fn state_from(
    route: &TraefikRoute,
    sha256: &str,
    kept: &Value,
    public_key: Value,
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
    // The API URL is not in the file either.
    value.set_attr(
        "traefik_api_url",
        kept.get_attr("traefik_api_url")
            .cloned()
            .unwrap_or(Value::Null),
    );
    host::carry_over(&mut value, kept, public_key);
    Ok(value)
}

fn lab_error(summary: &str, error: lab::Error) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// A failed write; one refused because a file this provider did not write is in the way
/// gets the import command that adopts it (`host` prefixes the path for a file over SSH).
fn write_error(error: lab::Error, host: &dyn lab::host::Host) -> Diagnostics {
    let lab::Error::NotManaged { path, name, .. } = &error else {
        return lab_error("Cannot write the Traefik route", error);
    };
    let id = match host.name().strip_prefix("ssh ") {
        Some(remote) => format!("{remote}:{}", path.display()),
        None => path.display().to_string(),
    };
    Diagnostic::error(
        "Cannot write the Traefik route",
        format!("{error}: terraform import {TYPE_NAME}.{name} {id}"),
    )
    .into()
}

impl TraefikRouteResource {
    /// Writes the route, then (when asked) waits until Traefik serves it.
    async fn write(&self, request: &ApplyRequest<'_>, ownership: Ownership) -> Outcome {
        let desired = match route_from(request.planned) {
            Ok(route) => route,
            Err(diags) => return Outcome::failed(diags),
        };
        let errors = validate_route(&desired);
        if errors.has_errors() {
            return Outcome::failed(errors);
        }
        let target = match host::connect(&self.state, request.planned) {
            Ok(target) => target,
            Err(diags) => return Outcome::unchanged(request.prior, request.private, diags),
        };
        let path = desired.file_path();
        // One read, the ownership rule judged on what it found, one write: the file cannot
        // change in between except by a race no re-read would close either.
        let written = async {
            let (bytes, key) = target.read_file(&path).await?;
            let actual = bytes.map(|b| RouteFile::from_bytes(&path, &b));
            let plan = route::plan(&path, Some(&desired), actual.as_ref());
            plan.check(ownership)?;
            file_plan::apply_on(target.host.as_ref(), &plan.file_plan()).await?;
            Ok::<_, lab::Error>(key)
        }
        .await;
        let public_key = match written {
            Ok(key) => key,
            // Nothing was written, so nothing new exists: keep what state had before.
            Err(e) => {
                return Outcome::unchanged(
                    request.prior,
                    request.private,
                    write_error(e, target.host.as_ref()),
                )
            }
        };
        let mut planned = request.planned.clone();
        planned.set_attr(host::PUBLIC_KEY, public_key);
        let mut outcome = Outcome::ok(planned);
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
        let mut diags = host::validate(config);
        // Values from other resources may be unknown until apply; plan checks them again.
        if !config.is_known_except(COMPUTED) {
            return diags;
        }
        match route_from(config) {
            Ok(route) => diags.extend(validate_route(&route)),
            Err(errors) => diags.extend(errors),
        }
        diags
    }

    async fn modify_plan(&self, change: &mut PlanChange<'_>) -> Diagnostics {
        let host_diags = host::validate(&change.planned);
        if host_diags.has_errors() {
            return host_diags;
        }
        host::plan(change);
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
        self.write(&request, Ownership::RequireHeader).await
    }

    async fn update(&self, request: ApplyRequest<'_>) -> Outcome {
        // The file is in state, so it is ours even if it was imported without our header.
        self.write(&request, Ownership::Owned).await
    }

    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics {
        let Some(path) = request
            .prior
            .get_attr("config_path")
            .and_then(Value::as_str)
        else {
            return Diagnostics::new();
        };
        let target = match host::connect(&self.state, request.prior) {
            Ok(target) => target,
            Err(diags) => return diags,
        };
        // The file is in state, so it is ours to remove (Ownership::Owned); gone is fine.
        match target.host.remove_file(Path::new(path)).await {
            Ok(_) => Diagnostics::new(),
            Err(e) => lab_error("Cannot remove the Traefik route", e),
        }
    }

    async fn read(&self, state: &Value, private: &[u8], _ctx: &Ctx) -> Outcome {
        let Some(path) = state.get_attr("config_path").and_then(Value::as_str) else {
            return Outcome::ok(Value::Null);
        };
        let target = match host::connect(&self.state, state) {
            Ok(target) => target,
            Err(diags) => return Outcome::unchanged(state, private, diags),
        };
        let path = Path::new(path);
        let (file, public_key) = match target.read_file(path).await {
            Ok((Some(bytes), key)) => (RouteFile::from_bytes(path, &bytes), key),
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok((None, _)) => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome::unchanged(
                    state,
                    private,
                    lab_error("Cannot read the Traefik route", e),
                )
            }
        };
        let new_state = match &file.parsed {
            Some(parsed) => state_from(parsed, &file.sha256, state, public_key),
            // Not one of our route files any more: keep the recorded arguments and let the
            // changed hash drive an update that rewrites it.
            None => {
                let mut kept = state.clone();
                kept.set_attr("content_sha256", Value::String(file.sha256.clone()));
                host::carry_over(&mut kept, state, public_key);
                Ok(kept)
            }
        };
        match new_state {
            Ok(state) => Outcome::with_private(state, private),
            Err(diags) => Outcome::failed(diags),
        }
    }

    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        let (located, path, target) =
            host::locate_import(&self.state, id, "/etc/traefik/dynamic/whoami.toml")?;
        let cannot = |e| lab_error("Cannot import the Traefik route", e);
        let (bytes, public_key) = target.read_file(&path).await.map_err(cannot)?;
        let bytes = bytes.ok_or_else(|| cannot(route::no_file_to_import(&path)))?;
        let file = RouteFile::from_bytes(&path, &bytes);
        let sha256 = file.sha256.clone();
        let imported = file.importable().map_err(cannot)?;
        state_from(&imported, &sha256, &located, public_key)
    }
}
