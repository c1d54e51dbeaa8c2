//! Backups that prove themselves: restic jobs on a host (`homelab_backup_job`,
//! `tabiri.homelab.backup_job`).
//!
//! A job is a directory on the host (`/etc/tabiri/backup/<name>/`): the job script
//! (`job.sh`, 0700), the repository password (`password`, 0600) and the environment
//! (`env`, 0600: the repository, cloud keys, the heartbeat URL), plus `job.json`, the
//! job's arguments without secrets (what an import reads back). Scheduling is a systemd
//! service and timer where systemd runs, a cron.d entry otherwise. Secrets live only in the
//! 0600 files: never in a unit, a cron line, a command line or a log.
//!
//! What the job script does on each run, and why:
//! - `set -o pipefail` and each dump's own exit status: a failed `pg_dump` fails the run,
//!   and the snapshot it fed is forgotten, so a broken dump never counts as a backup;
//! - a missing path fails the run (restic 0.14 exits 0 for it), or warns when asked;
//! - stale locks are removed only when provably stale (this host, its process gone):
//!   restic 0.14 leaves its lock on SIGTERM, which is why units stop it with SIGINT;
//! - `flock` keeps backups, checks and restore drills of one job from overlapping;
//! - the heartbeat gets `/start`, then success or `/fail` with the log's tail (retried),
//!   the URL passed to curl in a config file, never in argv;
//! - node_exporter textfile metrics, written atomically.
//!
//! - [`calendar`]: systemd calendar expressions and their cron form.
//! - `render` (feature `host-api`): the files a job consists of, from its arguments (pure).
//! - [`restic`]: what restic 0.14's messages mean (it has no distinct exit codes).
//! - `apply` (feature `host-api`): read, apply, run, remove, import on a [`crate::host::Host`].

#[cfg(feature = "host-api")]
pub mod apply;
pub mod calendar;
#[cfg(feature = "host-api")]
pub mod render;
pub mod restic;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::validation::Validate;
use crate::validation::{FieldError, PathSegment};

pub const CONFIG_DIR: &str = "/etc/tabiri/backup";
pub const SYSTEMD_DIR: &str = "/etc/systemd/system";
pub const CRON_DIR: &str = "/etc/cron.d";
pub const SCHEDULERS: &[&str] = &["auto", "systemd", "cron"];

/// A restic backup job on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupJob {
    /// The job's name: lower-case letters, digits, `-` and `_` (it names the units, the
    /// cron file and the snapshots' `tabiri-job:<name>` tag).
    pub name: String,
    /// The restic repository: an absolute path, `sftp:user@host:/path`, or
    /// `s3:https://endpoint/bucket/path`.
    pub repository: String,
    /// The repository password. Kept on the host in a 0600 file only.
    pub password: Secret,
    /// Environment for restic (cloud keys such as `AWS_ACCESS_KEY_ID`), kept in a 0600 file.
    #[serde(default)]
    pub env: BTreeMap<String, Secret>,
    /// restic's extended options (`-o key=value`) for every command, e.g.
    /// `sftp.command=ssh -p 2222 backup@nas -s sftp` or `s3.storage-class=STANDARD_IA`.
    /// Not secret: they appear in the job script.
    #[serde(default)]
    pub options: Vec<String>,
    /// Absolute paths to back up (one snapshot per run).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Exclude patterns, as restic's `--exclude` takes them.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// Tags for every snapshot, besides `tabiri-job:<name>`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Dumps streamed into restic (`--stdin`), each its own snapshot: `name` is the file
    /// name in the snapshot, `command` the argument vector the job runs. A dump that exits
    /// non-zero fails the run and its snapshot is forgotten.
    #[serde(default)]
    pub dumps: Vec<Dump>,
    /// When the backup runs, in systemd calendar syntax (`*-*-* 02:30:00`, `Sun 04:00`,
    /// `daily`). On a cron host, an expression cron cannot say is refused.
    pub schedule: String,
    /// `auto` (systemd where it runs, else cron), `systemd` or `cron`.
    #[serde(default = "auto")]
    pub scheduler: String,
    /// Snapshots to keep (`forget --prune` after each successful backup): `keep_last`,
    /// `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly`.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// `restic check` on its own schedule, reading a share of the data (`read_data_subset`,
    /// e.g. `5%`); never overlapping a backup.
    #[serde(default)]
    pub check: Option<Check>,
    /// A healthchecks.io-style URL: `/start` before a run, the URL itself after a success,
    /// `/fail` with the log's tail after a failure. Kept in the 0600 environment file.
    #[serde(default)]
    pub heartbeat_url: Option<Secret>,
    /// A node_exporter textfile directory for the job's metrics (`restic_*.prom`).
    #[serde(default)]
    pub metrics_dir: Option<String>,
    /// A restore drill on its own schedule: restore `sample` files of the latest snapshot
    /// (0: all) into a fresh directory and compare their hashes with the snapshot; a
    /// mismatch fails and alerts like a failed backup.
    #[serde(default)]
    pub restore_test: Option<RestoreTest>,
    /// Run the first backup during apply, so apply ends with a snapshot that exists.
    #[serde(default)]
    pub run_now: bool,
    /// What a missing path makes a run: `fail` or `warn`.
    #[serde(default = "fail")]
    pub missing_paths: String,
    /// How long one run may take (systemd `TimeoutStartSec`), as a duration.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Where the job's directory is made.
    #[serde(default = "default_config_dir")]
    pub config_dir: String,
    /// Where systemd units are written.
    #[serde(default = "default_systemd_dir")]
    pub systemd_dir: String,
    /// Where the cron entry is written.
    #[serde(default = "default_cron_dir")]
    pub cron_dir: String,
}

