//! The Docker log rotation capability: dockerd's `daemon.json` set to the `json-file`
//! log driver with `max-size` and `max-file`, so container logs stop filling the disk.
//!
//! Steps: [`DockerLogging::validate`], [`read_daemon_json`], [`plan`], [`apply`]. The
//! plan keeps every other key of the file and every other `log-opts` entry. It compares
//! meaning, not bytes: a file that already says the same thing in another layout is left
//! alone. When it does write, the file is pretty JSON with a 2-space indent and keys in
//! alphabetical order (serde_json's default `BTreeMap`; the `preserve_order` feature would
//! switch every crate in the workspace to insertion order). A file that is not valid JSON
//! is an error and is never overwritten.
//!
//! dockerd reads the file only when it starts: [`LoggingPlan::restart_needed`] says so,
//! and the new settings apply to containers created after the restart.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::file_plan::{self, Action, FilePlan};
use crate::files;
use crate::validation::FieldError;
use crate::validation::Validate;
use crate::Error;

/// Where dockerd reads its configuration on Linux.
pub const DEFAULT_DAEMON_JSON: &str = "/etc/docker/daemon.json";

/// The log driver this capability sets.
pub const LOG_DRIVER: &str = "json-file";

/// Options dockerd 28 accepts for the json-file driver (its own and the generic ones). Used
/// only when the file switches from another driver, whose options would stop dockerd.
const JSON_FILE_OPTS: &[&str] = &[
    "max-size",
    "max-file",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
    "mode",
    "max-buffer-size",
];

/// Log rotation for Docker's default `json-file` log driver, set in dockerd's
/// `daemon.json`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DockerLogging {
    /// Size at which a container's log file is rotated: a whole number and a unit `k`,
    /// `m` or `g`, e.g. `10m`. Written as the `max-size` log option.
    pub max_size: String,

    /// How many log files to keep per container, at least 1. Written as the `max-file`
    /// log option (as a string, as dockerd requires).
    #[schemars(range(min = 1))]
    pub max_file: i64,

    /// Path of dockerd's configuration file. Created, with its directory, when missing.
    #[serde(default = "default_daemon_json")]
    pub daemon_json: String,
}

fn default_daemon_json() -> String {
    DEFAULT_DAEMON_JSON.to_owned()
}

fn size_ok(size: &str) -> bool {
    let Some(unit) = size.chars().last() else {
        return false;
    };
    let digits = &size[..size.len() - unit.len_utf8()];
    matches!(unit.to_ascii_lowercase(), 'k' | 'm' | 'g')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0')
}

impl DockerLogging {
    pub fn file_path(&self) -> PathBuf {
        PathBuf::from(&self.daemon_json)
    }
}

impl Validate for DockerLogging {
    fn subject(&self) -> String {
        "docker logging settings".into()
    }

    /// Every problem with the arguments, each with its path. Makes no I/O.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !size_ok(&self.max_size) {
            errors.push(FieldError::field(
                "max_size",
                format!(
                    "must be a whole number and a unit k, m or g, e.g. \"10m\", \"512k\" or \
                     \"1g\", got {:?}",
                    self.max_size
                ),
            ));
        }
        if self.max_file < 1 {
            errors.push(FieldError::field(
                "max_file",
                format!("must be at least 1, got {}", self.max_file),
            ));
        }
        if !self.daemon_json.starts_with('/') {
            errors.push(FieldError::field(
                "daemon_json",
                format!(
                    "must be an absolute path, e.g. {DEFAULT_DAEMON_JSON}, got {:?}",
                    self.daemon_json
                ),
            ));
        } else if self.daemon_json.ends_with('/') {
            errors.push(FieldError::field(
                "daemon_json",
                format!(
                    "must be a file path, got the directory {:?}",
                    self.daemon_json
                ),
            ));
        }
        errors
    }
}

/// The change to daemon.json.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingPlan {
    pub file: FilePlan,
    /// `log-driver` before, when the file set one.
    pub previous_driver: Option<String>,
}

impl LoggingPlan {
    pub fn changed(&self) -> bool {
        self.file.changed()
    }

    /// dockerd must be restarted for the change to take effect (it reads daemon.json
    /// only at start).
    pub fn restart_needed(&self) -> bool {
        self.changed()
    }
}

/// The bytes of daemon.json; `None` when there is none.
pub fn read_daemon_json(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    files::read_optional(path)
}

fn file_error(path: &Path, message: String) -> Error {
    Error::Invalid {
        what: "docker daemon configuration".into(),
        errors: vec![FieldError::field(
            "daemon_json",
            format!(
                "{} {message}; it was left untouched, fix it by hand",
                path.display()
            ),
        )],
    }
}

/// Parses daemon.json as found: `None` (no file) and an empty file are `{}`.
fn parse(path: &Path, actual: Option<&[u8]>) -> Result<Map<String, Value>, Error> {
    let Some(bytes) = actual else {
        return Ok(Map::new());
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| file_error(path, format!("is not UTF-8 text ({e})")))?;
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(file_error(
            path,
            format!(
                "must hold a JSON object, found {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ),
        )),
        Err(e) => Err(file_error(path, format!("is not valid JSON ({e})"))),
    }
}

