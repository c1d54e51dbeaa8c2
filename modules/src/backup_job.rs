//! `tabiri.homelab.backup_job`: a restic backup job on the target host ([`lab::backup`]),
//! the same capability and the same files as the Terraform resource `homelab_backup_job`.
//!
//! Options are the fields of [`BackupJob`] plus `state`. Check mode compares the job's
//! files, timers and repository on the host with the declaration; diff mode shows the
//! script, `job.json` and the schedule files (never `password` or `env`).

use std::path::Path;

use lab::backup::apply::{self as job_on, Found};
use lab::backup::render::{self, Scheduler};
use lab::backup::BackupJob;
use lab::host::{Host, Local};
use lab::validation::Validate;
use serde_json::{json, Map, Value};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::docs::{Attribute, Documentation, LabFields, Return, SeeAlso, Support};
use crate::fragments;
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};

pub const MODULE: Module = Module { spec, run };

const JOB_FIELDS: &[&str] = &[
    "name",
    "repository",
    "options",
    "paths",
    "excludes",
    "tags",
    "dumps",
    "schedule",
    "scheduler",
    "retention",
    "check",
    "metrics_dir",
    "restore_test",
    "run_now",
    "missing_paths",
    "timeout",
    "config_dir",
    "systemd_dir",
    "cron_dir",
];

pub fn spec() -> Spec {
    Spec::new(
        "backup_job",
        vec![
            Opt::new("name", Type::STR).required(),
            Opt::new("repository", Type::STR),
            Opt::new("password", Type::STR).no_log(),
            Opt::new("env", Type::Dict(Scalar::Str))
                .no_log()
                .default(json!({})),
            Opt::new("options", Type::List(Scalar::Str)).default(json!([])),
            Opt::new("paths", Type::List(Scalar::Str)).default(json!([])),
            Opt::new("excludes", Type::List(Scalar::Str)).default(json!([])),
            Opt::new("tags", Type::List(Scalar::Str)).default(json!([])),
            Opt::new("dumps", Type::List(Scalar::Dict)).default(json!([])),
            Opt::new("schedule", Type::STR),
            Opt::new("scheduler", Type::STR)
                .choices(&["auto", "systemd", "cron"])
                .default(json!("auto")),
            Opt::new("retention", Type::Document),
            Opt::new("check", Type::Document)
                .description(&["Keys C(schedule) and C(read_data_subset)."]),
            Opt::new("heartbeat_url", Type::STR)
                .no_log()
                .description(&["Passed to curl in a config file, never on a command line."]),
            Opt::new("metrics_dir", Type::STR),
            Opt::new("restore_test", Type::Document)
                .description(&["Keys C(schedule) and C(sample)."]),
            Opt::new("run_now", Type::BOOL)
                .default(json!(false))
                .description(&["In a task, a backup runs when the job changed (or is new)."]),
            Opt::new("missing_paths", Type::STR)
                .choices(&["fail", "warn"])
                .default(json!("fail")),
            Opt::new("timeout", Type::STR).default(json!("6h")),
            Opt::new("config_dir", Type::STR).default(json!(lab::backup::CONFIG_DIR)),
            Opt::new("systemd_dir", Type::STR).default(json!(lab::backup::SYSTEMD_DIR)),
            Opt::new("cron_dir", Type::STR).default(json!(lab::backup::CRON_DIR)),
            fragments::state(&[
                "V(absent) removes the job and its schedule; the repository and its \
                 snapshots stay.",
            ]),
        ],
    )
    .required_if_any("state", "present", &["repository"])
    .required_if_any("state", "present", &["password"])
    .required_if_any("state", "present", &["schedule"])
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: Some(LabFields::of::<BackupJob>()),
        short_description: "Manage a restic backup job that proves itself on the target host",
        description: &[
            "Writes a job script, its secret files (0600) and a systemd timer or a cron.d \
             entry; initialises the repository only when restic answers that there is none.",
            "Each run streams the dumps with pipefail (a failed dump fails the run and its \
             snapshot is forgotten), fails on a missing path, removes only provably stale locks, \
             pings a heartbeat and writes node_exporter metrics.",
        ],
        version_added: "0.1.0",
        notes: &[
            "Needs restic (0.14 or newer), curl, flock and either systemd or cron on the host.",
            "O(run_now) runs a backup only when the job changed, so a second run stays unchanged.",
        ],
        seealso: &[SeeAlso::Link {
            name: "restic documentation",
            description: "Repositories, retention and restores.",
            link: "https://restic.readthedocs.io/",
        }],
        check_mode: Attribute {
            support: Support::Full,
            details: "Compares the job's files, timers and repository with the declaration.",
        },
        diff_mode: Attribute {
            support: Support::Full,
            details: "The script, job.json and the schedule files; never the secret files.",
        },
        examples: r#"- name: NextCloud, tier 1
  tabiri.homelab.backup_job:
    name: nextcloud-tier1
    repository: s3:https://s3.eu-west-1.amazonaws.com/tabiri-backups/nextcloud
    password: "{{ vault_restic_password }}"
    env:
      AWS_ACCESS_KEY_ID: "{{ vault_backup_key_id }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_backup_key }}"
    paths: [/opt/tabiri/stacks/nextcloud]
    dumps:
      - name: nextcloud.sql
        command: [docker, exec, nextcloud-db-1, pg_dump, -U, nextcloud]
    schedule: "*-*-* 02:30:00"
    retention: {keep_daily: 7, keep_weekly: 4, keep_monthly: 6}
    restore_test: {schedule: "Sun *-*-* 04:00:00", sample: 50}
    metrics_dir: /var/lib/prometheus/node-exporter
    run_now: true
"#,
        returns: vec![
            Return::new(
                "scheduler",
                "str",
                "state=present",
                "V(systemd) or V(cron): what schedules the job.",
            )
            .sample(json!("cron")),
            Return::new(
                "last_snapshot_id",
                "str",
                "state=present",
                "The job's newest snapshot, after the run.",
            )
            .sample(json!("1f3e2a...")),
            Return::new(
                "snapshots",
                "int",
                "state=present",
                "How many snapshots of the job the repository holds.",
            )
            .sample(json!(14)),
        ],
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    futures_executor::block_on(future)
}

