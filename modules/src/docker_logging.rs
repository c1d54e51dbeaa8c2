//! `tabiri.homelab.docker_logging`: json-file log rotation in dockerd's daemon.json
//! ([`lab::docker_logging`]): `"log-driver": "json-file"` and `"log-opts"` `max-size` /
//! `max-file`, every other key kept.
//!
//! Returns `path` and `restart_needed` (true when the file changed, or would in check
//! mode: dockerd reads daemon.json only when it starts). The module does not restart
//! dockerd; notify a handler with `ansible.builtin.systemd` for that.

use lab::docker_logging::{self as logging, DockerLogging, DEFAULT_DAEMON_JSON, LOG_DRIVER};
use lab::file_plan::Action;
use lab::validation::Validate;
use serde_json::{json, Map};

use crate::args::{Opt, Spec, Type};
use crate::docs::{Attribute, Documentation, LabFields, Return, SeeAlso, Support};
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

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: Some(LabFields::of::<DockerLogging>()),
        short_description: "Set the Docker daemon's default log rotation in daemon.json",
        description: &[
            "Sets C(log-opts.max-size) and C(log-opts.max-file) in the Docker daemon's \
             configuration file, so the C(json-file) and C(local) log drivers rotate container \
             logs instead of filling the disk.",
            "Every other key of the file is kept as it is. A missing file is created.",
            "Writes are atomic (a temporary file renamed in the same directory).",
            "The module does not restart Docker. Docker reads C(daemon.json) at start only, and \
             the new defaults apply to containers created afterwards; RV(restart_needed) tells \
             whether a restart is due, for a handler.",
        ],
        version_added: "0.1.0",
        notes: &["Writing C(/etc/docker/daemon.json) needs root; use C(become)."],
        seealso: &[SeeAlso::Link {
            name: "Docker json-file logging driver",
            description: "What C(max-size) and C(max-file) mean.",
            link: "https://docs.docker.com/engine/logging/drivers/json-file/",
        }],
        check_mode: Attribute {
            support: Support::Full,
            details: "Reports the change it would make without writing.",
        },
        diff_mode: Attribute {
            support: Support::Full,
            details: "The diff shows daemon.json before and after.",
        },
        examples: r#"- name: Rotate container logs at 10 MB, keep 3 files
  tabiri.homelab.docker_logging:
    max_size: 10m
    max_file: 3
  become: true
  notify: Restart docker

# handlers:
#   - name: Restart docker
#     ansible.builtin.service:
#       name: docker
#       state: restarted

- name: Same, and restart Docker right away when needed
  tabiri.homelab.docker_logging:
    max_size: 10m
    max_file: 3
  become: true
  register: docker_logging

- name: Restart Docker
  ansible.builtin.service:
    name: docker
    state: restarted
  become: true
  when: docker_logging.restart_needed
"#,
        returns: vec![
            Return::new(
                "restart_needed",
                "bool",
                "always",
                "Whether the Docker daemon must be restarted for the change to \
                 take effect, that is whether the file changed (or would change, \
                 in check mode).",
            )
            .sample(json!(true)),
            Return::new(
                "path",
                "str",
                "always",
                "Path of the daemon configuration file.",
            )
            .sample(json!(DEFAULT_DAEMON_JSON)),
        ],
    }
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
