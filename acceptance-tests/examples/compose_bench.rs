//! `compose_bench`: Compose stacks against their peers, on an SSH namespace host with its
//! own Docker Engine (the acceptance-test harness: needs root, `scripts/setup.sh bench`
//! and the built collection).
//!
//! 1. Per-task wall time of `tabiri.homelab.compose_stack` against
//!    `community.docker.docker_compose_v2` (from the `ansible` 12 package) on the same
//!    unchanged two-service project, each managing its own copy, `--tasks` rounds (default
//!    20) interleaved in one play with the order rotating. Target: our median at most half
//!    of theirs.
//! 2. `terraform plan` refreshing 10 stacks on the host: remote commands per stack (sshd's
//!    log) and wall time against `docker compose ps` for each stack over one OpenSSH
//!    ControlMaster connection. The plan's share is its wall time minus the same plan with
//!    no stacks (Terraform's and the provider's start, the same for any plan). Target:
//!    at most 1.5x.
//!
//! `cargo run --release -p acceptance-tests --example compose_bench [-- --tasks N] [--check]`

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use acceptance_tests::ansible::Ansible;
use acceptance_tests::docker::DockerEngine;
use acceptance_tests::hcl::SshProvider;
use acceptance_tests::ssh_hosts::SshHost;
use acceptance_tests::stats::{count_in_file, median, median_p90};
use acceptance_tests::{repo_root, Workspace};
use serde_json::json;

const HOST: &str = "bench";
const STACKS: usize = 10;
const RUNS: usize = 5;
const MAX_TASK_RATIO: f64 = 0.5;
const MAX_PLAN_RATIO: f64 = 1.5;

fn compose(port: u16) -> String {
    format!(
        "services:\n  web:\n    image: tabiri-test/busybox:1\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/\"]\n    environment:\n      GREETING: ${{GREETING}}\n    ports:\n      - \"127.0.0.1:{port}:8080\"\n  worker:\n    image: tabiri-test/busybox:1\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n"
    )
}

/// Where the `ansible` package keeps its collections.
fn peer_collections() -> PathBuf {
    let lib = repo_root().join(".tools/venv-ansible12/lib");
    let python = std::fs::read_dir(&lib)
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("{} is missing: run `scripts/setup.sh bench`", lib.display()));
    python.join("site-packages")
}

fn task_bench(host: &SshHost, rounds: usize) -> Result<(Duration, Duration, f64), String> {
    let ours_dir = host.dir.join("stacks/ours");
    let theirs_dir = host.dir.join("stacks/theirs");
    std::fs::create_dir_all(&theirs_dir).map_err(|e| e.to_string())?;
    std::fs::write(theirs_dir.join("compose.yaml"), compose(18101)).map_err(|e| e.to_string())?;
    std::fs::write(theirs_dir.join(".env"), "GREETING=hello\n").map_err(|e| e.to_string())?;
    let ours = |name: String| {
        json!({"name": name, "tabiri.homelab.compose_stack": {
            "project": "ours", "project_dir": ours_dir.display().to_string(),
            "compose": compose(18100), "env": {"GREETING": "hello"}, "wait_timeout": "60s"}})
    };
    let theirs = |name: String| {
        json!({"name": name, "community.docker.docker_compose_v2": {
            "project_src": theirs_dir.display().to_string(), "project_name": "theirs",
            "state": "present", "wait": true, "wait_timeout": 60}})
    };
    let mut tasks = vec![ours("warm ours".into()), theirs("warm theirs".into())];
    for round in 0..rounds {
        if round % 2 == 0 {
            tasks.push(ours(format!("ours {round}")));
            tasks.push(theirs(format!("theirs {round}")));
        } else {
            tasks.push(theirs(format!("theirs {round}")));
            tasks.push(ours(format!("ours {round}")));
        }
    }
    let ansible = Ansible::new("2.19");
    let run = ansible
        .play(&[host.inventory_host(HOST)], json!(tasks))
        .also_collections(&peer_collections())
        .run();
    if !run.status.success() {
        return Err(format!("the play failed:\n{}", run.output()));
    }
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (side, name) in [(0, format!("ours {round}")), (1, format!("theirs {round}"))] {
            let result = run.ok(HOST, &name);
            if result.changed {
                return Err(format!(
                    "{name} changed an unchanged project: {}",
                    result.result
                ));
            }
            times[side].push(result.duration.ok_or("no duration")?);
        }
    }
    let (ours_m, ours_p90) = median_p90(&times[0]);
    let (theirs_m, theirs_p90) = median_p90(&times[1]);
    println!(
        "compose_stack per task, unchanged 2-service project, {rounds} rounds: ours median {ours_m:.1?} (p90 {ours_p90:.1?}), docker_compose_v2 median {theirs_m:.1?} (p90 {theirs_p90:.1?})"
    );
    let ratio = ours_m.as_secs_f64() / theirs_m.as_secs_f64();
    Ok((ours_m, theirs_m, ratio))
}

