//! `ssh_bench`: what `terraform plan` costs over SSH. 50 `homelab_traefik_route`s spread
//! over 2 network-namespace hosts (made by the acceptance-test harness, so it needs root)
//! are applied once, then planned `--runs` times (default 5), each plan refreshing all 50
//! over SSH. In the same run:
//! - the same 50 routes on the local machine (no `host` block), planned as often: the plan's
//!   own cost, so `ssh plan - local plan` is the SSH share;
//! - OpenSSH doing the same 50 reads in sequence over one ControlMaster connection per host
//!   (`ssh -S sock host cat file`), the peer the SSH share is compared with.
//!
//! Printed per plan, counted in the hosts' sshd logs (`LogLevel VERBOSE`): SSH connections
//! opened per host (target: 1) and remote commands per route (target: at most 1); and the
//! ratio of medians SSH share / OpenSSH (target: at most 1.0). `--check` makes the exit
//! status 1 when a target is missed.
//!
//! `cargo run --release -p acceptance-tests --example ssh_bench [-- --runs N] [--check]`
//! (`make bench` runs it).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use acceptance_tests::hcl::SshProvider;
use acceptance_tests::ssh_hosts::SshHost;
use acceptance_tests::stats::{count_in_file as count, median};
use acceptance_tests::Workspace;

const ROUTES: usize = 50;

/// A directory on the shared filesystem for one host's routes.
fn routes_dir(base: &Path, name: &str) -> std::path::PathBuf {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).expect("routes dir");
    dir
}

fn config(hosts: &[(Option<&SshHost>, &Path)]) -> String {
    let mut hcl = SshProvider::default().hcl();
    for i in 0..ROUTES {
        let (host, dir) = hosts[i % hosts.len()];
        let host_block = host
            .map(|h| format!("host {{\n    address = \"{}\"\n  }}", h.address))
            .unwrap_or_default();
        hcl.push_str(&format!(
            "resource \"homelab_traefik_route\" \"r{i}\" {{\n  name = \"r{i}\"\n  config_dir = \"{}\"\n  \
             rule = \"Host(`r{i}.lab`)\"\n  entrypoints = [\"web\"]\n  servers = [\"http://127.0.0.1:1\"]\n  \
             {host_block}\n}}\n",
            dir.display()
        ));
    }
    hcl
}

fn timed_plan(ws: &Workspace) -> Result<Duration, String> {
    let started = Instant::now();
    let out = ws.run(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    let elapsed = started.elapsed();
    // 0: no changes. Anything else is not the refresh-only plan being measured.
    if out.status.code() != Some(0) {
        return Err(format!(
            "plan did not come out empty: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(elapsed)
}

/// One ControlMaster per host, then `files` read in sequence through them.
fn openssh_reads(
    hosts: &[&SshHost],
    files: &[(usize, String)],
    sock_dir: &Path,
) -> Result<Duration, String> {
    let base = |h: &SshHost| {
        let mut c = Command::new("ssh");
        c.arg("-i")
            .arg(&h.client_key)
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", h.known_hosts.display()));
        c
    };
    for (i, h) in hosts.iter().enumerate() {
        let status = base(h)
            .args(["-M", "-f", "-N", "-o", "ControlPersist=60"])
            .arg("-S")
            .arg(sock_dir.join(format!("cm{i}")))
            .arg(format!("root@{}", h.address))
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("ssh -M to {} failed", h.address));
        }
    }
    let started = Instant::now();
    for (i, file) in files {
        let h = hosts[*i];
        let out = base(h)
            .arg("-S")
            .arg(sock_dir.join(format!("cm{i}")))
            .arg(format!("root@{}", h.address))
            .args(["cat", file])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("ssh cat {file} failed"));
        }
    }
    let elapsed = started.elapsed();
    for (i, h) in hosts.iter().enumerate() {
        let _ = base(h)
            .args(["-O", "exit", "-S"])
            .arg(sock_dir.join(format!("cm{i}")))
            .arg(format!("root@{}", h.address))
            .output();
    }
    Ok(elapsed)
}

