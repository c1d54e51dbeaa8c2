//! The Prometheus scrape target capability: one
//! [file_sd](https://prometheus.io/docs/prometheus/latest/configuration/configuration/#file_sd_config)
//! file per job, `<file_sd_dir>/<job>.json`, which Prometheus re-reads when it changes.
//!
//! Steps, as for every capability: [`PrometheusTarget::validate`], [`read_target_file`],
//! [`plan`] (Ansible's check and diff mode), [`apply`]. Writes are atomic, so Prometheus
//! never reads half a file.
//!
//! JSON has no comments, so unlike Traefik route files these carry no ownership header:
//! a target file this tool wrote is recognised by its form ([`MARK`]): exactly what
//! [`PrometheusTarget::render`] writes for the targets and labels it holds. Anything else
//! at the path (a hand-written list, another tool's file) is someone else's, and
//! [`apply`] leaves it alone unless the caller owns the path ([`Ownership::Owned`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::file_plan::Ownership;
use crate::file_plan::{self, FilePlan, Mark, MarkedPlan};
use crate::files;
use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};
use crate::Error;

/// File names are `<job>.json`; NAME_MAX is 255 bytes.
const MAX_JOB_BYTES: usize = 255 - ".json".len();

/// Scrape targets for one job, written as a Prometheus file_sd file.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusTarget {
    /// Name of the target file, `<job>.json`, usually the name of the scrape job whose
    /// `file_sd_configs` reads it. Must not be empty, contain `/`, `..` or whitespace, or
    /// start with `.`.
    #[schemars(length(min = 1))]
    pub job: String,

    /// Targets to scrape, as `host:port` (`[2001:db8::1]:9100` for IPv6), e.g.
    /// `["nas.lab:9100", "10.0.0.5:9100"]`. At least one. The scheme and path come from
    /// the scrape job (or the `__scheme__` and `__metrics_path__` labels).
    #[schemars(length(min = 1))]
    pub targets: Vec<String>,

    /// Labels attached to every target, e.g. `{"env": "lab", "role": "nas"}`. Names
    /// match `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,

    /// Absolute path of the directory the scrape job's `file_sd_configs` reads, e.g.
    /// `/etc/prometheus/file_sd`.
    pub file_sd_dir: String,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default())
}

/// `<file_sd_dir>/<job>.json`.
pub fn target_file_path(file_sd_dir: &str, job: &str) -> PathBuf {
    Path::new(file_sd_dir).join(format!("{job}.json"))
}

/// Validates the two arguments that locate the file; all that removing it needs.
pub fn validate_location(job: &str, file_sd_dir: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut bad_job = |m: String| errors.push(FieldError::field("job", m));
    if job.is_empty() {
        bad_job("must not be empty".into());
    } else {
        if job.contains('/') || job.contains("..") {
            bad_job(format!(
                "must not contain \"/\" or \"..\" (it becomes the file name <job>.json), got {job:?}"
            ));
        }
        if job.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bad_job(format!(
                "must not contain whitespace or control characters, got {job:?}"
            ));
        }
        if job.starts_with('.') {
            bad_job(format!("must not start with \".\", got {job:?}"));
        }
        if job.len() > MAX_JOB_BYTES {
            bad_job(format!(
                "must be at most {MAX_JOB_BYTES} bytes (it becomes a file name), got {}",
                job.len()
            ));
        }
    }
    if !file_sd_dir.starts_with('/') {
        errors.push(FieldError::field(
            "file_sd_dir",
            format!(
                "must be an absolute path (the directory file_sd_configs reads, e.g. \
                 /etc/prometheus/file_sd), got {file_sd_dir:?}"
            ),
        ));
    } else if Path::new(file_sd_dir)
        .components()
        .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        errors.push(FieldError::field(
            "file_sd_dir",
            format!("must not contain \".\" or \"..\" components, got {file_sd_dir:?}"),
        ));
    }
    errors
}

/// Splits `host:port` (`[v6]:port` for IPv6 addresses); the error says what is wrong,
/// quoting `value`, in words that fit after the argument's name.
pub(crate) fn split_host_port(value: &str) -> Result<(&str, u16), String> {
    let example = "e.g. \"nas.lab:9100\" or \"[2001:db8::1]:9100\"";
    if value.contains("://") || value.contains('/') {
        return Err(format!(
            "must be host:port without a scheme or path ({example}), got {value:?}"
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("must not contain whitespace, got {value:?}"));
    }
    let no_port = || format!("must be host:port with a port ({example}), got {value:?}");
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((host, tail)) = rest.split_once(']') else {
            return Err(format!("has an unclosed \"[\", got {value:?}"));
        };
        (host, tail.strip_prefix(':').ok_or_else(no_port)?)
    } else {
        match value.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(format!(
                    "must write an IPv6 address in brackets ({example}), got {value:?}"
                ))
            }
            Some(pair) => pair,
            None => return Err(no_port()),
        }
    };
    if host.is_empty() {
        return Err(format!("must name a host before the port, got {value:?}"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, p)),
        _ => Err(format!(
            "must end in a port from 1 to 65535 ({example}), got {value:?}"
        )),
    }
}

