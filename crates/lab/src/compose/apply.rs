//! A stack on a [`Host`]: read (one remote command), apply (stage, validate, switch, `up
//! --wait`, roll back when the services do not become healthy), destroy (`down`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

use super::model::{self, Actual, Container, Model};
use super::plan::{self, FileChange, StackPlan};
use super::{ComposeStack, Pull, COMPOSE_FILE, ENV_FILE};
use crate::deadline::Deadline;
use crate::host::{run_checked, Command, FileMode, Host};
use crate::secret::Secret;
use crate::Error;

/// One read of a project (bash, for a pipe from a parallel process): the managed files'
/// hashes, the compose file, the project's containers, and (when the desired compose file
/// comes on stdin after the environment) the desired model as Compose resolves it with the
/// given environment and no `.env` of the host's, with the engine's API version when the
/// model uses what only newer engines run. Writes nothing. Arguments: docker host ("" for
/// the default), project, project directory, 1/0 for "desired model on stdin", then the
/// managed files' relative paths.
const READ_SCRIPT: &str = r#"set -u
host=$1 project=$2 dir=$3 desired=$4
shift 4
d() { if [ -n "$host" ]; then docker -H "$host" "$@"; else docker "$@"; fi; }
echo @@files
for f in "$@"; do
  if [ -f "$dir/$f" ]; then echo "$(sha256sum < "$dir/$f" | cut -d' ' -f1) $f"; else echo "- $f"; fi
done
echo @@compose
if [ -f "$dir/compose.yaml" ]; then base64 -w0 < "$dir/compose.yaml"; echo; else echo -; fi
echo @@containers
ids=$(d ps -aq --filter "label=com.docker.compose.project=$project") || exit 3
if [ -n "$ids" ]; then d inspect $ids || exit 3; else echo '[]'; fi
echo @@images
d image ls --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' || exit 3
[ "$desired" = 1 ] || exit 0
compose=$(cat)
c() { printf '%s\n' "$compose" | d compose -p "$project" --project-directory "$dir" --env-file /dev/null -f - "$@"; }
# The model and the hashes at once: two Compose runs in parallel (the hashes go through a
# pipe, never a file: a read writes nothing).
exec 4< <(c config --hash '*' 2>/dev/null; rc=$?; echo @@status; echo "$rc")
if ! out=$(c config --format json 2>&1); then echo @@invalid; printf '%s\n' "$out"; exec 4<&-; exit 0; fi
echo @@model
printf '%s\n' "$out"
echo @@hashes
cat <&4
exec 4<&-
# The engine's API version matters only for features newer engines added.
case "$out" in *start_interval*) echo @@engine; d version --format '{{.Server.APIVersion}}' || exit 3 ;; esac
"#;

/// A read, with the desired model when asked for.
pub struct Inspection {
    pub actual: Actual,
    /// The desired model, or Compose's own message when the compose file does not parse.
    pub model: Option<Result<Model, String>>,
}

fn compose_error(stack: &ComposeStack, message: impl Into<String>) -> Error {
    Error::Compose {
        project: stack.project.clone(),
        message: message.into(),
    }
}

/// Reads the project as it is; with `desired`, also resolves the desired model.
pub async fn inspect(
    host: &dyn Host,
    stack: &ComposeStack,
    desired: bool,
) -> Result<Inspection, Error> {
    let dir = stack.dir();
    let managed = stack.rendered_files();
    let mut argv: Vec<String> = vec![
        "bash".into(),
        "-c".into(),
        READ_SCRIPT.into(),
        "bash".into(),
        stack.docker_host.clone().unwrap_or_default(),
        stack.project.clone(),
        dir.display().to_string(),
        if desired { "1" } else { "0" }.into(),
    ];
    argv.extend(managed.keys().cloned());
    let mut command = Command::new(argv);
    if desired {
        for (name, value) in &stack.env {
            command = command.env(name.clone(), value.clone());
        }
        command = command.stdin(stack.compose.clone().into_bytes());
    }
    let output = host.run(&command).await?;
    if !output.success() {
        return Err(Error::Host {
            host: host.name(),
            message: format!(
                "reading compose project {} failed ({}): {}",
                stack.project,
                output.status_text(),
                output.stderr_excerpt()
            ),
        });
    }
    parse_inspection(stack, &String::from_utf8_lossy(&output.stdout))
}

/// Splits the read script's output at its `@@name` markers.
fn sections(text: &str) -> BTreeMap<&str, String> {
    let mut found: BTreeMap<&str, String> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            current = Some(name);
            found.entry(name).or_default();
        } else if let Some(name) = current {
            let section = found.entry(name).or_default();
            section.push_str(line);
            section.push('\n');
        }
    }
    found
}

