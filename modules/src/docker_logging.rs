//! `tabiri.homelab.docker_logging`: json-file log rotation in dockerd's daemon.json
//! ([`lab::docker_logging`]): `"log-driver": "json-file"` and `"log-opts"` `max-size` /
//! `max-file`, every other key kept.
//!
//! Returns `path` and `restart_needed` (true when the file changed, or would in check
//! mode: dockerd reads daemon.json only when it starts). The module does not restart
//! dockerd; notify a handler with `ansible.builtin.systemd` for that.

use lab::docker_logging::{self as logging, DockerLogging, DEFAULT_DAEMON_JSON, LOG_DRIVER};
use lab::file_plan::Action;
use serde_json::{json, Map};

use crate::args::{Opt, Spec, Type};
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "docker_logging",
        vec![
            Opt::new("max_size", Type::STR).required(),
            Opt::new("max_file", Type::INT).required(),
            Opt::new("daemon_json", Type::PATH).default(json!(DEFAULT_DAEMON_JSON)),
        ],
    )
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let settings: DockerLogging =
        serde_json::from_value(ctx.params.object(&["max_size", "max_file", "daemon_json"]))
            .map_err(|e| Failure::new(format!("cannot read the logging options: {e}")))?;
    settings.check()?;
    let path = settings.file_path();
    let actual = logging::read_daemon_json(&path)?;
    let plan = logging::plan(&settings, actual.as_deref())?;
    if !ctx.check_mode {
        logging::apply(&plan)?;
    }
    if let Some(previous) = plan.previous_driver.as_deref().filter(|d| *d != LOG_DRIVER) {
        ctx.warn(format!(
            "daemon.json set log-driver {previous:?}; it is now {LOG_DRIVER:?}, for containers \
             created after dockerd restarts"
        ));
    }
    let shown = path.display().to_string();
    let msg = match (plan.changed(), ctx.check_mode) {
        (false, _) => format!("{shown} already rotates json-file logs as asked"),
        (true, true) => format!("would update {shown}; dockerd would need a restart"),
        (true, false) => format!(
            "{} {shown}; restart dockerd to apply it (containers keep their log settings \
             until they are recreated)",
            if plan.file.action == Action::Create {
                "created"
            } else {
                "updated"
            }
        ),
    };
    let mut values = Map::new();
    values.insert("path".into(), shown.clone().into());
    values.insert("restart_needed".into(), plan.restart_needed().into());
    Ok(Outcome {
        changed: plan.changed(),
        msg,
        diff: plan.changed().then(|| {
            Diff::file(
                &shown,
                plan.file.before.as_deref(),
                plan.file.after.as_deref(),
            )
        }),
        values,
    })
}
