//! The Traefik route capability: one file per route in a Traefik file-provider directory.
//!
//! Each route is a router and its load-balanced service, written as `<name>.toml` into
//! the directory Traefik's file provider watches. Terraform (`homelab_traefik_route`) and
//! Ansible (`traefik_route`) both drive it through the same steps:
//!
//! 1. [`TraefikRoute::validate`] the arguments;
//! 2. [`read_route_file`] the actual state;
//! 3. [`plan`] the change (this is Terraform's plan, Ansible's check and diff mode);
//! 4. [`apply`] it, then optionally [`wait_until_routed`] / [`wait_until_unrouted`].
//!
//! Files we write start with an ownership header line ([`HEADER_PREFIX`]); a file without
//! it was written by someone else and is only overwritten or deleted when the caller says
//! it owns the path ([`Ownership::Owned`], e.g. a Terraform resource that imported it).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::error::FileOperation;
use crate::file_plan::{self, FilePlan};
use crate::files;
use crate::traefik_rule;
use crate::validation::FieldError;
use crate::Error;

/// The start of the first line of every file we write; its presence marks a file as ours.
pub const HEADER_PREFIX: &str = "# Managed by Tabiri Homelab";

/// File names are `<name>.toml`; NAME_MAX is 255 bytes on the filesystems that matter.
const MAX_NAME_BYTES: usize = 255 - ".toml".len();

/// A Traefik HTTP route: a router and the load-balanced service it sends requests to,
/// written as one file into the directory watched by Traefik's
/// [file provider](https://doc.traefik.io/traefik/providers/file/).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TraefikRoute {
    /// Name of the route. Used as the router name and the service name (Traefik shows
    /// them as `<name>@file`) and as the file name `<name>.toml`. Must not be empty,
    /// contain `/`, `..`, `@` or whitespace, or start with `.`.
    #[schemars(length(min = 1))]
    pub name: String,

    /// Absolute path of the directory Traefik's file provider watches
    /// (`providers.file.directory`), e.g. `/etc/traefik/dynamic`. The directory must
    /// exist. Write it without a trailing slash.
    pub config_dir: String,

    /// The router rule in Traefik v3 syntax, e.g.
    /// ``Host(`whoami.lab.example`) && PathPrefix(`/api`)``. Values go in backticks or
    /// double quotes; combine matchers with `&&`, `||`, `!` and parentheses. Checked
    /// before anything is written, so a typo fails the plan instead of the route.
    pub rule: String,

    /// Entry points the router listens on, e.g. `["websecure"]`. Leave empty to listen
    /// on all of Traefik's default entry points.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub entrypoints: Vec<String>,

    /// Backend URLs Traefik balances requests across, e.g. `["http://10.0.0.5:8080"]`.
    /// At least one. Schemes `http`, `https` and `h2c` (cleartext HTTP/2, for gRPC).
    #[schemars(length(min = 1))]
    pub servers: Vec<String>,

    /// Middlewares applied in order, by name: `auth` for one defined in the file
    /// provider, `auth@docker` for one from another provider.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub middlewares: Vec<String>,

    /// Router priority; when several rules match a request, the highest priority wins.
    /// Unset (or 0) means Traefik's default: the length of the rule.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub priority: Option<i64>,

    /// Forward the client's `Host` header to the backends (`true`, Traefik's default)
    /// instead of the backend's own host name.
    #[serde(default = "default_true", deserialize_with = "null_as_true")]
    pub pass_host_header: bool,

    /// Serve the route over TLS with a certificate from this certificate resolver
    /// (`certificatesResolvers.<name>` in Traefik's static configuration), e.g. `le`.
    #[serde(default)]
    pub tls_cert_resolver: Option<String>,

    /// URL of Traefik's API (e.g. `http://127.0.0.1:8080`). When set, applying waits
    /// until Traefik reports the router `<name>@file` enabled with this configuration,
    /// and fails with Traefik's own error text if Traefik rejects the route. The API must
    /// answer without authentication, e.g. `api.insecure` on a loopback entry point.
    #[serde(default)]
    pub traefik_api_url: Option<String>,
}

fn default_true() -> bool {
    true
}

// Terraform passes unset optional attributes and Ansible unset options as null; both
// mean "the default", which serde's `default` alone does not cover.
fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

fn null_as_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

