//! `make bench`: the whole Tabiri lab (`terraform/` and its modules) against the local lab.
//! A full `apply` from empty, and `terraform plan` with nothing to change (wall time, and
//! per resource: HTTP requests to Proxmox and NetBird, SSH logins and remote commands from
//! the hosts' sshd logs), next to the same Terraform planning and applying as many
//! `null_resource`s in the same run: Terraform's own floor.

use std::time::{Duration, Instant};

use acceptance_tests::lab::{LocalLab, Ports};
use acceptance_tests::stats::{count_in_file, median};
use acceptance_tests::Workspace;

const ROUNDS: usize = 5;

fn timed(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    eprintln!("lab_bench: starting the local lab...");
    let lab = LocalLab::start(dir.path(), Ports::free());
    let ws = lab.workspace();
    let apply = timed(|| {
        ws.apply_only();
    });
    let resources = ws.ok(&["state", "list"]).lines().count();
    let plan_args = ["plan", "-input=false", "-no-color", "-lock=false"];
    ws.ok(&plan_args); // warm: the first plan after an apply reads what the apply left

    lab.pve.reset_requests();
    lab.netbird.clear_requests();
    let logins = |lab: &LocalLab| -> (usize, usize) {
        lab.hosts
            .iter()
            .map(|h| {
                (
                    count_in_file(&h.ssh.sshd_log, "Accepted publickey"),
                    count_in_file(&h.ssh.sshd_log, "Starting session: command"),
                )
            })
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    };
    let (logins_before, commands_before) = logins(&lab);
    let plans: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            timed(|| {
                let out = ws.ok(&plan_args);
                assert!(
                    out.contains("No changes"),
                    "the lab's plan is not empty:\n{out}"
                );
            })
        })
        .collect();
    let (logins_after, commands_after) = logins(&lab);
    let pve_requests = lab
        .pve
        .requests()
        .iter()
        .filter(|(_, p)| !p.ends_with("/access/ticket"))
        .count();
    let netbird_requests = lab.netbird.requests().len();

    // Terraform's floor: as many null_resources, planned and applied by the same binary.
    let null = Workspace::with_null_provider();
    let mut hcl = String::from(
        "terraform {\n  required_providers {\n    null = { source = \"hashicorp/null\", version = \"2.1.2\" }\n  }\n}\n",
    );
    for i in 0..resources {
        hcl.push_str(&format!("resource \"null_resource\" \"r{i}\" {{}}\n"));
    }
    null.config(&hcl);
    null.ok(&["init", "-input=false", "-no-color"]);
    let null_apply = timed(|| {
        null.apply_only();
    });
    null.ok(&plan_args);
    let null_plans: Vec<Duration> = (0..ROUNDS)
        .map(|_| timed(|| drop(null.ok(&plan_args))))
        .collect();

    let per = |n: usize| n as f64 / (ROUNDS * resources) as f64;
    let (lab_plan, null_plan) = (median(&plans), median(&null_plans));
    println!(
        "lab_bench: the whole lab, {resources} resources in state ({})",
        acceptance_tests::Terraform::under_test().version_line()
    );
    println!(
        "  apply from empty: {:.1}s; {resources} null_resources: {:.2}s",
        apply.as_secs_f64(),
        null_apply.as_secs_f64()
    );
    println!(
        "  plan, nothing to change: median {:.2}s; {resources} null_resources: {:.2}s ({:.1}x Terraform's floor)",
        lab_plan.as_secs_f64(),
        null_plan.as_secs_f64(),
        lab_plan.as_secs_f64() / null_plan.as_secs_f64()
    );
    println!(
        "  per resource and plan: {:.2} Proxmox requests, {:.2} NetBird requests, {:.2} SSH remote commands; {:.1} SSH logins per plan",
        per(pve_requests),
        per(netbird_requests),
        per(commands_after - commands_before),
        (logins_after - logins_before) as f64 / ROUNDS as f64
    );
    ws.destroy();
}