/// Why `target` is not `host:port`, if it is not.
fn target_problem(target: &str) -> Option<String> {
    split_host_port(target).err().map(|m| {
        if m.contains("without a scheme") {
            format!("{m}; the scheme and path come from the scrape job")
        } else {
            m
        }
    })
}

fn label_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl PrometheusTarget {
    /// `<file_sd_dir>/<job>.json`.
    pub fn file_path(&self) -> PathBuf {
        target_file_path(&self.file_sd_dir, &self.job)
    }

    /// The file content: one target group, pretty JSON (2-space indent), targets in the
    /// order given, labels sorted by name, and a final newline. Deterministic.
    pub fn render(&self) -> String {
        render_group(&self.targets, &self.labels)
    }
}

impl Validate for PrometheusTarget {
    fn subject(&self) -> String {
        format!("prometheus target {:?}", self.job)
    }

    /// Every problem with the arguments, each with its path. Makes no I/O.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = validate_location(&self.job, &self.file_sd_dir);
        if self.targets.is_empty() {
            errors.push(FieldError::field(
                "targets",
                "must list at least one host:port, e.g. \"nas.lab:9100\"",
            ));
        }
        for (i, target) in self.targets.iter().enumerate() {
            if let Some(m) = target_problem(target) {
                errors.push(FieldError::item("targets", i, m));
            } else if let Some(first) = self.targets[..i].iter().position(|t| t == target) {
                errors.push(FieldError::item(
                    "targets",
                    i,
                    format!("{target:?} is listed twice (also targets[{first}])"),
                ));
            }
        }
        for name in self.labels.keys() {
            if !label_name_ok(name) {
                errors.push(FieldError::new(
                    vec![
                        PathSegment::Field("labels".into()),
                        PathSegment::Key(name.clone()),
                    ],
                    "is not a Prometheus label name: letters, digits and _, not starting \
                     with a digit",
                ));
            }
        }
        errors
    }
}

/// One target group as [`PrometheusTarget::render`] writes it.
fn render_group(targets: &[String], labels: &BTreeMap<String, String>) -> String {
    #[derive(Serialize)]
    struct Group<'a> {
        targets: &'a [String],
        labels: &'a BTreeMap<String, String>,
    }
    let groups = [Group { targets, labels }];
    let mut text =
        serde_json::to_string_pretty(&groups).expect("strings and maps always serialize");
    text.push('\n');
    text
}

/// One target group as a file holds it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The one target group in `bytes`; `Err` says why the file is something else.
fn read_group(bytes: &[u8]) -> Result<Group, String> {
    let groups: Vec<Group> = serde_json::from_slice(bytes)
        .map_err(|e| format!("it is not a file_sd target list: {e}"))?;
    <[Group; 1]>::try_from(groups)
        .map(|[group]| group)
        .map_err(|groups| {
            format!(
                "it holds {} target groups; a target file holds exactly one",
                groups.len()
            )
        })
}

/// Whether `bytes` are exactly what [`PrometheusTarget::render`] writes for the one target
/// group they hold: the mark of a target file this tool wrote.
fn written_by_render(bytes: &[u8]) -> bool {
    read_group(bytes).is_ok_and(|g| render_group(&g.targets, &g.labels).as_bytes() == bytes)
}

/// A target file this tool wrote is byte for byte its rendering of the targets it holds.
pub static MARK: Mark = Mark {
    holds: "prometheus target",
    missing: "it is not a target list as this tool writes it",
    carried_by: written_by_render,
};

/// The bytes of the target file at `path`; `None` when there is none.
pub fn read_target_file(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    files::read_optional(path)
}

/// Compares the desired targets (`None`: the file should not exist) with the file's
/// bytes. `path` is `desired.file_path()` when targets are desired. Makes no I/O.
pub fn plan(path: &Path, desired: Option<&PrometheusTarget>, actual: Option<&[u8]>) -> MarkedPlan {
    debug_assert!(
        !matches!(desired, Some(d) if d.file_path() != path),
        "plan: path {} is not the desired target's file",
        path.display()
    );
    let job = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let change: FilePlan = file_plan::plan(path, desired.map(PrometheusTarget::render), actual);
    MarkedPlan::new(change, job, &MARK, actual.is_some_and(written_by_render))
}

