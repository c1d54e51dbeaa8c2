//! A route's file: what [`TraefikRoute::render`] writes, what a file found at the path
//! reads back as (drift and import), and the plan and apply of a change to it under the
//! ownership rule of [`crate::file_plan::Mark`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TraefikRoute;
use crate::file_plan::{self, FilePlan, Mark, MarkedPlan};
use crate::files;
use crate::Error;

/// The start of the first line of every file we write; its presence marks a file as ours.
pub const HEADER_PREFIX: &str = "# Managed by Tabiri Homelab";

impl TraefikRoute {
    /// The file content: the ownership header, then the router and service as TOML.
    /// Deterministic: the same route always renders to the same bytes.
    pub fn render(&self) -> String {
        let file = DynamicFile {
            http: HttpSection {
                routers: BTreeMap::from([(
                    self.name.clone(),
                    RouterToml {
                        rule: self.rule.clone(),
                        entry_points: self.entrypoints.clone(),
                        service: self.name.clone(),
                        priority: self.priority,
                        middlewares: self.middlewares.clone(),
                        tls: self.tls_cert_resolver.clone().map(|r| RouterTls {
                            cert_resolver: Some(r),
                        }),
                    },
                )]),
                services: BTreeMap::from([(
                    self.name.clone(),
                    ServiceToml {
                        load_balancer: LoadBalancerToml {
                            pass_host_header: Some(self.pass_host_header),
                            servers: self
                                .servers
                                .iter()
                                .map(|url| ServerToml { url: url.clone() })
                                .collect(),
                        },
                    },
                )]),
            },
        };
        let body = toml::to_string(&file).expect("strings, integers and booleans always serialize");
        format!(
            "{HEADER_PREFIX} (traefik route {:?}). Edits here are reported as drift and overwritten.\n\n{body}",
            self.name
        )
    }

    /// SHA-256 of [`render`](Self::render), comparable with [`RouteFile::sha256`].
    pub fn rendered_sha256(&self) -> String {
        files::sha256_hex(self.render().as_bytes())
    }
}

// The file layout, shared by render and read-back. `deny_unknown_fields` makes a file
// with anything we would not write (another router, a health check, a TCP section)
// read back as "not a route file", so nothing is dropped silently on import.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DynamicFile {
    http: HttpSection,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    #[serde(default)]
    routers: BTreeMap<String, RouterToml>,
    #[serde(default)]
    services: BTreeMap<String, ServiceToml>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RouterToml {
    rule: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    entry_points: Vec<String>,
    service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    middlewares: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls: Option<RouterTls>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RouterTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cert_resolver: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ServiceToml {
    load_balancer: LoadBalancerToml,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LoadBalancerToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pass_host_header: Option<bool>,
    #[serde(default)]
    servers: Vec<ServerToml>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerToml {
    url: String,
}

/// A route file as found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteFile {
    pub path: PathBuf,
    /// The content as text (invalid UTF-8 replaced); for diffs and display.
    pub content: String,
    /// Lower-case hex SHA-256 of the exact bytes on disk.
    pub sha256: String,
    /// Whether the first line is our ownership header.
    pub managed: bool,
    /// The route the file describes, when it is a single router with its single service
    /// and nothing else. `name` is the router's name (which must match the file name),
    /// `config_dir` the file's directory. `traefik_api_url` is not stored in the file
    /// and is always `None`: callers carry it over from their own state.
    pub parsed: Option<TraefikRoute>,
    /// Why `parsed` is `None`, in words fit for an import error.
    pub unparsed_reason: Option<String>,
}

fn is_managed(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER_PREFIX.as_bytes())
}

/// Reads the route file at `path`. A missing file is `Ok(None)`.
pub fn read_route_file(path: &Path) -> Result<Option<RouteFile>, Error> {
    Ok(files::read_optional(path)?.map(|bytes| RouteFile::from_bytes(path, &bytes)))
}

impl RouteFile {
    /// What the bytes found at `path` say.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> RouteFile {
        let (parsed, unparsed_reason) = match parse_route(path, bytes) {
            Ok(route) => (Some(route), None),
            Err(reason) => (None, Some(reason)),
        };
        RouteFile {
            path: path.to_owned(),
            sha256: files::sha256_hex(bytes),
            managed: is_managed(bytes),
            content: String::from_utf8_lossy(bytes).into_owned(),
            parsed,
            unparsed_reason,
        }
    }

    /// The route in the file, for import: the file must be a single route.
    pub fn importable(self) -> Result<TraefikRoute, Error> {
        match self {
            RouteFile {
                parsed: Some(route),
                ..
            } => Ok(route),
            RouteFile {
                path,
                unparsed_reason,
                ..
            } => Err(Error::NotImportable {
                path,
                reason: unparsed_reason.unwrap_or_default(),
            }),
        }
    }
}