fn plan_config(host: &SshHost, stacks: usize) -> String {
    let mut hcl = SshProvider::default().hcl();
    for i in 0..stacks {
        hcl.push_str(&format!(
            r#"
resource "homelab_compose_stack" "s{i}" {{
  host {{
    address = "{address}"
  }}
  project     = "s{i}"
  project_dir = "{dir}/stacks/s{i}"
  compose     = <<-EOT
{compose}
EOT
  env = {{ GREETING = "hello" }}
}}
"#,
            address = host.address,
            dir = host.dir.display(),
            compose = compose(18110 + i as u16).replace("${", "$${"),
        ));
    }
    hcl
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn plan_bench(host: &SshHost) -> Result<(f64, Duration, Duration, f64), String> {
    let mut ws = Workspace::new();
    let known = ws.path().join("known_hosts");
    std::fs::copy(&host.known_hosts, &known).map_err(|e| e.to_string())?;
    ws.var("key", host.client_private_key());
    ws.var("known_hosts", known.display().to_string());
    ws.config(&plan_config(host, STACKS));
    ws.apply();
    ws.ok(&["plan", "-input=false"]);
    let mut plans = Vec::new();
    let before = count_in_file(&host.sshd_log, "Starting session: command");
    for _ in 0..RUNS {
        plans.push(timed(|| {
            ws.expect_empty_plan();
        }));
    }
    let commands = count_in_file(&host.sshd_log, "Starting session: command") - before;
    // expect_empty_plan runs `terraform plan` once per call.
    let per_stack = commands as f64 / (RUNS * STACKS) as f64;
    let mut empty = Workspace::new();
    empty.var("key", host.client_private_key());
    empty.var("known_hosts", known.display().to_string());
    empty.config(&plan_config(host, 0));
    empty.ok(&["plan", "-input=false"]);
    let mut baseline = Vec::new();
    for _ in 0..RUNS {
        baseline.push(timed(|| {
            empty.ok(&["plan", "-input=false"]);
        }));
    }
    // The peer: `docker compose ps` for each stack in sequence over one ControlMaster.
    let socket = host.dir.join("bench-cm.sock");
    let ssh = |extra: &[&str]| {
        let mut c = Command::new("ssh");
        c.args(host.ssh_common_args().split_whitespace())
            .args(["-i", &host.client_key.display().to_string()])
            .args(["-o", "ControlMaster=auto"])
            .arg("-o")
            .arg(format!("ControlPath={}", socket.display()))
            .args(["-o", "ControlPersist=60"])
            .arg(format!("root@{}", host.address))
            .args(extra);
        c
    };
    let warm = ssh(&["true"]).status().map_err(|e| e.to_string())?;
    if !warm.success() {
        return Err("OpenSSH cannot log in to the bench host".into());
    }
    let mut peer = Vec::new();
    for _ in 0..RUNS {
        peer.push(timed(|| {
            for i in 0..STACKS {
                let dir = host.dir.join(format!("stacks/s{i}"));
                let out = ssh(&[
                    "docker",
                    "compose",
                    "-p",
                    &format!("s{i}"),
                    "--project-directory",
                    &dir.display().to_string(),
                    "ps",
                ])
                .output()
                .expect("ssh");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }));
    }
    let _ = ssh(&["-O", "exit"]).status();
    ws.destroy();
    let (plan_m, base_m, peer_m) = (median(&plans), median(&baseline), median(&peer));
    let share = plan_m.saturating_sub(base_m);
    println!(
        "terraform plan of {STACKS} stacks: {plan_m:.1?} (median of {RUNS}); the same plan with no stacks {base_m:.1?}; the stacks' share {share:.1?}; docker compose ps x{STACKS} over one ControlMaster {peer_m:.1?}; remote commands per stack per plan {per_stack:.2}"
    );
    let ratio = share.as_secs_f64() / peer_m.as_secs_f64();
    Ok((per_stack, share, peer_m, ratio))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let rounds = args
        .iter()
        .position(|a| a == "--tasks")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let host = SshHost::start();
    let engine = DockerEngine::start(&host);
    let tasks = task_bench(&host, rounds);
    let plan = plan_bench(&host);
    drop(engine);
    let mut ok = true;
    match tasks {
        Ok((_, _, ratio)) => {
            let met = ratio <= MAX_TASK_RATIO;
            ok &= met;
            println!(
                "  ratio ours/docker_compose_v2 {ratio:.2} (target <= {MAX_TASK_RATIO}): {}",
                if met { "met" } else { "MISSED" }
            );
        }
        Err(e) => {
            ok = false;
            println!("compose_stack task bench failed: {e}");
        }
    }
    match plan {
        Ok((_, _, _, ratio)) => {
            let met = ratio <= MAX_PLAN_RATIO;
            ok &= met;
            println!(
                "  ratio plan share / docker compose ps {ratio:.2} (target <= {MAX_PLAN_RATIO}): {}",
                if met { "met" } else { "MISSED" }
            );
        }
        Err(e) => {
            ok = false;
            println!("plan bench failed: {e}");
        }
    }
    if check && !ok {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