/// A dump streamed into its own snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    /// The file name the dump has in the snapshot (`nextcloud.sql`).
    pub name: String,
    /// The command whose standard output is the dump, as an argument vector.
    pub command: Vec<String>,
}

/// How many snapshots `forget --prune` keeps; unset keeps none of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    #[serde(default)]
    pub keep_last: Option<i64>,
    #[serde(default)]
    pub keep_daily: Option<i64>,
    #[serde(default)]
    pub keep_weekly: Option<i64>,
    #[serde(default)]
    pub keep_monthly: Option<i64>,
    #[serde(default)]
    pub keep_yearly: Option<i64>,
}

impl Retention {
    /// `--keep-*` arguments for `restic forget`.
    pub fn args(&self) -> Vec<String> {
        [
            ("--keep-last", self.keep_last),
            ("--keep-daily", self.keep_daily),
            ("--keep-weekly", self.keep_weekly),
            ("--keep-monthly", self.keep_monthly),
            ("--keep-yearly", self.keep_yearly),
        ]
        .into_iter()
        .filter_map(|(flag, n)| n.map(|n| format!("{flag}={n}")))
        .collect()
    }
}

/// `restic check` on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// When, in systemd calendar syntax.
    pub schedule: String,
    /// The share of the data read back (`5%`, `1/10`); empty reads only the metadata.
    #[serde(default)]
    pub read_data_subset: String,
}

/// A restore drill on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreTest {
    /// When, in systemd calendar syntax.
    pub schedule: String,
    /// How many files to restore and compare; 0 restores the whole snapshot.
    #[serde(default)]
    pub sample: i64,
}

fn auto() -> String {
    "auto".into()
}

fn fail() -> String {
    "fail".into()
}

fn default_timeout() -> String {
    "6h".into()
}

fn default_config_dir() -> String {
    CONFIG_DIR.into()
}

fn default_systemd_dir() -> String {
    SYSTEMD_DIR.into()
}

fn default_cron_dir() -> String {
    CRON_DIR.into()
}

/// Checks a job name: it names files in cron.d (no dots there) and systemd units.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: use lower-case letters, digits, - and _ (at most 64), starting with a letter or digit"
        ))
    }
}

fn nested(field: &str, inner: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(
        vec![
            PathSegment::Field(field.into()),
            PathSegment::Field(inner.into()),
        ],
        message,
    )
}