fn parse_route(path: &Path, bytes: &[u8]) -> Result<TraefikRoute, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("it is not UTF-8 text ({e})"))?;
    let file: DynamicFile =
        toml::from_str(text).map_err(|e| format!("it is not a single Traefik route: {e}"))?;
    let routers = file.http.routers;
    let mut services = file.http.services;
    if routers.len() != 1 || services.len() != 1 {
        return Err(format!(
            "it must hold exactly one HTTP router and one service, found {} router(s) and \
             {} service(s)",
            routers.len(),
            services.len()
        ));
    }
    let (name, router) = routers.into_iter().next().expect("one router");
    let (service_name, service) = services.pop_first().expect("one service");
    if router.service != service_name && router.service != format!("{service_name}@file") {
        return Err(format!(
            "router {name:?} sends requests to service {:?}, but the file defines service \
             {service_name:?}",
            router.service
        ));
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    if stem.as_deref() != Some(name.as_str())
        || path.extension() != Some(std::ffi::OsStr::new("toml"))
    {
        return Err(format!(
            "the router is named {name:?}, so the file must be named {name}.toml; rename one \
             of them so they match"
        ));
    }
    let config_dir = path
        .parent()
        .and_then(Path::to_str)
        .ok_or_else(|| "its directory is not a UTF-8 path".to_owned())?
        .to_owned();
    let tls_cert_resolver = match router.tls {
        None => None,
        Some(RouterTls {
            cert_resolver: Some(r),
        }) => Some(r),
        Some(RouterTls {
            cert_resolver: None,
        }) => {
            return Err(
                "its router has a tls section without certResolver, which a route cannot \
                 express (set tls_cert_resolver)"
                    .into(),
            )
        }
    };
    Ok(TraefikRoute {
        name,
        config_dir,
        rule: router.rule,
        entrypoints: router.entry_points,
        servers: service
            .load_balancer
            .servers
            .into_iter()
            .map(|s| s.url)
            .collect(),
        middlewares: router.middlewares,
        priority: router.priority,
        pass_host_header: service.load_balancer.pass_host_header.unwrap_or(true),
        tls_cert_resolver,
        traefik_api_url: None,
    })
}

/// Reads a route for `terraform import`: the file must exist and be a single route.
pub fn import_route(path: &Path) -> Result<TraefikRoute, Error> {
    match read_route_file(path)? {
        None => Err(no_file_to_import(path)),
        Some(file) => file.importable(),
    }
}

/// The import error for a path with nothing at it.
pub fn no_file_to_import(path: &Path) -> Error {
    Error::NotImportable {
        path: path.to_owned(),
        reason: "there is no file at this path".into(),
    }
}

/// What [`apply`] will do: the same actions as every whole-file capability.
pub use crate::file_plan::{Action, Ownership};

/// A route file's plan: the whole-file plan under the ownership rule.
pub type RoutePlan = MarkedPlan;

/// A route file carries [`HEADER_PREFIX`] on its first line.
pub static MARK: Mark = Mark {
    holds: "route",
    missing: "it lacks the ownership header",
    carried_by: is_managed,
};

/// Compares the desired route (`None` = absent) with the file at `path` (`None` = no
/// file). `path` is `desired.file_path()` when a route is desired; it is passed
/// separately so an absent route (Ansible `state: absent`) needs only its location.
/// Makes no I/O.
pub fn plan(path: &Path, desired: Option<&TraefikRoute>, actual: Option<&RouteFile>) -> RoutePlan {
    debug_assert!(
        !matches!(desired, Some(d) if d.file_path() != path),
        "plan: path {} is not the desired route's file",
        path.display()
    );
    let name = match desired {
        Some(d) => d.name.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let after = desired.map(TraefikRoute::render);
    let action = match (desired, actual) {
        (None, None) => Action::None,
        (None, Some(_)) => Action::Delete,
        (Some(_), None) => Action::Create,
        (Some(_), Some(file)) => {
            let rendered = after.as_deref().map(str::as_bytes).unwrap_or_default();
            if files::sha256_hex(rendered) == file.sha256 {
                Action::None
            } else {
                Action::Update
            }
        }
    };
    let change = FilePlan {
        action,
        path: path.to_owned(),
        before: actual.map(|f| f.content.clone()),
        after,
    };
    MarkedPlan::new(change, name, &MARK, actual.is_some_and(|f| f.managed))
}

/// Carries out a plan on the local filesystem. Writes are atomic (see
/// [`files::write_atomic`]); deleting a file that is already gone succeeds.
///
/// The ownership rule is checked against the file as it is now, not as the plan saw it,
/// so a file that appeared since the plan is not overwritten by accident.
pub fn apply(plan: &RoutePlan, ownership: Ownership) -> Result<(), Error> {
    file_plan::apply_marked(plan, ownership)
}
