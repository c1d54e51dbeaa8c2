//! Docker Compose stacks on a host: `homelab_compose_stack` and `tabiri.homelab.compose_stack`.
//!
//! The Compose CLI runs on the host itself (never `DOCKER_HOST=ssh://`, which would resolve
//! relative bind mounts, env files and secret files on the wrong machine). A stack is a
//! project directory (`/opt/tabiri/stacks/<project>` unless told otherwise) holding
//! `compose.yaml`, the interpolation values in `.env` (mode 0600) and the extra files the
//! compose file references (secrets 0600, the rest 0644).
//!
//! - [`ComposeStack`]: the arguments, with [`ComposeStack::validate`].
//! - [`model`]: what Compose and the engine say, parsed: the desired model (`docker compose
//!   config`), the project's containers (`docker inspect`), image IDs.
//! - [`plan`]: per service create / recreate (with the reason) / start / remove orphan /
//!   unchanged, and which files change. This is Terraform's plan and Ansible's check and
//!   diff mode; nothing is run with `--dry-run`.
//! - `apply` (feature `host-api`): read the actual state in one remote command, stage and
//!   validate a new version before switching to it, `up --wait`, roll back to the previous
//!   files when the services do not become healthy, `down`.

#[cfg(feature = "host-api")]
pub mod apply;
pub mod model;
pub mod plan;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::validation::FieldError;
use crate::validation::Validate;

/// Where stacks live unless `project_dir` says otherwise.
pub const STACKS_DIR: &str = "/opt/tabiri/stacks";
/// The compose file's name in the project directory.
pub const COMPOSE_FILE: &str = "compose.yaml";
/// The interpolation values' file in the project directory.
pub const ENV_FILE: &str = ".env";

/// When images are pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// Only images that are not on the host.
    Missing,
    /// Every image, on every apply; one that brings nothing new changes nothing.
    Always,
    /// Never: every image must be on the host already.
    Never,
}

impl Pull {
    pub const CHOICES: &'static [&'static str] = &["missing", "always", "never"];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "missing" => Some(Pull::Missing),
            "always" => Some(Pull::Always),
            "never" => Some(Pull::Never),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pull::Missing => "missing",
            Pull::Always => "always",
            Pull::Never => "never",
        }
    }
}

/// A Docker Compose project on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeStack {
    /// The Compose project name: lower-case letters, digits, `-` and `_`, starting with a
    /// letter or digit. Containers, networks and volumes are named after it.
    pub project: String,
    /// The compose file's text (YAML), written to `compose.yaml` in the project directory.
    pub compose: String,
    /// Values the compose file interpolates (`${NAME}`), written to the project's `.env`
    /// (mode 0600). Never shown in plans, logs or on the host's command lines.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// Extra files the compose file references (configs, secrets, bind-mounted files), by
    /// path relative to the project directory, e.g. `config/php.ini`. Files used as Compose
    /// `secrets` are written with mode 0600, the others 0644. A service that mounts a file
    /// whose content changes is recreated.
    #[serde(default)]
    pub files: BTreeMap<String, Secret>,
    /// The project directory on the host. Defaults to `/opt/tabiri/stacks/<project>`.
    #[serde(default)]
    pub project_dir: Option<String>,
    /// When images are pulled: `missing` (only images not on the host), `always` (on every
    /// apply; a pull that brings nothing new changes nothing) or `never`.
    // A string checked by `validate` (not an enum serde refuses), so a wrong value is
    // reported at its attribute.
    #[serde(default = "default_pull")]
    pub pull: String,
    /// Wait until every service runs (and is healthy, when it has a healthcheck); when it
    /// does not in `wait_timeout`, the previous version is brought back and apply fails.
    #[serde(default = "crate::defaults::yes")]
    pub wait: bool,
    /// How long `wait` waits, as a duration (`90s`, `3m`).
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout: String,
    /// Also remove the project's named volumes when the stack is destroyed.
    #[serde(default)]
    pub remove_volumes: bool,
    /// The Docker daemon on the host, as `docker -H` takes it (e.g.
    /// `unix:///run/user/1000/docker.sock` for rootless Docker). Defaults to the host's own.
    #[serde(default)]
    pub docker_host: Option<String>,
}

fn default_pull() -> String {
    Pull::Missing.as_str().into()
}

fn default_wait_timeout() -> String {
    "5m".into()
}

impl ComposeStack {
    /// The project directory on the host.
    pub fn dir(&self) -> PathBuf {
        match &self.project_dir {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(STACKS_DIR).join(&self.project),
        }
    }

    /// The `.env` file's bytes: `NAME=value` lines, sorted.
    pub fn env_file(&self) -> String {
        self.env
            .iter()
            .map(|(name, value)| format!("{name}={}\n", value.expose()))
            .collect()
    }

    /// Every file the stack writes, by path relative to the project directory.
    pub fn rendered_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files: BTreeMap<String, Vec<u8>> = self
            .files
            .iter()
            .map(|(path, content)| (path.clone(), content.expose().as_bytes().to_vec()))
            .collect();
        files.insert(COMPOSE_FILE.into(), self.compose.as_bytes().to_vec());
        files.insert(ENV_FILE.into(), self.env_file().into_bytes());
        files
    }

    /// SHA-256 over every file the stack writes (names and contents): how a change of any
    /// of them, here or by hand on the host, shows.
    pub fn content_sha256(&self) -> String {
        content_sha256(
            self.rendered_files()
                .iter()
                .map(|(k, v)| (k.as_str(), Some(crate::files::sha256_hex(v)))),
        )
    }

    /// The pull policy (`missing` when `pull` is not one of the choices; `validate` says so).
    pub fn pull(&self) -> Pull {
        Pull::parse(&self.pull).unwrap_or(Pull::Missing)
    }

    pub fn wait_timeout(&self) -> Result<std::time::Duration, String> {
        crate::duration::parse(&self.wait_timeout)
    }
}

