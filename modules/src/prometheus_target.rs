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
use crate::docs::{Attribute, Documentation, LabFields, Return, SeeAlso, Support};
use crate::fragments;
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};

const TARGET_FIELDS: &[&str] = &["job", "targets", "labels", "file_sd_dir"];

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "prometheus_target",
        vec![
            Opt::new("job", Type::STR).required(),
            Opt::new("targets", Type::List(Scalar::Str)),
            Opt::new("labels", Type::Dict(Scalar::Str))
                .default(json!({})).description(&["Names must not start with C(__), which Prometheus keeps for itself; values are strings."]),
            Opt::new("file_sd_dir", Type::PATH)
                .required().description(&["The directory must exist unless O(create_dir=true)."]),
            fragments::owned_file_state("target file", ["job", "file_sd_dir"]),
            fragments::create_dir("file_sd_dir"),
        ],
    )
    .required_if("state", "present", &["targets"])
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: Some(LabFields::of::<PrometheusTarget>()),
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
            Return::new("path", "str", "always", "Absolute path of the target file in O(file_sd_dir).").sample(json!("/etc/prometheus/file_sd/node.json")),
            fragments::file_action(),
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
