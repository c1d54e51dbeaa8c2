//! `tabiri.homelab.compose_stack`: a Docker Compose project on the target host
//! ([`lab::compose`]), the same capability and the same bytes on disk as the Terraform
//! resource `homelab_compose_stack`.
//!
//! Options are the fields of [`ComposeStack`] plus `definition` (the compose file as a
//! dict) and `state`. Check mode is the capability's plan (nothing runs with `--dry-run`,
//! nothing is pulled or built); diff mode shows the compose file's diff and one line per
//! changed file or service. Returns `services` and `actions`.

use std::collections::BTreeMap;

use lab::compose::apply as stack_on;
use lab::compose::ComposeStack;
use lab::deadline::Deadline;
use lab::host::Local;
use lab::secret::Secret;
use lab::validation::Validate;
use serde_json::{json, Map, Value};

use crate::args::{Opt, Scalar, Spec, Type};
use crate::docs::{Attribute, Documentation, LabFields, Return, SeeAlso, Support};
use crate::runtime::{Ctx, Diff, Failure, Module, Outcome};

const STACK_FIELDS: &[&str] = &[
    "project",
    "compose",
    "project_dir",
    "pull",
    "wait",
    "wait_timeout",
    "remove_volumes",
    "docker_host",
];

pub const MODULE: Module = Module { spec, run };

pub fn spec() -> Spec {
    Spec::new(
        "compose_stack",
        vec![
            Opt::new("project", Type::STR).required(),
            Opt::new("compose", Type::STR),
            Opt::new("definition", Type::Document).description(&[
                "The compose file as a dict, instead of O(compose) (written as JSON, which \
                 Compose reads as YAML).",
            ]),
            Opt::new("env", Type::Dict(Scalar::Str))
                .no_log()
                .default(json!({})),
            Opt::new("files", Type::Dict(Scalar::Str))
                .no_log()
                .default(json!({})),
            Opt::new("project_dir", Type::STR),
            Opt::new("state", Type::STR)
                .choices(&["present", "absent", "stopped", "restarted"])
                .default(json!("present"))
                .description(&[
                    "V(present) brings the project up as declared; V(absent) takes it down and \
                     removes O(project_dir); V(stopped) stops its containers; V(restarted) \
                     brings it up as declared, then restarts every container.",
                ]),
            Opt::new("pull", Type::STR)
                .choices(&["missing", "always", "never"])
                .default(json!("missing")),
            Opt::new("wait", Type::BOOL)
                .default(json!(true))
                .description(&[
                    "On failure the task names the service and shows the end of its log.",
                ]),
            Opt::new("wait_timeout", Type::STR).default(json!("5m")),
            Opt::new("remove_volumes", Type::BOOL)
                .default(json!(false))
                .description(&["Applies with O(state=absent)."]),
            Opt::new("docker_host", Type::STR),
        ],
    )
    .mutually_exclusive(&["compose", "definition"])
    .required_if_any("state", "present", &["compose", "definition"])
}

