//! `backup_bench`: a backup job's own overhead against bare `restic backup` of the same
//! 200 MB tree, in the same run (restic 0.14 from Debian).
//!
//! 1. Full backups: the job's `job.sh backup` and `restic backup` each into a fresh
//!    repository, alternating, `--rounds` times (default 6). Target: job <= 1.05x bare.
//! 2. Incremental backups of the unchanged tree into one repository, alternating, 5 times
//!    each. Target: job <= 1.2x bare.
//!
//! The job does what bare restic does not: the stale-lock check, the snapshot count for
//! its metrics, the metrics file, the flock. Both run on this machine (the job script is
//! the same on any host).
//!
//! `cargo run --release -p acceptance-tests --example backup_bench [-- --rounds N] [--check]`

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use acceptance_tests::stats::median;

const PASSWORD: &str = "bench-password";
const TREE_MB: usize = 200;
const MAX_FULL_RATIO: f64 = 1.05;
const MAX_INCREMENTAL_RATIO: f64 = 1.2;

/// 200 files of 1 MB, incompressible and the same on every run (xorshift).
fn make_tree(dir: &Path) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..TREE_MB {
        let sub = dir.join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        let mut bytes = Vec::with_capacity(1 << 20);
        while bytes.len() < 1 << 20 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.extend_from_slice(&state.to_le_bytes());
        }
        std::fs::write(sub.join(format!("f{i}.bin")), bytes).unwrap();
    }
}

/// `restic -r repo ARGS` with the bench's password and cache; panics when it fails.
fn restic(repo: &Path, cache: &Path, args: &[&std::ffi::OsStr]) {
    let out = Command::new("restic")
        .arg("-r")
        .arg(repo)
        .args(args)
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("RESTIC_CACHE_DIR", cache)
        .output()
        .expect("restic");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bare(repo: &Path, tree: &Path, cache: &Path) -> Duration {
    let started = Instant::now();
    let args = ["backup", "--json", "--tag", "tabiri-job:bench"].map(std::ffi::OsStr::new);
    let mut all: Vec<&std::ffi::OsStr> = args.to_vec();
    all.push(tree.as_os_str());
    restic(repo, cache, &all);
    started.elapsed()
}

fn init(repo: &Path, cache: &Path) {
    restic(repo, cache, &["init", "-q"].map(std::ffi::OsStr::new));
}

/// Sets the job up for `repo` as users get it (lab's apply on this machine: files, and
/// the repository initialised) and returns its script.
fn job(base: &Path, repo: &Path, tree: &Path, cache: &Path) -> PathBuf {
    let job: lab::backup::BackupJob = serde_json::from_value(serde_json::json!({
        "name": "bench", "repository": repo, "password": PASSWORD, "paths": [tree],
        "schedule": "daily", "scheduler": "cron",
        "env": {"RESTIC_CACHE_DIR": cache},
        "metrics_dir": base.join("metrics"),
        "config_dir": base.join("jobs"), "cron_dir": base.join("cron.d"),
    }))
    .unwrap();
    std::fs::create_dir_all(base.join("metrics")).unwrap();
    std::fs::create_dir_all(job.dir()).unwrap();
    std::fs::create_dir_all(base.join("cron.d")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(lab::backup::apply::apply(&lab::host::Local, &job, None))
        .unwrap_or_else(|e| panic!("setting the job up: {e}"));
    PathBuf::from(job.dir()).join("job.sh")
}

fn run_job(script: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(script).arg("backup").output().expect("job.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(6);
    let base = tempfile::Builder::new()
        .prefix("backup-bench-")
        .tempdir()
        .unwrap();
    let tree = base.path().join("tree");
    make_tree(&tree);
    println!("backup_bench: a {TREE_MB} MB tree of 1 MB incompressible files");

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let dir = base.path().join(format!("round{round}"));
        let (repo_job, repo_bare) = (dir.join("repo-job"), dir.join("repo-bare"));
        let cache = dir.join("cache");
        init(&repo_bare, &cache);
        let script = job(&dir, &repo_job, &tree, &cache);
        // Alternate which goes first, so neither always has the warmer page cache.
        if round % 2 == 0 {
            ours.push(run_job(&script));
            theirs.push(bare(&repo_bare, &tree, &cache));
        } else {
            theirs.push(bare(&repo_bare, &tree, &cache));
            ours.push(run_job(&script));
        }
        std::fs::remove_dir_all(&repo_bare).unwrap();
        if round + 1 < rounds {
            std::fs::remove_dir_all(&repo_job).unwrap();
        }
    }
    let full = median(&ours).as_secs_f64() / median(&theirs).as_secs_f64();
    println!(
        "  full: job median {:.2?}, bare restic {:.2?}: {full:.3}x (target <= {MAX_FULL_RATIO}: {})",
        median(&ours),
        median(&theirs),
        if full <= MAX_FULL_RATIO { "met" } else { "MISSED" }
    );

    // Incremental: the last round's job repository, unchanged tree.
    let dir = base.path().join(format!("round{}", rounds - 1));
    let repo = dir.join("repo-job");
    let cache = dir.join("cache");
    let script = dir.join("jobs/bench/job.sh");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..5 {
        if i % 2 == 0 {
            ours.push(run_job(&script));
            theirs.push(bare(&repo, &tree, &cache));
        } else {
            theirs.push(bare(&repo, &tree, &cache));
            ours.push(run_job(&script));
        }
    }
    let incremental = median(&ours).as_secs_f64() / median(&theirs).as_secs_f64();
    println!(
        "  incremental: job median {:.2?}, bare restic {:.2?}: {incremental:.3}x (target <= {MAX_INCREMENTAL_RATIO}: {})",
        median(&ours),
        median(&theirs),
        if incremental <= MAX_INCREMENTAL_RATIO { "met" } else { "MISSED" }
    );
    if check && (full > MAX_FULL_RATIO || incremental > MAX_INCREMENTAL_RATIO) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