fn job_from(ctx: &mut Ctx) -> Result<BackupJob, Failure> {
    let p = &ctx.params;
    let mut object = p.object(JOB_FIELDS);
    let fields = object.as_object_mut().expect("an object");
    fields.insert(
        "password".into(),
        json!(p.str("password").unwrap_or_default()),
    );
    fields.entry("repository".to_string()).or_insert(json!(""));
    fields.entry("schedule".to_string()).or_insert(json!(""));
    let env: Map<String, Value> = p.get("env").as_object().cloned().unwrap_or_default();
    fields.insert("env".into(), Value::Object(env));
    if let Some(url) = p.str("heartbeat_url") {
        fields.insert("heartbeat_url".into(), json!(url));
    }
    for key in ["retention", "check", "restore_test", "metrics_dir"] {
        if fields.get(key).is_some_and(Value::is_null) {
            fields.remove(key);
        }
    }
    let job: BackupJob = serde_json::from_value(object)
        .map_err(|e| Failure::new(format!("cannot read the job's options: {e}")))?;
    let secrets: Vec<String> = std::iter::once(job.password.expose().to_string())
        .chain(job.env.values().map(|v| v.expose().to_string()))
        .chain(job.heartbeat_url.iter().map(|u| u.expose().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    for secret in secrets {
        ctx.add_secret(secret);
    }
    Ok(job)
}

fn values(scheduler: Option<Scheduler>, found: &Found) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert("scheduler".into(), json!(scheduler.map(Scheduler::as_str)));
    values.insert(
        "last_snapshot_id".into(),
        json!(found.latest().map(|s| s.id.clone())),
    );
    values.insert("snapshots".into(), json!(found.snapshots.len()));
    values
}

/// The non-secret files' diff: what the host has against what the job writes.
fn diff_of(host: &Local, job: &BackupJob, scheduler: Scheduler) -> Result<Diff, Failure> {
    let mut before = String::new();
    let mut after = String::new();
    let files = render::files(job, scheduler).map_err(Failure::new)?;
    for file in files {
        if file.path.ends_with("/env") || file.path.ends_with("/password") {
            continue;
        }
        let current = block_on(host.read_file(Path::new(&file.path)))?;
        before.push_str(&format!("# {}\n", file.path));
        before.push_str(
            &current
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
        );
        after.push_str(&format!("# {}\n", file.path));
        after.push_str(&String::from_utf8_lossy(&file.bytes));
    }
    Ok(Diff::file(&job.dir(), Some(&before), Some(&after)))
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let state = ctx.params.str("state").unwrap_or("present").to_owned();
    let job = job_from(ctx)?;
    let host = Local;
    if state == "absent" {
        lab::backup::check_name(&job.name).map_err(Failure::new)?;
        let present = block_on(host.dir_exists(Path::new(&job.dir())))?;
        if present && !ctx.check_mode {
            block_on(job_on::destroy(&host, &job))?;
        }
        return Ok(Outcome {
            changed: present,
            msg: format!(
                "backup job {}: {}",
                job.name,
                if present { "removed" } else { "absent" }
            ),
            diff: None,
            values: Map::new(),
        });
    }
    let errors = job.validate();
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(Failure::new(format!(
            "invalid backup job: {}",
            text.join("; ")
        )));
    }
    let detected = block_on(job_on::inspect(&host, &job, None))?;
    let scheduler = job_on::resolve(&job, detected.available, &host.name())?;
    let found = block_on(job_on::inspect(&host, &job, Some(scheduler)))?;
    let desired = render::desired_fingerprint(&job, scheduler).map_err(Failure::new)?;
    let changed = found.fingerprint() != desired;
    let diff = if ctx.diff && changed {
        Some(diff_of(&host, &job, scheduler)?)
    } else {
        None
    };
    if !changed || ctx.check_mode {
        return Ok(Outcome {
            changed,
            msg: format!(
                "backup job {}: {}",
                job.name,
                match (changed, ctx.check_mode) {
                    (false, _) => "as declared",
                    (true, _) => "would be updated (check mode)",
                }
            ),
            diff,
            values: values(Some(scheduler), &found),
        });
    }
    let applied = block_on(job_on::apply(&host, &job, None))?;
    if let Some(Err(e)) = applied.first_run {
        let mut failure = Failure::new(e.to_string());
        failure.changed = true;
        return Err(failure);
    }
    Ok(Outcome {
        changed: true,
        msg: format!(
            "backup job {}: set up with {}{}",
            job.name,
            applied.scheduler.as_str(),
            if job.run_now {
                ", first backup done"
            } else {
                ""
            }
        ),
        diff,
        values: values(Some(applied.scheduler), &applied.found),
    })
}