/// `<config_dir>/<name>.toml`.
pub fn route_file_path(config_dir: &str, name: &str) -> PathBuf {
    Path::new(config_dir).join(format!("{name}.toml"))
}

/// Validates the two arguments that locate a route file. [`TraefikRoute::validate`]
/// includes this; Ansible's `state: absent` needs only these two.
pub fn validate_location(name: &str, config_dir: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut bad_name = |m: String| errors.push(FieldError::field("name", m));
    if name.is_empty() {
        bad_name("must not be empty".into());
    } else {
        let why_file = "it becomes the file name <name>.toml";
        if name.contains('/') {
            bad_name(format!("must not contain \"/\" ({why_file}), got {name:?}"));
        }
        if name.contains("..") {
            bad_name(format!(
                "must not contain \"..\" ({why_file}), got {name:?}"
            ));
        }
        if name.chars().any(char::is_whitespace) {
            bad_name(format!("must not contain whitespace, got {name:?}"));
        }
        if name.chars().any(char::is_control) {
            bad_name(format!("must not contain control characters, got {name:?}"));
        }
        if name.contains('@') {
            bad_name(format!(
                "must not contain \"@\" (Traefik adds \"@file\" itself), got {name:?}"
            ));
        }
        if name.starts_with('.') {
            bad_name(format!(
                "must not start with \".\" (dotfiles in the directory are temporary files), \
                 got {name:?}"
            ));
        }
        if name.len() > MAX_NAME_BYTES {
            bad_name(format!(
                "must be at most {MAX_NAME_BYTES} bytes (it becomes a file name), got {}",
                name.len()
            ));
        }
    }
    if let Some(m) = config_dir_problem(config_dir) {
        errors.push(FieldError::field("config_dir", m));
    }
    errors
}

fn config_dir_problem(dir: &str) -> Option<String> {
    if !dir.starts_with('/') {
        return Some(format!(
            "must be an absolute path (the directory Traefik's file provider watches, \
             e.g. /etc/traefik/dynamic), got {dir:?}"
        ));
    }
    // The directory is read back from the file's location on import and refresh; only a
    // path already in this form compares equal to it, avoiding a diff on every plan.
    let mut parts = Vec::new();
    for c in Path::new(dir).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::RootDir => {}
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return Some(format!(
                    "must not contain \".\" or \"..\" components, got {dir:?}"
                ))
            }
        }
    }
    let normal = format!("/{}", parts.join("/"));
    if normal != dir {
        return Some(format!("must be written as {normal:?}, got {dir:?}"));
    }
    None
}

fn url_problem(value: &str, schemes: &[&str], what: &str) -> Option<String> {
    match Url::parse(value) {
        Ok(url) if !schemes.contains(&url.scheme()) => {
            Some(format!("must be {what}, got {value:?}"))
        }
        Ok(url) if !matches!(url.host_str(), Some(h) if !h.is_empty()) => {
            Some(format!("must name a host, got {value:?}"))
        }
        Ok(_) => None,
        Err(e) => Some(format!("must be {what}, got {value:?} ({e})")),
    }
}

fn name_list_problems(field: &str, values: &[String], errors: &mut Vec<FieldError>) {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() {
            errors.push(FieldError::item(field, i, "must not be empty"));
        } else if v.chars().any(char::is_whitespace) {
            errors.push(FieldError::item(
                field,
                i,
                format!("must not contain whitespace, got {v:?}"),
            ));
        }
    }
}