/// Carries out a plan under the ownership rule ([`file_plan::apply_marked`]): atomic
/// write or removal. The directory must exist.
pub fn apply(plan: &MarkedPlan, ownership: Ownership) -> Result<(), Error> {
    file_plan::apply_marked(plan, ownership)
}

/// The targets a file at `path` holds, read back for drift and import: one target group
/// (what [`PrometheusTarget::render`] writes). `Err` says why the file is something else.
pub fn parse_target_file(path: &Path, bytes: &[u8]) -> Result<PrometheusTarget, String> {
    let group = read_group(bytes)?;
    let job = match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) if ext == "json" => stem.to_string_lossy().into_owned(),
        _ => return Err("its name is not <job>.json".into()),
    };
    let file_sd_dir = path
        .parent()
        .and_then(Path::to_str)
        .ok_or("its directory is not a UTF-8 path")?
        .to_owned();
    Ok(PrometheusTarget {
        job,
        targets: group.targets,
        labels: group.labels,
        file_sd_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_plan::Action;
    use serde_json::json;

    fn target(dir: &str) -> PrometheusTarget {
        serde_json::from_value(json!({
            "job": "node",
            "targets": ["nas.lab:9100", "10.0.0.5:9100"],
            "labels": {"role": "nas", "env": "lab"},
            "file_sd_dir": dir,
        }))
        .unwrap()
    }

    #[test]
    fn a_rendered_file_reads_back_as_the_same_target() {
        let t = target("/etc/prometheus/file_sd");
        let back = parse_target_file(&t.file_path(), t.render().as_bytes()).unwrap();
        assert_eq!(back, t);
        let two = br#"[{"targets":["a:1"]},{"targets":["b:1"]}]"#;
        let err = parse_target_file(&t.file_path(), two).unwrap_err();
        assert!(err.contains("2 target groups"), "{err}");
        assert!(parse_target_file(&t.file_path(), b"nope").is_err());
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn renders_one_sorted_pretty_group_with_a_final_newline() {
        assert_eq!(
            target("/etc/prometheus/file_sd").render(),
            "[\n  {\n    \"targets\": [\n      \"nas.lab:9100\",\n      \"10.0.0.5:9100\"\n    ],\n    \
             \"labels\": {\n      \"env\": \"lab\",\n      \"role\": \"nas\"\n    }\n  }\n]\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&target("/x").render()).unwrap();
        assert_eq!(
            parsed,
            json!([{"targets": ["nas.lab:9100", "10.0.0.5:9100"], "labels": {"env": "lab", "role": "nas"}}])
        );
    }

    #[test]
    fn null_labels_mean_none() {
        let t: PrometheusTarget = serde_json::from_value(json!({
            "job": "node", "targets": ["a:1"], "labels": null, "file_sd_dir": "/x",
        }))
        .unwrap();
        assert!(t.labels.is_empty());
        assert!(t.render().contains("\"labels\": {}"));
    }

    #[test]
    fn plan_apply_then_plan_again_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(dir.path().to_str().unwrap());
        let path = t.file_path();
        assert_eq!(path, dir.path().join("node.json"));
        let actual = read_target_file(&path).unwrap();
        let p = plan(&path, Some(&t), actual.as_deref());
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.before, None);
        apply(&p, Ownership::RequireMark).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), t.render());

        let again = plan(&path, Some(&t), read_target_file(&path).unwrap().as_deref());
        assert_eq!(again.action, Action::None);

        let mut changed = t.clone();
        changed.targets.push("new.lab:9100".into());
        let update = plan(
            &path,
            Some(&changed),
            read_target_file(&path).unwrap().as_deref(),
        );
        assert_eq!(update.action, Action::Update);
        assert_eq!(update.before.as_deref(), Some(t.render().as_str()));

        let delete = plan(&path, None, read_target_file(&path).unwrap().as_deref());
        assert_eq!(delete.action, Action::Delete);
        apply(&delete, Ownership::RequireMark).unwrap();
        assert!(!path.exists());
        assert_eq!(
            plan(&path, None, read_target_file(&path).unwrap().as_deref()).action,
            Action::None
        );
    }

    #[test]
    fn a_hand_edit_is_drift_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(dir.path().to_str().unwrap());
        std::fs::write(t.file_path(), "[]\n").unwrap();
        let p = plan(&t.file_path(), Some(&t), Some(b"[]\n"));
        assert_eq!(p.action, Action::Update);
        // The caller owns the path (a Terraform resource in state): drift is rewritten.
        apply(&p, Ownership::Owned).unwrap();
        assert_eq!(std::fs::read_to_string(t.file_path()).unwrap(), t.render());
    }

    #[test]
    fn a_file_this_tool_did_not_write_is_left_alone_unless_owned() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(dir.path().to_str().unwrap());
        let path = t.file_path();
        let foreign = "[{\"targets\": [\"other:9100\"]}]\n";
        std::fs::write(&path, foreign).unwrap();
        let bytes = read_target_file(&path).unwrap();
        assert!(!(MARK.carried_by)(foreign.as_bytes()));

        let write = plan(&path, Some(&t), bytes.as_deref());
        assert!(!write.before_marked);
        let refused = write.check(Ownership::RequireMark).unwrap_err().to_string();
        assert_eq!(
            refused,
            format!(
                "{} exists and is not managed by Tabiri Homelab; import it as prometheus \
                 target \"node\" or move it away",
                path.display()
            )
        );
        assert!(apply(&write, Ownership::RequireMark).is_err());
        let delete = plan(&path, None, bytes.as_deref());
        let refused = apply(&delete, Ownership::RequireMark)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("(it is not a target list as this tool writes it)"),
            "{refused}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), foreign);

        // Owned: the caller's state says the path is its own.
        apply(&write, Ownership::Owned).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), t.render());

        // Its own file, whatever targets it holds now, is its to rewrite and remove.
        let mut other = t.clone();
        other.targets = vec!["new.lab:9100".into()];
        let ours = read_target_file(&path).unwrap();
        let update = plan(&path, Some(&other), ours.as_deref());
        assert!(update.before_marked);
        apply(&update, Ownership::RequireMark).unwrap();
        let delete = plan(&path, None, read_target_file(&path).unwrap().as_deref());
        apply(&delete, Ownership::RequireMark).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn targets_must_be_host_and_port() {
        let mut t = target("/x");
        t.targets = vec![
            "nas.lab".into(),
            "http://nas.lab:9100".into(),
            "[::1]:9100".into(),
            "::1:9100".into(),
            "nas.lab:0".into(),
            ":9100".into(),
            "nas.lab:port".into(),
            "[::1]".into(),
            "[::1]:9100".into(),
        ];
        let m = messages(&t.validate());
        assert_eq!(m.len(), 8, "{m:#?}");
        assert!(
            m[0].starts_with("targets[0]: must be host:port with a port"),
            "{}",
            m[0]
        );
        assert!(
            m[1].starts_with("targets[1]: must be host:port without a scheme"),
            "{}",
            m[1]
        );
        assert!(
            m[2].starts_with("targets[3]: must write an IPv6 address in brackets"),
            "{}",
            m[2]
        );
        assert!(
            m[3].starts_with("targets[4]: must end in a port from 1 to 65535"),
            "{}",
            m[3]
        );
        assert!(m[4].starts_with("targets[5]: must name a host"), "{}", m[4]);
        assert!(
            m[5].starts_with("targets[6]: must end in a port"),
            "{}",
            m[5]
        );
        assert!(
            m[6].starts_with("targets[7]: must be host:port with a port"),
            "{}",
            m[6]
        );
        assert_eq!(
            m[7],
            "targets[8]: \"[::1]:9100\" is listed twice (also targets[2])"
        );
    }

    #[test]
    fn empty_targets_bad_labels_and_location_are_reported_together() {
        let t: PrometheusTarget = serde_json::from_value(json!({
            "job": "../etc", "targets": [], "labels": {"0bad": "x", "good_1": "y", "a-b": "z"},
            "file_sd_dir": "relative/dir",
        }))
        .unwrap();
        let m = messages(&t.validate());
        assert_eq!(m.len(), 6, "{m:#?}");
        assert!(
            m[0].starts_with("job: must not contain \"/\" or \"..\""),
            "{}",
            m[0]
        );
        assert!(
            m[1].starts_with("job: must not start with \".\""),
            "{}",
            m[1]
        );
        assert!(
            m[2].starts_with("file_sd_dir: must be an absolute path"),
            "{}",
            m[2]
        );
        assert!(
            m[3].starts_with("targets: must list at least one"),
            "{}",
            m[3]
        );
        assert!(
            m[4].starts_with("labels[\"0bad\"]: is not a Prometheus label name"),
            "{}",
            m[4]
        );
        assert!(m[5].starts_with("labels[\"a-b\"]: is not"), "{}", m[5]);
        assert!(t
            .check()
            .unwrap_err()
            .to_string()
            .starts_with("invalid prometheus target \"../etc\": job:"));
    }

    #[test]
    fn location_rejects_dot_components_and_accepts_reserved_labels() {
        assert_eq!(
            messages(&validate_location("node", "/etc/../tmp")),
            vec!["file_sd_dir: must not contain \".\" or \"..\" components, got \"/etc/../tmp\""]
        );
        let mut t = target("/x");
        t.labels.insert("__metrics_path__".into(), "/probe".into());
        assert!(t.validate().is_empty());
    }
}
