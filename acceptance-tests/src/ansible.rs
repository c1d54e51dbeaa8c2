//! Real `ansible-playbook` runs (ansible-core 2.19 and 2.18, from `scripts/setup.sh all`)
//! against the built `tabiri.homelab` collection, on [`crate::ssh_hosts`] hosts.
//!
//! Each run gets its own directory with an inventory, the playbook (written as JSON, which
//! is YAML), an `ansible.cfg` that shuts out the machine's own configuration, and a small
//! notification callback plugin that writes every task result and the recap as JSON lines,
//! with each result's wall time since its task started (for `examples/ansible_bench.rs`).
//! The human output of the default callback is kept too (`stdout`), so `--diff` and `-vvv`
//! output can be asserted on as users see it.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;

use serde_json::{json, Map, Value as Json};

use crate::repo_root;
use crate::ssh_hosts::InventoryHost;

/// The callback plugin: one JSON object per line into `$HOMELAB_RESULTS_FILE`. Works on
/// ansible-core 2.18 (`TaskResult._result`) and 2.19 (`CallbackTaskResult.result`).
/// `started`/`ended` are `time.monotonic()` at `v2_playbook_on_task_start` and when the
/// host's result arrived.
const CALLBACK_PLUGIN: &str = r#"
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: homelab_results
type: notification
short_description: write task results and the recap as JSON lines (acceptance tests)
description: Writes one JSON object per task result and per host recap to $HOMELAB_RESULTS_FILE.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'homelab_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = open(os.environ['HOMELAB_RESULTS_FILE'], 'a', encoding='utf-8')
        self._started = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.monotonic()

    def v2_playbook_on_handler_task_start(self, task):
        self._started[task._uuid] = time.monotonic()

    def _emit(self, record):
        self._out.write(json.dumps(record, default=str, sort_keys=True) + '\n')
        self._out.flush()

    def _task_result(self, status, result, ignore_errors=False):
        ended = time.monotonic()
        try:
            data = result.result
        except AttributeError:
            data = result._result
        host = getattr(result, 'host', None) or result._host
        task = getattr(result, 'task', None) or result._task
        self._emit({
            'event': 'task',
            'status': status,
            'ignore_errors': bool(ignore_errors or getattr(task, 'ignore_errors', False)),
            'host': host.get_name(),
            'task': task.get_name(),
            'action': task.action,
            'result': data,
            'started': self._started.get(task._uuid),
            'ended': ended,
        })

    def v2_runner_on_ok(self, result):
        self._task_result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task_result('failed', result, ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._task_result('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._task_result('unreachable', result)

    def v2_playbook_on_stats(self, stats):
        for host in sorted(stats.processed.keys()):
            self._emit({'event': 'recap', 'host': host, 'summary': stats.summarize(host)})
"#;

/// An installed ansible-core.
#[derive(Debug, Clone)]
pub struct Ansible {
    /// `2.19` or `2.18`.
    pub version: String,
    pub bin_dir: PathBuf,
}

impl Ansible {
    /// `2.19` (`.tools/venv`) or `2.18` (`.tools/venv-ansible218`).
    pub fn new(version: &str) -> Self {
        let venv = match version {
            "2.19" => "venv",
            "2.18" => "venv-ansible218",
            other => panic!("no ansible-core {other} here: use 2.19 or 2.18"),
        };
        let bin_dir = repo_root().join(".tools").join(venv).join("bin");
        assert!(
            bin_dir.join("ansible-playbook").exists(),
            "{} is missing: run `scripts/setup.sh all`",
            bin_dir.join("ansible-playbook").display()
        );
        Self {
            version: version.to_string(),
            bin_dir,
        }
    }

    /// Both versions the collection supports here: 2.19 and 2.18 (Semaphore's).
    pub fn all() -> Vec<Self> {
        vec![Self::new("2.19"), Self::new("2.18")]
    }

    /// A playbook with one play running `tasks` (a JSON array of task mappings) on
    /// `hosts`, without fact gathering.
    pub fn play(&self, hosts: &[InventoryHost], tasks: Json) -> Playbook<'_> {
        Playbook {
            ansible: self,
            hosts: hosts.to_vec(),
            tasks,
            check: false,
            diff: false,
            verbosity: 0,
            extra_vars: Map::new(),
            file: None,
            more_collections: None,
        }
    }

    /// An existing playbook file, run as Semaphore runs a repository's playbook: from
    /// `project_dir` (`ansible-playbook -i <inventory> <playbook>`), with the collections
    /// installed under `collections_path` instead of [`collections_path`].
    pub fn playbook_file(
        &self,
        project_dir: &Path,
        inventory: &Path,
        playbook: &str,
        collections_path: &Path,
    ) -> Playbook<'_> {
        Playbook {
            ansible: self,
            hosts: Vec::new(),
            tasks: Json::Null,
            check: false,
            diff: false,
            verbosity: 0,
            extra_vars: Map::new(),
            file: Some(PlaybookFile {
                project_dir: project_dir.to_path_buf(),
                inventory: inventory.to_path_buf(),
                playbook: playbook.to_string(),
                collections_path: collections_path.to_path_buf(),
            }),
            more_collections: None,
        }
    }
}

