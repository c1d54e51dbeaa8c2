//! `homelab_backup_snapshots`: the snapshots of a backup job on a host, read by the job's
//! own script (so with its repository, password and environment, which never leave the
//! host). One remote command.

use lab::backup::apply as job_on;
use lab::validation::FieldError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::Attribute;

use crate::host;
use crate::kit::{Definition, Kit, ManagedDataSource};

pub const TYPE_NAME: &str = "homelab_backup_snapshots";

pub struct BackupSnapshotsDataSource;

/// Which job's snapshots.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    /// The backup job's name.
    pub name: String,
    /// Where the job's directory is on the host.
    #[serde(default = "config_dir")]
    pub config_dir: String,
}

fn config_dir() -> String {
    lab::backup::CONFIG_DIR.into()
}

#[tfplugin::async_trait]
impl ManagedDataSource for BackupSnapshotsDataSource {
    type Args = JobRef;

    fn definition() -> Definition {
        let snapshot = Type::Object(
            [
                ("id", Type::String),
                ("time", Type::String),
                ("paths", Type::List(Box::new(Type::String))),
                ("tags", Type::List(Box::new(Type::String))),
            ]
            .into_iter()
            .map(|(k, t)| (k.to_string(), t))
            .collect(),
        );
        Definition {
            type_name: TYPE_NAME,
            description:
                "The snapshots of a `homelab_backup_job` (or `tabiri.homelab.backup_job`) \
                 on a host, oldest first, as restic lists them with the job's own credentials.",
            invalid: "Invalid backup job reference",
            outputs: vec![
                Attribute::computed("snapshots", Type::List(Box::new(snapshot)))
                    .description("Each snapshot's `id`, `time` (RFC 3339), `paths` and `tags`."),
                Attribute::computed("latest_id", Type::String)
                    .description("The newest snapshot's ID (null when there is none)."),
                Attribute::computed("latest_time", Type::String)
                    .description("When the newest snapshot was taken."),
            ],
            on_host: true,
            ..Definition::default()
        }
    }

    fn check(args: &JobRef) -> Vec<FieldError> {
        match lab::backup::check_name(&args.name) {
            Ok(()) => Vec::new(),
            Err(e) => vec![FieldError::field("name", e)],
        }
    }

    async fn read(&self, args: JobRef, config: &Value, kit: &Kit) -> Result<Value, Diagnostics> {
        let cannot = |e: lab::Error| {
            Diagnostics::from(Diagnostic::error(
                "Cannot read the backup job's snapshots",
                e.to_string(),
            ))
        };
        let on = host::connect(&kit.provider, config)?;
        let job = job_on::adopt(on.host.as_ref(), &args.config_dir, &args.name)
            .await
            .map_err(cannot)?;
        let found = job_on::inspect(on.host.as_ref(), &job, None)
            .await
            .map_err(cannot)?;
        let latest = found.latest();
        kit.state(
            &args,
            &[
                ("snapshots", json!(found.snapshots)),
                ("latest_id", json!(latest.map(|s| s.id.clone()))),
                ("latest_time", json!(latest.map(|s| s.time.clone()))),
            ],
            config,
        )
    }
}
