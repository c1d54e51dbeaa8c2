//! A backup job on a [`Host`]: read it back (one remote command), apply it (files, the
//! schedule, the repository initialised only when restic says there is none, the first
//! run when asked), run it, remove it (the repository stays: destroy never deletes data),
//! and adopt one for import.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde_json::Value as Json;

use super::render::{self, JobFile, Scheduler};
use super::restic::{self, Probe};
use super::BackupJob;
use crate::host::{run_checked, Command, FileMode, Host, Output};
use crate::secret::Secret;
use crate::Error;

/// One read of a job. Arguments: the cron directory, then `--` and the files to hash,
/// then `--` and the timers to ask systemd about. Writes nothing.
const READ_SCRIPT: &str = r#"set -u
cron_dir=$1 dir=$2
shift 2
echo @@detect
if [ -d /run/systemd/system ]; then echo systemd
elif { command -v cron || command -v crond; } >/dev/null 2>&1 && [ -d "$cron_dir" ]; then echo cron
else echo none; fi
echo @@files
[ "$1" = -- ] && shift
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  if [ -f "$1" ]; then echo "$(sha256sum < "$1" | cut -d' ' -f1) $1"; else echo "- $1"; fi
  shift
done
[ $# -gt 0 ] && shift
echo @@timers
for t in "$@"; do
  if [ -d /run/systemd/system ]; then echo "$t $(systemctl is-enabled "$t" 2>/dev/null || true)"; else echo "$t unknown"; fi
done
echo @@probe
if [ -x "$dir/job.sh" ]; then
  err=$("$dir/job.sh" probe 2>&1 >/dev/null); echo "$?"; printf '%s' "$err" | base64 -w0; echo
  echo @@snapshots
  "$dir/job.sh" snapshots 2>/dev/null || echo '[]'
else
  echo none
fi
"#;

/// A snapshot as `restic snapshots --json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub id: String,
    pub time: String,
    pub paths: Vec<String>,
    pub tags: Vec<String>,
}

/// What a read found.
#[derive(Debug, Clone)]
pub struct Found {
    /// What the host can run: systemd, cron, or neither.
    pub available: Option<Scheduler>,
    /// Each file of the job as it should be, with the hash of what is there.
    pub files: Vec<(String, Option<String>)>,
    pub markers: Vec<String>,
    /// `None` when the job's script is not on the host.
    pub probe: Option<Probe>,
    /// The job's snapshots, oldest first.
    pub snapshots: Vec<Snapshot>,
}

impl Found {
    /// The fingerprint of what the host has, comparable with
    /// [`render::desired_fingerprint`].
    pub fn fingerprint(&self) -> String {
        render::fingerprint(&self.files, &self.markers)
    }

    /// Whether anything of the job is on the host.
    pub fn exists(&self) -> bool {
        self.files.iter().any(|(_, sha)| sha.is_some())
    }

    pub fn latest(&self) -> Option<&Snapshot> {
        self.snapshots.last()
    }
}

fn host_error(host: &dyn Host, message: String) -> Error {
    Error::Host {
        host: host.name(),
        message,
    }
}

/// The scheduler a job uses on a host that offers `available`.
pub fn resolve(
    job: &BackupJob,
    available: Option<Scheduler>,
    host: &str,
) -> Result<Scheduler, Error> {
    match (job.scheduler.as_str(), available) {
        ("auto", Some(s)) => Ok(s),
        ("auto", None) => Err(Error::Host {
            host: host.to_string(),
            message: format!(
                "neither systemd (running as init) nor cron (a cron daemon and {}) is there to schedule backup job {}: install cron, or run the host under systemd",
                job.cron_dir, job.name
            ),
        }),
        (forced, _) => Scheduler::parse(forced).ok_or_else(|| Error::Invalid {
            what: "backup job".into(),
            errors: vec![crate::validation::FieldError::field("scheduler", "must be auto, systemd or cron")],
        }),
    }
}