/// See [`Ansible::playbook_file`].
struct PlaybookFile {
    project_dir: PathBuf,
    inventory: PathBuf,
    playbook: String,
    collections_path: PathBuf,
}

/// The collection tarball under test: `$HOMELAB_COLLECTION` (absolute, or relative to the
/// repository root), or the newest
/// `dist/tabiri-homelab-*.tar.gz`.
pub fn collection_tarball() -> PathBuf {
    if let Some(path) = std::env::var_os("HOMELAB_COLLECTION") {
        // Relative to the repository root (cargo runs tests in the crate's directory).
        let path = repo_root().join(path);
        assert!(
            path.exists(),
            "HOMELAB_COLLECTION={} does not exist: run `make collection`",
            path.display()
        );
        return path;
    }
    let dist = repo_root().join("dist");
    let newest = std::fs::read_dir(&dist)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("tabiri-homelab-") && name.ends_with(".tar.gz")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok());
    match newest {
        Some(entry) => entry.path(),
        None => panic!(
            "no collection tarball in {}: run `make collection` \
             (scripts/build-collection.sh), or set HOMELAB_COLLECTION",
            dist.display()
        ),
    }
}

/// The directory to use as `ANSIBLE_COLLECTIONS_PATH`: the tarball installed once per
/// process, into `target/ansible-collections/<content hash>` (shared by test processes
/// and runs as long as the tarball does not change).
pub fn collections_path() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let tarball = collection_tarball();
        let bytes = std::fs::read(&tarball)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", tarball.display()));
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let root = repo_root().join("target/ansible-collections");
        let dir = root.join(format!("{:016x}", hasher.finish()));
        let installed = || {
            dir.join("ansible_collections/tabiri/homelab/MANIFEST.json")
                .exists()
        };
        if installed() {
            return dir;
        }
        std::fs::create_dir_all(&root).expect("target/ansible-collections");
        // Test processes start side by side: one installs while the others wait, since
        // concurrent ansible-galaxy runs share the configuration and cache written below.
        let lock = std::fs::File::create(root.join(".install.lock")).expect("install lock");
        lock.lock().expect("install lock");
        if installed() {
            return dir;
        }
        let staging = tempfile::Builder::new()
            .prefix(".install-")
            .tempdir_in(&root)
            .expect("staging dir");
        let galaxy = Ansible::new("2.19").bin_dir.join("ansible-galaxy");
        let config = root.join("ansible.cfg");
        std::fs::write(&config, "[defaults]\n").expect("ansible.cfg");
        let output = Command::new(&galaxy)
            .args(["collection", "install", "--force", "-p"])
            .arg(staging.path())
            .arg(&tarball)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_CONFIG", &config)
            // Galaxy's caches stay in the test's own tree, not in ~/.ansible.
            .env("ANSIBLE_HOME", root.join(".ansible-home"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", galaxy.display()));
        assert!(
            output.status.success(),
            "ansible-galaxy collection install {} failed:\n{}{}",
            tarball.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // Installs of older tarballs: drop those nobody can still be using.
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600));
            if stale && entry.path() != dir && entry.path().is_dir() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let staged = staging.keep();
        // Another test process may have installed the same tarball meanwhile.
        if std::fs::rename(&staged, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&staged);
        }
        assert!(
            dir.join("ansible_collections/tabiri/homelab").is_dir(),
            "the collection did not install into {}",
            dir.display()
        );
        dir
    })
}