impl TraefikRoute {
    /// Every problem with the arguments, each with the path of the argument it concerns.
    /// Empty means valid. Makes no I/O, so it can run at plan time.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = validate_location(&self.name, &self.config_dir);
        if let Err(e) = traefik_rule::parse(&self.rule) {
            errors.push(FieldError::field("rule", e.message));
        }
        name_list_problems("entrypoints", &self.entrypoints, &mut errors);
        if self.servers.is_empty() {
            errors.push(FieldError::field(
                "servers",
                "must list at least one backend URL, e.g. \"http://10.0.0.5:8080\"",
            ));
        }
        for (i, server) in self.servers.iter().enumerate() {
            if let Some(m) = url_problem(server, &["http", "https", "h2c"], "an http(s) URL") {
                errors.push(FieldError::item("servers", i, m));
            }
        }
        name_list_problems("middlewares", &self.middlewares, &mut errors);
        for (i, m) in self.middlewares.iter().enumerate() {
            if m.split('@').count() > 2 || m.starts_with('@') || m.ends_with('@') {
                errors.push(FieldError::item(
                    "middlewares",
                    i,
                    format!("must be a name or name@provider, got {m:?}"),
                ));
            }
        }
        if let Some(p) = self.priority {
            if p < 0 {
                errors.push(FieldError::field(
                    "priority",
                    format!("must be 0 or more, got {p}"),
                ));
            }
        }
        if let Some(r) = &self.tls_cert_resolver {
            if r.is_empty() || r.chars().any(char::is_whitespace) {
                errors.push(FieldError::field(
                    "tls_cert_resolver",
                    format!("must be a certificate resolver name, got {r:?}"),
                ));
            }
        }
        if let Some(api) = &self.traefik_api_url {
            if let Some(m) = url_problem(api, &["http", "https"], "an http(s) URL") {
                errors.push(FieldError::field("traefik_api_url", redact(&m)));
            }
        }
        errors
    }

    /// [`validate`](Self::validate) as a `Result`, for callers that only need to stop.
    pub fn check(&self) -> Result<(), Error> {
        let errors = self.validate();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                what: format!("traefik route {:?}", self.name),
                errors,
            })
        }
    }

    /// `<config_dir>/<name>.toml`.
    pub fn file_path(&self) -> PathBuf {
        route_file_path(&self.config_dir, &self.name)
    }

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
pub use crate::file_plan::Action;

/// Who may overwrite or delete a file that lacks our ownership header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Only files carrying the header are touched; anything else at the path is an
    /// error. For Ansible, and for Terraform when creating a resource.
    RequireHeader,
    /// The caller's state already owns the path (a Terraform resource in state,
    /// including one imported from a hand-written file): overwrite or delete it even
    /// without the header. The next write adds the header.
    Owned,
}

/// The comparison of desired and actual state: what would change, with both contents
/// for a diff. The same inputs give the same plan on every surface.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePlan {
    pub action: Action,
    /// The route name, for messages.
    pub name: String,
    pub path: PathBuf,
    /// The file content now; `None` when there is no file.
    pub before: Option<String>,
    /// The file content after apply; `None` when the route is to be absent.
    pub after: Option<String>,
    /// Whether the existing file carries our ownership header (`false` if there is none).
    pub before_managed: bool,
}

impl RoutePlan {
    pub fn changed(&self) -> bool {
        self.action != Action::None
    }

    /// Whether [`apply`] would be refused under `ownership`, judged from the state the
    /// plan saw; call it at plan time (Terraform plan, Ansible check mode) to fail early.
    /// [`apply`] checks again against the file as it is then.
    pub fn check(&self, ownership: Ownership) -> Result<(), Error> {
        match self.action {
            Action::None => Ok(()),
            Action::Create | Action::Update | Action::Delete => {
                let exists = self.before.is_some();
                guard(self, ownership, exists, self.before_managed)
            }
        }
    }
}

fn guard(plan: &RoutePlan, ownership: Ownership, exists: bool, managed: bool) -> Result<(), Error> {
    if !exists || managed || ownership == Ownership::Owned {
        return Ok(());
    }
    Err(Error::NotManaged {
        path: plan.path.clone(),
        name: plan.name.clone(),
        operation: if plan.action == Action::Delete {
            FileOperation::Delete
        } else {
            FileOperation::Write
        },
    })
}

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
    RoutePlan {
        action,
        name,
        path: path.to_owned(),
        before: actual.map(|f| f.content.clone()),
        after,
        before_managed: actual.is_some_and(|f| f.managed),
    }
}

/// Carries out a plan on the local filesystem. Writes are atomic (see
/// [`files::write_atomic`]); deleting a file that is already gone succeeds.
///
/// The ownership rule is checked against the file as it is now, not as the plan saw it,
/// so a file that appeared since the plan is not overwritten by accident.
pub fn apply(plan: &RoutePlan, ownership: Ownership) -> Result<(), Error> {
    if plan.action == Action::None {
        return Ok(());
    }
    let current = files::read_optional(&plan.path)?;
    guard_current(plan, ownership, current.as_deref())?;
    file_plan::apply(&plan.file_plan())
}