fn parse_inspection(stack: &ComposeStack, text: &str) -> Result<Inspection, Error> {
    let parts = sections(text);
    let bad = |what: &str| {
        compose_error(
            stack,
            format!("unexpected output reading the project: {what}"),
        )
    };
    let files = parts
        .get("files")
        .ok_or_else(|| bad("no file hashes"))?
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(sha, path)| (path.to_string(), (sha != "-").then(|| sha.to_string())))
        .collect();
    let compose = match parts.get("compose").map(|s| s.trim()) {
        None | Some("-") | Some("") => None,
        Some(encoded) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|_| bad("the compose file"))?,
        ),
    };
    let api = parts
        .get("engine")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let containers = model::parse_containers(
        parts
            .get("containers")
            .ok_or_else(|| bad("no containers"))?,
    )
    .map_err(|e| compose_error(stack, e))?;
    let model = if let Some(message) = parts.get("invalid") {
        Some(Err(message.trim().to_string()))
    } else if parts
        .get("status")
        .is_some_and(|s| s.trim() != "0" && !s.trim().is_empty())
    {
        Some(Err("`docker compose config --hash` failed".to_string()))
    } else if let Some(json) = parts.get("model") {
        Some(
            Model::parse(
                json,
                parts.get("hashes").map(String::as_str).unwrap_or(""),
                parts.get("images").map(String::as_str).unwrap_or(""),
            )
            .map_err(|e| compose_error(stack, e)),
        )
        .map(|r| r.map_err(|e| e.to_string()))
    } else {
        None
    };
    let images = model::parse_images(parts.get("images").map(String::as_str).unwrap_or(""));
    Ok(Inspection {
        actual: Actual {
            files,
            compose,
            containers,
            api,
            images,
        },
        model,
    })
}

/// The desired model and the plan against what is on the host, or why the stack cannot
/// run there (the compose file does not parse, the engine lacks a feature it uses).
pub async fn plan_on(
    host: &dyn Host,
    stack: &ComposeStack,
) -> Result<(StackPlan, Model, Actual), Error> {
    let inspection = inspect(host, stack, true).await?;
    let model = match inspection.model {
        Some(Ok(model)) => model,
        Some(Err(message)) => {
            return Err(compose_error(
                stack,
                format!("the compose file is not valid: {message}"),
            ))
        }
        None => return Err(compose_error(stack, "no model in the read")),
    };
    let refused = model.unsupported(&inspection.actual.api);
    if !refused.is_empty() {
        let reasons: Vec<String> = refused
            .iter()
            .map(|(s, r)| format!("service {s}: {r}"))
            .collect();
        return Err(compose_error(stack, reasons.join("; ")));
    }
    let plan = plan::plan(stack, &model, &inspection.actual);
    Ok((plan, model, inspection.actual))
}