fn bench(runs: usize) -> Result<bool, String> {
    let a = SshHost::start();
    let b = SshHost::start();
    b.authorize(&a.client_key.with_extension("pub"));
    let hosts = [&a, &b];

    let mut remote = Workspace::new();
    let known_hosts = remote.path().join("known_hosts");
    let text = std::fs::read_to_string(&a.known_hosts).unwrap()
        + &std::fs::read_to_string(&b.known_hosts).unwrap();
    std::fs::write(&known_hosts, text).unwrap();
    remote.var("key", a.client_private_key());
    remote.var("known_hosts", known_hosts.display().to_string());
    let dir_a = routes_dir(&a.dir, "routes");
    let dir_b = routes_dir(&b.dir, "routes");
    remote.config(&config(&[(Some(&a), &dir_a), (Some(&b), &dir_b)]));
    remote.ok(&["apply", "-auto-approve", "-input=false"]);

    let mut local = Workspace::new();
    local.var("key", a.client_private_key());
    local.var("known_hosts", known_hosts.display().to_string());
    let local_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    local.config(&config(&[(None, local_dir.path())]));
    local.ok(&["apply", "-auto-approve", "-input=false"]);

    let files: Vec<(usize, String)> = (0..ROUTES)
        .map(|i| {
            let dir = if i % 2 == 0 { &dir_a } else { &dir_b };
            (i % 2, dir.join(format!("r{i}.toml")).display().to_string())
        })
        .collect();
    let sock_dir = tempfile::tempdir().map_err(|e| e.to_string())?;

    let (mut ssh, mut plain, mut openssh) = (Vec::new(), Vec::new(), Vec::new());
    let (mut logins, mut commands) = (Vec::new(), Vec::new());
    // One unmeasured round warms the page cache and Terraform's own start-up.
    timed_plan(&remote)?;
    timed_plan(&local)?;
    for _ in 0..runs {
        let logins_before: Vec<usize> = hosts
            .iter()
            .map(|h| count(&h.sshd_log, "Accepted publickey"))
            .collect();
        let commands_before: usize = hosts
            .iter()
            .map(|h| count(&h.sshd_log, "Starting session: command"))
            .sum();
        ssh.push(timed_plan(&remote)?);
        logins.push(
            hosts
                .iter()
                .zip(&logins_before)
                .map(|(h, before)| count(&h.sshd_log, "Accepted publickey") - before)
                .max()
                .unwrap_or(0),
        );
        let commands_after: usize = hosts
            .iter()
            .map(|h| count(&h.sshd_log, "Starting session: command"))
            .sum();
        commands.push(commands_after - commands_before);
        plain.push(timed_plan(&local)?);
        openssh.push(openssh_reads(&hosts, &files, sock_dir.path())?);
    }
    let (ssh_m, plain_m, openssh_m) = (median(&ssh), median(&plain), median(&openssh));
    let share = ssh_m.saturating_sub(plain_m);
    let ratio = share.as_secs_f64() / openssh_m.as_secs_f64();
    let max_logins = logins.iter().copied().max().unwrap_or(0);
    let per_route = *commands.iter().max().unwrap_or(&0) as f64 / ROUTES as f64;
    println!("terraform plan refreshing {ROUTES} routes on 2 SSH hosts, {runs} runs (medians):");
    println!(
        "  plan over SSH            {:>8.0} ms",
        ssh_m.as_secs_f64() * 1e3
    );
    println!(
        "  plan, routes local       {:>8.0} ms",
        plain_m.as_secs_f64() * 1e3
    );
    println!(
        "  SSH share                {:>8.0} ms",
        share.as_secs_f64() * 1e3
    );
    println!(
        "  OpenSSH, 50 cat in a row {:>8.0} ms (ControlMaster)",
        openssh_m.as_secs_f64() * 1e3
    );
    println!("  SSH share / OpenSSH      {ratio:>8.2}  (target <= 1.00)");
    println!("  connections per host     {max_logins:>8}  (target 1)");
    println!("  remote commands / route  {per_route:>8.2}  (target <= 1)");
    Ok(ratio <= 1.0 && max_logins == 1 && per_route <= 1.0)
}

fn main() -> ExitCode {
    let mut runs = 5;
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => match args.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0) {
                Some(n) => runs = n,
                None => {
                    eprintln!("--runs needs a positive number");
                    return ExitCode::from(2);
                }
            },
            "--check" => check = true,
            other => {
                eprintln!("unknown argument {other:?}; usage: ssh_bench [--runs N] [--check]");
                return ExitCode::from(2);
            }
        }
    }
    match bench(runs) {
        Ok(met) if met || !check => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("\nsome targets were not met");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ssh_bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
