//! `ansible_bench`: per-task wall time of the tabiri.homelab modules against the
//! ansible.builtin modules doing the same work, in one real `ansible-playbook` run
//! (ansible-core 2.19, the built collection from `dist/`, or `HOMELAB_COLLECTION`) over SSH
//! to a network-namespace host made by the acceptance-test harness
//! ([`acceptance_tests::ssh_hosts::SshHost`], so it needs root). Two pairs are measured,
//! `--tasks` (default 50) tasks each, interleaved in one play so all sides share the
//! machine's noise, with the order inside each pair rotating from round to round. Each
//! builtin also runs with pipelining on (a third column, for information: the comparison
//! that counts is with Ansible's default):
//! `tabiri.homelab.traefik_route` against `ansible.builtin.copy` writing the same bytes
//! (what `lab::traefik::TraefikRoute::render()` gives, into another file of the same
//! directory; every round writes a new route name to a new file, so no task is a no-op),
//! and `tabiri.homelab.health_check` against `ansible.builtin.uri` GETting the same URL of
//! a backend bound on the host side of the namespace's veth pair. One unmeasured round
//! first warms up the SSH control master, the architecture probe of our action plugins
//! and the controller's caches. A task's time is the harness callback's
//! `time.monotonic()` from `v2_playbook_on_task_start` to the host's result. Prints
//! median and p90 per task for each side, the ratio ours/builtin (target: median at most
//! half of the builtin's), and the size of each module binary in the collection for
//! x86_64 and aarch64 (target: at most 1.5 MB = 1,500,000 bytes each). `--check` makes
//! the exit status 1 when a target is missed.
//!
//! `cargo run --release -p acceptance-tests --example ansible_bench [-- --tasks N] [--check]`
//! (`make bench` runs it after the provider bench).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use acceptance_tests::ansible::{collection_tarball, collections_path, Ansible, RunResult};
use acceptance_tests::http::serve_text_on;
use acceptance_tests::ssh_hosts::SshHost;
use acceptance_tests::stats::median_p90;
use lab::traefik::TraefikRoute;
use serde_json::{json, Value as Json};

const HOST: &str = "bench";
/// The module binaries of the collection.
const MODULES: [&str; 4] = [
    "traefik_route",
    "health_check",
    "prometheus_target",
    "docker_logging",
];
/// Largest module binary that meets the size target, in bytes (1.5 MB).
const MAX_MODULE_BYTES: u64 = 1_500_000;
/// Largest ratio ours/builtin of the median per-task time that meets the target.
const MAX_TIME_RATIO: f64 = 0.5;
const BACKEND_BODY: &str = "healthy\n";