/// `docker [-H host] compose -p project --project-directory dir -f dir/compose.yaml ARGS`.
fn compose_command(stack: &ComposeStack, dir: &Path, args: &[&str]) -> Command {
    let mut argv: Vec<String> = vec!["docker".into()];
    if let Some(h) = &stack.docker_host {
        argv.push("-H".into());
        argv.push(h.clone());
    }
    argv.extend(
        [
            "compose",
            "-p",
            &stack.project,
            "--project-directory",
            &dir.display().to_string(),
            "-f",
            &dir.join(COMPOSE_FILE).display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    argv.extend(args.iter().map(|s| s.to_string()));
    Command::new(argv)
}

fn docker_command(stack: &ComposeStack, args: &[&str]) -> Command {
    let mut argv: Vec<String> = vec!["docker".into()];
    if let Some(h) = &stack.docker_host {
        argv.push("-H".into());
        argv.push(h.clone());
    }
    argv.extend(args.iter().map(|s| s.to_string()));
    Command::new(argv)
}

/// The mode a managed file is written with: secrets and `.env` 0600, the rest 0644.
fn mode_of(relative: &str, absolute: &Path, model: &Model) -> FileMode {
    let secret = relative == ENV_FILE || model.secret_files.contains(absolute);
    FileMode {
        mode: if secret { 0o600 } else { 0o644 },
        owner: None,
    }
}

/// Writes every file of `stack` into `dir`, making directories as needed.
async fn write_all(
    host: &dyn Host,
    stack: &ComposeStack,
    dir: &Path,
    model: &Model,
    only: Option<&[String]>,
) -> Result<(), Error> {
    for (relative, bytes) in stack.rendered_files() {
        if only.is_some_and(|o| !o.contains(&relative)) {
            continue;
        }
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            host.ensure_dir(parent).await?;
        }
        let live = stack.dir().join(&relative);
        host.write_file(&path, &bytes, &mode_of(&relative, &live, model))
            .await?;
    }
    Ok(())
}

async fn remove_tree(host: &dyn Host, path: &Path) -> Result<(), Error> {
    run_checked(
        host,
        &Command::new(["rm", "-rf", "--", &path.display().to_string()]),
    )
    .await?;
    Ok(())
}

/// The staging directory beside the project directory.
fn staging_dir(stack: &ComposeStack) -> PathBuf {
    let dir = stack.dir();
    let parent = dir.parent().unwrap_or(Path::new("/"));
    parent.join(format!(".{}.staging", stack.project))
}

/// What an apply did.
pub struct Applied {
    pub plan: StackPlan,
    pub actual: Actual,
}

/// Brings the project to `stack`. A new version is staged and checked by Compose before it
/// replaces the running one; when the services do not come up healthy within
/// `wait_timeout`, the previous files are put back and brought up again, and the error
/// names the failing services with the end of their logs.
pub async fn apply(
    host: &dyn Host,
    stack: &ComposeStack,
    deadline: &Deadline,
) -> Result<Applied, Error> {
    let planned = plan_on(host, stack).await?;
    apply_planned(host, stack, planned, deadline).await
}

/// [`apply`] with the plan [`plan_on`] made just before (so a caller that showed the plan
/// does not read the project twice).
pub async fn apply_planned(
    host: &dyn Host,
    stack: &ComposeStack,
    (plan, model, before): (StackPlan, Model, Actual),
    deadline: &Deadline,
) -> Result<Applied, Error> {
    if plan.is_empty() && stack.pull() != Pull::Always {
        return Ok(Applied {
            plan,
            actual: before,
        });
    }
    let dir = stack.dir();
    let changed: Vec<String> = plan
        .files
        .iter()
        .filter(|(_, c)| **c != FileChange::Unchanged)
        .map(|(p, _)| p.clone())
        .collect();
    if !changed.is_empty() {
        // Stage the whole new version and let Compose check it there, before anything of
        // the running version changes.
        let staging = staging_dir(stack);
        remove_tree(host, &staging).await?;
        host.ensure_dir(&staging).await?;
        write_all(host, stack, &staging, &model, None).await?;
        let checked = host
            .run(&compose_command(stack, &staging, &["config", "-q"]))
            .await;
        remove_tree(host, &staging).await?;
        let checked = checked?;
        if !checked.success() {
            return Err(compose_error(
                stack,
                format!(
                    "the new version does not pass `docker compose config`: {}",
                    checked.failure_reason()
                ),
            ));
        }
    }
    // What to put back if the new version does not come up.
    let mut previous: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for relative in &changed {
        let bytes = host.read_file(&dir.join(relative)).await?;
        previous.push((relative.clone(), bytes));
    }
    host.ensure_dir(&dir).await?;
    write_all(host, stack, &dir, &model, Some(&changed)).await?;

    let wait = deadline.within(
        stack.wait_timeout().map_err(|e| compose_error(stack, e))?,
        "wait_timeout",
    );
    match up(host, stack, &dir, &plan, &wait).await {
        Ok(()) => {
            let mut actual = inspect(host, stack, false).await?.actual;
            // Containers of the project's name that Compose does not count as its own (started
            // by hand with only some of its labels) are orphans all the same.
            let orphans: Vec<&Container> = actual
                .containers
                .iter()
                .filter(|c| plan.services.get(&c.service) == Some(&plan::Action::RemoveOrphan))
                .collect();
            if !orphans.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(orphans.iter().map(|c| c.id.as_str()));
                run_checked(host, &docker_command(stack, &args)).await?;
                actual = inspect(host, stack, false).await?.actual;
            }
            Ok(Applied { plan, actual })
        }
        Err(reason) => {
            let failing = failing_services(host, stack).await;
            let had_previous = previous
                .iter()
                .any(|(p, b)| p == COMPOSE_FILE && b.is_some());
            let restored =
                restore(host, stack, &dir, &model, &previous, had_previous, deadline).await;
            let after = match (had_previous, restored) {
                (false, _) => "There was no previous version; the new containers are left for the next apply or destroy.".to_string(),
                (true, Ok(())) => "The previous version is running again.".to_string(),
                (true, Err(e)) => format!("Bringing the previous version back failed too: {e}"),
            };
            Err(compose_error(stack, format!("{reason}{failing} {after}")))
        }
    }
}