/// One `ansible-playbook` invocation being put together.
pub struct Playbook<'a> {
    ansible: &'a Ansible,
    hosts: Vec<InventoryHost>,
    tasks: Json,
    check: bool,
    diff: bool,
    verbosity: u8,
    extra_vars: Map<String, Json>,
    file: Option<PlaybookFile>,
    /// More collection roots after ours (a benchmark peer's collections).
    more_collections: Option<PathBuf>,
}

impl Playbook<'_> {
    /// Also finds collections under `root` (a directory holding `ansible_collections/`).
    pub fn also_collections(mut self, root: &Path) -> Self {
        self.more_collections = Some(root.to_owned());
        self
    }

    /// `--check`
    pub fn check(mut self) -> Self {
        self.check = true;
        self
    }

    /// `--diff`
    pub fn diff(mut self) -> Self {
        self.diff = true;
        self
    }

    /// `-v` repeated `level` times.
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbosity = level;
        self
    }

    /// An extra variable (`-e @vars.json`).
    pub fn var(mut self, name: &str, value: impl Into<Json>) -> Self {
        self.extra_vars.insert(name.to_string(), value.into());
        self
    }

    /// Runs the playbook and collects what happened, whatever the exit status.
    pub fn run(self) -> RunResult {
        let dir = tempfile::Builder::new()
            .prefix("homelab-ansible-")
            .tempdir()
            .expect("temp dir");
        let path = dir.path();
        let write = |name: &str, text: &str| {
            std::fs::write(path.join(name), text)
                .unwrap_or_else(|e| panic!("cannot write {name}: {e}"))
        };

        let mut hosts = Map::new();
        for host in &self.hosts {
            hosts.insert(host.name.clone(), Json::Object(host.vars.clone()));
        }
        let inventory = json!({ "all": { "hosts": hosts } });
        write(
            "inventory.yml",
            &serde_json::to_string_pretty(&inventory).unwrap(),
        );
        let pattern: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        let play = json!([{
            "name": "acceptance",
            "hosts": pattern.join(":"),
            "gather_facts": false,
            "tasks": self.tasks,
        }]);
        write("play.yml", &serde_json::to_string_pretty(&play).unwrap());
        write("ansible.cfg", "[defaults]\n");
        write(
            "vars.json",
            &serde_json::to_string(&Json::Object(self.extra_vars.clone())).unwrap(),
        );
        std::fs::create_dir_all(path.join("callback_plugins")).expect("callback dir");
        write("callback_plugins/homelab_results.py", CALLBACK_PLUGIN);
        std::fs::create_dir_all(path.join("cp")).expect("control path dir");
        std::fs::create_dir_all(path.join("local_tmp")).expect("local tmp dir");
        let results_file = path.join("results.jsonl");

        let playbook = self.ansible.bin_dir.join("ansible-playbook");
        let mut command = Command::new(&playbook);
        command.current_dir(self.file.as_ref().map_or(path, |f| f.project_dir.as_path()));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ANSIBLE_") {
                command.env_remove(name);
            }
        }
        let mut args: Vec<String> = match &self.file {
            None => vec![
                "-i".into(),
                "inventory.yml".into(),
                "play.yml".into(),
                "-e".into(),
                "@vars.json".into(),
            ],
            Some(file) => {
                let mut args = vec![
                    "-i".into(),
                    file.inventory.display().to_string(),
                    file.playbook.clone(),
                ];
                if !self.extra_vars.is_empty() {
                    args.push("-e".into());
                    args.push(format!("@{}", path.join("vars.json").display()));
                }
                args
            }
        };
        if self.check {
            args.push("--check".into());
        }
        if self.diff {
            args.push("--diff".into());
        }
        if self.verbosity > 0 {
            args.push(format!("-{}", "v".repeat(self.verbosity as usize)));
        }
        command
            .args(&args)
            .env("ANSIBLE_CONFIG", path.join("ansible.cfg"))
            .env("ANSIBLE_COLLECTIONS_PATH", {
                let ours = match &self.file {
                    Some(file) => file.collections_path.as_path(),
                    None => collections_path(),
                };
                match &self.more_collections {
                    Some(more) => format!("{}:{}", ours.display(), more.display()),
                    None => ours.display().to_string(),
                }
            })
            .env("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "False")
            .env("ANSIBLE_HOST_KEY_CHECKING", "True")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_STDOUT_CALLBACK", "ansible.builtin.default")
            .env("ANSIBLE_CALLBACK_RESULT_FORMAT", "json")
            .env("ANSIBLE_CALLBACK_PLUGINS", path.join("callback_plugins"))
            .env("ANSIBLE_CALLBACKS_ENABLED", "homelab_results")
            .env("ANSIBLE_LOCAL_TEMP", path.join("local_tmp"))
            // Plugin caches and galaxy state in the run's own directory, never ~/.ansible.
            .env("ANSIBLE_HOME", path.join("ansible_home"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", path.join("cp"))
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "True")
            .env("HOMELAB_RESULTS_FILE", &results_file)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let started = std::time::Instant::now();
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", playbook.display()));
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let command_line = format!(
            "ansible-playbook {} ({})",
            args.join(" "),
            self.ansible.version
        );
        if std::env::var_os("ACC_VERBOSE").is_some() {
            eprintln!("$ {command_line} [{elapsed:.1?}]\n{stdout}{stderr}");
        }

        let mut tasks = Vec::new();
        let mut recap = BTreeMap::new();
        let lines = std::fs::read_to_string(&results_file).unwrap_or_default();
        for line in lines.lines().filter(|l| !l.trim().is_empty()) {
            let record: Json = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("callback wrote a bad line ({e}): {line}"));
            let host = record["host"].as_str().unwrap_or_default().to_string();
            match record["event"].as_str() {
                Some("task") => tasks.push(TaskResult::from_record(&record)),
                Some("recap") => {
                    recap.insert(host, Recap::from_summary(&record["summary"]));
                }
                _ => {}
            }
        }
        RunResult {
            status: output.status,
            stdout,
            stderr,
            recap,
            tasks,
            command: command_line,
            elapsed,
            dir,
        }
    }
}