/// Reads the job on the host: its files' hashes (for `scheduler`'s set of files), its
/// timers, the repository and the job's snapshots.
pub async fn inspect(
    host: &dyn Host,
    job: &BackupJob,
    scheduler: Option<Scheduler>,
) -> Result<Found, Error> {
    let scheduler_files = |s: Scheduler| render::files(job, s).map_err(|e| host_error(host, e));
    let wanted: Vec<JobFile> = match scheduler {
        Some(s) => scheduler_files(s)?,
        None => Vec::new(),
    };
    let timers = if scheduler == Some(Scheduler::Systemd) {
        render::timers(job)
    } else {
        Vec::new()
    };
    let mut argv = vec![
        "bash".to_string(),
        "-c".into(),
        READ_SCRIPT.into(),
        "read-backup-job".into(),
        job.cron_dir.clone(),
        job.dir(),
        "--".into(),
    ];
    argv.extend(wanted.iter().map(|f| f.path.clone()));
    if wanted.is_empty() {
        argv.push(format!("{}/job.sh", job.dir()));
    }
    argv.push("--".into());
    argv.extend(timers.iter().cloned());
    let output = run_checked(host, &Command::new(argv)).await?;
    parse_read(&String::from_utf8_lossy(&output.stdout), &timers, host)
}

fn parse_read(text: &str, timers: &[String], host: &dyn Host) -> Result<Found, Error> {
    let mut section = "";
    let mut found = Found {
        available: None,
        files: Vec::new(),
        markers: Vec::new(),
        probe: None,
        snapshots: Vec::new(),
    };
    let mut probe_lines: Vec<&str> = Vec::new();
    let mut snapshots = String::new();
    let mut enabled: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            section = match name {
                "detect" => "detect",
                "files" => "files",
                "timers" => "timers",
                "probe" => "probe",
                "snapshots" => "snapshots",
                _ => section,
            };
            continue;
        }
        match section {
            "detect" => found.available = Scheduler::parse(line.trim()),
            "files" => {
                if let Some((sha, path)) = line.split_once(' ') {
                    let sha = (sha != "-").then(|| sha.to_string());
                    found.files.push((path.to_string(), sha));
                }
            }
            "timers" => {
                if let Some((timer, state)) = line.split_once(' ') {
                    enabled.insert(timer.to_string(), state.trim().to_string());
                }
            }
            "probe" => probe_lines.push(line),
            "snapshots" => snapshots.push_str(line),
            _ => {}
        }
    }
    match probe_lines.as_slice() {
        [code, err, ..] => {
            let stderr = base64::engine::general_purpose::STANDARD
                .decode(err.trim())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            found.probe = Some(restic::probe(code.trim().parse().ok(), &stderr));
        }
        [code] if code.trim() == "none" => {}
        [code] => found.probe = Some(restic::probe(code.trim().parse().ok(), "")),
        [] => {}
    }
    found.markers.push(match &found.probe {
        Some(Probe::Exists) => "repository: exists".into(),
        Some(Probe::Missing) => "repository: missing".into(),
        Some(Probe::WrongPassword) => "repository: wrong password".into(),
        Some(Probe::Unclear(_)) => "repository: unclear".into(),
        None => "repository: no job".into(),
    });
    for timer in timers {
        let state = enabled.get(timer).map(String::as_str).unwrap_or("unknown");
        found.markers.push(format!("{timer}: {state}"));
    }
    if !snapshots.trim().is_empty() {
        let list: Json = serde_json::from_str(snapshots.trim())
            .map_err(|e| host_error(host, format!("restic snapshots gave no JSON ({e})")))?;
        let strings = |v: &Json| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut snapshots: Vec<Snapshot> = list
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|s| Snapshot {
                        id: s["id"].as_str().unwrap_or_default().to_string(),
                        time: s["time"].as_str().unwrap_or_default().to_string(),
                        paths: strings(&s["paths"]),
                        tags: strings(&s["tags"]),
                    })
                    .collect()
            })
            .unwrap_or_default();
        snapshots.sort_by(|a, b| a.time.cmp(&b.time));
        found.snapshots = snapshots;
    }
    Ok(found)
}

async fn systemctl(host: &dyn Host, args: &[&str]) -> Result<Output, Error> {
    let mut argv = vec!["systemctl"];
    argv.extend_from_slice(args);
    run_checked(host, &Command::new(argv)).await
}

