//! `homelab_backup_job` with real restic 0.14 on SSH namespace hosts: backups that restore
//! byte for byte, a failed dump that leaves no snapshot and alerts, missing paths, stale
//! locks after kill -9 and SIGTERM, a wrong password or an unreachable repository never
//! initialised over, retention on a fixture, units that `systemd-analyze verify` accepts,
//! a cron entry a real cron daemon runs, and secrets nowhere but the 0600 files.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acceptance_tests::hcl::SshProvider;
use acceptance_tests::procs::wait_for;
use acceptance_tests::ssh_hosts::SshHost;
use acceptance_tests::Workspace;
use serde_json::Value as Json;

const PASSWORD: &str = "restic-pw-s3cr3t";
const HEARTBEAT_SECRET: &str = "hc-uuid-s3cr3t";
const JOB: &str = "homelab_backup_job.files";

/// A healthchecks.io stand-in: records `METHOD path` and the body of every ping.
#[derive(Clone, Default)]
struct Heartbeats(Arc<Mutex<Vec<(String, String)>>>);

impl Heartbeats {
    fn serve(ip: &str) -> (Self, String) {
        let listener = TcpListener::bind((ip, 0)).expect("bind");
        let url = format!(
            "http://{}/ping/{HEARTBEAT_SECRET}",
            listener.local_addr().unwrap()
        );
        let seen = Heartbeats::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&data).into_owned();
                let line = text.lines().next().unwrap_or_default();
                let mut words = line.split_whitespace();
                let entry = format!(
                    "{} {}",
                    words.next().unwrap_or(""),
                    words.next().unwrap_or("")
                );
                let body = text
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_string())
                    .unwrap_or_default();
                record.0.lock().unwrap().push((entry, body));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
                );
            }
        });
        (seen, url)
    }

    fn paths(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _)| {
                e.split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    fn bodies(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// Runs restic against `repo` with the job's password, returning stdout (panics on failure).
fn restic(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("restic")
        .args(["-r"])
        .arg(repo)
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("RESTIC_CACHE_DIR", repo.with_extension("cache"))
        .output()
        .expect("restic");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn snapshots(repo: &Path) -> Vec<Json> {
    serde_json::from_str::<Json>(&restic(repo, &["snapshots", "--json", "--no-lock"]))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn sha256_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    lab::files::sha256_hex(&bytes),
                );
            }
        }
    }
    out
}

struct Lab {
    host: SshHost,
    data: PathBuf,
    repo: PathBuf,
    dirs: PathBuf,
    heartbeats: Heartbeats,
    heartbeat_url: String,
}

fn lab() -> Lab {
    let host = SshHost::start();
    let data = host.dir.join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(
        data.join("sub/b.bin"),
        (0..=255u8).cycle().take(70_000).collect::<Vec<_>>(),
    )
    .unwrap();
    let dirs = host.dir.join("etc");
    for d in ["backup", "cron.d", "systemd", "metrics"] {
        std::fs::create_dir_all(dirs.join(d)).unwrap();
    }
    let repo = host.dir.join("repo");
    let (heartbeats, heartbeat_url) = Heartbeats::serve(&host.host_side_address);
    Lab {
        host,
        data,
        repo,
        dirs,
        heartbeats,
        heartbeat_url,
    }
}

impl Lab {
    fn workspace(&self) -> Workspace {
        let mut ws = Workspace::new();
        let known = ws.path().join("known_hosts");
        std::fs::copy(&self.host.known_hosts, &known).unwrap();
        ws.var("key", self.host.client_private_key());
        ws.var("known_hosts", known.display().to_string());
        ws.var("password", PASSWORD);
        ws.var("heartbeat", self.heartbeat_url.clone());
        ws
    }

