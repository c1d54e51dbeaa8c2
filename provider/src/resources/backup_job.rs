//! `homelab_backup_job`: a restic backup job on a host. The capability (the job's files,
//! its schedule, the repository, runs, import) is `lab::backup`; this file maps Terraform
//! values to it. Drift is one fingerprint: the job's files as the host has them, its
//! timers enabled, its repository there; anything else on the host plans an update.

use std::time::Duration;

use lab::backup::apply::{self as job_on, Found};
use lab::backup::render::{self, Scheduler};
use lab::backup::BackupJob;
use serde_json::json;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use crate::host;
use crate::kit::{
    lab_error, Applied, Current, Definition, Failure, Kit, ManagedResource, Op, Timeouts,
};

pub const TYPE_NAME: &str = "homelab_backup_job";

pub struct BackupJobResource;

fn scheduler_of(state: &Value) -> Option<Scheduler> {
    state
        .get_attr("scheduler_used")
        .and_then(Value::as_str)
        .and_then(Scheduler::parse)
}

/// The state of a job as found, with its declared arguments.
fn state_from(
    kit: &Kit,
    job: &BackupJob,
    scheduler: Scheduler,
    found: &Found,
    keep: &Value,
) -> Result<Value, Diagnostics> {
    let schedule_files: Vec<String> = render::files(job, scheduler)
        .map(|files| {
            files
                .into_iter()
                .map(|f| f.path)
                .filter(|p| !p.starts_with(&job.dir()))
                .collect()
        })
        .unwrap_or_default();
    let latest = found.latest();
    kit.state(
        job,
        &[
            ("id", json!(job.name)),
            ("scheduler_used", json!(scheduler.as_str())),
            ("script_path", json!(format!("{}/job.sh", job.dir()))),
            ("schedule_files", json!(schedule_files)),
            ("content_sha256", json!(found.fingerprint())),
            ("last_snapshot_id", json!(latest.map(|s| s.id.clone()))),
            ("last_snapshot_time", json!(latest.map(|s| s.time.clone()))),
            ("snapshot_count", json!(found.snapshots.len())),
        ],
        keep,
    )
}

#[tfplugin::async_trait]
impl ManagedResource for BackupJobResource {
    type Args = BackupJob;
    // Unset retention/check/restore_test are planned unknown (see `chosen`); the
    // configuration has them as the user wrote them.
    const ARGS_FROM_CONFIG: bool = true;