/// One host's line of PLAY RECAP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recap {
    pub ok: u64,
    pub changed: u64,
    pub unreachable: u64,
    pub failed: u64,
    pub skipped: u64,
    pub rescued: u64,
    pub ignored: u64,
}

impl Recap {
    fn from_summary(summary: &Json) -> Self {
        let n = |key: &str| summary[key].as_u64().unwrap_or(0);
        Self {
            ok: n("ok"),
            changed: n("changed"),
            unreachable: n("unreachable"),
            failed: n("failures"),
            skipped: n("skipped"),
            rescued: n("rescued"),
            ignored: n("ignored"),
        }
    }
}

/// What one task did on one host.
#[derive(Debug, Clone)]
pub struct TaskResult {
    pub host: String,
    pub name: String,
    pub action: String,
    /// `ok`, `failed`, `skipped` or `unreachable`.
    pub status: String,
    /// Failed, but the task said `ignore_errors: true`.
    pub ignored: bool,
    pub changed: bool,
    pub msg: String,
    pub diff: Option<Json>,
    /// The whole result as callbacks see it (internal `_ansible_*` keys mostly removed).
    pub result: Json,
    /// Wall time from the task's start (`v2_playbook_on_task_start`) to this host's
    /// result, as the callback measured it with `time.monotonic()`.
    pub duration: Option<std::time::Duration>,
}