struct Options {
    tasks: usize,
    check: bool,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let mut options = Self {
            tasks: 50,
            check: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--tasks" => {
                    options.tasks = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .ok_or("--tasks needs a positive number")?;
                }
                "--check" => options.check = true,
                "-h" | "--help" => {
                    return Err("usage: ansible_bench [--tasks N] [--check]".into());
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

/// The route of round `round` (`None`: the warm-up round).
fn route(round: Option<usize>, dir: &str, backend: &str) -> TraefikRoute {
    let name = match round {
        Some(i) => format!("bench-{i:03}"),
        None => "bench-warmup".to_string(),
    };
    TraefikRoute {
        rule: format!("Host(`{name}.lab.localhost`)"),
        name,
        config_dir: dir.into(),
        entrypoints: vec!["web".into()],
        servers: vec![backend.into()],
        middlewares: vec![],
        priority: Some(10),
        pass_host_header: true,
        tls_cert_resolver: None,
        traefik_api_url: None,
    }
}

/// Where `ansible.builtin.copy` writes the same bytes: next to the route file (`kind`
/// tells the plain run from the pipelined one).
fn copy_path(route: &TraefikRoute, kind: &str) -> String {
    format!("{}/{}.{kind}.toml", route.config_dir, route.name)
}

/// The measured task names of one pair in round `i`: ours, the builtin, and the builtin
/// with pipelining on (Ansible's fastest path for Python modules; binary modules never
/// pipeline).
fn names(pair: &str, i: usize) -> [String; 3] {
    match pair {
        "write" => [
            format!("traefik_route {i}"),
            format!("copy {i}"),
            format!("copy pipelined {i}"),
        ],
        _ => [
            format!("health_check {i}"),
            format!("uri {i}"),
            format!("uri pipelined {i}"),
        ],
    }
}

/// The six tasks of one round: each pair's three tasks, in an order that rotates from
/// round to round.
fn round_tasks(round: Option<usize>, dir: &str, url: &str, backend: &str) -> Vec<Json> {
    let route = route(round, dir, backend);
    let label = |name: String| match round {
        Some(_) => name,
        None => format!("warm-up {name}"),
    };
    let i = round.unwrap_or(0);
    let [route_name, copy_name, copy_piped_name] = names("write", i);
    let [health_name, uri_name, uri_piped_name] = names("probe", i);
    let pipelined = json!({"ansible_pipelining": true});
    let ours_write = json!({
        "name": label(route_name),
        "tabiri.homelab.traefik_route": {
            "name": route.name,
            "config_dir": route.config_dir,
            "rule": route.rule,
            "entrypoints": route.entrypoints,
            "servers": route.servers,
            "priority": 10,
        },
    });
    let builtin_write = json!({
        "name": label(copy_name),
        "ansible.builtin.copy": {"dest": copy_path(&route, "copy"), "content": route.render()},
    });
    let builtin_write_piped = json!({
        "name": label(copy_piped_name),
        "ansible.builtin.copy": {"dest": copy_path(&route, "piped"), "content": route.render()},
        "vars": pipelined,
    });
    let ours_probe = json!({
        "name": label(health_name),
        "tabiri.homelab.health_check": {"url": url},
    });
    let builtin_probe = json!({
        "name": label(uri_name),
        "ansible.builtin.uri": {"url": url},
    });
    let builtin_probe_piped = json!({
        "name": label(uri_piped_name),
        "ansible.builtin.uri": {"url": url},
        "vars": pipelined,
    });
    let mut writes = [ours_write, builtin_write, builtin_write_piped];
    let mut probes = [ours_probe, builtin_probe, builtin_probe_piped];
    writes.rotate_left(i % 3);
    probes.rotate_left(i % 3);
    writes.into_iter().chain(probes).collect()
}

/// Median and p90 (nearest rank) of `samples`.
/// The per-task times of the measured tasks of one pair, after checking each did what it
/// should: ours, the builtin, the builtin pipelined.
fn pair_times(
    run: &RunResult,
    pair: &str,
    tasks: usize,
    changed: bool,
) -> Result<[Vec<Duration>; 3], String> {
    let mut times: [Vec<Duration>; 3] = Default::default();
    for i in 0..tasks {
        for (name, times) in names(pair, i).into_iter().zip(times.iter_mut()) {
            let task = run.ok(HOST, &name);
            if task.changed != changed {
                return Err(format!(
                    "task {name:?} reported changed={} (expected {changed}): {}",
                    task.changed, task.result
                ));
            }
            times.push(
                task.duration
                    .ok_or_else(|| format!("task {name:?} has no timing"))?,
            );
        }
    }
    Ok(times)
}

/// One table row: a metric, both values, and optionally the target on the ratio.
struct Row {
    metric: String,
    ours: Duration,
    builtin: Duration,
    target: bool,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ours.as_secs_f64() / self.builtin.as_secs_f64()
    }

    fn met(&self) -> Option<bool> {
        self.target.then(|| self.ratio() <= MAX_TIME_RATIO)
    }
}

fn met_text(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT MET"
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Prints the time table; true when every target in it is met.
fn print_times(rows: &[Row]) -> bool {
    let width = rows.iter().map(|r| r.metric.len()).max().unwrap_or(6);
    println!(
        "{:<width$}  {:>10}  {:>10}  {:>13}  target",
        "per-task wall time", "ours", "builtin", "ours/builtin"
    );
    println!("{}", "-".repeat(width + 2 + 10 + 2 + 10 + 2 + 13 + 2 + 22));
    for row in rows {
        let target = match row.met() {
            Some(met) => format!("<= 1/2 of builtin: {}", met_text(met)),
            None => String::new(),
        };
        let line = format!(
            "{:<width$}  {:>10}  {:>10}  {:>13.2}  {}",
            row.metric,
            ms(row.ours),
            ms(row.builtin),
            row.ratio(),
            target
        );
        println!("{}", line.trim_end());
    }
    rows.iter().all(|row| row.met() != Some(false))
}

/// Prints the size of every module binary in the installed collection; true when all
/// meet the target.
fn print_sizes(collection: &Path) -> Result<bool, String> {
    let modules = collection.join("ansible_collections/tabiri/homelab/plugins/modules");
    println!(
        "{:<34}  {:>10}  {:>8}  {:>9}  target",
        "module binary (collection)", "bytes", "MB", "MiB"
    );
    println!("{}", "-".repeat(34 + 2 + 10 + 2 + 8 + 2 + 9 + 2 + 22));
    let mut all_met = true;
    for (arch, sub) in [("x86_64", ""), ("aarch64", "bin/aarch64/")] {
        for name in MODULES {
            let path = modules.join(format!("{sub}{name}"));
            let bytes = std::fs::metadata(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            let met = bytes <= MAX_MODULE_BYTES;
            all_met &= met;
            println!(
                "{:<34}  {:>10}  {:>8.3}  {:>9.3}  <= 1.5 MB: {}",
                format!("{name} ({arch})"),
                bytes,
                bytes as f64 / 1e6,
                bytes as f64 / (1u64 << 20) as f64,
                met_text(met)
            );
        }
    }
    Ok(all_met)
}

fn ansible_version(ansible: &Ansible) -> String {
    Command::new(ansible.bin_dir.join("ansible-playbook"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("ansible-core {}", ansible.version))
}

fn bench(options: &Options) -> Result<bool, String> {
    let ansible = Ansible::new("2.19");
    let tarball = collection_tarball();
    let collection = collections_path();
    let host = SshHost::start();
    let backend = serve_text_on(&host.host_side_address, BACKEND_BODY);
    let server = format!("http://{backend}");
    let url = format!("{server}/healthz");
    let dir = tempfile::Builder::new()
        .prefix("homelab-ansible-bench-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    let dir_str = dir.path().display().to_string();

    let mut tasks = round_tasks(None, &dir_str, &url, &server);
    for i in 0..options.tasks {
        tasks.extend(round_tasks(Some(i), &dir_str, &url, &server));
    }
    println!(
        "{} over SSH to {} (netns {}), collection {}",
        ansible_version(&ansible),
        host.address,
        host.netns,
        tarball.display()
    );
    println!(
        "one play: 1 warm-up round + {n} rounds x (traefik_route, copy, copy pipelined, \
         health_check, uri, uri pipelined), order rotating per round; {n} measured tasks each\n",
        n = options.tasks
    );
    let started = Instant::now();
    let run = ansible
        .play(&[host.inventory_host(HOST)], Json::Array(tasks))
        .run();
    let elapsed = started.elapsed();
    run.assert_success();

    let [route_ours, route_builtin, route_piped] = pair_times(&run, "write", options.tasks, true)?;
    let [probe_ours, probe_builtin, probe_piped] = pair_times(&run, "probe", options.tasks, false)?;
    // Both sides wrote the bytes the Terraform resource renders.
    for i in 0..options.tasks {
        let route = route(Some(i), &dir_str, &server);
        let expected = route.render();
        for path in [
            route.file_path().display().to_string(),
            copy_path(&route, "copy"),
            copy_path(&route, "piped"),
        ] {
            let written = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            if written != expected {
                return Err(format!("{path} does not hold the rendered route"));
            }
        }
    }

    let mut rows = Vec::new();
    for (what, ours, builtin, piped) in [
        (
            "traefik_route vs copy",
            &route_ours,
            &route_builtin,
            &route_piped,
        ),
        (
            "health_check vs uri",
            &probe_ours,
            &probe_builtin,
            &probe_piped,
        ),
    ] {
        let (ours_median, ours_p90) = median_p90(ours);
        let (builtin_median, builtin_p90) = median_p90(builtin);
        rows.push(Row {
            metric: format!("{what}, median of {}", ours.len()),
            ours: ours_median,
            builtin: builtin_median,
            target: true,
        });
        rows.push(Row {
            metric: format!("{what}, p90"),
            ours: ours_p90,
            builtin: builtin_p90,
            target: false,
        });
        // Not the comparison that counts (Ansible's default is no pipelining), shown because
        // pipelining is how people speed up Python modules.
        rows.push(Row {
            metric: format!("{what} pipelined, median"),
            ours: ours_median,
            builtin: median_p90(piped).0,
            target: false,
        });
    }
    let times_met = print_times(&rows);
    println!(
        "(whole playbook: {:.1} s, {} tasks)\n",
        elapsed.as_secs_f64(),
        run.tasks.len()
    );
    let sizes_met = print_sizes(collection)?;
    Ok(times_met && sizes_met)
}

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match bench(&options) {
        Ok(all_met) if all_met || !options.check => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("\nsome targets were not met");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ansible_bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