/// Runs the job's script in `mode` (`backup`, `check`, `restore-test`) and returns what
/// it printed; a failed run is an error with the end of its log.
pub async fn run(host: &dyn Host, job: &BackupJob, mode: &str) -> Result<Output, Error> {
    let command = Command::new([format!("{}/job.sh", job.dir()), mode.to_string()]);
    let output = host.run(&command).await?;
    if output.success() {
        return Ok(output);
    }
    Err(Error::Backup {
        job: job.name.clone(),
        message: format!(
            "the {mode} run on {} failed ({}): {}",
            host.name(),
            output.status_text(),
            output.stderr_excerpt()
        ),
    })
}

/// What an apply did.
pub struct Applied {
    pub scheduler: Scheduler,
    pub found: Found,
    /// The first run's output, with `run_now`.
    pub first_run: Option<Result<Output, Error>>,
}

/// Brings the job on the host where it should be. `before` is the job as it was (its
/// files are removed where the new one has none: another scheduler, a dropped check).
pub async fn apply(
    host: &dyn Host,
    job: &BackupJob,
    before: Option<&BackupJob>,
) -> Result<Applied, Error> {
    let detected = inspect(host, job, None).await?;
    let scheduler = resolve(job, detected.available, &host.name())?;
    // Everything that can be refused is refused before anything is written.
    let files = render::files(job, scheduler).map_err(|e| Error::Backup {
        job: job.name.clone(),
        message: format!("cannot schedule it with {}: {e}", scheduler.as_str()),
    })?;
    if scheduler == Scheduler::Cron
        && detected.available != Some(Scheduler::Cron)
        && !host.dir_exists(Path::new(&job.cron_dir)).await?
    {
        return Err(host_error(
            host,
            format!("{} does not exist: is cron installed?", job.cron_dir),
        ));
    }
    host.ensure_dir(Path::new(&job.dir())).await?;
    if scheduler == Scheduler::Systemd {
        host.ensure_dir(Path::new(&job.systemd_dir)).await?;
    }
    for file in &files {
        let mode = FileMode {
            mode: file.mode,
            owner: None,
        };
        host.write_file(Path::new(&file.path), &file.bytes, &mode)
            .await?;
    }
    // Timers and files the job no longer has (another scheduler, a dropped check or drill).
    let keep: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let runtime = ["metrics.state", "lock", "cron.log"].map(|f| format!("{}/{f}", job.dir()));
    let mut stale_timers: Vec<String> = Vec::new();
    for old in std::iter::once(job).chain(before) {
        for path in render::all_paths(old) {
            if keep.contains(&path.as_str()) || runtime.contains(&path) {
                continue;
            }
            if path.ends_with(".timer") && detected.available == Some(Scheduler::Systemd) {
                if let Some(name) = path.rsplit('/').next() {
                    stale_timers.push(name.to_string());
                }
            }
            host.remove_file(Path::new(&path)).await?;
        }
    }
    if scheduler == Scheduler::Systemd {
        for timer in &stale_timers {
            // Already gone or never enabled is fine.
            let _ = host
                .run(&Command::new([
                    "systemctl",
                    "disable",
                    "--now",
                    timer.as_str(),
                ]))
                .await;
        }
        systemctl(host, &["daemon-reload"]).await?;
        let timers = render::timers(job);
        let mut args = vec!["enable", "--now"];
        args.extend(timers.iter().map(String::as_str));
        systemctl(host, &args).await?;
    }
    ensure_repository(host, job).await?;
    let first_run = if job.run_now {
        Some(run(host, job, "backup").await)
    } else {
        None
    };
    let found = inspect(host, job, Some(scheduler)).await?;
    Ok(Applied {
        scheduler,
        found,
        first_run,
    })
}