impl TaskResult {
    fn from_record(record: &Json) -> Self {
        let result = record["result"].clone();
        let status = record["status"].as_str().unwrap_or_default().to_string();
        let duration = match (record["started"].as_f64(), record["ended"].as_f64()) {
            (Some(started), Some(ended)) if ended >= started => {
                Some(std::time::Duration::from_secs_f64(ended - started))
            }
            _ => None,
        };
        Self {
            host: record["host"].as_str().unwrap_or_default().to_string(),
            name: record["task"].as_str().unwrap_or_default().to_string(),
            action: record["action"].as_str().unwrap_or_default().to_string(),
            ignored: record["ignore_errors"].as_bool().unwrap_or(false),
            changed: result["changed"].as_bool().unwrap_or(false),
            msg: match &result["msg"] {
                Json::String(s) => s.clone(),
                Json::Null => String::new(),
                other => other.to_string(),
            },
            diff: result.get("diff").cloned(),
            result,
            status,
            duration,
        }
    }

    pub fn failed(&self) -> bool {
        self.status == "failed"
    }
}

/// Everything one `ansible-playbook` run produced.
pub struct RunResult {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub recap: BTreeMap<String, Recap>,
    pub tasks: Vec<TaskResult>,
    /// The command line, for messages.
    pub command: String,
    pub elapsed: std::time::Duration,
    /// The run's directory (inventory, playbook, results); deleted with the result.
    pub dir: tempfile::TempDir,
}

impl RunResult {
    /// stdout and stderr together, for messages and for searching everything printed.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn context(&self) -> String {
        format!(
            "{} exited with {} after {:.1?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Panics with the whole output unless the run succeeded.
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{}", self.context());
        self
    }

    /// Panics with the whole output unless the run failed.
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.status.success(),
            "expected the playbook to fail\n{}",
            self.context()
        );
        self
    }

    /// The recap line of `host` (panics if the host did not run).
    pub fn recap(&self, host: &str) -> &Recap {
        self.recap
            .get(host)
            .unwrap_or_else(|| panic!("no recap for {host}\n{}", self.context()))
    }

    /// The result of the task called `name` on `host`.
    pub fn task(&self, host: &str, name: &str) -> &TaskResult {
        self.tasks
            .iter()
            .find(|t| t.host == host && t.name == name)
            .unwrap_or_else(|| {
                let seen: Vec<String> = self
                    .tasks
                    .iter()
                    .map(|t| format!("{}: {}", t.host, t.name))
                    .collect();
                panic!(
                    "no result for task {name:?} on {host}; seen: {seen:?}\n{}",
                    self.context()
                )
            })
    }

    /// Asserts the task ran without failing and returns it.
    pub fn ok(&self, host: &str, name: &str) -> &TaskResult {
        let task = self.task(host, name);
        assert_eq!(
            task.status,
            "ok",
            "task {name:?} on {host}: {}\n{}",
            task.result,
            self.context()
        );
        task
    }

    /// Asserts the task failed and returns it.
    pub fn failed(&self, host: &str, name: &str) -> &TaskResult {
        let task = self.task(host, name);
        assert!(
            task.failed(),
            "task {name:?} on {host} should have failed: {}\n{}",
            task.result,
            self.context()
        );
        task
    }
}