/// The ownership rule against the file as it is at apply time (`None`: no file).
fn guard_current(
    plan: &RoutePlan,
    ownership: Ownership,
    current: Option<&[u8]>,
) -> Result<(), Error> {
    guard(
        plan,
        ownership,
        current.is_some(),
        current.is_some_and(is_managed),
    )
}

impl RoutePlan {
    /// The same change as a plain file change, for [`file_plan::apply`] and
    /// [`file_plan::apply_on`] once the ownership rule has been checked.
    pub fn file_plan(&self) -> FilePlan {
        FilePlan {
            action: self.action,
            path: self.path.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Waiting on Traefik's API. What Traefik's answers mean is decided once, in `wait` below;
// the transports are reqwest + tokio (feature `async-http`: `wait_until_routed`, used by
// the Terraform provider) and the blocking client of `crate::http` (feature
// `blocking-http`: `wait_until_routed_blocking`, used by the Ansible modules).

/// `text` with the password of any `scheme://user:password@host` in it replaced, so
/// secrets given in `traefik_api_url` never reach a diagnostic or a log. Works on text
/// rather than a parsed URL because it must also cover URLs that fail to parse.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) if authority[..at].contains(':') => {
                let colon = authority.find(':').expect("checked above");
                out.push_str(&authority[..=colon]);
                out.push_str("redacted");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(any(feature = "async-http", feature = "blocking-http"))]
pub use wait::*;

#[cfg(any(feature = "async-http", feature = "blocking-http"))]
mod wait {
    use std::time::Duration;

    use serde::Deserialize;
    use url::Url;

    use super::{redact, TraefikRoute};
    use crate::deadline::Deadline;
    use crate::Error;

    const POLL_INTERVAL: Duration = Duration::from_millis(100);
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, rename_all = "camelCase")]
    struct RouterInfo {
        rule: String,
        service: String,
        entry_points: Vec<String>,
        middlewares: Vec<String>,
        priority: Option<i64>,
        tls: Option<TlsInfo>,
        status: String,
        error: Vec<String>,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, rename_all = "camelCase")]
    struct TlsInfo {
        cert_resolver: Option<String>,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, rename_all = "camelCase")]
    struct ServiceInfo {
        load_balancer: Option<LoadBalancerInfo>,
        status: String,
        error: Vec<String>,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, rename_all = "camelCase")]
    struct LoadBalancerInfo {
        servers: Vec<ServerInfo>,
        pass_host_header: Option<bool>,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct ServerInfo {
        url: String,
    }

    fn redacted_url(url: &Url) -> String {
        redact(url.as_str())
    }

    fn api_endpoint(api_url: &str, segments: &[&str]) -> Result<Url, Error> {
        let invalid = |message: String| Error::TraefikApi {
            endpoint: redact(api_url),
            message,
        };
        let mut url = Url::parse(api_url).map_err(|e| invalid(format!("not a valid URL ({e})")))?;
        url.path_segments_mut()
            .map_err(|_| invalid("not a URL that can have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    enum Fetched<T> {
        Found(T),
        NotFound,
        /// Worth retrying (connection refused while Traefik starts, 5xx); the text says what.
        Transient(String),
    }

    /// What one `GET shown` that got an answer means, whatever the transport.
    /// `status_text` is the status as `503 Service Unavailable`.
    fn interpret<T: serde::de::DeserializeOwned>(
        shown: &str,
        status: u16,
        status_text: &str,
        body: &str,
    ) -> Result<Fetched<T>, Error> {
        if status == 404 {
            return Ok(Fetched::NotFound);
        }
        if status >= 500 {
            return Ok(Fetched::Transient(format!(
                "GET {shown}: HTTP {status_text}: {}",
                snippet(body)
            )));
        }
        if !(200..300).contains(&status) {
            let hint = if status == 401 || status == 403 {
                "; traefik_api_url must reach Traefik's API without authentication, e.g. \
                 api.insecure on a loopback entry point"
            } else {
                ""
            };
            return Err(Error::TraefikApi {
                endpoint: shown.to_owned(),
                message: format!("answered HTTP {status_text}: {}{hint}", snippet(body)),
            });
        }
        match serde_json::from_str(body) {
            Ok(v) => Ok(Fetched::Found(v)),
            Err(e) => Err(Error::TraefikApi {
                endpoint: shown.to_owned(),
                message: format!(
                    "answered with something that is not a Traefik API object ({e}): {}; does \
                     traefik_api_url point at Traefik's API (the `traefik` entry point)?",
                    snippet(body)
                ),
            }),
        }
    }

    fn snippet(body: &str) -> String {
        let body = body.trim();
        if body.chars().count() > 300 {
            format!("{}...", body.chars().take(300).collect::<String>())
        } else {
            body.to_owned()
        }
    }

    fn qualified(middleware: &str) -> String {
        if middleware.contains('@') {
            middleware.to_owned()
        } else {
            format!("{middleware}@file")
        }
    }

    /// What Traefik reports that differs from `route`; empty when Traefik runs this version.
    /// Fields Traefik fills in itself (default entry points, default priority) are compared
    /// only when the route sets them.
    fn differences(
        route: &TraefikRoute,
        router: &RouterInfo,
        service: &ServiceInfo,
    ) -> Vec<String> {
        let mut diffs = Vec::new();
        if router.rule != route.rule {
            diffs.push(format!("rule is {:?}", router.rule));
        }
        if router.service != route.name && router.service != format!("{}@file", route.name) {
            diffs.push(format!("service is {:?}", router.service));
        }
        if !route.entrypoints.is_empty() && router.entry_points != route.entrypoints {
            diffs.push(format!("entryPoints are {:?}", router.entry_points));
        }
        let want: Vec<String> = route.middlewares.iter().map(|m| qualified(m)).collect();
        let have: Vec<String> = router.middlewares.iter().map(|m| qualified(m)).collect();
        if want != have {
            diffs.push(format!("middlewares are {:?}", router.middlewares));
        }
        if let Some(p) = route.priority.filter(|p| *p > 0) {
            if router.priority != Some(p) {
                diffs.push(format!("priority is {:?}", router.priority));
            }
        }
        let resolver = router.tls.as_ref().and_then(|t| t.cert_resolver.clone());
        if resolver != route.tls_cert_resolver {
            diffs.push(format!("tls.certResolver is {resolver:?}"));
        }
        let lb = service.load_balancer.as_ref();
        let mut have: Vec<&str> = lb
            .map(|lb| lb.servers.iter().map(|s| s.url.as_str()).collect())
            .unwrap_or_default();
        let mut want: Vec<&str> = route.servers.iter().map(String::as_str).collect();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            diffs.push(format!("servers are {have:?}"));
        }
        let pass = lb.and_then(|lb| lb.pass_host_header).unwrap_or(true);
        if pass != route.pass_host_header {
            diffs.push(format!("passHostHeader is {pass}"));
        }
        diffs
    }

    /// The URLs one route's wait polls.
    struct Endpoints {
        router_id: String,
        router_url: Url,
        service_url: Url,
    }

    fn endpoints(api_url: &str, name: &str) -> Result<Endpoints, Error> {
        let router_id = format!("{name}@file");
        Ok(Endpoints {
            router_url: api_endpoint(api_url, &["api", "http", "routers", &router_id])?,
            service_url: api_endpoint(api_url, &["api", "http", "services", &router_id])?,
            router_id,
        })
    }

    enum Progress {
        Done,
        /// Not yet; the text is what was seen, for the timeout message.
        Waiting(String),
    }

    /// What Traefik's answers about the router (and, when the router was found, its
    /// service) mean for `route`: served, rejected (`Err`, final) or not yet.
    fn judge_routed(
        route: &TraefikRoute,
        at: &Endpoints,
        router: Fetched<RouterInfo>,
        service: Option<Fetched<ServiceInfo>>,
    ) -> Result<Progress, Error> {
        let router_id = &at.router_id;
        let router = match router {
            Fetched::Transient(text) => return Ok(Progress::Waiting(text)),
            Fetched::NotFound => {
                return Ok(Progress::Waiting(format!(
                    "Traefik has no router {router_id} yet"
                )))
            }
            Fetched::Found(router) => router,
        };
        let service = match service {
            Some(Fetched::Found(service)) => service,
            Some(Fetched::Transient(text)) => return Ok(Progress::Waiting(text)),
            Some(Fetched::NotFound) | None => {
                return Ok(Progress::Waiting(format!(
                    "Traefik has router {router_id} but no service {router_id} yet"
                )))
            }
        };
        let diffs = differences(route, &router, &service);
        if !diffs.is_empty() {
            return Ok(Progress::Waiting(format!(
                "Traefik still runs another version of {router_id} ({}); Traefik keeps its \
                 previous configuration while any file in {} fails to load, see its log",
                diffs.join(", "),
                route.config_dir
            )));
        }
        let mut errors = router.error.clone();
        errors.extend(service.error.iter().map(|e| format!("service: {e}")));
        let service_down = service.status == "disabled";
        if router.status == "enabled" && errors.is_empty() && !service_down {
            tracing::debug!(router = %router_id, "traefik serves the route");
            return Ok(Progress::Done);
        }
        if !matches!(router.status.as_str(), "enabled" | "disabled" | "warning") {
            // A status this code does not know: keep waiting, and say so.
            return Ok(Progress::Waiting(format!(
                "router {router_id} has status {:?}",
                router.status
            )));
        }
        let status = if service_down && router.status == "enabled" {
            "enabled, with its service disabled".to_owned()
        } else {
            router.status.clone()
        };
        Err(Error::TraefikRejected {
            endpoint: redacted_url(&at.router_url),
            router: router_id.clone(),
            status,
            errors,
        })
    }

    fn judge_unrouted(at: &Endpoints, router: Fetched<serde_json::Value>) -> Progress {
        match router {
            Fetched::NotFound => Progress::Done,
            Fetched::Transient(text) => Progress::Waiting(text),
            Fetched::Found(_) => {
                Progress::Waiting(format!("Traefik still has router {}", at.router_id))
            }
        }
    }

    /// `Some(error)` when the deadline leaves no time for another poll (or the caller
    /// stopped the wait).
    fn out_of_time(
        deadline: &Deadline,
        what: impl FnOnce() -> String,
        last_seen: String,
    ) -> Option<Error> {
        (deadline.remaining() < POLL_INTERVAL || deadline.stopped())
            .then(|| deadline.ended(what(), last_seen).into())
    }

    fn routed_what(api_url: &str, route: &TraefikRoute, at: &Endpoints) -> String {
        format!(
            "Traefik at {} to serve router {} as written to {}",
            redact(api_url),
            at.router_id,
            route.file_path().display()
        )
    }

    fn unrouted_what(api_url: &str, at: &Endpoints) -> String {
        format!(
            "Traefik at {} to drop router {}",
            redact(api_url),
            at.router_id
        )
    }

    // --- async transport (reqwest + tokio) ---------------------------------------------

    /// Waits until Traefik's API at `api_url` serves `route` as written: the router
    /// `<name>@file` and its service report this route's configuration (so an older
    /// version still loaded does not count), and the router is enabled.
    ///
    /// Fails at once, with Traefik's own error texts, when Traefik reports this version
    /// of the router disabled or with warnings (e.g. a middleware or entry point that
    /// does not exist). Polls every 100 ms; on timeout the error says what it waited for
    /// and the last thing it saw.
    #[cfg(feature = "async-http")]
    pub async fn wait_until_routed(
        api_url: &str,
        route: &TraefikRoute,
        deadline: &Deadline,
    ) -> Result<(), Error> {
        let at = endpoints(api_url, &route.name)?;
        let client = client()?;
        loop {
            let remaining = deadline.remaining();
            let router = fetch::<RouterInfo>(&client, &at.router_url, remaining).await?;
            let service = match router {
                Fetched::Found(_) => {
                    Some(fetch::<ServiceInfo>(&client, &at.service_url, remaining).await?)
                }
                _ => None,
            };
            let last_seen = match judge_routed(route, &at, router, service)? {
                Progress::Done => return Ok(()),
                Progress::Waiting(seen) => seen,
            };
            if let Some(e) = out_of_time(deadline, || routed_what(api_url, route, &at), last_seen) {
                return Err(e);
            }
            deadline.sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until Traefik's API at `api_url` no longer lists the router `<name>@file`,
    /// after the route file was deleted.
    #[cfg(feature = "async-http")]
    pub async fn wait_until_unrouted(
        api_url: &str,
        name: &str,
        deadline: &Deadline,
    ) -> Result<(), Error> {
        let at = endpoints(api_url, name)?;
        let client = client()?;
        loop {
            let remaining = deadline.remaining();
            let router = fetch::<serde_json::Value>(&client, &at.router_url, remaining).await?;
            let last_seen = match judge_unrouted(&at, router) {
                Progress::Done => return Ok(()),
                Progress::Waiting(seen) => seen,
            };
            if let Some(e) = out_of_time(deadline, || unrouted_what(api_url, &at), last_seen) {
                return Err(e);
            }
            deadline.sleep(POLL_INTERVAL).await;
        }
    }

    #[cfg(feature = "async-http")]
    async fn fetch<T: serde::de::DeserializeOwned>(
        client: &reqwest::Client,
        url: &Url,
        remaining: Duration,
    ) -> Result<Fetched<T>, Error> {
        let shown = redacted_url(url);
        let response = match client
            .get(url.clone())
            .timeout(REQUEST_TIMEOUT.min(remaining.max(Duration::from_millis(10))))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // The URL is already in front, with any password redacted; reqwest's own
                // text would repeat it unredacted.
                return Ok(Fetched::Transient(format!(
                    "GET {shown}: {}",
                    error_chain(&e.without_url())
                )));
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Fetched::NotFound);
        }
        let body = response.text().await.unwrap_or_default();
        interpret(&shown, status.as_u16(), &status.to_string(), &body)
    }

    #[cfg(feature = "async-http")]
    fn error_chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let s_text = s.to_string();
            if !text.contains(&s_text) {
                text.push_str(": ");
                text.push_str(&s_text);
            }
            source = s.source();
        }
        text
    }

    #[cfg(feature = "async-http")]
    fn client() -> Result<reqwest::Client, Error> {
        reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| Error::TraefikApi {
                endpoint: String::new(),
                message: format!("cannot build an HTTP client: {}", error_chain(&e)),
            })
    }

    // --- blocking transport (crate::http) ----------------------------------------------

    /// `wait_until_routed` without an async runtime, for callers that run once and exit
    /// (the Ansible modules), over `client`: [`crate::http::Client::plain`] keeps TLS
    /// out of a binary that only talks to a loopback API. Same checks, same errors.
    #[cfg(feature = "blocking-http")]
    pub fn wait_until_routed_blocking(
        client: &crate::http::Client,
        api_url: &str,
        route: &TraefikRoute,
        deadline: &Deadline,
    ) -> Result<(), Error> {
        let at = endpoints(api_url, &route.name)?;
        loop {
            let remaining = deadline.remaining();
            let router = fetch_blocking::<RouterInfo>(client, &at.router_url, remaining)?;
            let service = match router {
                Fetched::Found(_) => Some(fetch_blocking::<ServiceInfo>(
                    client,
                    &at.service_url,
                    remaining,
                )?),
                _ => None,
            };
            let last_seen = match judge_routed(route, &at, router, service)? {
                Progress::Done => return Ok(()),
                Progress::Waiting(seen) => seen,
            };
            if let Some(e) = out_of_time(deadline, || routed_what(api_url, route, &at), last_seen) {
                return Err(e);
            }
            deadline.sleep_blocking(POLL_INTERVAL);
        }
    }

    /// `wait_until_unrouted` without an async runtime, over `client`.
    #[cfg(feature = "blocking-http")]
    pub fn wait_until_unrouted_blocking(
        client: &crate::http::Client,
        api_url: &str,
        name: &str,
        deadline: &Deadline,
    ) -> Result<(), Error> {
        let at = endpoints(api_url, name)?;
        loop {
            let remaining = deadline.remaining();
            let router = fetch_blocking::<serde_json::Value>(client, &at.router_url, remaining)?;
            let last_seen = match judge_unrouted(&at, router) {
                Progress::Done => return Ok(()),
                Progress::Waiting(seen) => seen,
            };
            if let Some(e) = out_of_time(deadline, || unrouted_what(api_url, &at), last_seen) {
                return Err(e);
            }
            deadline.sleep_blocking(POLL_INTERVAL);
        }
    }

    #[cfg(feature = "blocking-http")]
    fn fetch_blocking<T: serde::de::DeserializeOwned>(
        client: &crate::http::Client,
        url: &Url,
        remaining: Duration,
    ) -> Result<Fetched<T>, Error> {
        let shown = redacted_url(url);
        let timeout = REQUEST_TIMEOUT.min(remaining.max(Duration::from_millis(10)));
        match client.get(url.as_str(), &[], timeout) {
            // The client's error text does not repeat the URL.
            Err(text) => Ok(Fetched::Transient(format!("GET {shown}: {text}"))),
            Ok(answer) => interpret(&shown, answer.status, &answer.status_text, &answer.body),
        }
    }
}