impl BackupJob {
    /// The job's directory on the host.
    pub fn dir(&self) -> String {
        format!("{}/{}", self.config_dir.trim_end_matches('/'), self.name)
    }

    /// The tag every snapshot of this job carries.
    pub fn job_tag(&self) -> String {
        format!("tabiri-job:{}", self.name)
    }
}

impl Validate for BackupJob {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Err(e) = check_name(&self.name) {
            errors.push(FieldError::field("name", e));
        }
        if let Err(e) = restic::check_repository(&self.repository) {
            errors.push(FieldError::field("repository", e));
        }
        if self.password.expose().is_empty() {
            errors.push(FieldError::field("password", "must not be empty"));
        }
        for name in self.env.keys() {
            let valid = name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                errors.push(FieldError::new(
                    vec![
                        PathSegment::Field("env".into()),
                        PathSegment::Key(name.clone()),
                    ],
                    "is not an environment variable name",
                ));
            } else if name.starts_with("RESTIC_PASSWORD") || name == "RESTIC_REPOSITORY" {
                errors.push(FieldError::new(
                    vec![
                        PathSegment::Field("env".into()),
                        PathSegment::Key(name.clone()),
                    ],
                    "is set from repository and password; leave it out of env",
                ));
            }
        }
        for (i, option) in self.options.iter().enumerate() {
            if !option
                .split_once('=')
                .is_some_and(|(k, _)| k.contains('.') && !k.contains(' '))
            {
                errors.push(FieldError::item(
                    "options",
                    i,
                    format!("{option:?} is not an extended option (backend.name=value)"),
                ));
            }
        }
        if self.paths.is_empty() && self.dumps.is_empty() {
            errors.push(FieldError::field(
                "paths",
                "a job needs paths or dumps to back up",
            ));
        }
        for (i, path) in self.paths.iter().enumerate() {
            if !path.starts_with('/') {
                errors.push(FieldError::item(
                    "paths",
                    i,
                    format!("{path:?} is not an absolute path"),
                ));
            }
        }
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.is_empty() || tag.contains(',') || tag.contains(char::is_whitespace) {
                errors.push(FieldError::item("tags", i, "a tag has no commas or spaces"));
            }
        }
        for (i, dump) in self.dumps.iter().enumerate() {
            let at = |field: &str| {
                vec![
                    PathSegment::Field("dumps".into()),
                    PathSegment::Index(i),
                    PathSegment::Field(field.into()),
                ]
            };
            if dump.name.is_empty() || dump.name.contains('/') {
                errors.push(FieldError::new(at("name"), "a file name, without /"));
            } else if self.dumps[..i].iter().any(|d| d.name == dump.name) {
                errors.push(FieldError::new(at("name"), "names another dump too"));
            }
            if dump.command.is_empty() {
                errors.push(FieldError::new(at("command"), "needs at least the program"));
            }
        }
        if !SCHEDULERS.contains(&self.scheduler.as_str()) {
            errors.push(FieldError::field(
                "scheduler",
                format!("must be auto, systemd or cron, not {:?}", self.scheduler),
            ));
        }
        let schedules = [
            (
                vec![PathSegment::Field("schedule".into())],
                Some(&self.schedule),
            ),
            (
                vec![
                    PathSegment::Field("check".into()),
                    PathSegment::Field("schedule".into()),
                ],
                self.check.as_ref().map(|c| &c.schedule),
            ),
            (
                vec![
                    PathSegment::Field("restore_test".into()),
                    PathSegment::Field("schedule".into()),
                ],
                self.restore_test.as_ref().map(|r| &r.schedule),
            ),
        ];
        for (path, schedule) in schedules {
            let Some(schedule) = schedule else { continue };
            match calendar::Calendar::parse(schedule) {
                Err(e) => errors.push(FieldError::new(path, e)),
                Ok(parsed) if self.scheduler == "cron" => {
                    if let Err(e) = parsed.cron() {
                        errors.push(FieldError::new(path, format!("{e}; scheduler is cron")));
                    }
                }
                Ok(_) => {}
            }
        }
        if let Some(retention) = &self.retention {
            for (name, n) in [
                ("keep_last", retention.keep_last),
                ("keep_daily", retention.keep_daily),
                ("keep_weekly", retention.keep_weekly),
                ("keep_monthly", retention.keep_monthly),
                ("keep_yearly", retention.keep_yearly),
            ] {
                if n.is_some_and(|n| n < 1) {
                    errors.push(nested(
                        "retention",
                        name,
                        "must be 1 or more (leave it out to keep none by this rule)",
                    ));
                }
            }
            if retention.args().is_empty() {
                errors.push(FieldError::field(
                    "retention",
                    "names no keep_* rule; forget would remove every snapshot",
                ));
            }
        }
        if let Some(check) = &self.check {
            let subset = check.read_data_subset.trim();
            let valid = subset.is_empty()
                || subset
                    .strip_suffix('%')
                    .and_then(|p| p.parse::<f64>().ok())
                    .is_some_and(|p| p > 0.0 && p <= 100.0)
                || subset
                    .split_once('/')
                    .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                    .is_some_and(|(a, b)| a >= 1 && a <= b);
            if !valid {
                errors.push(nested(
                    "check",
                    "read_data_subset",
                    format!("{subset:?}: a percentage (5%) or n/t (1/10)"),
                ));
            }
        }
        if let Some(drill) = &self.restore_test {
            if drill.sample < 0 {
                errors.push(nested(
                    "restore_test",
                    "sample",
                    "must be 0 (everything) or more",
                ));
            }
        }
        if !matches!(self.missing_paths.as_str(), "fail" | "warn") {
            errors.push(FieldError::field("missing_paths", "must be fail or warn"));
        }
        if let Err(e) = crate::duration::parse(&self.timeout) {
            errors.push(FieldError::field("timeout", e));
        }
        for (field, dir) in [
            ("config_dir", &self.config_dir),
            ("systemd_dir", &self.systemd_dir),
            ("cron_dir", &self.cron_dir),
        ] {
            if !dir.starts_with('/') {
                errors.push(FieldError::field(field, "must be an absolute path"));
            }
        }
        if let Some(dir) = &self.metrics_dir {
            if !dir.starts_with('/') {
                errors.push(FieldError::field("metrics_dir", "must be an absolute path"));
            }
        }
        errors
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn job() -> BackupJob {
        BackupJob {
            name: "nextcloud-tier1".into(),
            repository: "/srv/restic".into(),
            password: Secret::new("pw"),
            env: BTreeMap::new(),
            options: vec![],
            paths: vec!["/opt/tabiri/stacks/nextcloud".into()],
            excludes: vec![],
            tags: vec![],
            dumps: vec![Dump {
                name: "nextcloud.sql".into(),
                command: vec!["pg_dump".into(), "-U".into(), "nextcloud".into()],
            }],
            schedule: "*-*-* 02:30:00".into(),
            scheduler: "auto".into(),
            retention: Some(Retention {
                keep_daily: Some(7),
                ..Retention::default()
            }),
            check: None,
            heartbeat_url: None,
            metrics_dir: None,
            restore_test: None,
            run_now: false,
            missing_paths: "fail".into(),
            timeout: "6h".into(),
            config_dir: CONFIG_DIR.into(),
            systemd_dir: SYSTEMD_DIR.into(),
            cron_dir: CRON_DIR.into(),
        }
    }

    #[test]
    fn checks_name_their_fields() {
        assert!(job().validate().is_empty(), "{:?}", job().validate());
        let mut bad = job();
        bad.name = "a.b".into();
        bad.paths = vec!["relative".into()];
        bad.scheduler = "cron".into();
        bad.schedule = "*-*-* 02:30:15".into();
        bad.retention = Some(Retention::default());
        bad.env.insert("RESTIC_PASSWORD".into(), Secret::new("x"));
        let paths: Vec<String> = bad.validate().iter().map(FieldError::path_string).collect();
        assert_eq!(
            paths,
            [
                "name",
                "env[\"RESTIC_PASSWORD\"]",
                "paths[0]",
                "schedule",
                "retention"
            ]
        );
    }
}