pub fn documentation() -> Documentation {
    Documentation {
        lab_fields: Some(LabFields::of::<ComposeStack>()),
        short_description: "Manage a Docker Compose project on the target host",
        description: &[
            "Writes the compose file, the C(.env) values and extra files into the project \
             directory and brings the project up with the Compose CLI on the target host.",
            "A new version is staged and checked by C(docker compose config) before it replaces \
             the running one; when the services are not healthy within O(wait_timeout), the \
             previous files are put back and brought up again.",
            "Every change is seen: an edited file, a value in O(env), an image rebuilt under the \
             same tag, a container stopped, removed or started outside the project.",
        ],
        version_added: "0.1.0",
        notes: &[
            "Needs the Docker CLI and its Compose plugin (v2) on the target host.",
            "Check mode compares the declaration with the host and Compose's own model; it \
             never runs C(--dry-run), pulls or builds.",
        ],
        seealso: &[SeeAlso::Link {
            name: "Compose file reference",
            description: "What the compose file may hold.",
            link: "https://docs.docker.com/reference/compose-file/",
        }],
        check_mode: Attribute {
            support: Support::Full,
            details: "Reports exactly the files and services a real run would change.",
        },
        diff_mode: Attribute {
            support: Support::Full,
            details: "The compose file's diff and one line per changed file or service; O(env) \
                      and O(files) are never shown.",
        },
        examples: r#"- name: NextCloud
  tabiri.homelab.compose_stack:
    project: nextcloud
    compose: "{{ lookup('file', 'stacks/nextcloud.compose.yaml') }}"
    env:
      NEXTCLOUD_ADMIN_USER: admin
      NEXTCLOUD_ADMIN_PASSWORD: "{{ vault_nextcloud_admin_password }}"
    files:
      config/php.ini: "{{ lookup('file', 'stacks/php.ini') }}"
    wait_timeout: 3m

- name: Take JDownloader down, keeping its volumes
  tabiri.homelab.compose_stack:
    project: jdownloader
    state: absent
"#,
        returns: vec![
            Return::new("services", "dict", "always", "Per service: C(state), C(health), C(image_id) and the C(containers)' names, after the run.").sample(json!({"web": {"state": "running", "health": "healthy", "image_id": "sha256:3b5d...", "containers": ["nextcloud-web-1"]}})),
            Return::new("actions", "list", "always", "What the run changed (or would change, in check mode), one line per file or service.").sample(json!(["compose.yaml: update", "web: recreate (configuration changed)"])),
        ],
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    futures_executor::block_on(future)
}

/// The stack the options declare.
fn stack_from(ctx: &mut Ctx) -> Result<ComposeStack, Failure> {
    let p = &ctx.params;
    let mut object = p.object(STACK_FIELDS);
    let fields = object.as_object_mut().expect("an object");
    if let Some(definition) = p.get("definition").as_object() {
        let text = serde_json::to_string_pretty(definition).expect("a dict serialises");
        fields.insert("compose".into(), Value::String(text + "\n"));
    }
    fields
        .entry("compose".to_string())
        .or_insert(Value::String(String::new()));
    let secrets = |name: &str| -> BTreeMap<String, Secret> {
        p.get(name)
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), Secret::new(v.as_str().unwrap_or_default())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (env, files) = (secrets("env"), secrets("files"));
    let mut stack: ComposeStack = serde_json::from_value(object)
        .map_err(|e| Failure::new(format!("cannot read the stack options: {e}")))?;
    stack.env = env;
    stack.files = files;
    for value in stack.env.values().chain(stack.files.values()) {
        ctx.add_secret(value.expose().to_string());
    }
    Ok(stack)
}

fn services_value(containers: &[lab::compose::model::Container]) -> Value {
    serde_json::to_value(stack_on::services(containers)).expect("services serialise")
}

pub fn run(ctx: &mut Ctx) -> Result<Outcome, Failure> {
    let state = ctx.params.str("state").unwrap_or("present").to_owned();
    let stack = stack_from(ctx)?;
    let host = Local;
    if state == "absent" {
        let found = block_on(stack_on::inspect(&host, &stack, false))?;
        let exists = !found.actual.containers.is_empty() || found.actual.compose.is_some();
        if exists && !ctx.check_mode {
            block_on(stack_on::destroy(&host, &stack))?;
        }
        let mut values = Map::new();
        values.insert("services".into(), json!({}));
        values.insert(
            "actions".into(),
            json!(if exists {
                vec!["project: remove"]
            } else {
                vec![]
            }),
        );
        return Ok(Outcome {
            changed: exists,
            msg: format!(
                "compose project {}: {}",
                stack.project,
                if exists { "removed" } else { "absent" }
            ),
            diff: None,
            values,
        });
    }
    if stack.compose.is_empty() {
        return Err(Failure::new(
            "one of compose and definition is required with state=present",
        ));
    }
    let errors = stack.validate();
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(Failure::new(format!(
            "invalid compose stack: {}",
            text.join("; ")
        )));
    }
    let planned = block_on(stack_on::plan_on(&host, &stack))?;
    let mut actions = planned.0.lines();
    let mut changed = !planned.0.is_empty();
    let before = planned.2.clone();
    let after = if ctx.check_mode || (!changed && stack.pull() != lab::compose::Pull::Always) {
        before.clone()
    } else {
        let wait = stack.wait_timeout().map_err(Failure::new)?;
        let deadline = Deadline::after(wait + std::time::Duration::from_secs(60), "wait_timeout");
        block_on(stack_on::apply_planned(&host, &stack, planned, &deadline))?.actual
    };
    if state == "stopped" || state == "restarted" {
        let running = after.containers.iter().any(|c| c.state == "running");
        let verb = if state == "stopped" {
            "stop"
        } else {
            "restart"
        };
        if state == "restarted" || running {
            changed = true;
            actions.push(format!("project: {verb}"));
            if !ctx.check_mode {
                block_on(stack_on::compose_verb(&host, &stack, verb))?;
            }
        }
    }
    let after = if ctx.check_mode || state == "present" {
        after
    } else {
        block_on(stack_on::inspect(&host, &stack, false))?.actual
    };
    let mut values = Map::new();
    values.insert("services".into(), services_value(&after.containers));
    values.insert("actions".into(), json!(actions));
    let diff = (ctx.diff && changed).then(|| {
        let mut diff = Diff::file(
            &stack
                .dir()
                .join(lab::compose::COMPOSE_FILE)
                .display()
                .to_string(),
            before.compose.as_deref(),
            Some(&stack.compose),
        );
        diff.after
            .push_str(&format!("\n# changes:\n# {}\n", actions.join("\n# ")));
        diff
    });
    Ok(Outcome {
        changed,
        msg: if changed {
            format!(
                "compose project {}: {}{}",
                stack.project,
                actions.join(", "),
                if ctx.check_mode { " (check mode)" } else { "" }
            )
        } else {
            format!("compose project {}: runs as declared", stack.project)
        },
        diff,
        values,
    })
}