    /// A job over the data directory and one dump, on cron (the namespace host has no
    /// systemd), with `extra` HCL arguments.
    fn hcl(&self, dump: &str, extra: &str) -> String {
        let d = |name: &str| self.dirs.join(name).display().to_string();
        format!(
            r#"{head}resource "homelab_backup_job" "files" {{
  host {{
    address = "{address}"
    user    = "root"
  }}
  name          = "files"
  repository    = "{repo}"
  password      = var.password
  paths         = ["{data}"]
  dumps         = [{{ name = "db.sql", command = {dump} }}]
  schedule      = "*-*-* 02:30:00"
  heartbeat_url = var.heartbeat
  metrics_dir   = "{metrics}"
  config_dir    = "{config}"
  cron_dir      = "{cron}"
  systemd_dir   = "{systemd}"
  run_now       = true
  {extra}
}}
"#,
            head = SshProvider {
                secrets: &["password", "heartbeat"],
                ..SshProvider::default()
            }
            .hcl(),
            address = self.host.address,
            repo = self.repo.display(),
            data = self.data.display(),
            metrics = d("metrics"),
            config = d("backup"),
            cron = d("cron.d"),
            systemd = d("systemd"),
        )
    }

    /// The job's script run on the host as its scheduler runs it: `job.sh ACTION`.
    fn job(&self, action: &str) -> Command {
        let script = self.dirs.join("backup/files/job.sh");
        let mut command = self.host.in_netns(script.to_str().unwrap());
        command.arg(action);
        command
    }

    fn metrics(&self) -> String {
        std::fs::read_to_string(self.dirs.join("metrics/restic_files.prom")).unwrap_or_default()
    }
}

