//! `bench proxmox`: the refresh (`terraform plan`) of 100 `homelab_proxmox_vm` against
//! fakepve answering with 20 ms of latency, driven by the real terraform.
//!
//! Reports HTTP requests per VM (counted by fakepve) and the plan's wall time, next to the
//! targets we hold it to: at most 2 requests per VM (the cluster's resource list is read once
//! and shared by every VM's refresh) and a wall time within 1.5x of
//! `requests x latency / 10` (Terraform refreshes 10 resources at a time). Terraform's own
//! work (start, state, graph, plan of 100 resources) is measured too: the same plan with no
//! latency, and a plan of as many resources of the Go peer hashicorp/null 2.1.2, so the
//! part the network adds can be compared with the formula on its own.
//!
//! Options: `--vms N` (100), `--latency-ms N` (20), `--runs N` (3), `--check` (exit 1 when
//! a target is missed). The provider binary comes from `HOMELAB_PROVIDER_DIR` (default
//! `target/release`, which `make bench` builds).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use acceptance_tests::fakepve::{self, FakePve, Options as FakeOptions};
use acceptance_tests::Workspace;
use serde_json::json;

struct Options {
    vms: usize,
    latency_ms: u64,
    runs: usize,
    check: bool,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        vms: 100,
        latency_ms: 20,
        runs: 3,
        check: false,
    };
    let mut args = std::env::args().skip(2);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{name} takes a positive number"))
        };
        match arg.as_str() {
            "--vms" => options.vms = number("--vms")? as usize,
            "--latency-ms" => options.latency_ms = number("--latency-ms")?,
            "--runs" => options.runs = number("--runs")? as usize,
            "--check" => options.check = true,
            "-h" | "--help" => {
                return Err(
                    "usage: bench proxmox [--vms N] [--latency-ms N] [--runs N] [--check]\n\
                     env: HOMELAB_PROVIDER_DIR (default target/release)"
                        .to_string(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(options)
}

fn config(vms: usize) -> String {
    format!(
        r#"{provider}
resource "homelab_proxmox_vm" "fleet" {{
  count   = {vms}
  node    = "pve1"
  name    = "fleet${{count.index}}"
  clone   = {{ template_id = 9000, full = false }}
  cores   = 1
  memory  = 512
  network = [{{ bridge = "vmbr0" }}]
  started = true
}}
"#,
        provider = fakepve::provider_block()
    )
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Plans `runs` times and returns the median wall time and the requests of one plan.
fn plans(fake: &FakePve, ws: &Workspace, runs: usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut requests = 0;
    for _ in 0..runs {
        fake.reset_requests();
        let start = Instant::now();
        ws.ok(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        times.push(start.elapsed());
        requests = fake.requests().len();
    }
    (median(&mut times), requests)
}

/// The median wall time of `terraform plan` over `count` hashicorp/null resources.
fn null_provider_plan(count: usize, runs: usize) -> Duration {
    let ws = Workspace::with_null_provider();
    ws.config(&format!(
        "terraform {{\n  required_providers {{\n    null = {{ source = \"hashicorp/null\", version = \"2.1.2\" }}\n  }}\n}}\n\
         resource \"null_resource\" \"peer\" {{\n  count    = {count}\n  triggers = {{ index = count.index }}\n}}\n"
    ));
    ws.ok(&["init", "-input=false", "-no-color"]);
    ws.apply();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            ws.ok(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
            start.elapsed()
        })
        .collect();
    median(&mut times)
}

pub fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench sits in the repository")
        .to_path_buf();
    if std::env::var_os("HOMELAB_PROVIDER_DIR").is_none() {
        std::env::set_var("HOMELAB_PROVIDER_DIR", root.join("target/release"));
    }
    // Real time (1 PVE second = 1 s), so the latency is real; tasks take no time.
    let fake = FakePve::start_with(FakeOptions {
        time_scale: 1.0,
        ..FakeOptions::default()
    });
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws.config(&config(options.vms));
    let start = Instant::now();
    ws.apply_only();
    println!(
        "created {} VMs (linked clones of template 9000) in {:.1} s",
        options.vms,
        start.elapsed().as_secs_f64()
    );

    // Terraform's own part: the same plan with no latency, and the peer: a plan of as
    // many resources of the Go provider hashicorp/null (no network at all).
    let (baseline, _) = plans(&fake, &ws, options.runs);
    let null_plan = null_provider_plan(options.vms, options.runs);
    let latency = Duration::from_millis(options.latency_ms);
    fake.command(json!({"op": "slow_network", "latency": latency.as_secs_f64()}));
    let (wall, requests) = plans(&fake, &ws, options.runs);

    let per_vm = requests as f64 / options.vms as f64;
    let formula = latency.mul_f64(requests as f64 / 10.0);
    let network = wall.saturating_sub(baseline);
    let over_peer = wall.saturating_sub(null_plan);
    let ratio_total = ms(wall) / ms(formula);
    let ratio_network = ms(network) / ms(formula);
    let ratio_over_peer = ms(over_peer) / ms(formula);
    let requests_met = per_vm <= 2.0;
    let wall_met = ratio_network <= 1.5;
    println!(
        "\nrefresh (terraform plan) of {} VMs, fakepve with {} ms latency, median of {} runs ({})\n",
        options.vms,
        options.latency_ms,
        options.runs,
        acceptance_tests::Terraform::under_test().version_line()
    );
    println!("{:<52} {:>12} {:>22}", "metric", "value", "target");
    let row = |metric: &str, value: String, target: &str| {
        println!("{metric:<52} {value:>12} {target:>22}");
    };
    row("HTTP requests in one refresh", requests.to_string(), "");
    row(
        "HTTP requests per VM",
        format!("{per_vm:.2}"),
        if requests_met {
            "<= 2 (met)"
        } else {
            "<= 2 (MISSED)"
        },
    );
    row(
        "formula: requests x latency / 10",
        format!("{:.0} ms", ms(formula)),
        "",
    );
    row(
        &format!("peer: plan of {} hashicorp/null resources", options.vms),
        format!("{:.0} ms", ms(null_plan)),
        "",
    );
    row(
        "plan wall time, no latency",
        format!("{:.0} ms", ms(baseline)),
        &format!("{:.2}x peer", ms(baseline) / ms(null_plan)),
    );
    row(
        "plan wall time with latency",
        format!("{:.0} ms", ms(wall)),
        &format!("{ratio_total:.2}x formula"),
    );
    row(
        "latency's share (wall - no-latency wall)",
        format!("{:.0} ms", ms(network)),
        &if wall_met {
            format!("{ratio_network:.2}x <= 1.5x (met)")
        } else {
            format!("{ratio_network:.2}x <= 1.5x (MISSED)")
        },
    );
    row(
        "wall time with latency - peer's plan",
        format!("{:.0} ms", ms(over_peer)),
        &format!("{ratio_over_peer:.2}x formula"),
    );
    ws.destroy();
    if options.check && !(requests_met && wall_met) {
        eprintln!("\nsome targets were not met");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
