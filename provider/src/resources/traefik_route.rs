//! `homelab_traefik_route`: one Traefik route file per resource, on the local machine or on
//! a `host` over SSH. The capability (render, read back, plan, apply, wait for Traefik) is
//! `lab::traefik`; the resource is [`WholeFileResource`], and this file says what is a
//! route's own: the wait for Traefik and the API URL, which the file does not hold.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lab::file_plan::MarkedPlan;
use lab::traefik::{self as route, RouteFile, TraefikRoute};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::schema::Attribute;

use super::whole_file::{lab_error, WholeFile, WholeFileResource};
use crate::host;
use crate::kit::{Definition, Op};

pub const TYPE_NAME: &str = "homelab_traefik_route";
/// How long apply waits for Traefik to report the router live (when `traefik_api_url` is set).
const ROUTED_TIMEOUT: Duration = Duration::from_secs(30);

pub type TraefikRouteResource = WholeFileResource<TraefikRouteFile>;

/// A Traefik route file.
pub struct TraefikRouteFile;

#[tfplugin::async_trait]
impl WholeFile for TraefikRouteFile {
    type Args = TraefikRoute;
    const TYPE_NAME: &'static str = TYPE_NAME;
    const NOUN: &'static str = "Traefik route";
    const LOCATION: [&'static str; 2] = ["name", "config_dir"];
    const PATH_ALIASES: &'static [&'static str] = &["config_path"];
    const IMPORT_EXAMPLE: &'static str = "/etc/traefik/dynamic/whoami.toml";

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

    fn path(name: &str, config_dir: &str) -> PathBuf {
        route::route_file_path(config_dir, name)
    }

    fn file_path(args: &TraefikRoute) -> PathBuf {
        args.file_path()
    }

    fn render(args: &TraefikRoute) -> String {
        args.render()
    }

    fn plan(path: &Path, args: &TraefikRoute, actual: Option<&[u8]>) -> MarkedPlan {
        let found = actual.map(|bytes| RouteFile::from_bytes(path, bytes));
        route::plan(path, Some(args), found.as_ref())
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<TraefikRoute, String> {
        let file = RouteFile::from_bytes(path, bytes);
        file.parsed
            .ok_or_else(|| file.unparsed_reason.unwrap_or_default())
    }

    /// The API URL is not in the file.
    fn carry_over(state: &mut Value, kept: &Value) {
        let api_url = kept.get_attr("traefik_api_url").cloned();
        state.set_attr("traefik_api_url", api_url.unwrap_or(Value::Null));
    }

    /// With `traefik_api_url`, waits until Traefik serves the route as written.
    async fn after_write(
        desired: &TraefikRoute,
        op: &Op<'_, TraefikRoute>,
    ) -> Result<(), Diagnostics> {
        let Some(api_url) = &desired.traefik_api_url else {
            return Ok(());
        };
        let deadline = op
            .deadline
            .within(ROUTED_TIMEOUT, "the traefik_api_url wait");
        route::wait_until_routed(api_url, desired, &deadline)
            .await
            .map_err(|e| lab_error("Traefik does not serve the route", e))
    }
}