impl Validate for ComposeStack {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(e) = check_project_name(&self.project) {
            errors.push(FieldError::field("project", e));
        }
        if self.compose.trim().is_empty() {
            errors.push(FieldError::field("compose", "the compose file is empty"));
        }
        for name in self.env.keys() {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                errors.push(FieldError::field(
                    "env",
                    format!("{name:?} is not a variable name (letters, digits and _, not starting with a digit)"),
                ));
            }
        }
        for (name, value) in &self.env {
            if value.expose().contains('\n') {
                errors.push(FieldError::field(
                    "env",
                    format!("the value of {name} holds a newline, which a .env file cannot"),
                ));
            }
        }
        for path in self.files.keys() {
            if let Err(e) = check_relative_path(path) {
                errors.push(FieldError::field("files", format!("{path:?}: {e}")));
            } else if path == COMPOSE_FILE || path == ENV_FILE {
                errors.push(FieldError::field(
                    "files",
                    format!("{path:?} is written from `compose` and `env`; pick another name"),
                ));
            }
        }
        if let Some(dir) = &self.project_dir {
            let path = Path::new(dir);
            let normal = path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
            if !path.is_absolute() || !normal || path.components().count() < 3 {
                errors.push(FieldError::field(
                    "project_dir",
                    format!("{dir:?} must be an absolute path at least two levels deep, without `.` or `..` (e.g. /opt/stacks/{})", self.project),
                ));
            }
        }
        if Pull::parse(&self.pull).is_none() {
            errors.push(FieldError::field(
                "pull",
                format!("{:?} is not one of {}", self.pull, Pull::CHOICES.join(", ")),
            ));
        }
        if let Err(e) = self.wait_timeout() {
            errors.push(FieldError::field("wait_timeout", e));
        }
        if let Some(h) = &self.docker_host {
            if !(h.starts_with("unix:///") || h.starts_with("tcp://")) {
                errors.push(FieldError::field(
                    "docker_host",
                    format!("{h:?} must be unix:///path/to/docker.sock or tcp://host:port"),
                ));
            }
        }
        errors
    }
}

/// SHA-256 over `(path, sha256 of its content or None when missing)`, sorted by path.
pub fn content_sha256<'a>(files: impl IntoIterator<Item = (&'a str, Option<String>)>) -> String {
    let mut lines: Vec<String> = files
        .into_iter()
        .map(|(path, sha)| format!("{path}\0{}\n", sha.unwrap_or_else(|| "-".into())))
        .collect();
    lines.sort();
    crate::files::sha256_hex(lines.concat().as_bytes())
}

/// Compose's rule for project names.
pub fn check_project_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if name.is_empty() {
        Err("the project name is empty".into())
    } else if !(first_ok && rest_ok) {
        Err(format!(
            "{name:?} is not a Compose project name: lower-case letters, digits, - and _, starting with a letter or digit"
        ))
    } else {
        Ok(())
    }
}

/// A path inside the project directory: relative, no `..`, no `.` parts.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    if p.is_absolute() {
        return Err("must be relative to the project directory, not absolute".into());
    }
    if !p.components().all(|c| matches!(c, Component::Normal(_))) || path.ends_with('/') {
        return Err("must stay inside the project directory (no `..`, `.` or trailing /)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> ComposeStack {
        serde_json::from_value(serde_json::json!({
            "project": "nextcloud",
            "compose": "services: {}\n",
        }))
        .unwrap()
    }

    #[test]
    fn defaults_and_paths() {
        let s = stack();
        assert_eq!(s.dir(), PathBuf::from("/opt/tabiri/stacks/nextcloud"));
        assert!(s.wait);
        assert_eq!(s.wait_timeout, "5m");
        assert!(s.validate().is_empty());
    }

    #[test]
    fn bad_input_names_the_field() {
        let mut s = stack();
        s.project = "Next Cloud".into();
        s.files.insert("/etc/passwd".into(), Secret::new("x"));
        s.files.insert("a/../../b".into(), Secret::new("x"));
        s.wait_timeout = "soon".into();
        s.project_dir = Some("relative/dir".into());
        let fields: Vec<String> = s.validate().iter().map(|e| e.to_string()).collect();
        let text = fields.join("\n");
        assert!(text.contains("project: \"Next Cloud\""), "{text}");
        assert!(
            text.contains("files: \"/etc/passwd\": must be relative"),
            "{text}"
        );
        assert!(
            text.contains("files: \"a/../../b\": must stay inside"),
            "{text}"
        );
        assert!(text.contains("wait_timeout:"), "{text}");
        assert!(text.contains("project_dir:"), "{text}");
    }

    #[test]
    fn any_file_change_changes_the_content_hash() {
        let a = stack();
        let mut b = stack();
        b.env.insert("X".into(), Secret::new("1"));
        let mut c = b.clone();
        c.env.insert("X".into(), Secret::new("2"));
        assert_ne!(a.content_sha256(), b.content_sha256());
        assert_ne!(b.content_sha256(), c.content_sha256());
        assert_eq!(c.env_file(), "X=2\n");
    }
}
