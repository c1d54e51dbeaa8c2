//! `netbird_bench`: `terraform plan` over a NetBird mesh of 50 enrolled peers (one SSH
//! namespace host each, the stand-in agent on it) and 10 groups, against the NetBird
//! management double (the acceptance-test harness: needs root).
//!
//! Reported: HTTP requests the provider sends per plan (target: at most the number of
//! NetBird resource types + 2, since each collection is read once and shared), and the
//! plan's wall time against the API reads a provider reading each object by ID would send
//! (one per peer, group and key), done serially with curl in the same run.
//!
//! `cargo run --release -p acceptance-tests --example netbird_bench [-- --peers N] [--check]`

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use acceptance_tests::netbird::NetbirdDouble;
use acceptance_tests::ssh_hosts::SshHost;
use acceptance_tests::stats::median;
use acceptance_tests::Workspace;

const GROUPS: usize = 10;
const RUNS: usize = 5;
/// group, setup key, peer.
const RESOURCE_TYPES: usize = 3;

fn hcl(hosts: &[(SshHost, acceptance_tests::netbird::Agent)]) -> String {
    let mut hcl = acceptance_tests::netbird::provider_hcl();
    hcl.push_str(
        r#"resource "homelab_netbird_setup_key" "lab" {
  name = "lab"
  type = "reusable"
}
"#,
    );
    for g in 0..GROUPS {
        hcl.push_str(&format!(
            "resource \"homelab_netbird_group\" \"g{g}\" {{ name = \"zone-{g}\" }}\n"
        ));
    }
    for (i, (host, _)) in hosts.iter().enumerate() {
        hcl.push_str(&format!(
            r#"resource "homelab_netbird_peer" "p{i}" {{
  host {{
    address = "{address}"
    user    = "root"
  }}
  setup_key = homelab_netbird_setup_key.lab.key
  name      = "peer-{i}"
  groups    = [homelab_netbird_group.g{g}.id]
}}
"#,
            address = host.address,
            g = i % GROUPS
        ));
    }
    hcl
}

/// The reads a provider without shared collections sends for one refresh, serially.
fn curl_reads(double: &NetbirdDouble, paths: &[String]) -> Duration {
    let started = Instant::now();
    for path in paths {
        let out = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-H"])
            .arg(format!("Authorization: Token {}", double.token))
            .arg(format!("{}{path}", double.url))
            .output()
            .expect("curl");
        assert!(out.status.success(), "curl {path} failed");
    }
    started.elapsed()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let peers: usize = args
        .iter()
        .position(|a| a == "--peers")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let double = NetbirdDouble::start();
    let started = Instant::now();
    let hosts: Vec<(SshHost, acceptance_tests::netbird::Agent)> = (0..peers)
        .map(|_| {
            let host = SshHost::start();
            let agent = double.install_agent(&host);
            (host, agent)
        })
        .collect();
    let public_key = hosts[0].0.client_key.with_extension("pub");
    let mut known = String::new();
    for (host, _) in &hosts {
        host.authorize(&public_key);
        known.push_str(&std::fs::read_to_string(&host.known_hosts).expect("known_hosts"));
    }
    println!(
        "netbird_bench: {peers} SSH hosts with agents in {:.1?}",
        started.elapsed()
    );
    let mut ws = Workspace::new();
    let known_file = ws.path().join("known_hosts");
    std::fs::write(&known_file, known).expect("known_hosts");
    ws.var("key", hosts[0].0.client_private_key());
    ws.var("known_hosts", known_file.display().to_string());
    ws.var("netbird_url", double.url.clone());
    ws.var("netbird_token", double.token.clone());
    ws.config(&hcl(&hosts));
    let started = Instant::now();
    ws.ok(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=10",
    ]);
    println!(
        "  apply from empty ({peers} enrolments, {GROUPS} groups): {:.1?}",
        started.elapsed()
    );

    let mut plan_times = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..RUNS {
        double.clear_requests();
        let started = Instant::now();
        let out = ws.ok(&[
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            "-parallelism=10",
        ]);
        plan_times.push(started.elapsed());
        assert!(out.contains("No changes"), "{out}");
        requests.push(double.requests().len());
    }
    let account = double.account();
    let ids = |kind: &str| -> Vec<String> {
        account[kind]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut by_id: Vec<String> = ids("peers")
        .into_iter()
        .map(|id| format!("/api/peers/{id}"))
        .collect();
    by_id.extend(
        ids("groups")
            .into_iter()
            .map(|id| format!("/api/groups/{id}")),
    );
    by_id.extend(
        ids("setup_keys")
            .into_iter()
            .map(|id| format!("/api/setup-keys/{id}")),
    );
    let curl_times: Vec<Duration> = (0..RUNS).map(|_| curl_reads(&double, &by_id)).collect();
    let plan = median(&plan_times);
    let curl = median(&curl_times);
    let most = *requests.iter().max().unwrap_or(&0);
    let target = RESOURCE_TYPES + 2;
    println!(
        "  terraform plan, nothing to change: median {plan:.2?} over {RUNS} runs; HTTP requests per plan {requests:?} (target <= {target}: {})",
        if most <= target { "met" } else { "MISSED" }
    );
    println!(
        "  the same objects read one by one with curl, serially: {} requests, median {curl:.2?}; plan / curl {:.2}",
        by_id.len(),
        plan.as_secs_f64() / curl.as_secs_f64()
    );
    println!("  (the plan also reads each agent's status over SSH: {peers} remote commands)");
    ws.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    double.assert_conforms();
    if check && most > target {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
