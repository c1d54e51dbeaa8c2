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
use crate::docs::{Attribute, Documentation, Return, SeeAlso, Support};
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
            Opt::new("name", Type::STR).required().description(&[
                "The job's name: lower-case letters, digits, C(-) and C(_). It names the units, \
                 the cron file and the snapshots' C(tabiri-job:<name>) tag.",
            ]),
            Opt::new("repository", Type::STR).description(&[
                "The restic repository: an absolute path, C(sftp:user@host:/path) or \
                 C(s3:https://endpoint/bucket/path). Required with O(state=present).",
            ]),
            Opt::new("password", Type::STR).no_log().description(&[
                "The repository password, kept on the host in a 0600 file only. Required with \
                 O(state=present).",
            ]),
            Opt::new("env", Type::Dict(Scalar::Str))
                .no_log()
                .default(json!({}))
                .description(&["Environment for restic (cloud keys), kept in a 0600 file."]),
            Opt::new("options", Type::List(Scalar::Str))
                .default(json!([]))
                .description(&[
                    "restic's extended options (C(-o key=value)) for every command, for example \
                     V(sftp.command=ssh -p 2222 backup@nas -s sftp).",
                ]),
            Opt::new("paths", Type::List(Scalar::Str))
                .default(json!([]))
                .description(&["Absolute paths to back up."]),
            Opt::new("excludes", Type::List(Scalar::Str))
                .default(json!([]))
                .description(&["Exclude patterns, as restic's C(--exclude) takes them."]),
            Opt::new("tags", Type::List(Scalar::Str))
                .default(json!([]))
                .description(&["Tags for every snapshot, besides C(tabiri-job:<name>)."]),
            Opt::new("dumps", Type::List(Scalar::Dict))
                .default(json!([]))
                .description(&[
                    "Dumps streamed into restic, each C({name, command}) with C(command) an \
                     argument vector. A dump that exits non-zero fails the run and its snapshot \
                     is forgotten.",
                ]),
            Opt::new("schedule", Type::STR).description(&[
                "When the backup runs, in systemd calendar syntax (V(*-*-* 02:30:00), V(daily)). \
                 On a cron host an expression cron cannot say is refused. Required with \
                 O(state=present).",
            ]),
            Opt::new("scheduler", Type::STR)
                .choices(&["auto", "systemd", "cron"])
                .default(json!("auto"))
                .description(&["V(auto) uses systemd where it runs, else cron."]),
            Opt::new("retention", Type::Document).description(&[
                "C(keep_last), C(keep_daily), C(keep_weekly), C(keep_monthly), C(keep_yearly): \
                 applied with C(forget --prune) after each successful backup.",
            ]),
            Opt::new("check", Type::Document).description(&[
                "C({schedule, read_data_subset}): C(restic check) on its own schedule, never \
                 overlapping a backup.",
            ]),
            Opt::new("heartbeat_url", Type::STR).no_log().description(&[
                "A healthchecks.io-style URL: C(/start), success, C(/fail) with the log's tail. \
                 Kept in a 0600 file, passed to curl in a config file, never on a command line.",
            ]),
            Opt::new("metrics_dir", Type::STR).description(&[
                "A node_exporter textfile directory for the job's C(restic_*) metrics.",
            ]),
            Opt::new("restore_test", Type::Document).description(&[
                "C({schedule, sample}): restore C(sample) files of the latest snapshot (0: all) \
                 and compare their hashes with the snapshot; a mismatch fails and alerts.",
            ]),
            Opt::new("run_now", Type::BOOL)
                .default(json!(false))
                .description(&["Run a backup now, when the job changed (or is new)."]),
            Opt::new("missing_paths", Type::STR)
                .choices(&["fail", "warn"])
                .default(json!("fail"))
                .description(&["What a missing path makes a run."]),
            Opt::new("timeout", Type::STR)
                .default(json!("6h"))
                .description(&["How long one run may take (systemd C(TimeoutStartSec))."]),
            Opt::new("config_dir", Type::STR)
                .default(json!(lab::backup::CONFIG_DIR))
                .description(&["Where the job's directory is made."]),
            Opt::new("systemd_dir", Type::STR)
                .default(json!(lab::backup::SYSTEMD_DIR))
                .description(&["Where systemd units are written."]),
            Opt::new("cron_dir", Type::STR)
                .default(json!(lab::backup::CRON_DIR))
                .description(&["Where the cron entry is written."]),
            Opt::new("state", Type::STR)
                .choices(&["present", "absent"])
                .default(json!("present"))
                .description(&[
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
            Return {
                name: "scheduler",
                description: "V(systemd) or V(cron): what schedules the job.",
                returned: "state=present",
                ty: "str",
                sample: Some(json!("cron")),
                ..Return::default()
            },
            Return {
                name: "last_snapshot_id",
                description: "The job's newest snapshot, after the run.",
                returned: "state=present",
                ty: "str",
                sample: Some(json!("1f3e2a...")),
                ..Return::default()
            },
            Return {
                name: "snapshots",
                description: "How many snapshots of the job the repository holds.",
                returned: "state=present",
                ty: "int",
                sample: Some(json!(14)),
                ..Return::default()
            },
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