    fn definition() -> Definition {
        let mut content = Attribute::computed("content_sha256", Type::String).description(
            "SHA-256 over the job's files as the host has them, its timers' state and whether its \
             repository answers: a hand edit, a disabled timer or a repository gone changes it, so \
             the next plan shows an update that repairs it.",
        );
        content.sensitive = true;
        Definition {
            type_name: TYPE_NAME,
            description: "A restic backup job on a host that proves itself. The job script runs the \
                 dumps itself with pipefail (a failed dump fails the run and its snapshot is \
                 forgotten), fails on a missing path, removes only provably stale locks, never \
                 initialises a repository that did not answer \"there is none\", applies retention, \
                 pings a heartbeat (`/start`, success, `/fail` with the log's tail) and writes \
                 node_exporter metrics. It is scheduled by a systemd timer where systemd runs (stopped \
                 with SIGINT, so restic leaves no lock) or a cron.d entry otherwise. The password, \
                 `env` and `heartbeat_url` live only in 0600 files on the host. `restore_test` \
                 restores a sample of the latest snapshot on its own schedule and compares hashes; \
                 `run_now` runs the first backup during apply. Destroy removes the job and its \
                 schedule and leaves the repository. Import with `[user@]address[:port]:name`, or \
                 `[user@]address[:port]:/dir/name` for a job outside `/etc/tabiri/backup`.",
            invalid: "Invalid backup job",
            requires_replace: &["name", "config_dir"],
            sensitive: &["password", "env", "heartbeat_url"],
            // Optional objects are optional + computed: Terraform 1.0.0 to 1.0.4 (1.0.3 is the
            // floor) crash planning a plain optional single nested attribute left null.
            chosen: &["retention", "check", "restore_test"],
            outputs: vec![
                Attribute::computed("id", Type::String).description("The job's name."),
                Attribute::computed("scheduler_used", Type::String)
                    .description("`systemd` or `cron`: what schedules the job on this host."),
                Attribute::computed("script_path", Type::String)
                    .description("The job script, to run a backup by hand (`job.sh backup`)."),
                Attribute::computed("schedule_files", Type::List(Box::new(Type::String)))
                    .description("The systemd units or the cron.d entry."),
                content,
                Attribute::computed("last_snapshot_id", Type::String)
                    .description("The job's newest snapshot when last read."),
                Attribute::computed("last_snapshot_time", Type::String)
                    .description("When the newest snapshot was taken (RFC 3339)."),
                Attribute::computed("snapshot_count", Type::Number)
                    .description("How many snapshots of the job the repository holds."),
            ],
            timeouts: Some(Timeouts {
                description: "How long each operation may take, as durations (`30s`, `30m`): \
                     creating with `run_now` includes the first backup.",
                operations: vec![
                    ("create", Duration::from_secs(3600)),
                    ("update", Duration::from_secs(3600)),
                    ("delete", Duration::from_secs(300)),
                ],
            }),
            on_host: true,
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        if change.planned.is_null() {
            return Diagnostics::new();
        }
        // Left out means none (they are computed only so Terraform 1.0.0 to 1.0.4 can plan them).
        for name in ["retention", "check", "restore_test"] {
            if change.config.get_attr(name).is_none_or(Value::is_null) {
                change.planned.set_attr(name, Value::Null);
            }
        }
        if !change.planned.is_known() {
            return Diagnostics::new();
        }
        let Ok(job) = kit.args::<BackupJob>(&change.planned) else {
            return Diagnostics::new();
        };
        // The fingerprint the job will have, when the scheduler is known already (forced,
        // or what it used before).
        let scheduler = Scheduler::parse(&job.scheduler).or_else(|| scheduler_of(change.prior));
        match scheduler.map(|s| render::desired_fingerprint(&job, s)) {
            Some(Ok(fingerprint)) => {
                change
                    .planned
                    .set_attr("content_sha256", Value::String(fingerprint));
                change.planned.set_attr(
                    "scheduler_used",
                    Value::String(scheduler.expect("known").as_str().into()),
                );
            }
            Some(Err(e)) => {
                return Diagnostic::error("Invalid backup job", e)
                    .at(tfplugin::path::AttrPath::attr("schedule"))
                    .into()
            }
            None => {}
        }
        Diagnostics::new()
    }

    async fn create(&self, op: Op<'_, BackupJob>) -> Result<Applied, Failure> {
        self.write(op).await
    }

    async fn update(&self, op: Op<'_, BackupJob>) -> Result<Applied, Failure> {
        self.write(op).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let job: BackupJob = op.kit.args(op.prior)?;
        job_on::destroy(op.host().host.as_ref(), &job)
            .await
            .map_err(|e| lab_error("Cannot remove the backup job", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let job: BackupJob = current.kit.args(current.state)?;
        let on = current.host().host.as_ref();
        let scheduler = scheduler_of(current.state);
        let found = job_on::inspect(on, &job, scheduler)
            .await
            .map_err(|e| lab_error("Cannot read the backup job", e))?;
        if !found.exists() {
            // Removed behind Terraform's back: the plan sets it up again.
            return Ok(None);
        }
        let scheduler = scheduler.unwrap_or(Scheduler::Cron);
        state_from(current.kit, &job, scheduler, &found, current.state).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        // `[user@]address[:port]:name` for a job in /etc/tabiri/backup, or the job's
        // directory (`...:/srv/backup-jobs/name`) for one in another `config_dir`.
        let by_dir = id.contains(":/") || id.starts_with('/');
        let (mut located, config_dir, name, on) = if by_dir {
            let (located, path, on) =
                host::locate_import(&kit.provider, id, "/etc/tabiri/backup/nextcloud-tier1")?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let config_dir = path
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            (located, config_dir, name, on)
        } else {
            let (located, name, on) =
                host::locate_named_import(&kit.provider, id, "nextcloud-tier1")?;
            (located, lab::backup::CONFIG_DIR.to_string(), name, on)
        };
        let cannot = |e: lab::Error| lab_error("Cannot import the backup job", e);
        let job = job_on::adopt(on.host.as_ref(), &config_dir, &name)
            .await
            .map_err(cannot)?;
        let detected = job_on::inspect(on.host.as_ref(), &job, None)
            .await
            .map_err(cannot)?;
        let scheduler =
            job_on::resolve(&job, detected.available, &on.host.name()).map_err(cannot)?;
        let found = job_on::inspect(on.host.as_ref(), &job, Some(scheduler))
            .await
            .map_err(cannot)?;
        located.set_attr(host::PUBLIC_KEY, on.public_key().await.map_err(cannot)?);
        state_from(kit, &job, scheduler, &found, &located)
    }
}

impl BackupJobResource {
    /// What of the job is on the host after a failed apply, if anything.
    async fn found_after_failure(&self, op: &Op<'_, BackupJob>) -> Option<(Scheduler, Found)> {
        let on = op.host().host.as_ref();
        let detected = job_on::inspect(on, &op.args, None).await.ok()?;
        let scheduler = job_on::resolve(&op.args, detected.available, &on.name()).ok()?;
        let found = job_on::inspect(on, &op.args, Some(scheduler)).await.ok()?;
        found.exists().then_some((scheduler, found))
    }

    async fn write(&self, op: Op<'_, BackupJob>) -> Result<Applied, Failure> {
        let on = op.host().host.as_ref();
        let before: Option<BackupJob> = op.kit.args(op.prior).ok();
        let applied = match job_on::apply(on, &op.args, before.as_ref()).await {
            Ok(applied) => applied,
            Err(e) => {
                let diagnostics = lab_error("Cannot set up the backup job", e);
                // Files written before the failure (a repository that did not open) are
                // recorded, so a later apply or destroy finishes them.
                return Err(match self.found_after_failure(&op).await {
                    Some((scheduler, found)) => {
                        match state_from(op.kit, &op.args, scheduler, &found, op.planned) {
                            Ok(state) => Failure::Kept { state, diagnostics },
                            Err(_) => Failure::Unchanged(diagnostics),
                        }
                    }
                    None => Failure::Unchanged(diagnostics),
                });
            }
        };
        let state = state_from(
            op.kit,
            &op.args,
            applied.scheduler,
            &applied.found,
            op.planned,
        )?;
        match applied.first_run {
            Some(Err(e)) => Err(Failure::Kept {
                state,
                diagnostics: lab_error("The first backup (run_now) failed", e),
            }),
            _ => Ok(state.into()),
        }
    }
}