/// Initialises the repository only when restic answers that there is none; a wrong
/// password, an unreachable repository or anything unclear is an error.
pub async fn ensure_repository(host: &dyn Host, job: &BackupJob) -> Result<(), Error> {
    let script = format!("{}/job.sh", job.dir());
    let probe = host.run(&Command::new([script.as_str(), "probe"])).await?;
    match restic::probe(probe.status, &String::from_utf8_lossy(&probe.stderr)) {
        Probe::Exists => Ok(()),
        Probe::Missing => {
            let init = host.run(&Command::new([script.as_str(), "init"])).await?;
            if init.success() {
                // A new repository holds no snapshot: the first run's count needs no query.
                let state = format!("{}/metrics.state", job.dir());
                let mode = FileMode {
                    mode: 0o600,
                    owner: None,
                };
                host.write_file(Path::new(&state), b"restic_snapshots_total 0\n", &mode)
                    .await
            } else {
                Err(Error::Backup {
                    job: job.name.clone(),
                    message: format!("restic init of {} failed: {}", job.repository, init.failure_reason()),
                })
            }
        }
        Probe::WrongPassword => Err(Error::Backup {
            job: job.name.clone(),
            message: format!(
                "the password does not open the repository {} (restic: wrong password or no key found); it was not initialised again",
                job.repository
            ),
        }),
        Probe::Unclear(words) => Err(Error::Backup {
            job: job.name.clone(),
            message: format!(
                "cannot tell whether {} holds a repository, so it was not initialised: {words}",
                job.repository
            ),
        }),
    }
}

/// Removes the job from the host: its timers or cron entry and its directory. The
/// repository and its snapshots stay.
pub async fn destroy(host: &dyn Host, job: &BackupJob) -> Result<(), Error> {
    let detected = inspect(host, job, None).await?;
    if detected.available == Some(Scheduler::Systemd) {
        for timer in render::timers(job) {
            let _ = host
                .run(&Command::new([
                    "systemctl",
                    "disable",
                    "--now",
                    timer.as_str(),
                ]))
                .await;
        }
    }
    for path in render::all_paths(job) {
        host.remove_file(Path::new(&path)).await?;
    }
    run_checked(
        host,
        &Command::new(["rmdir", "--ignore-fail-on-non-empty", job.dir().as_str()]),
    )
    .await
    .map(drop)
    .or_else(|e| {
        // A directory already gone is fine.
        if e.to_string().contains("No such file") {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    if detected.available == Some(Scheduler::Systemd) {
        systemctl(host, &["daemon-reload"]).await?;
    }
    Ok(())
}

/// Undoes our own shell quoting (`'it'\''s'` and bare words), for the env file.
fn unquote(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    out.push(q);
                }
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The job named `name` on the host, for import: `job.json` with the secrets read back
/// from `password` and `env`.
pub async fn adopt(host: &dyn Host, config_dir: &str, name: &str) -> Result<BackupJob, Error> {
    super::check_name(name).map_err(|e| host_error(host, e))?;
    let dir = format!("{}/{name}", config_dir.trim_end_matches('/'));
    let read = |file: &str| format!("{dir}/{file}");
    let manifest = host
        .read_file(Path::new(&read("job.json")))
        .await?
        .ok_or_else(|| {
            host_error(
                host,
                format!("no backup job {name}: {dir}/job.json does not exist"),
            )
        })?;
    let mut job: BackupJob = serde_json::from_slice(&manifest)
        .map_err(|e| host_error(host, format!("{dir}/job.json is not a job ({e})")))?;
    let password = host
        .read_file(Path::new(&read("password")))
        .await?
        .unwrap_or_default();
    job.password = Secret::new(String::from_utf8_lossy(&password).into_owned());
    let env = host
        .read_file(Path::new(&read("env")))
        .await?
        .unwrap_or_default();
    for line in String::from_utf8_lossy(&env).lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.starts_with('#') {
            continue;
        }
        let value = Secret::new(unquote(value));
        match key {
            "RESTIC_REPOSITORY" => job.repository = value.expose().to_string(),
            "HEARTBEAT_URL" => job.heartbeat_url = Some(value),
            other => {
                job.env.insert(other.to_string(), value);
            }
        }
    }
    // What the declaration says about the first run is not on the host.
    job.run_now = false;
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_read_back_as_written() {
        for value in ["plain", "it's", "a b", "$(rm -rf /)", ""] {
            assert_eq!(unquote(&crate::host::shell_quote(value)), value);
        }
    }
}