/// Compares daemon.json as it is (`actual`, `None` when missing) with the settings.
/// Fails, changing nothing, when the file is not a JSON object, when `log-driver` or
/// `log-opts` have the wrong type, or when switching from another driver would keep
/// options json-file does not accept (dockerd would refuse to start). Makes no I/O.
pub fn plan(desired: &DockerLogging, actual: Option<&[u8]>) -> Result<LoggingPlan, Error> {
    let path = desired.file_path();
    let before = parse(&path, actual)?;
    let previous_driver = match before.get("log-driver") {
        None => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(other) => {
            return Err(file_error(
                &path,
                format!("has \"log-driver\": {other}, which is not a driver name"),
            ))
        }
    };
    let mut opts = match before.get("log-opts") {
        None => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(other) => {
            return Err(file_error(
                &path,
                format!("has \"log-opts\": {other}, which is not an object"),
            ))
        }
    };
    // A missing log-driver means dockerd's default, json-file: its options were accepted.
    if let Some(driver) = previous_driver.as_deref().filter(|d| *d != LOG_DRIVER) {
        let foreign: Vec<&str> = opts
            .keys()
            .map(String::as_str)
            .filter(|k| !JSON_FILE_OPTS.contains(k))
            .collect();
        if !foreign.is_empty() {
            return Err(file_error(
                &path,
                format!(
                    "sets log-driver {driver:?} with log-opts {} that the json-file driver \
                     does not accept, so dockerd would not start after switching; remove \
                     them (or the log-opts) first",
                    foreign.join(", ")
                ),
            ));
        }
    }
    opts.insert("max-size".into(), Value::String(desired.max_size.clone()));
    opts.insert(
        "max-file".into(),
        Value::String(desired.max_file.to_string()),
    );
    let mut after = before.clone();
    after.insert("log-driver".into(), Value::String(LOG_DRIVER.into()));
    after.insert("log-opts".into(), Value::Object(opts));

    let file = if actual.is_some() && after == before {
        let text = actual.map(|b| String::from_utf8_lossy(b).into_owned());
        FilePlan {
            action: Action::None,
            path,
            before: text.clone(),
            after: text,
        }
    } else {
        let mut rendered = serde_json::to_string_pretty(&Value::Object(after))
            .expect("a JSON value always serializes");
        rendered.push('\n');
        file_plan::plan(&path, Some(rendered), actual)
    };
    Ok(LoggingPlan {
        file,
        previous_driver,
    })
}

