//! `homelab_traefik_route`: one Traefik route file per resource, on the local machine or on
//! a `host` over SSH. The capability (render, read back, plan, apply, wait for Traefik) is
//! `lab::traefik_route`; this file maps Terraform values to it.

use std::path::Path;
use std::time::Duration;

use lab::file_plan;
use lab::traefik_route::{self as route, Ownership, RouteFile, TraefikRoute};
use lab::validation::FieldError;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use crate::host;
use crate::kit::{Applied, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_traefik_route";
/// How long apply waits for Traefik to report the router live (when `traefik_api_url` is set).
const ROUTED_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TraefikRouteResource;

/// The state Terraform stores for a route as it is on disk. `kept` is the value (plan or
/// state) whose Terraform-only attributes carry over: the API URL, which is not in the
/// file, and the `host` block.
fn state_from(
    kit: &Kit,
    route: &TraefikRoute,
    sha256: &str,
    kept: &Value,
) -> Result<Value, Diagnostics> {
    let path = route.file_path().display().to_string();
    let mut value = kit.state(
        route,
        &[
            ("id", path.clone().into()),
            ("config_path", path.into()),
            ("content_sha256", sha256.into()),
        ],
        kept,
    )?;
    // The API URL is not in the file either.
    value.set_attr(
        "traefik_api_url",
        kept.get_attr("traefik_api_url")
            .cloned()
            .unwrap_or(Value::Null),
    );
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
    async fn write(op: Op<'_, TraefikRoute>, ownership: Ownership) -> Result<Applied, Failure> {
        let target = op.host();
        let desired = &op.args;
        let path = desired.file_path();
        // One read, the ownership rule judged on what it found, one write: the file cannot
        // change in between except by a race no re-read would close either.
        let written = async {
            let bytes = target.host.read_file(&path).await?;
            let actual = bytes.map(|b| RouteFile::from_bytes(&path, &b));
            let plan = route::plan(&path, Some(desired), actual.as_ref());
            plan.check(ownership)?;
            file_plan::apply_on(target.host.as_ref(), &plan.file_plan()).await
        }
        .await;
        // Nothing was written, so nothing new exists: keep what state had before.
        written.map_err(|e| write_error(e, target.host.as_ref()))?;
        let Some(api_url) = &desired.traefik_api_url else {
            return Ok(op.planned.clone().into());
        };
        let deadline = op
            .deadline
            .within(ROUTED_TIMEOUT, "the traefik_api_url wait");
        match route::wait_until_routed(api_url, desired, &deadline).await {
            Ok(()) => Ok(op.planned.clone().into()),
            // The file is written and recorded; Terraform marks a new route tainted, so the
            // next apply writes it again once the cause is fixed.
            Err(e) => Err(Failure::Kept {
                state: op.planned.clone(),
                diagnostics: lab_error("Traefik does not serve the route", e),
            }),
        }
    }
}

#[tfplugin::async_trait]
impl ManagedResource for TraefikRouteResource {
    type Args = TraefikRoute;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A Traefik route: a router (rule, entrypoints, middlewares, priority, TLS certificate \
             resolver) and its load-balanced service, written as one file into a Traefik \
             file-provider directory, on this machine or on a `host` over SSH. Writes are \
             atomic; a file this provider did not write is never overwritten (import it \
             instead); hand edits show up as drift in the next plan.",
            invalid: "Invalid Traefik route",
            requires_replace: &["name", "config_dir"],
            // The API URL may carry basic-auth credentials.
            sensitive: &["traefik_api_url"],
            outputs: vec![
                Attribute::computed("id", Type::String)
                    .description("The route file's absolute path."),
                Attribute::computed("config_path", Type::String)
                    .description("The route file's absolute path: `config_dir/name.toml`."),
                host::content_sha256_attribute(),
            ],
            on_host: true,
            ..Definition::default()
        }
    }

    fn check(args: &TraefikRoute) -> Vec<FieldError> {
        args.validate()
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        let planned = &mut change.planned;
        let name = planned.get_attr("name").and_then(Value::as_str);
        let dir = planned.get_attr("config_dir").and_then(Value::as_str);
        if let (Some(name), Some(dir)) = (name, dir) {
            let path = Value::String(route::route_file_path(dir, name).display().to_string());
            planned.set_attr("id", path.clone());
            planned.set_attr("config_path", path);
        }
        if !planned.is_known_except(&[
            "id",
            "config_path",
            "content_sha256",
            "host",
            "host_public_key",
        ]) {
            planned.set_attr("content_sha256", Value::unknown());
            return Diagnostics::new();
        }
        match kit.args::<TraefikRoute>(planned) {
            Ok(desired) => {
                planned.set_attr("content_sha256", Value::String(desired.rendered_sha256()));
                Diagnostics::new()
            }
            Err(diags) => diags,
        }
    }

    async fn create(&self, op: Op<'_, TraefikRoute>) -> Result<Applied, Failure> {
        // A file with our header but no state (say, state was lost) is adopted; a foreign
        // file is refused with a hint to import it.
        Self::write(op, Ownership::RequireHeader).await
    }

    async fn update(&self, op: Op<'_, TraefikRoute>) -> Result<Applied, Failure> {
        // The file is in state, so it is ours even if it was imported without our header.
        Self::write(op, Ownership::Owned).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let Some(path) = op.prior.get_attr("config_path").and_then(Value::as_str) else {
            return Ok(());
        };
        // The file is in state, so it is ours to remove (Ownership::Owned); gone is fine.
        op.host()
            .host
            .remove_file(Path::new(path))
            .await
            .map(drop)
            .map_err(|e| lab_error("Cannot remove the Traefik route", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let state = current.state;
        let Some(path) = state.get_attr("config_path").and_then(Value::as_str) else {
            return Ok(None);
        };
        let path = Path::new(path);
        let file = match current.host().host.read_file(path).await {
            Ok(Some(bytes)) => RouteFile::from_bytes(path, &bytes),
            // Deleted behind Terraform's back: the next plan creates it again.
            Ok(None) => return Ok(None),
            Err(e) => return Err(lab_error("Cannot read the Traefik route", e)),
        };
        match &file.parsed {
            Some(parsed) => state_from(current.kit, parsed, &file.sha256, state).map(Some),
            // Not one of our route files any more: keep the recorded arguments and let the
            // changed hash drive an update that rewrites it.
            None => {
                let mut kept = state.clone();
                kept.set_attr("content_sha256", Value::String(file.sha256.clone()));
                Ok(Some(kept))
            }
        }
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let imported = kit
            .import_file(id, "/etc/traefik/dynamic/whoami.toml")
            .await?;
        let file = RouteFile::from_bytes(&imported.path, &imported.bytes);
        let sha256 = file.sha256.clone();
        let route = file
            .importable()
            .map_err(|e| lab_error("Cannot import the Traefik route", e))?;
        state_from(kit, &route, &sha256, &imported.located)
    }
}
