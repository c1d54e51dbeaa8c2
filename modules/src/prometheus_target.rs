//! `tabiri.homelab.prometheus_target`: scrape targets for one job as a Prometheus file_sd
//! file, `<file_sd_dir>/<job>.json` ([`lab::prometheus_target`]).
//!
//! Options are the fields of [`PrometheusTarget`] plus `state` and `create_dir`.
//! Returns `path` and `action` (`create`, `update`, `delete`, `none`).

use lab::prometheus_target::{self as target, PrometheusTarget};
use serde_json::{json, Map};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::common;
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};

const TARGET_FIELDS: &[&str] = &["job", "targets", "labels", "file_sd_dir"];

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "prometheus_target",
        vec![
            Opt::new("job", Type::STR).required(),
            Opt::new("targets", Type::List(Scalar::Str)),
            Opt::new("labels", Type::Dict(Scalar::Str)).default(json!({})),
            Opt::new("file_sd_dir", Type::PATH).required(),
            Opt::new("state", Type::STR)
                .choices(&["present", "absent"])
                .default(json!("present")),
            Opt::new("create_dir", Type::BOOL).default(json!(false)),
        ],
    )
    .required_if("state", "present", &["targets"])
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

    if !ctx.check_mode && plan.changed() {
        if present && !dir_exists {
            lab::file_plan::ensure_dir(std::path::Path::new(&dir))?;
        }
        target::apply(&plan)?;
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