/// `up`: one command when nothing needs forcing, else the project, then the forced
/// services, then the wait.
async fn up(
    host: &dyn Host,
    stack: &ComposeStack,
    dir: &Path,
    plan: &StackPlan,
    wait: &Deadline,
) -> Result<(), String> {
    let timeout = wait
        .remaining()
        .max(Duration::from_secs(1))
        .as_secs()
        .to_string();
    let mut base: Vec<&str> = vec![
        "up",
        "-d",
        "--remove-orphans",
        "--pull",
        stack.pull().as_str(),
    ];
    let forced = plan.forced();
    let waiting = ["--wait", "--wait-timeout", timeout.as_str()];
    if stack.wait && forced.is_empty() {
        base.extend(waiting);
    }
    run_up(host, stack, dir, &base).await?;
    if !forced.is_empty() {
        let mut args: Vec<&str> = vec!["up", "-d", "--no-deps", "--force-recreate"];
        if stack.wait {
            args.extend(waiting);
        }
        args.extend(forced.iter().map(String::as_str));
        run_up(host, stack, dir, &args).await?;
        if stack.wait {
            let mut all: Vec<&str> = vec!["up", "-d"];
            all.extend(waiting);
            run_up(host, stack, dir, &all).await?;
        }
    }
    Ok(())
}

async fn run_up(
    host: &dyn Host,
    stack: &ComposeStack,
    dir: &Path,
    args: &[&str],
) -> Result<(), String> {
    let output = host
        .run(&compose_command(stack, dir, args))
        .await
        .map_err(|e| e.to_string())?;
    if output.success() {
        Ok(())
    } else {
        Err(format!(
            "`docker compose {}` failed: {}",
            args.join(" "),
            output.failure_reason()
        ))
    }
}

/// `; service web is unhealthy: <last log lines>` for every container not running healthy.
async fn failing_services(host: &dyn Host, stack: &ComposeStack) -> String {
    let Ok(inspection) = inspect(host, stack, false).await else {
        return String::new();
    };
    let mut text = String::new();
    for c in inspection
        .actual
        .containers
        .iter()
        .filter(|c| c.state != "running" || c.health.as_deref().is_some_and(|h| h != "healthy"))
    {
        let logs = host
            .run(&docker_command(stack, &["logs", "--tail", "10", &c.id]))
            .await
            .map(|o| {
                let mut all = o.stdout.clone();
                all.extend_from_slice(&o.stderr);
                crate::host::excerpt(&all)
            })
            .unwrap_or_default();
        let status = c.health.clone().unwrap_or_else(|| c.state.clone());
        text.push_str(&format!(
            "; service {} ({}) is {status}; its last log lines: {}",
            c.service,
            c.name,
            if logs.is_empty() {
                "(none)".into()
            } else {
                logs
            }
        ));
    }
    text
}

/// Puts the previous files back and (when there was a previous version) brings it up.
async fn restore(
    host: &dyn Host,
    stack: &ComposeStack,
    dir: &Path,
    model: &Model,
    previous: &[(String, Option<Vec<u8>>)],
    had_previous: bool,
    deadline: &Deadline,
) -> Result<(), Error> {
    if !had_previous {
        return Ok(());
    }
    for (relative, bytes) in previous {
        let path = dir.join(relative);
        match bytes {
            // The same modes the new version got: a restored secret stays 0600.
            Some(bytes) => {
                host.write_file(&path, bytes, &mode_of(relative, &path, model))
                    .await?
            }
            None => {
                host.remove_file(&path).await?;
            }
        }
    }
    let timeout = deadline
        .within(
            stack.wait_timeout().unwrap_or(Duration::from_secs(300)),
            "wait_timeout",
        )
        .remaining()
        .max(Duration::from_secs(1))
        .as_secs()
        .to_string();
    let command = compose_command(
        stack,
        dir,
        &[
            "up",
            "-d",
            "--remove-orphans",
            "--force-recreate",
            "--wait",
            "--wait-timeout",
            &timeout,
        ],
    );
    run_checked(host, &command).await?;
    Ok(())
}

/// `docker compose stop` or `restart` on the project as its directory declares it.
pub async fn compose_verb(host: &dyn Host, stack: &ComposeStack, verb: &str) -> Result<(), Error> {
    run_checked(host, &compose_command(stack, &stack.dir(), &[verb])).await?;
    Ok(())
}

