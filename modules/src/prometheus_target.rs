//! `tabiri.homelab.prometheus_target`: scrape targets for one job as a Prometheus file_sd
//! file, `<file_sd_dir>/<job>.json` ([`lab::prometheus_target`]).
//!
//! Options are the fields of [`PrometheusTarget`] plus `state` and `create_dir`. Only
//! files this module wrote ([`target::MARK`]: exactly what it writes for the targets they
//! hold) are overwritten or deleted ([`Ownership::RequireMark`]), as the Terraform
//! resource refuses a file it did not write. Returns `path` and `action` (`create`,
//! `update`, `delete`, `none`).

use lab::prometheus_target::{self as target, Ownership, PrometheusTarget};
use lab::validation::Validate;
use serde_json::{json, Map};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::common;
use crate::docs::{Attribute, Documentation, Return, SeeAlso, Support};
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};

const TARGET_FIELDS: &[&str] = &["job", "targets", "labels", "file_sd_dir"];

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "prometheus_target",
        vec![
            Opt::new("job", Type::STR).required().description(&[
                "Name of the job; it names the file in O(file_sd_dir).",
                "Must not be empty, contain C(/) or C(..), or start with C(.).",
            ]),
            Opt::new("targets", Type::List(Scalar::Str)).description(&[
                "The targets to scrape, each as C(host:port), for example V(10.0.0.5:9100) or \
                 V([fd00::5]:9100).",
            ]),
            Opt::new("labels", Type::Dict(Scalar::Str))
                .default(json!({}))
                .description(&[
                    "Labels Prometheus attaches to every target of the file, for example \
                     C({env: lab}).",
                    "Label names follow Prometheus' rules (C([a-zA-Z_][a-zA-Z0-9_]*), no leading \
                     C(__)); values are strings.",
                ]),
            Opt::new("file_sd_dir", Type::PATH)
                .required()
                .description(&[
                    "Absolute path of the directory holding the target files, for example \
                 C(/etc/prometheus/file_sd).",
                    "The directory must exist unless O(create_dir=true).",
                ]),
            Opt::new("state", Type::STR)
                .choices(&["present", "absent"])
                .default(json!("present"))
                .description(&[
                    "V(present) writes the target file, V(absent) deletes it (only if this \
                     module wrote it).",
                    "With V(absent), only O(job) and O(file_sd_dir) are needed.",
                ]),
            Opt::new("create_dir", Type::BOOL)
                .default(json!(false))
                .description(&[
                    "Create O(file_sd_dir) and its missing parents when it does not exist.",
                    "By default a missing directory is an error, because it usually means a \
                     wrong path.",
                ]),
        ],
    )
    .required_if("state", "present", &["targets"])
}

pub fn documentation() -> Documentation {
    Documentation {
        short_description: "Manage a Prometheus file_sd target file",
        description: &[
            "Writes the scrape targets of one job as a Prometheus file-based service discovery \
             (C(file_sd)) file into O(file_sd_dir), one file per O(job).",
            "Prometheus picks the file up without a reload when a C(file_sd_configs) entry of its \
             configuration matches it.",
            "Writes are atomic (a temporary file renamed in the same directory), so Prometheus \
             never reads a half-written file.",
            "A file at the path that is not exactly what this module writes for the targets it \
             holds (a hand-written list, another tool's file) was written by someone else and \
             is never overwritten or deleted; the task fails instead.",
        ],
        version_added: "0.1.0",
        notes: &[],
        seealso: &[SeeAlso::Link {
            name: "Prometheus file_sd_config",
            description: "The file format and how Prometheus watches the files.",
            link: "https://prometheus.io/docs/prometheus/latest/configuration/configuration/#file_sd_config",
        }],
        check_mode: Attribute {
            support: Support::Full,
            details: "Reports the change it would make without writing, and fails as the real \
                      run would (a file it did not write).",
        },
        diff_mode: Attribute {
            support: Support::Full,
            details: "The diff shows the target file before and after.",
        },
        examples: r#"# prometheus.yml on the Prometheus host:
#   scrape_configs:
#     - job_name: node
#       file_sd_configs:
#         - files: ['/etc/prometheus/file_sd/node.*']
- name: Scrape node_exporter on every edge host
  tabiri.homelab.prometheus_target:
    job: node
    targets: "{{ groups['edge'] | map('extract', hostvars, 'ansible_host') | map('regex_replace', '$', ':9100') | list }}"
    labels:
      env: lab
    file_sd_dir: /etc/prometheus/file_sd
  delegate_to: prometheus

- name: Stop scraping a job
  tabiri.homelab.prometheus_target:
    job: blackbox
    file_sd_dir: /etc/prometheus/file_sd
    state: absent
"#,
        returns: vec![
            Return {
                name: "path",
                description: "Absolute path of the target file in O(file_sd_dir).",
                returned: "always",
                ty: "str",
                sample: Some(json!("/etc/prometheus/file_sd/node.json")),
                ..Return::default()
            },
            Return {
                name: "action",
                description: "What the module did to the file (or would do, in check mode).",
                returned: "always",
                ty: "str",
                sample: Some(json!("create")),
                ..Return::default()
            },
        ],
    }
}

/// A target file this module did not write in the way, worded for the task.
fn foreign(e: lab::Error) -> Failure {
    common::not_written_here(e, target::MARK.missing)
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let p = &ctx.params;
    let present = p.str("state") == Some("present");
    let job = p.str("job").unwrap_or_default().to_owned();
    let dir = p.str("file_sd_dir").unwrap_or_default().to_owned();

    let desired = if present {
        let t: PrometheusTarget = serde_json::from_value(p.object(TARGET_FIELDS))
            .map_err(|e| Failure::new(format!("cannot read the target options: {e}")))?;
        t.check()?;
        Some(t)
    } else {
        common::invalid(
            format!("prometheus target {job:?}"),
            target::validate_location(&job, &dir),
        )?;
        None
    };

    let dir_exists = common::check_dir("file_sd_dir", &dir, present, p.bool("create_dir"))?;
    let path = target::target_file_path(&dir, &job);
    let actual = if dir_exists {
        target::read_target_file(&path)?
    } else {
        None
    };
    let plan = target::plan(&path, desired.as_ref(), actual.as_deref());
    plan.check(Ownership::RequireMark).map_err(foreign)?;

    if !ctx.check_mode && plan.changed() {
        if present && !dir_exists {
            lab::file_plan::ensure_dir(std::path::Path::new(&dir))?;
        }
        target::apply(&plan, Ownership::RequireMark).map_err(foreign)?;
    }

    let shown = path.display().to_string();
    let mut values = Map::new();
    values.insert("path".into(), shown.clone().into());
    values.insert("action".into(), plan.action.as_str().into());
    Ok(Outcome {
        changed: plan.changed(),
        msg: if present {
            common::summary(plan.action, &path, ctx.check_mode)
        } else {
            common::absent_summary(plan.action, &path, ctx.check_mode)
        },
        diff: plan
            .changed()
            .then(|| Diff::file(&shown, plan.before.as_deref(), plan.after.as_deref())),
        values,
    })
}