const GOOD_DUMP: &str = r#"["sh", "-c", "printf 'CREATE TABLE t;\n'; head -c 5000 /dev/zero"]"#;

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_job_backs_up_restores_byte_identical_and_shows_drift() {
    let lab = lab();
    let mut ws = lab.workspace();
    ws.config(&lab.hcl(GOOD_DUMP, r#"retention = { keep_last = 3 }"#));
    let output = ws.apply();
    for secret in [PASSWORD, HEARTBEAT_SECRET] {
        assert!(!output.contains(secret), "{secret} printed by apply");
    }
    let state = ws.resource(JOB).unwrap();
    assert_eq!(state["scheduler_used"], "cron");
    // Two snapshots: the paths and the dump.
    let snaps = snapshots(&lab.repo);
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    assert!(state["last_snapshot_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));

    // Restored byte for byte: every file, and the dump.
    let target = lab.host.dir.join("restored");
    restic(
        &lab.repo,
        &[
            "restore",
            "latest",
            "--path",
            lab.data.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    let restored = target.join(lab.data.strip_prefix("/").unwrap());
    assert_eq!(sha256_tree(&restored), sha256_tree(&lab.data));
    let dump = Command::new("restic")
        .arg("-r")
        .arg(&lab.repo)
        .args([
            "dump",
            "--no-lock",
            "latest",
            "/db.sql",
            "--path",
            "/db.sql",
        ])
        .env("RESTIC_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let mut expected = b"CREATE TABLE t;\n".to_vec();
    expected.extend(std::iter::repeat_n(0u8, 5000));
    assert_eq!(
        dump.stdout, expected,
        "the dump restores as it was streamed"
    );

    // The heartbeat and the metrics saw a success.
    assert_eq!(lab.heartbeats.paths(), ["start", HEARTBEAT_SECRET]);
    let metrics = lab.metrics();
    assert_eq!(
        metric(&metrics, "restic_backup_exit_code"),
        Some(0.0),
        "{metrics}"
    );
    assert!(metric(&metrics, "restic_backup_last_success_timestamp_seconds").is_some());
    assert_eq!(metric(&metrics, "restic_snapshots_total"), Some(2.0));

    // The cron entry and the units: no secret in them, the secret files 0600.
    let cron = std::fs::read_to_string(lab.dirs.join("cron.d/tabiri-backup-files")).unwrap();
    assert!(cron.contains("30 2 * * * root nice -n 19"), "{cron}");
    let job_dir = lab.dirs.join("backup/files");
    for (file, mode) in [("password", 0o600), ("env", 0o600), ("job.sh", 0o700)] {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(job_dir.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(m, mode, "{file}");
    }
    for public in [
        cron.clone(),
        std::fs::read_to_string(job_dir.join("job.sh")).unwrap(),
        metrics.clone(),
    ] {
        assert!(!public.contains(PASSWORD) && !public.contains(HEARTBEAT_SECRET));
    }

    ws.expect_empty_plan();
    // The job's snapshots, as the data source reads them on the host.
    let with_data = format!(
        "{}\ndata \"homelab_backup_snapshots\" \"files\" {{\n  host {{\n    address = \"{}\"\n    user    = \"root\"\n  }}\n  name       = \"files\"\n  config_dir = \"{}\"\n}}\noutput \"latest\" {{ value = data.homelab_backup_snapshots.files.latest_id }}\noutput \"count\" {{ value = length(data.homelab_backup_snapshots.files.snapshots) }}\n",
        lab.hcl(GOOD_DUMP, r#"retention = { keep_last = 3 }"#),
        lab.host.address,
        lab.dirs.join("backup").display()
    );
    ws.config(&with_data);
    ws.apply();
    assert_eq!(ws.output("count"), serde_json::json!(2));
    let newest = snapshots(&lab.repo)
        .iter()
        .max_by_key(|s| s["time"].as_str().unwrap_or("").to_string())
        .map(|s| s["id"].clone())
        .unwrap();
    assert_eq!(ws.output("latest"), newest);
    ws.config(&lab.hcl(GOOD_DUMP, r#"retention = { keep_last = 3 }"#));
    // Drift: the script edited by hand, then the cron entry removed.
    std::fs::write(job_dir.join("job.sh"), "#!/bin/bash\nexit 0\n").unwrap();
    ws.expect_plan(JOB, &["update"]);
    ws.apply();
    ws.expect_empty_plan();
    std::fs::remove_file(lab.dirs.join("cron.d/tabiri-backup-files")).unwrap();
    ws.expect_plan(JOB, &["update"]);
    ws.apply();
    ws.expect_empty_plan();
    assert_eq!(snapshots(&lab.repo).len(), 6, "run_now ran on each apply");
    // Retention: keep_last = 3 per kind (paths, dump) after the last run.
    ws.config(&lab.hcl(GOOD_DUMP, r#"retention = { keep_last = 1 }"#));
    ws.apply();
    assert_eq!(
        snapshots(&lab.repo).len(),
        2,
        "keep_last = 1 for each of paths and dump"
    );

    // Import, then an empty plan (but for the sensitive values an import records once).
    ws.state_rm(JOB);
    ws.import(
        JOB,
        &format!("root@{}:{}", lab.host.address, job_dir.display()),
    );
    let changes = ws.plan_changes();
    assert!(
        changes.iter().all(|c| c.actions == ["update"]),
        "{changes:?}"
    );
    ws.apply();
    ws.expect_empty_plan();

    // Secrets at TF_LOG=trace.
    ws.env("TF_LOG", "trace");
    let traced = ws.run(&["plan", "-no-color", "-input=false"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&traced.stdout),
        String::from_utf8_lossy(&traced.stderr)
    );
    assert!(
        !text.contains(PASSWORD) && !text.contains(HEARTBEAT_SECRET),
        "a secret in the trace log"
    );

    // Destroy removes the job and its schedule, and leaves the repository.
    let before = snapshots(&lab.repo).len();
    ws.destroy();
    assert!(!job_dir.exists(), "the job's directory is gone");
    assert!(!lab.dirs.join("cron.d/tabiri-backup-files").exists());
    assert_eq!(
        snapshots(&lab.repo).len(),
        before,
        "destroy never deletes data"
    );
}

#[test]
fn a_failed_dump_fails_the_job_leaves_no_snapshot_and_alerts() {
    let lab = lab();
    let ws = lab.workspace();
    ws.config(&lab.hcl(r#"["sh", "-c", "echo half a dump; exit 3"]"#, ""));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("The first backup (run_now) failed") && text.contains("dump db.sql exited 3"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD));
    // The job exists (tainted), so a later apply or destroy finishes it.
    assert!(ws.resource(JOB).is_some());
    assert!(
        snapshots(&lab.repo).is_empty(),
        "no snapshot of the failed run remains"
    );
    assert_eq!(lab.heartbeats.paths(), ["start", "fail"]);
    assert!(
        lab.heartbeats.bodies().contains("dump db.sql exited 3"),
        "the log's tail went with /fail"
    );
    let metrics = lab.metrics();
    assert_eq!(
        metric(&metrics, "restic_backup_exit_code"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "restic_backup_last_success_timestamp_seconds"),
        None
    );

    // A missing path fails too (restic itself would exit 0).
    lab.heartbeats.clear();
    std::fs::remove_dir_all(&lab.data).unwrap();
    ws.config(&lab.hcl(GOOD_DUMP, ""));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(text.contains("does not exist"), "{text}");
    ws.config(&lab.hcl(GOOD_DUMP, r#"missing_paths = "warn""#));
    ws.apply();

    // A restore drill over a damaged repository fails and alerts like a failed backup.
    std::fs::create_dir_all(&lab.data).unwrap();
    std::fs::write(lab.data.join("c.txt"), "charlie\n").unwrap();
    let ok = lab.job("backup").output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for pack in walk(&lab.repo.join("data")) {
        let mut bytes = std::fs::read(&pack).unwrap();
        // Every blob of the pack damaged (tree blobs are read from restic's cache; the
        // files' data is not).
        for i in (0..bytes.len()).step_by(256) {
            bytes[i] ^= 0xff;
        }
        std::fs::write(&pack, bytes).unwrap();
    }
    lab.heartbeats.clear();
    let drill = lab.job("restore-test").output().unwrap();
    assert!(
        !drill.status.success(),
        "a damaged snapshot passed the drill"
    );
    assert_eq!(lab.heartbeats.paths(), ["start", "fail"]);
    assert_eq!(
        metric(&lab.metrics(), "restic_restore_test_exit_code"),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &lab.metrics(),
            "restic_restore_test_last_success_timestamp_seconds"
        ),
        None
    );
    ws.destroy();
}

#[test]
fn locks_passwords_and_unreachable_repositories_are_handled_never_guessed() {
    let lab = lab();
    let ws = lab.workspace();
    // Retention: a prune needs the repository to itself, so a stale lock matters to it.
    ws.config(&lab.hcl(GOOD_DUMP, r#"retention = { keep_last = 5 }"#));
    ws.apply();
    for (round, signal) in ["KILL", "TERM"].into_iter().enumerate() {
        // New data each round, so the run is still reading when it is killed.
        let seed = 2654435761u32.wrapping_add(round as u32 * 7919);
        let big: Vec<u8> = (0..100_000_000u32)
            .map(|i| (i.wrapping_mul(seed) >> 24) as u8 ^ round as u8)
            .collect();
        std::fs::write(lab.data.join("big.bin"), big).unwrap();
        let mut run = lab.job("backup").spawn().unwrap();
        // Killed while it reads the data (its lock is taken before the first file).
        let pattern = format!("restic backup --json.*{}", lab.data.display());
        wait_for("restic reading the data", Duration::from_secs(30), || {
            Command::new("pgrep")
                .args(["-f", &pattern])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(drop)
        });
        // While it runs, no process on the machine carries a secret on its command line.
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline);
            assert!(
                !text.contains(PASSWORD) && !text.contains(HEARTBEAT_SECRET),
                "a secret in the process list: {}",
                text.replace('\0', " ")
            );
        }
        // Its lock file, read straight from the local repository (a restic command would
        // take a key derivation's time to answer).
        wait_for("restic's lock", Duration::from_secs(30), || {
            std::fs::read_dir(lab.repo.join("locks"))
                .ok()?
                .next()
                .map(drop)
        });
        let _ = Command::new("pkill")
            .args([&format!("-{signal}"), "-f", &pattern])
            .status();
        let _ = run.wait();
        assert!(
            !restic(&lab.repo, &["list", "locks", "--no-lock"])
                .trim()
                .is_empty(),
            "SIGKILL/SIGTERM left restic's lock"
        );
        let out = lab.job("backup").output().unwrap();
        assert!(
            out.status.success(),
            "the run after {signal}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("which is gone: removing it"));
        assert!(restic(&lab.repo, &["list", "locks", "--no-lock"])
            .trim()
            .is_empty());
    }
    // A wrong password: an error, never an init over the repository.
    let keys_before = restic(&lab.repo, &["key", "list", "--json", "--no-lock"]);
    ws.destroy();
    let mut wrong = lab.workspace();
    wrong.var("password", "not-the-password");
    wrong.config(&lab.hcl(GOOD_DUMP, ""));
    let text = wrong.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(text.contains("does not open the repository"), "{text}");
    assert_eq!(
        restic(&lab.repo, &["key", "list", "--json", "--no-lock"]),
        keys_before
    );
    // An unreachable repository: an error, and nothing initialised anywhere.
    let unreachable = lab.workspace();
    unreachable.config(&lab.hcl(GOOD_DUMP, "").replace(
        &format!("repository    = \"{}\"", lab.repo.display()),
        "repository    = \"s3:http://127.0.0.1:1/bucket/repo\"",
    ));
    let text = unreachable.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("cannot tell whether") && text.contains("not initialised"),
        "{text}"
    );
    unreachable.destroy();
    wrong.destroy();
}

#[test]
fn retention_keeps_exactly_what_it_says_on_a_dated_fixture() {
    let lab = lab();
    let ws = lab.workspace();
    // The repository with a week of daily snapshots made with --time, tagged as the job's.
    restic(&lab.repo, &["init", "-q"]);
    for day in 1..=7 {
        let time = format!("2026-11-{day:02} 03:00:00");
        restic(
            &lab.repo,
            &[
                "backup",
                "-q",
                "--tag",
                "tabiri-job:files",
                "--time",
                &time,
                lab.data.to_str().unwrap(),
            ],
        );
    }
    ws.config(&lab.hcl(GOOD_DUMP, r#"retention = { keep_daily = 3 }"#));
    ws.apply();
    let data = lab.data.display().to_string();
    let kept: Vec<String> = snapshots(&lab.repo)
        .iter()
        .filter(|s| s["paths"][0] == data.as_str())
        .map(|s| s["time"].as_str().unwrap()[..10].to_string())
        .collect();
    // Today's run and the two newest days of the fixture.
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(
        kept.contains(&"2026-11-07".to_string()) && kept.contains(&"2026-11-06".to_string()),
        "{kept:?}"
    );
    ws.destroy();
}

#[test]
fn units_verify_cron_runs_the_entry_and_no_scheduler_is_an_error() {
    let lab = lab();
    // The units as systemd would get them pass systemd-analyze verify with nothing to say.
    let job: lab::backup::BackupJob = serde_json::from_value(serde_json::json!({
        "name": "files", "repository": lab.repo, "password": PASSWORD,
        "paths": [lab.data], "schedule": "*-*-* 02:30:00",
        "check": {"schedule": "Sat *-*-* 05:00:00", "read_data_subset": "5%"},
        "restore_test": {"schedule": "Sun *-*-* 04:00:00", "sample": 5},
        "config_dir": lab.dirs.join("backup"), "systemd_dir": lab.dirs.join("systemd"),
    }))
    .unwrap();
    let files = lab::backup::render::files(&job, lab::backup::render::Scheduler::Systemd).unwrap();
    std::fs::create_dir_all(lab.dirs.join("backup/files")).unwrap();
    for f in &files {
        std::fs::write(&f.path, &f.bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(f.mode)).unwrap();
    }
    let units: Vec<&str> = files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.ends_with(".service") || p.ends_with(".timer"))
        .collect();
    assert_eq!(units.len(), 6);
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && String::from_utf8_lossy(&verify.stderr).trim().is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    std::fs::remove_dir_all(lab.dirs.join("backup/files")).unwrap();

    // A real cron daemon runs the entry (every minute), in the host's own mount namespace
    // with the job's cron directory as its /etc/cron.d.
    let ws = lab.workspace();
    ws.config(
        &lab.hcl(GOOD_DUMP, "")
            .replace("\"*-*-* 02:30:00\"", "\"minutely\"")
            .replace("run_now       = true", "run_now       = false"),
    );
    ws.apply();
    assert!(snapshots(&lab.repo).is_empty());
    // Its /etc/crontab empty too: the machine's own hourly and daily jobs must not run.
    let empty = lab.host.dir.join("crontab");
    std::fs::write(&empty, "").unwrap();
    for (from, to) in [
        (lab.dirs.join("cron.d"), "/etc/cron.d"),
        (empty, "/etc/crontab"),
    ] {
        let mounted = lab
            .host
            .in_sshd_mounts("mount")
            .arg("--bind")
            .arg(&from)
            .arg(to)
            .status()
            .unwrap();
        assert!(mounted.success(), "bind-mounting {to}");
    }
    let mut cron = lab
        .host
        .in_sshd_mounts("nsenter")
        .arg(format!("--net=/var/run/netns/{}", lab.host.netns))
        .args(["cron", "-f"])
        .spawn()
        .unwrap();
    wait_for("cron to run the backup", Duration::from_secs(150), || {
        (snapshots(&lab.repo).len() >= 2).then_some(())
    });
    let _ = cron.kill();
    let _ = cron.wait();
    ws.destroy();

    // No systemd and no cron directory: an error naming both, nothing written.
    let ws = lab.workspace();
    ws.config(&lab.hcl(GOOD_DUMP, "").replace(
        &lab.dirs.join("cron.d").display().to_string(),
        "/nonexistent/cron.d",
    ));
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("neither systemd") && text.contains("cron"),
        "{text}"
    );
    assert!(!lab.dirs.join("backup/files").exists());
}

/// Polls `GET path` on `addr` until `check` finds what it wants in the JSON answer.
fn wait_json(what: &str, addr: &str, path: &str, check: impl Fn(&Json) -> bool) {
    wait_for(what, Duration::from_secs(60), || {
        let (_, body) = acceptance_tests::http::get(addr, "localhost", path).ok()?;
        let json: Json = serde_json::from_str(&body).ok()?;
        check(&json).then_some(())
    });
}

#[test]
fn s3_backups_restore_drills_and_alerts_in_prometheus() {
    use acceptance_tests::procs::Background;
    use acceptance_tests::prometheus::{node_exporter, Prometheus};
    let lab = lab();
    let host = &lab.host;
    // moto (S3), node_exporter and Prometheus, all inside the host's namespace.
    let s3 = format!("{}:5000", host.address);
    let mut moto = host.in_netns(acceptance_tests::tool("moto_server").to_str().unwrap());
    moto.args(["-H", &host.address, "-p", "5000"]);
    let _moto = Background::spawn("moto_server", &mut moto, &host.dir.join("moto.log"));
    wait_for("moto in the namespace", Duration::from_secs(30), || {
        acceptance_tests::http::get(&s3, "localhost", "/moto-api/")
            .ok()
            .filter(|(s, _)| *s == 200)
    });
    let metrics_dir = lab.dirs.join("metrics");
    let exporter = format!("{}:9100", host.address);
    let _node = node_exporter(
        Some(host),
        &exporter,
        Some(&metrics_dir),
        &host.dir.join("node.log"),
    );
    let rules = host.dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: backups\n    rules:\n      - alert: BackupFailed\n        expr: restic_backup_exit_code != 0\n      - alert: BackupTooOld\n        expr: time() - restic_backup_last_success_timestamp_seconds > 90000\n",
    )
    .unwrap();
    let prometheus = format!("{}:9090", host.address);
    let _prom = Prometheus::start(
        Some(host),
        &prometheus,
        &host.dir.join("prometheus"),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{exporter}']\n",
            rules.display()
        ),
    );

    let repo = format!("s3:http://{s3}/backups/files");
    let mut ws = lab.workspace();
    ws.var("s3_secret", "aws-s3cr3t-key");
    let hcl =
        lab.hcl(
            GOOD_DUMP,
            r#"env = { AWS_ACCESS_KEY_ID = "lab", AWS_SECRET_ACCESS_KEY = var.s3_secret }
  restore_test = { schedule = "Sun *-*-* 04:00:00", sample = 2 }"#,
        )
        .replace(
            &format!("repository    = \"{}\"", lab.repo.display()),
            &format!("repository    = \"{repo}\""),
        ) + "variable \"s3_secret\" {\n  type      = string\n  sensitive = true\n}\n";
    ws.config(&hcl);
    let output = ws.apply();
    assert!(!output.contains("aws-s3cr3t-key"));
    // Restored from S3 byte for byte.
    let restic_s3 = |args: &[&str]| {
        let out = Command::new("restic")
            .args(["-r", &repo])
            .args(args)
            .env("RESTIC_PASSWORD", PASSWORD)
            .env("AWS_ACCESS_KEY_ID", "lab")
            .env("AWS_SECRET_ACCESS_KEY", "aws-s3cr3t-key")
            .env("RESTIC_CACHE_DIR", host.dir.join("cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let target = host.dir.join("from-s3");
    restic_s3(&[
        "restore",
        "latest",
        "--path",
        lab.data.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_eq!(
        sha256_tree(&target.join(lab.data.strip_prefix("/").unwrap())),
        sha256_tree(&lab.data)
    );

    // The restore drill passes and says so in the metrics.
    let drill = lab.job("restore-test").output().unwrap();
    assert!(
        drill.status.success(),
        "{}",
        String::from_utf8_lossy(&drill.stderr)
    );
    assert!(String::from_utf8_lossy(&drill.stderr).contains("2 files restored and identical"));
    assert!(metric(
        &lab.metrics(),
        "restic_restore_test_last_success_timestamp_seconds"
    )
    .is_some());
    wait_json(
        "Prometheus to scrape the job's metrics",
        &prometheus,
        "/api/v1/query?query=restic_snapshots_total",
        |j| j["data"]["result"][0]["value"][1] == "2",
    );

    // A failing run: the exit code metric fires the alert in Prometheus.
    std::fs::rename(&lab.data, host.dir.join("moved-away")).unwrap();
    let failed = lab.job("backup").output().unwrap();
    assert!(!failed.status.success());
    wait_json("BackupFailed to fire", &prometheus, "/api/v1/alerts", |j| {
        j["data"]["alerts"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["labels"]["alertname"] == "BackupFailed" && x["state"] == "firing")
        })
    });
    for file in std::fs::read_dir(lab.dirs.join("backup/files"))
        .unwrap()
        .flatten()
    {
        if file.file_name() == "env" || file.file_name() == "password" {
            continue;
        }
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        assert!(
            !text.contains("aws-s3cr3t-key") && !text.contains(PASSWORD),
            "{}",
            file.path().display()
        );
    }
    std::fs::rename(host.dir.join("moved-away"), &lab.data).unwrap();
    ws.destroy();
}

#[test]
fn an_sftp_repository_through_the_hosts_own_sshd_restores_byte_identical() {
    let lab = lab();
    let host = &lab.host;
    let remote = host.dir.join("sftp-repo");
    let repo = format!("sftp:root@{}:{}", host.address, remote.display());
    // restic's sftp backend runs ssh: the test host's client key and pinned host key.
    let ssh = format!(
        "sftp.command=ssh -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes root@{} -s sftp",
        host.client_key.display(),
        host.known_hosts.display(),
        host.address
    );
    let ws = lab.workspace();
    ws.config(
        &lab.hcl(GOOD_DUMP, &format!("options = [\"{ssh}\"]"))
            .replace(
                &format!("repository    = \"{}\"", lab.repo.display()),
                &format!("repository    = \"{repo}\""),
            ),
    );
    ws.apply();
    ws.expect_empty_plan();
    // The repository is on the far side of sftp; restored from there as a local path.
    let target = host.dir.join("from-sftp");
    restic(
        &remote,
        &[
            "restore",
            "latest",
            "--path",
            lab.data.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(
        sha256_tree(&target.join(lab.data.strip_prefix("/").unwrap())),
        sha256_tree(&lab.data)
    );
    ws.destroy();
    assert!(
        remote.join("config").exists(),
        "destroy leaves the repository"
    );
}

#[test]
fn bad_input_is_refused_at_plan_with_its_path_and_writes_nothing() {
    let lab = lab();
    let ws = lab.workspace();
    let cases: &[(&str, &str, &str)] = &[
        ("paths         = [\"", "paths         = [\"relative/", "is not an absolute path"),
        ("name          = \"files\"", "name          = \"a.b\"", "use lower-case letters"),
        ("schedule      = \"*-*-* 02:30:00\"", "schedule      = \"*-*-* 02:30:15\"\n  scheduler     = \"cron\"", "cron cannot schedule"),
        ("run_now       = true", "run_now       = true\n  retention     = { keep_last = 0 }", "must be 1 or more"),
        ("run_now       = true", "run_now       = true\n  check         = { schedule = \"daily\", read_data_subset = \"150%\" }", "read_data_subset"),
        ("repository    = \"", "repository    = \"rest:http://x/", "an absolute path, sftp:"),
    ];
    for (from, to, expected) in cases {
        let hcl = lab.hcl(GOOD_DUMP, "").replacen(from, to, 1);
        assert_ne!(
            hcl,
            lab.hcl(GOOD_DUMP, ""),
            "{from} not in the configuration"
        );
        ws.config(&hcl);
        let text = ws.fails(&["plan", "-no-color", "-input=false"]);
        // Terraform wraps the message: compare with the line breaks as spaces.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains(expected),
            "{to}\n--- expected {expected:?} in:\n{text}"
        );
    }
    assert!(
        !lab.dirs.join("backup/files").exists(),
        "a refused plan wrote something"
    );
    assert!(!lab.repo.exists());
}