/// Writes the planned daemon.json atomically, creating its directory when missing.
/// Refuses, changing nothing, when the file changed since it was read for the plan.
pub fn apply(plan: &LoggingPlan) -> Result<(), Error> {
    if !plan.changed() {
        return Ok(());
    }
    let path = &plan.file.path;
    if let Some(dir) = path.parent() {
        file_plan::ensure_dir(dir)?;
    }
    let now = read_daemon_json(path)?;
    let now_text = now
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned());
    if now_text != plan.file.before {
        return Err(file_error(
            path,
            "changed since it was read; run again to plan against the new content".into(),
        ));
    }
    file_plan::apply(&plan.file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fs;

    fn settings(path: &Path) -> DockerLogging {
        serde_json::from_value(json!({
            "max_size": "10m", "max_file": 3, "daemon_json": path.to_str().unwrap(),
        }))
        .unwrap()
    }

    fn converge(s: &DockerLogging) -> Result<LoggingPlan, Error> {
        let actual = read_daemon_json(&s.file_path())?;
        let p = plan(s, actual.as_deref())?;
        apply(&p)?;
        Ok(p)
    }

    #[test]
    fn default_path_is_etc_docker() {
        let s: DockerLogging =
            serde_json::from_value(json!({"max_size": "10m", "max_file": 3})).unwrap();
        assert_eq!(s.daemon_json, "/etc/docker/daemon.json");
    }

    #[test]
    fn creates_the_file_and_its_directory_then_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker/daemon.json");
        let s = settings(&path);
        let p = converge(&s).unwrap();
        assert_eq!(p.file.action, Action::Create);
        assert!(p.restart_needed());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-file\": \"3\",\n    \
             \"max-size\": \"10m\"\n  }\n}\n"
        );
        let again = converge(&s).unwrap();
        assert_eq!(again.file.action, Action::None);
        assert!(!again.restart_needed());
    }

    #[test]
    fn keeps_other_keys_and_log_opts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        fs::write(
            &path,
            r#"{"registry-mirrors": ["https://mirror.lab"], "log-opts": {"compress": "true", "max-size": "1g"}, "live-restore": true}"#,
        )
        .unwrap();
        let p = converge(&settings(&path)).unwrap();
        assert_eq!(p.file.action, Action::Update);
        assert_eq!(p.previous_driver, None);
        let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "registry-mirrors": ["https://mirror.lab"],
                "live-restore": true,
                "log-driver": "json-file",
                "log-opts": {"compress": "true", "max-size": "10m", "max-file": "3"},
            })
        );
    }

    #[test]
    fn the_same_settings_in_another_layout_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        let hand = "{ \"log-opts\": { \"max-file\": \"3\", \"max-size\": \"10m\" },\n    \"log-driver\": \"json-file\" }";
        fs::write(&path, hand).unwrap();
        let p = converge(&settings(&path)).unwrap();
        assert_eq!(p.file.action, Action::None);
        assert!(!p.restart_needed());
        assert_eq!(fs::read_to_string(&path).unwrap(), hand);
    }

    #[test]
    fn invalid_json_is_an_error_and_the_file_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        let broken = "{\"log-driver\": \"json-file\",}\n";
        fs::write(&path, broken).unwrap();
        let msg = converge(&settings(&path)).unwrap_err().to_string();
        assert!(msg.contains("daemon_json: "), "{msg}");
        assert!(
            msg.contains(&format!("{} is not valid JSON", path.display())),
            "{msg}"
        );
        assert!(msg.contains("left untouched"), "{msg}");
        assert_eq!(fs::read_to_string(&path).unwrap(), broken);

        for (content, found) in [("[1]", "an array"), ("\"x\"", "a string")] {
            fs::write(&path, content).unwrap();
            let msg = converge(&settings(&path)).unwrap_err().to_string();
            assert!(
                msg.contains(&format!("must hold a JSON object, found {found}")),
                "{msg}"
            );
            assert_eq!(fs::read_to_string(&path).unwrap(), content);
        }
        fs::write(&path, r#"{"log-opts": "max-size=10m"}"#).unwrap();
        let msg = converge(&settings(&path)).unwrap_err().to_string();
        assert!(msg.contains("which is not an object"), "{msg}");
    }

    #[test]
    fn an_empty_file_is_an_empty_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        fs::write(&path, "\n").unwrap();
        let p = converge(&settings(&path)).unwrap();
        assert_eq!(p.file.action, Action::Update);
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains("\"max-size\": \"10m\""));
    }

    #[test]
    fn switching_drivers_refuses_options_json_file_rejects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        let syslog = r#"{"log-driver": "syslog", "log-opts": {"syslog-address": "udp://1.2.3.4:514", "tag": "x"}}"#;
        fs::write(&path, syslog).unwrap();
        let msg = converge(&settings(&path)).unwrap_err().to_string();
        assert!(
            msg.contains("log-driver \"syslog\" with log-opts syslog-address"),
            "{msg}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), syslog);

        fs::write(
            &path,
            r#"{"log-driver": "local", "log-opts": {"compress": "false"}}"#,
        )
        .unwrap();
        let p = converge(&settings(&path)).unwrap();
        assert_eq!(p.previous_driver.as_deref(), Some("local"));
        assert!(p.restart_needed());
        let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["log-driver"], "json-file");
        assert_eq!(v["log-opts"]["compress"], "false");
    }

    #[test]
    fn changing_a_value_updates_and_needs_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        converge(&settings(&path)).unwrap();
        let mut s = settings(&path);
        s.max_file = 5;
        let p = plan(&s, read_daemon_json(&path).unwrap().as_deref()).unwrap();
        assert_eq!(p.file.action, Action::Update);
        assert!(p.restart_needed());
        assert!(p
            .file
            .before
            .as_deref()
            .unwrap()
            .contains("\"max-file\": \"3\""));
        assert!(p
            .file
            .after
            .as_deref()
            .unwrap()
            .contains("\"max-file\": \"5\""));
        // A plan is not a change.
        assert!(fs::read_to_string(&path)
            .unwrap()
            .contains("\"max-file\": \"3\""));
    }

    #[test]
    fn apply_refuses_a_file_changed_since_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        let s = settings(&path);
        let p = plan(&s, None).unwrap();
        fs::write(&path, "{oops").unwrap();
        let msg = apply(&p).unwrap_err().to_string();
        assert!(msg.contains("changed since it was read"), "{msg}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{oops");
    }

    #[test]
    fn validates_size_count_and_path() {
        let s: DockerLogging = serde_json::from_value(
            json!({"max_size": "ten", "max_file": 0, "daemon_json": "daemon.json"}),
        )
        .unwrap();
        let m: Vec<String> = s.validate().iter().map(ToString::to_string).collect();
        assert_eq!(m.len(), 3, "{m:#?}");
        assert!(
            m[0].starts_with("max_size: must be a whole number and a unit k, m or g"),
            "{}",
            m[0]
        );
        assert!(m[0].ends_with("got \"ten\""), "{}", m[0]);
        assert_eq!(m[1], "max_file: must be at least 1, got 0");
        assert!(
            m[2].starts_with("daemon_json: must be an absolute path"),
            "{}",
            m[2]
        );
        for ok in ["10m", "512k", "1g", "100M"] {
            assert!(size_ok(ok), "{ok}");
        }
        for bad in ["", "m", "10", "0m", "10 m", "1.5g", "10mb", "-1m", "10t"] {
            assert!(!size_ok(bad), "{bad}");
        }
    }
}