/// `down` (named volumes kept unless `remove_volumes`), then the project directory removed.
pub async fn destroy(host: &dyn Host, stack: &ComposeStack) -> Result<(), Error> {
    let dir = stack.dir();
    let has_file = host.read_file(&dir.join(COMPOSE_FILE)).await?.is_some();
    let mut args: Vec<&str> = vec!["down", "--remove-orphans"];
    if stack.remove_volumes {
        args.push("--volumes");
    }
    let command = if has_file {
        compose_command(stack, &dir, &args)
    } else {
        // The files are gone: Compose finds the project's containers by its name alone.
        let mut argv = vec!["compose", "-p", stack.project.as_str()];
        argv.extend(args.iter().copied());
        docker_command(stack, &argv)
    };
    run_checked(host, &command).await?;
    if host.dir_exists(&dir).await? {
        remove_tree(host, &dir).await?;
    }
    Ok(())
}

/// One service as the state shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceState {
    pub state: String,
    pub health: Option<String>,
    pub image_id: String,
    pub containers: Vec<String>,
    /// The Compose configuration hash and the image the service was deployed with: what a
    /// refresh judges its containers by when no file changed since.
    pub config_hash: Option<String>,
    pub image: Option<String>,
}

/// Per service: its containers' state, health, image and names.
pub fn services(containers: &[Container]) -> BTreeMap<String, ServiceState> {
    let mut found: BTreeMap<String, ServiceState> = BTreeMap::new();
    for c in containers {
        let entry = found
            .entry(c.service.clone())
            .or_insert_with(|| ServiceState {
                state: c.state.clone(),
                health: c.health.clone(),
                image_id: c.image_id.clone(),
                containers: Vec::new(),
                config_hash: c.config_hash.clone(),
                image: c.image.clone(),
            });
        entry.containers.push(c.name.clone());
    }
    found
}

/// A project started by hand, found by name: its directory (the containers' working-dir
/// label), compose file and `.env`, as a stack to manage from now on.
pub async fn adopt(
    host: &dyn Host,
    project: &str,
    docker_host: Option<String>,
) -> Result<ComposeStack, Error> {
    let mut probe: ComposeStack = ComposeStack {
        project: project.to_string(),
        compose: String::new(),
        env: BTreeMap::new(),
        files: BTreeMap::new(),
        project_dir: None,
        pull: Pull::Missing.as_str().into(),
        wait: true,
        wait_timeout: "5m".into(),
        remove_volumes: false,
        docker_host,
    };
    let found = inspect(host, &probe, false).await?;
    let dir = found
        .actual
        .working_dir()
        .map(str::to_string)
        .ok_or_else(|| {
            compose_error(
                &probe,
                format!("no containers of project {project} on {}", host.name()),
            )
        })?;
    if Path::new(&dir) != probe.dir() {
        probe.project_dir = Some(dir.clone());
    }
    let compose = host
        .read_file(&Path::new(&dir).join(COMPOSE_FILE))
        .await?
        .ok_or_else(|| compose_error(&probe, format!("{dir}/{COMPOSE_FILE} does not exist; only projects with a compose.yaml in their directory can be imported")))?;
    probe.compose = String::from_utf8_lossy(&compose).into_owned();
    if let Some(env) = host.read_file(&Path::new(&dir).join(ENV_FILE)).await? {
        for line in String::from_utf8_lossy(&env).lines() {
            if let Some((name, value)) = line.split_once('=') {
                if !name.trim_start().starts_with('#') {
                    probe
                        .env
                        .insert(name.trim().to_string(), Secret::new(value));
                }
            }
        }
    }
    // The files the services read from inside the project directory (bind-mounted files,
    // configs, secrets) are the stack's `files`; mounted directories are data, not adopted.
    if let Some(Ok(model)) = inspect(host, &probe, true).await?.model {
        let base = PathBuf::from(&dir);
        let mut reads: Vec<&PathBuf> = model
            .services
            .values()
            .flat_map(|s| s.reads.iter())
            .collect();
        reads.sort();
        reads.dedup();
        for path in reads {
            let Ok(relative) = path.strip_prefix(&base) else {
                continue;
            };
            let relative = relative.display().to_string();
            if relative == COMPOSE_FILE || relative == ENV_FILE {
                continue;
            }
            // A directory (or nothing) there is not a file to adopt.
            if let Ok(Some(bytes)) = host.read_file(path).await {
                if let Ok(text) = String::from_utf8(bytes) {
                    probe.files.insert(relative, Secret::new(text));
                }
            }
        }
    }
    Ok(probe)
}
