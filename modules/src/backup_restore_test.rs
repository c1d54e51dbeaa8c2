//! `tabiri.homelab.backup_restore_test`: a restore drill of a backup job now
//! ([`lab::backup`]): the job's own `restore-test` run, which restores files of the latest
//! snapshot into a fresh directory and compares their hashes with the snapshot. Fails when
//! they differ or the restore fails; never changes anything.

use lab::backup::apply as job_on;
use lab::backup::BackupJob;
use lab::host::Local;
use serde_json::{json, Map};

use crate::args::{Opt, Spec, Type};
use crate::docs::{Attribute, Documentation, Return, SeeAlso, Support};
use crate::runtime::{Ctx, Failure, Module, Outcome};

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "backup_restore_test",
        vec![
            Opt::new("name", Type::STR).required().description(&[
                "The backup job's name (as C(tabiri.homelab.backup_job) set it up).",
            ]),
            Opt::new("config_dir", Type::STR)
                .default(json!(lab::backup::CONFIG_DIR))
                .description(&["Where the job's directory is."]),
        ],
    )
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: None,
        short_description: "Run a backup job's restore drill now",
        description: &[
            "Restores the files the job's C(restore_test) samples (all files without one) from \
             the latest snapshot into a fresh directory, with restic verifying what it wrote, \
             then compares each file's hash with the same file read from the snapshot.",
            "Fails when a file differs or the restore fails, pinging the job's heartbeat C(/fail) \
             and setting its C(restic_restore_test_*) metrics like a scheduled drill.",
        ],
        version_added: "0.1.0",
        notes: &["The job must exist on the host (C(tabiri.homelab.backup_job))."],
        seealso: &[SeeAlso::Module("tabiri.homelab.backup_job")],
        check_mode: Attribute {
            support: Support::Full,
            details: "Runs nothing; reports that a drill would run.",
        },
        diff_mode: Attribute {
            support: Support::None,
            details: "Nothing is written.",
        },
        examples: r#"- name: Prove last night's backup restores
  tabiri.homelab.backup_restore_test:
    name: nextcloud-tier1
"#,
        returns: vec![Return::new(
            "log",
            "str",
            "always",
            "What the drill reported (no secrets are in it).",
        )
        .sample(json!("restore test: 50 files restored and identical"))],
    }
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let name = ctx.params.str("name").unwrap_or_default().to_owned();
    let config_dir = ctx
        .params
        .str("config_dir")
        .unwrap_or(lab::backup::CONFIG_DIR)
        .to_owned();
    let host = Local;
    let job: BackupJob = futures_executor::block_on(job_on::adopt(&host, &config_dir, &name))?;
    let mut values = Map::new();
    if ctx.check_mode {
        values.insert("log".into(), json!(""));
        return Ok(Outcome {
            changed: false,
            msg: format!("backup job {name}: a restore drill would run (check mode)"),
            diff: None,
            values,
        });
    }
    let output = futures_executor::block_on(job_on::run(&host, &job, "restore-test"))?;
    let log = String::from_utf8_lossy(&output.stderr).trim().to_string();
    values.insert("log".into(), json!(log));
    Ok(Outcome {
        changed: false,
        msg: format!("backup job {name}: restored and identical"),
        diff: None,
        values,
    })
}
