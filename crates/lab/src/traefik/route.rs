//! A Traefik route's arguments and their checks: one router and its load-balanced
//! service, which [`super::file`] writes as `<config_dir>/<name>.toml`.

use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use super::rule;
use crate::validation::FieldError;
use crate::validation::Validate;

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
    /// `<config_dir>/<name>.toml`.
    pub fn file_path(&self) -> PathBuf {
        route_file_path(&self.config_dir, &self.name)
    }
}

impl Validate for TraefikRoute {
    fn subject(&self) -> String {
        format!("traefik route {:?}", self.name)
    }

    /// Every problem with the arguments, each with the path of the argument it concerns.
    /// Empty means valid. Makes no I/O, so it can run at plan time.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = validate_location(&self.name, &self.config_dir);
        if let Err(e) = rule::parse(&self.rule) {
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
}

/// `text` with the password of any `scheme://user:password@host` in it replaced, so
/// secrets given in `traefik_api_url` never reach a diagnostic or a log. Works on text
/// rather than a parsed URL because it must also cover URLs that fail to parse.
pub(super) fn redact(text: &str) -> String {
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
