//! The tabiri.homelab modules run by the real `ansible-playbook` (ansible-core 2.19 and
//! 2.18) from the built collection tarball, over real SSH to a network-namespace host
//! (`ns`) and with `connection: local` (`localhost`), against the real parts: Traefik
//! routes requests through the route files the module writes, Prometheus scrapes the
//! targets it lists, dockerd starts with the daemon.json it edits.
//!
//! One SSH host serves the whole file; each test writes into its own temp directories
//! (the namespace shares the filesystem with the test). Needs root, `make collection`
//! (or `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use acceptance_tests::ansible::{collections_path, Ansible};
use acceptance_tests::http::serve_text;
use acceptance_tests::procs::{free_port, wait_for, Background};
use acceptance_tests::ssh_hosts::{localhost, SshHost};
use acceptance_tests::traefik::Traefik;
use acceptance_tests::{repo_root, tool};
use base64::Engine;
use lab::traefik::TraefikRoute;
use serde_json::{json, Value as Json};

const NS: &str = "ns";
const LOCAL: &str = "localhost";

/// The namespace host all tests of this file share (cleaned up when the process exits).
fn ns_host() -> &'static SshHost {
    static HOST: OnceLock<SshHost> = OnceLock::new();
    HOST.get_or_init(SshHost::start)
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("homelab-{prefix}-"))
        .tempdir()
        .expect("temp dir")
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------
// A small HTTP backend with per-path behaviour, bindable on any of our addresses (the
// namespace host reaches the host side of its veth pair, not the host's loopback).
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Backend {
    addr: String,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

/// What the backend answers: `/healthy` 200 with a marker; `/flaky/<n>/...` 503 for the
/// first n requests to that path, then 200; `/auth` 200 only with the expected basic auth.
fn start_backend(ip: &str, basic_auth: &str) -> Backend {
    let listener = TcpListener::bind((ip, 0)).expect("bind backend");
    let addr = listener.local_addr().expect("backend addr").to_string();
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(basic_auth)
    );
    let backend = Backend {
        addr,
        hits: hits.clone(),
    };
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let hits = hits.clone();
            let expected_auth = expected_auth.clone();
            std::thread::spawn(move || answer(stream, &hits, &expected_auth));
        }
    });
    backend
}

fn answer(mut stream: TcpStream, hits: &Mutex<HashMap<String, u32>>, expected_auth: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let count = {
        let mut hits = hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let authorization = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let (status, body) = if path == "/healthy" {
        (200, "status: healthy-marker-7f3a\n".to_string())
    } else if let Some(rest) = path.strip_prefix("/flaky/") {
        let failures: u32 = rest.split('/').next().unwrap_or("0").parse().unwrap_or(0);
        if count <= failures {
            (503, format!("warming up {count}/{failures}\n"))
        } else {
            (200, "flaky-now-ok\n".to_string())
        }
    } else if path == "/auth" {
        if authorization == expected_auth {
            (200, "auth-ok\n".to_string())
        } else {
            (401, "auth-required\n".to_string())
        }
    } else {
        (404, "not found\n".to_string())
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        503 => "Service Unavailable",
        _ => "Not Found",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Backend {
    fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// GET over HTTP/1.0, so Go servers (Prometheus) answer without chunked encoding.
fn http10_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

// ---------------------------------------------------------------------------------------
// traefik_route
// ---------------------------------------------------------------------------------------

/// The route task, with per-host values from host variables and the backend from `-e`.
fn route_task(name: &str, state: &str) -> Json {
    let args = if state == "absent" {
        json!({
            "name": "{{ route_name }}",
            "config_dir": "{{ route_dir }}",
            "state": "absent",
        })
    } else {
        json!({
            "name": "{{ route_name }}",
            "config_dir": "{{ route_dir }}",
            "rule": "{{ route_rule }}",
            "entrypoints": ["web"],
            "servers": ["{{ backend }}"],
            "priority": 10,
            "traefik_api_url": "{{ route_api | default(omit) }}",
        })
    };
    json!({ "name": name, "tabiri.homelab.traefik_route": args })
}

/// What the Terraform resource writes for the same inputs.
fn terraform_rendering(name: &str, dir: &str, rule: &str, backend: &str) -> String {
    TraefikRoute {
        name: name.into(),
        config_dir: dir.into(),
        rule: rule.into(),
        entrypoints: vec!["web".into()],
        servers: vec![backend.into()],
        middlewares: vec![],
        priority: Some(10),
        pass_host_header: true,
        tls_cert_resolver: None,
        traefik_api_url: None,
    }
    .render()
}

#[test]
fn traefik_route_lifecycle_through_real_traefik() {
    let ns = ns_host();
    let traefik = Traefik::start();
    let (port_a, port_b) = (free_port(), free_port());
    serve_text(port_a, "backend-A");
    serve_text(port_b, "backend-B");
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let dir = traefik.dir();
    // Both hosts write into the directory Traefik watches; localhost also waits for
    // Traefik through its API (the namespace cannot reach the host's loopback).
    let hosts = [
        ns.inventory_host(NS)
            .var("route_name", "acc-ns")
            .var("route_dir", dir.clone())
            .var("route_rule", "Host(`ns.lab.localhost`)"),
        localhost()
            .var("route_name", "acc-local")
            .var("route_dir", dir.clone())
            .var("route_rule", "Host(`local.lab.localhost`)")
            .var("route_api", traefik.api_url.clone()),
    ];
    let files = [
        (NS, "acc-ns", "Host(`ns.lab.localhost`)", "ns.lab.localhost"),
        (
            LOCAL,
            "acc-local",
            "Host(`local.lab.localhost`)",
            "local.lab.localhost",
        ),
    ];
    let ansible = Ansible::new("2.19");

    // 1. Create: changed, the Terraform resource's bytes, routed by Traefik.
    let run = ansible
        .play(&hosts, json!([route_task("route", "present")]))
        .var("backend", a.clone())
        .run();
    run.assert_success();
    for (host, name, rule, fqdn) in files {
        let task = run.ok(host, "route");
        assert!(task.changed, "{host}: {}", task.result);
        assert_eq!(task.result["action"], "create", "{host}");
        let path = format!("{dir}/{name}.toml");
        assert_eq!(task.result["path"], path.as_str());
        let written = std::fs::read_to_string(&path).expect("route file");
        assert_eq!(
            written,
            terraform_rendering(name, &dir, rule, &a),
            "{host}: the module must write what homelab_traefik_route writes"
        );
        traefik.wait_for_response(fqdn, 200, "backend-A");
    }
    let created = std::fs::read(format!("{dir}/acc-ns.toml")).unwrap();

    // 2. The same again: nothing changes.
    let run = ansible
        .play(&hosts, json!([route_task("route", "present")]))
        .var("backend", a.clone())
        .run();
    run.assert_success();
    for host in [NS, LOCAL] {
        assert_eq!(run.recap(host).changed, 0, "{host}:\n{}", run.output());
        assert_eq!(run.ok(host, "route").result["action"], "none");
    }

    // 3. --check --diff with another backend: reports the change and the diff, writes
    //    nothing, Traefik still routes to A.
    let run = ansible
        .play(&hosts, json!([route_task("route", "present")]))
        .var("backend", b.clone())
        .check()
        .diff()
        .run();
    run.assert_success();
    for host in [NS, LOCAL] {
        let task = run.ok(host, "route");
        assert!(task.changed, "check mode reports the change on {host}");
        assert_eq!(task.result["action"], "update");
        let diff = task.diff.as_ref().expect("a diff in diff mode");
        let diff = if diff.is_array() {
            diff[0].clone()
        } else {
            diff.clone()
        };
        let (before, after) = (
            diff["before"].as_str().unwrap_or_default(),
            diff["after"].as_str().unwrap_or_default(),
        );
        assert!(
            before.contains(&a) && !before.contains(&b),
            "before: {before}"
        );
        assert!(after.contains(&b) && !after.contains(&a), "after: {after}");
    }
    // The unified diff --diff prints, with the path as header.
    for name in ["acc-ns", "acc-local"] {
        let expected = format!("--- before: {dir}/{name}.toml\n+++ after: {dir}/{name}.toml\n");
        assert!(run.stdout.contains(&expected), "{expected}\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains(&format!("-url = \"{a}\"\n+url = \"{b}\"\n")),
        "--diff shows the backend replaced:\n{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read(format!("{dir}/acc-ns.toml")).unwrap(),
        created,
        "check mode must not write"
    );
    assert_eq!(traefik.get("ns.lab.localhost").1, "backend-A");

    // 4. state=absent removes the files (then nothing is left to remove) and Traefik
    //    drops the routes.
    let run = ansible
        .play(
            &hosts,
            json!([
                route_task("remove", "absent"),
                route_task("remove again", "absent")
            ]),
        )
        .run();
    run.assert_success();
    for (host, name, _, fqdn) in files {
        let removed = run.ok(host, "remove");
        assert!(removed.changed, "{host}: {}", removed.result);
        assert_eq!(removed.result["action"], "delete");
        assert!(!run.ok(host, "remove again").changed);
        assert!(!Path::new(&format!("{dir}/{name}.toml")).exists());
        traefik.wait_for_response(fqdn, 404, "");
    }
    assert!(
        dir_entries(traefik.routes_dir.path()).is_empty(),
        "no temp files left: {:?}",
        dir_entries(traefik.routes_dir.path())
    );
}

// ---------------------------------------------------------------------------------------
// prometheus_target
// ---------------------------------------------------------------------------------------

struct Prometheus {
    addr: String,
    _dir: tempfile::TempDir,
    _process: Background,
}

impl Prometheus {
    fn start(file_sd_dir: &Path) -> Self {
        let dir = temp_dir("prometheus");
        let port = free_port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: acc\n    file_sd_configs:\n      \
                 - files: ['{}/*.json']\n        refresh_interval: 1s\n",
                file_sd_dir.display()
            ),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let mut command = Command::new(tool("prometheus"));
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ));
        let process = Background::spawn("prometheus", &mut command, &dir.path().join("log"));
        wait_for("Prometheus to be ready", Duration::from_secs(30), || {
            http10_get(&addr, "/-/ready").filter(|(s, _)| *s == 200)
        });
        Self {
            addr,
            _dir: dir,
            _process: process,
        }
    }

    fn active_targets(&self) -> Vec<Json> {
        http10_get(&self.addr, "/api/v1/targets?state=active")
            .and_then(|(_, body)| serde_json::from_str::<Json>(&body).ok())
            .and_then(|j| j["data"]["activeTargets"].as_array().cloned())
            .unwrap_or_default()
    }
}

#[test]
fn prometheus_target_is_scraped_by_real_prometheus() {
    let ns = ns_host();
    let sd_dir = temp_dir("file-sd");
    let prometheus = Prometheus::start(sd_dir.path());
    let sd = path_str(sd_dir.path());
    let hosts = [
        ns.inventory_host(NS)
            .var("job", "acc-ns")
            .var("target", prometheus.addr.clone()),
        localhost()
            .var("job", "acc-local")
            .var("target", prometheus.addr.replace("127.0.0.1", "localhost")),
    ];
    let task = |name: &str, state: &str| {
        json!({
            "name": name,
            "tabiri.homelab.prometheus_target": {
                "job": "{{ job }}",
                "targets": ["{{ target }}"],
                "labels": {"env": "lab", "written_by": "{{ inventory_hostname }}"},
                "file_sd_dir": sd,
                "state": state,
            }
        })
    };
    let ansible = Ansible::new("2.19");
    let run = ansible
        .play(
            &hosts,
            json!([task("targets", "present"), task("targets again", "present")]),
        )
        .run();
    run.assert_success();
    for (host, job, target) in [
        (NS, "acc-ns", prometheus.addr.clone()),
        (
            LOCAL,
            "acc-local",
            prometheus.addr.replace("127.0.0.1", "localhost"),
        ),
    ] {
        let first = run.ok(host, "targets");
        assert!(first.changed, "{host}: {}", first.result);
        assert!(!run.ok(host, "targets again").changed, "{host} idempotent");
        let path = first.result["path"].as_str().expect("path returned");
        assert_eq!(path, format!("{sd}/{job}.json"));
        let file: Json =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("file_sd JSON");
        assert_eq!(
            file,
            json!([{ "targets": [target], "labels": {"env": "lab", "written_by": host} }]),
            "{host}: {path}"
        );
    }

    // Prometheus picks both files up and scrapes the targets with their labels.
    let targets = wait_for(
        "Prometheus to list both targets",
        Duration::from_secs(30),
        || {
            let active = prometheus.active_targets();
            let ours: Vec<Json> = active
                .into_iter()
                .filter(|t| t["labels"]["env"] == "lab")
                .collect();
            (ours.len() == 2).then_some(ours)
        },
    );
    for target in &targets {
        assert_eq!(target["labels"]["job"], "acc");
        assert!(
            ["ns", "localhost"].contains(&target["labels"]["written_by"].as_str().unwrap()),
            "{target}"
        );
    }
    wait_for(
        "Prometheus to scrape the targets",
        Duration::from_secs(30),
        || {
            let active = prometheus.active_targets();
            let up = active
                .iter()
                .filter(|t| t["labels"]["env"] == "lab" && t["health"] == "up")
                .count();
            (up == 2).then_some(())
        },
    );

    // state=absent on the namespace host: its target goes away, the other stays.
    let run = ansible
        .play(&hosts[..1], json!([task("remove", "absent")]))
        .run();
    run.assert_success();
    assert!(run.ok(NS, "remove").changed);
    assert_eq!(
        dir_entries(sd_dir.path()),
        vec!["acc-local.json".to_string()]
    );
    wait_for(
        "Prometheus to drop the removed target",
        Duration::from_secs(30),
        || {
            let active = prometheus.active_targets();
            let ours: Vec<&Json> = active
                .iter()
                .filter(|t| t["labels"]["env"] == "lab")
                .collect();
            (ours.len() == 1 && ours[0]["labels"]["written_by"] == "localhost").then_some(())
        },
    );
}

// ---------------------------------------------------------------------------------------
// health_check
// ---------------------------------------------------------------------------------------

const SECRET: &str = "Zq8-not-in-any-log-5fe1c2";

#[test]
fn health_check_passes_fails_retries_and_hides_the_password() {
    let ns = ns_host();
    let user_pass = format!("monitor:{SECRET}");
    let local_backend = start_backend("127.0.0.1", &user_pass);
    let ns_backend = start_backend(&ns.host_side_address, &user_pass);
    let closed_local = format!("127.0.0.1:{}", free_port());
    let closed_ns = format!("{}:{}", ns.host_side_address, free_port());
    let hosts = [
        ns.inventory_host(NS)
            .var("base", format!("http://{}", ns_backend.addr))
            .var("closed", format!("http://{closed_ns}/"))
            .var("flaky", "/flaky/2/ns"),
        localhost()
            .var("base", format!("http://{}", local_backend.addr))
            .var("closed", format!("http://{closed_local}/"))
            .var("flaky", "/flaky/2/local"),
    ];
    let check = |name: &str, args: Json, ignore: bool| {
        let mut task = json!({ "name": name, "tabiri.homelab.health_check": args });
        if ignore {
            task["ignore_errors"] = json!(true);
        }
        task
    };
    let tasks = json!([
        check(
            "healthy",
            json!({"url": "{{ base }}/healthy", "expect_status": [200], "expect_body": "healthy-marker"}),
            false
        ),
        check(
            "wrong body",
            json!({"url": "{{ base }}/healthy", "expect_body": "no-such-text"}),
            true
        ),
        check(
            "closed port",
            json!({"url": "{{ closed }}", "timeout": 2}),
            true
        ),
        check(
            "flaky",
            json!({"url": "{{ base }}{{ flaky }}", "retries": 3, "delay": 0.2}),
            false
        ),
        check(
            "retries exhausted",
            json!({"url": "{{ base }}/flaky/50/{{ inventory_hostname }}", "retries": 1, "delay": 0.1}),
            true
        ),
        check(
            "auth",
            json!({"url": "{{ base }}/auth", "url_username": "monitor", "url_password": SECRET}),
            false
        ),
        check(
            "auth but wrong body",
            json!({"url": "{{ base }}/auth", "url_username": "monitor", "url_password": SECRET,
                   "expect_body": "never-there"}),
            true
        ),
        check(
            "auth with a wrong password",
            json!({"url": "{{ base }}/auth", "url_username": "monitor",
                   "url_password": format!("{SECRET}-wrong")}),
            true
        ),
    ]);
    let run = Ansible::new("2.19").play(&hosts, tasks).verbose(3).run();
    run.assert_success();

    for (host, backend, closed) in [
        (NS, &ns_backend, &closed_ns),
        (LOCAL, &local_backend, &closed_local),
    ] {
        assert_eq!(run.recap(host).changed, 0, "health_check never changes");
        let healthy = run.ok(host, "healthy");
        assert!(!healthy.changed);
        assert_eq!(healthy.result["status"], 200);
        assert_eq!(healthy.result["attempts"], 1);

        let wrong = run.failed(host, "wrong body");
        assert!(!wrong.changed);
        assert!(
            wrong.msg.contains("200") && wrong.msg.contains("healthy-marker"),
            "{host}: the message names the status and shows the body: {}",
            wrong.msg
        );
        assert!(wrong.msg.contains("no-such-text"), "{}", wrong.msg);

        let refused = run.failed(host, "closed port");
        assert!(
            refused.msg.contains(closed.as_str()) && refused.msg.to_lowercase().contains("refused"),
            "{host}: the message names the address and the connection error: {}",
            refused.msg
        );

        let flaky = run.ok(host, "flaky");
        assert_eq!(flaky.result["attempts"], 3, "{host}: {}", flaky.result);
        let flaky_path = if host == NS {
            "/flaky/2/ns"
        } else {
            "/flaky/2/local"
        };
        assert_eq!(backend.hits(flaky_path), 3);

        let exhausted = run.failed(host, "retries exhausted");
        assert_eq!(exhausted.result["attempts"], 2, "{}", exhausted.result);
        assert!(exhausted.msg.contains("503"), "{}", exhausted.msg);
        assert_eq!(backend.hits(&format!("/flaky/50/{host}")), 2);

        let auth = run.ok(host, "auth");
        assert_eq!(
            auth.result["status"], 200,
            "the password reached the backend"
        );
        assert_eq!(
            auth.result["invocation"]["module_args"]["url_password"],
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
            "scrubbed like a no_log option"
        );
        run.failed(host, "auth but wrong body");
        let denied = run.failed(host, "auth with a wrong password");
        assert!(denied.msg.contains("401"), "{}", denied.msg);
    }

    // The password appears nowhere: not in -vvv output, not in any result.
    let results = std::fs::read_to_string(run.dir.path().join("results.jsonl")).unwrap();
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("results", &results),
    ] {
        assert!(
            !text.contains(SECRET),
            "url_password leaked into {what}:\n{text}"
        );
    }
    assert!(
        run.stdout.contains("invocation") && run.stdout.contains("url_username"),
        "-vvv shows the invocation (scrubbed), so the check above means something:\n{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------
// docker_logging
// ---------------------------------------------------------------------------------------

struct Dockerd {
    socket: String,
    dir: tempfile::TempDir,
    process: Option<Background>,
}

impl Dockerd {
    /// dockerd with everything in a temp dir, no bridge, no iptables: it touches nothing
    /// of the machine's own Docker.
    fn start(daemon_json: &Path) -> Self {
        let dir = temp_dir("dockerd");
        let socket = dir.path().join("docker.sock");
        let mut command = Command::new("dockerd");
        command
            .arg("--config-file")
            .arg(daemon_json)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
            ]);
        let log = dir.path().join("dockerd.log");
        let mut process = Background::spawn("dockerd", &mut command, &log);
        wait_for("dockerd's socket", Duration::from_secs(60), || {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "dockerd exited ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            socket.exists().then_some(())
        });
        let dockerd = Self {
            socket: format!("unix://{}", socket.display()),
            dir,
            process: Some(process),
        };
        wait_for("dockerd to answer", Duration::from_secs(60), || {
            dockerd.try_docker(&["version"]).ok()
        });
        dockerd
    }

    fn try_docker(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new("docker")
            .arg("-H")
            .arg(&self.socket)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(format!(
                "docker {args:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn docker(&self, args: &[&str]) -> String {
        self.try_docker(args).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM, so dockerd stops its containerd and unmounts its overlays before the
        // temp dir goes.
        if let Some(mut process) = self.process.take() {
            let pid = process.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = process.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// An image made FROM scratch holding Debian's static busybox, imported without a registry.
fn import_busybox_image(dockerd: &Dockerd) -> &'static str {
    let busybox = Path::new("/bin/busybox");
    // The image is FROM scratch, so only a statically linked busybox runs in it (Debian's
    // busybox-static; the plain busybox package asks for /lib64/ld-linux-x86-64.so.2).
    let bytes = std::fs::read(busybox).unwrap_or_default();
    let is_static =
        bytes.starts_with(b"\x7fELF") && !bytes.windows(15).any(|w| w == b"/lib64/ld-linux");
    assert!(
        is_static,
        "a static /bin/busybox (Debian busybox-static) is needed for the container check: \
         add busybox-static to APT_PINS in scripts/setup.sh"
    );
    let rootfs = dockerd.dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let tarball = dockerd.dir.path().join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    dockerd.docker(&[
        "import",
        "-c",
        "CMD [\"/bin/busybox\", \"echo\", \"hello from busybox\"]",
        &path_str(&tarball),
        "homelab-acc-busybox:1",
    ]);
    "homelab-acc-busybox:1"
}

#[test]
fn docker_logging_sets_rotation_that_real_dockerd_applies() {
    let ns = ns_host();
    let dir = temp_dir("docker-logging");
    let daemon_json = dir.path().join("daemon.json");
    // Other settings in the file are kept.
    std::fs::write(&daemon_json, "{\n  \"debug\": false\n}\n").unwrap();
    let broken = dir.path().join("broken.json");
    let broken_text = "{ \"log-opts\": { \"max-size\": \"5m\", }\n";
    std::fs::write(&broken, broken_text).unwrap();
    let task = |name: &str, path: &Path| {
        json!({
            "name": name,
            "tabiri.homelab.docker_logging": {
                "max_size": "10m",
                "max_file": 3,
                "daemon_json": path_str(path),
            },
            "register": name.replace(' ', "_"),
            "ignore_errors": name.starts_with("broken"),
        })
    };
    let run = Ansible::new("2.19")
        .play(
            &[ns.inventory_host(NS)],
            json!([
                task("rotation", &daemon_json),
                task("rotation again", &daemon_json),
                task("broken file", &broken),
            ]),
        )
        .diff()
        .run();
    run.assert_success();
    let first = run.ok(NS, "rotation");
    assert!(first.changed, "{}", first.result);
    assert_eq!(first.result["restart_needed"], true);
    assert_eq!(first.result["path"], path_str(&daemon_json).as_str());
    let diff = first.diff.as_ref().expect("a diff with --diff");
    let diff = if diff.is_array() { &diff[0] } else { diff };
    let before = diff["before"].as_str().unwrap_or_default();
    let after = diff["after"].as_str().unwrap_or_default();
    assert!(
        !before.contains("max-size") && after.contains("\"max-size\": \"10m\""),
        "{diff}"
    );
    let again = run.ok(NS, "rotation again");
    assert!(!again.changed, "{}", again.result);
    assert_eq!(again.result["restart_needed"], false);
    let written: Json =
        serde_json::from_str(&std::fs::read_to_string(&daemon_json).unwrap()).unwrap();
    assert_eq!(written["debug"], false, "other keys are kept: {written}");
    assert_eq!(
        written["log-opts"],
        json!({"max-size": "10m", "max-file": "3"}),
        "{written}"
    );
    let failed = run.failed(NS, "broken file");
    assert!(
        failed.msg.contains(&path_str(&broken)),
        "the message names the file: {}",
        failed.msg
    );
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        broken_text,
        "a file that is not JSON is left alone"
    );
    assert_eq!(
        dir_entries(dir.path()),
        vec!["broken.json".to_string(), "daemon.json".to_string()],
        "no temp files left"
    );

    // The real daemon starts with the file and applies the rotation to new containers.
    let dockerd = Dockerd::start(&daemon_json);
    assert_eq!(
        dockerd.docker(&["info", "--format", "{{json .LoggingDriver}}"]),
        "\"json-file\""
    );
    let image = import_busybox_image(&dockerd);
    let container = "homelab-acc-logging";
    let out = dockerd.docker(&["run", "--name", container, "--network", "none", image]);
    assert_eq!(out, "hello from busybox");
    let log_config: Json = serde_json::from_str(&dockerd.docker(&[
        "inspect",
        "--format",
        "{{json .HostConfig.LogConfig}}",
        container,
    ]))
    .unwrap();
    assert_eq!(
        log_config,
        json!({"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}})
    );
    dockerd.docker(&["rm", container]);
}

// ---------------------------------------------------------------------------------------
// Idempotence on both ansible-core versions, all modules, over SSH and locally.
// ---------------------------------------------------------------------------------------

#[test]
fn idempotent_on_ansible_2_19_and_2_18() {
    let ns = ns_host();
    let backend = start_backend(&ns.host_side_address, "x:y");
    let local_backend = start_backend("127.0.0.1", "x:y");
    for ansible in Ansible::all() {
        let dirs = [temp_dir("idem-ns"), temp_dir("idem-local")];
        let hosts = [
            ns.inventory_host(NS)
                .var("dir", path_str(dirs[0].path()))
                .var("base", format!("http://{}", backend.addr)),
            localhost()
                .var("dir", path_str(dirs[1].path()))
                .var("base", format!("http://{}", local_backend.addr)),
        ];
        let tasks = json!([
            {
                "name": "route",
                "tabiri.homelab.traefik_route": {
                    "name": "idem",
                    "config_dir": "{{ dir }}",
                    "rule": "Host(`idem.lab.localhost`) && PathPrefix(`/api`)",
                    "servers": ["http://127.0.0.1:9"],
                    "middlewares": ["auth@file"],
                    "tls_cert_resolver": "le",
                }
            },
            {
                "name": "target",
                "tabiri.homelab.prometheus_target": {
                    "job": "idem",
                    "targets": ["127.0.0.1:9100", "[::1]:9100"],
                    "labels": {"env": "lab"},
                    "file_sd_dir": "{{ dir }}",
                }
            },
            {
                "name": "logging",
                "tabiri.homelab.docker_logging": {
                    "max_size": "20m",
                    "max_file": 5,
                    "daemon_json": "{{ dir }}/daemon.json",
                }
            },
            {
                "name": "health",
                "tabiri.homelab.health_check": {"url": "{{ base }}/healthy"}
            },
        ]);
        let first = ansible.play(&hosts, tasks.clone()).run();
        first.assert_success();
        let second = ansible.play(&hosts, tasks).run();
        second.assert_success();
        for host in [NS, LOCAL] {
            assert_eq!(
                first.recap(host).changed,
                3,
                "ansible {}: {host}:\n{}",
                ansible.version,
                first.output()
            );
            assert_eq!(
                second.recap(host).changed,
                0,
                "ansible {}: {host}:\n{}",
                ansible.version,
                second.output()
            );
            assert_eq!(second.recap(host).ok, 4);
        }
        // The same inputs write the same bytes on both versions and both connections.
        let route = |d: &tempfile::TempDir| std::fs::read(d.path().join("idem.toml")).unwrap();
        assert_eq!(route(&dirs[0]), route(&dirs[1]));
    }
}

// ---------------------------------------------------------------------------------------
// Bad input: the task fails with a message naming the option, and nothing is written.
// ---------------------------------------------------------------------------------------

#[test]
fn bad_input_fails_naming_the_option_and_writes_nothing() {
    let ns = ns_host();
    let dir = temp_dir("bad-input");
    let d = path_str(dir.path());
    let missing = format!("{d}/missing/dynamic");
    let route = json!({
        "name": "bad",
        "config_dir": d,
        "rule": "Host(`bad.lab.localhost`)",
        "servers": ["http://127.0.0.1:9"],
    });
    let with = |base: &Json, key: &str, value: Json| {
        let mut args = base.clone();
        if value.is_null() {
            args.as_object_mut().unwrap().remove(key);
        } else {
            args[key] = value;
        }
        args
    };
    let target = json!({"job": "bad", "targets": ["127.0.0.1:9100"], "file_sd_dir": d});
    let logging =
        json!({"max_size": "10m", "max_file": 3, "daemon_json": format!("{d}/daemon.json")});
    // (task name, module, args, the option the message must name)
    let cases: Vec<(&str, &str, Json, &str)> = vec![
        (
            "unknown option",
            "traefik_route",
            with(&route, "colour", json!("blue")),
            "colour",
        ),
        (
            "retries: many",
            "health_check",
            json!({"url": "http://127.0.0.1:9/", "retries": "many"}),
            "retries",
        ),
        (
            "missing rule",
            "traefik_route",
            with(&route, "rule", Json::Null),
            "rule",
        ),
        (
            "missing job",
            "prometheus_target",
            with(&target, "job", Json::Null),
            "job",
        ),
        (
            "missing max_file",
            "docker_logging",
            with(&logging, "max_file", Json::Null),
            "max_file",
        ),
        (
            "state: gone",
            "traefik_route",
            with(&route, "state", json!("gone")),
            "state",
        ),
        (
            "unbalanced rule",
            "traefik_route",
            with(&route, "rule", json!("(Host(`a.lab`) || Host(`b.lab`)")),
            "rule",
        ),
        (
            "target without port",
            "prometheus_target",
            with(&target, "targets", json!(["10.0.0.5"])),
            "targets",
        ),
        (
            "max_size: ten",
            "docker_logging",
            with(&logging, "max_size", json!("ten")),
            "max_size",
        ),
        (
            "url not http",
            "health_check",
            json!({"url": "ftp://127.0.0.1/pub"}),
            "url",
        ),
        (
            "route dir missing",
            "traefik_route",
            with(&route, "config_dir", json!(missing)),
            "config_dir",
        ),
        (
            "file_sd_dir missing",
            "prometheus_target",
            with(&target, "file_sd_dir", json!(missing)),
            "file_sd_dir",
        ),
    ];
    let mut tasks: Vec<Json> = cases
        .iter()
        .map(|(name, module, args, _)| {
            json!({
                "name": name,
                format!("tabiri.homelab.{module}"): args,
                "ignore_errors": true,
            })
        })
        .collect();
    tasks.push(json!({
        "name": "create_dir makes it work",
        "tabiri.homelab.traefik_route": with(
            &with(&route, "config_dir", json!(missing)),
            "create_dir",
            json!(true),
        ),
    }));
    let run = Ansible::new("2.19")
        .play(&[ns.inventory_host(NS)], json!(tasks))
        .run();
    run.assert_success();
    for (name, _, _, option) in &cases {
        let task = run.failed(NS, name);
        assert!(!task.changed, "{name}: {}", task.result);
        assert!(
            task.msg.contains(option),
            "{name}: the message must name {option:?}: {}",
            task.msg
        );
    }
    let created = run.ok(NS, "create_dir makes it work");
    assert!(created.changed);
    assert_eq!(
        dir_entries(dir.path()),
        vec!["missing".to_string()],
        "the failed tasks wrote nothing"
    );
    assert_eq!(
        dir_entries(&PathBuf::from(&missing)),
        vec!["bad.toml".to_string()]
    );
    assert_eq!(run.recap(NS).failed, 0);
    assert_eq!(run.recap(NS).ignored as usize, cases.len());
}

// ---------------------------------------------------------------------------------------
// Host key checking is really on.
// ---------------------------------------------------------------------------------------

#[test]
fn a_wrong_host_key_is_refused() {
    let ns = ns_host();
    let dir = temp_dir("wrong-known-hosts");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(dir.path().join("other")),
    );
    let other = std::fs::read_to_string(dir.path().join("other.pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{} {}\n", ns.address, other.join(" ")),
    )
    .unwrap();
    let host = ns.inventory_host(NS).var(
        "ansible_ssh_common_args",
        format!(
            "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
            known_hosts.display()
        ),
    );
    let run = Ansible::new("2.19")
        .play(
            &[host],
            json!([{"name": "probe", "tabiri.homelab.health_check": {"tcp": "127.0.0.1:9"}}]),
        )
        .run();
    run.assert_failure();
    assert_eq!(run.recap(NS).unreachable, 1, "{}", run.output());
    assert!(
        run.output().contains("Host key verification failed")
            || run
                .output()
                .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        run.output()
    );
}

// ---------------------------------------------------------------------------------------
// The binary cache of the action plugins: a module binary crosses the wire once per host.
// ---------------------------------------------------------------------------------------

#[test]
fn a_module_binary_is_copied_once_per_host_and_replaced_when_it_changes() {
    use std::os::unix::fs::PermissionsExt;

    let ns = ns_host();
    // Its own remote_tmp, so no other test shares (or races on) this cache.
    let remote_tmp = temp_dir("remote-tmp");
    let cache_dir = remote_tmp.path().join("tabiri-homelab");
    let sd_dir = temp_dir("cache-sd");
    let sd = path_str(sd_dir.path());
    let host = ns
        .inventory_host(NS)
        .var("ansible_remote_tmp", path_str(remote_tmp.path()));
    let task = |job: &str| {
        json!({
            "name": job,
            "tabiri.homelab.prometheus_target": {
                "job": job, "targets": ["127.0.0.1:9100"], "file_sd_dir": sd,
            }
        })
    };
    // The command that uploads a binary through stdin (and Ansible's own per-task copy).
    let uploads =
        |run: &acceptance_tests::ansible::RunResult| run.output().matches("cat > ").count();
    let standard_copies = |run: &acceptance_tests::ansible::RunResult| {
        run.output().matches("AnsiballZ_prometheus_target").count()
    };
    let ansible = Ansible::new("2.19");

    let run = ansible
        .play(
            std::slice::from_ref(&host),
            json!([task("one"), task("two"), task("three")]),
        )
        .verbose(3)
        .run();
    run.assert_success();
    assert_eq!(
        uploads(&run),
        1,
        "three tasks, one upload:\n{}",
        run.output()
    );
    assert_eq!(standard_copies(&run), 0, "{}", run.output());
    for job in ["one", "two", "three"] {
        assert!(run.ok(NS, job).changed);
        assert!(sd_dir.path().join(format!("{job}.json")).is_file(), "{job}");
    }
    // Learnt once, per remote user and remote_tmp (plays may log in as other users).
    let fact = run.ok(NS, "one").result["ansible_facts"]["tabiri_homelab_bin_dirs"].clone();
    let key = format!("root:{}", path_str(remote_tmp.path()));
    assert_eq!(
        fact,
        json!({ key: path_str(&cache_dir) }),
        "the cache dir fact"
    );
    let cached = dir_entries(&cache_dir);
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("prometheus_target-"), "{cached:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache_dir), 0o700, "cache dir mode");
    assert_eq!(mode(&cache_dir.join(&cached[0])), 0o700, "binary mode");
    // The arguments went through stdin: nothing else was ever written there.
    assert!(
        dir_entries(remote_tmp.path()) == ["tabiri-homelab"],
        "{:?}",
        dir_entries(remote_tmp.path())
    );

    // A build of another version in the cache (as after upgrading the collection): the
    // current one is uploaded on first use and the other version is removed.
    let stale = cache_dir.join("prometheus_target-0000000000000000");
    std::fs::rename(cache_dir.join(&cached[0]), &stale).unwrap();
    let run = ansible
        .play(
            std::slice::from_ref(&host),
            json!([task("four"), task("five")]),
        )
        .verbose(3)
        .run();
    run.assert_success();
    assert_eq!(uploads(&run), 1, "{}", run.output());
    assert_eq!(dir_entries(&cache_dir), cached, "the stale build is gone");

    // Turned off, Ansible's standard per-task copy runs the same module.
    let run = ansible
        .play(&[host], json!([task("six")]))
        .var("tabiri_homelab_binary_cache", false)
        .verbose(3)
        .run();
    run.assert_success();
    assert!(run.ok(NS, "six").changed);
    assert_eq!(uploads(&run), 0, "{}", run.output());
    assert!(standard_copies(&run) > 0, "{}", run.output());
    assert!(sd_dir.path().join("six.json").is_file());
}

// ---------------------------------------------------------------------------------------
// ansible-doc renders every module from the installed collection. (`ansible-doc -l` cannot
// list binary modules: it reads the binary before the sidecar and gives up with a warning.)
// ---------------------------------------------------------------------------------------

#[test]
fn ansible_doc_renders_every_module() {
    let config = temp_dir("ansible-doc");
    std::fs::write(config.path().join("ansible.cfg"), "[defaults]\n").unwrap();
    for ansible in Ansible::all() {
        for module in [
            "traefik_route",
            "prometheus_target",
            "health_check",
            "docker_logging",
        ] {
            let name = format!("tabiri.homelab.{module}");
            let text = run_ok(
                Command::new(ansible.bin_dir.join("ansible-doc"))
                    .args(["-t", "module", &name])
                    .env("ANSIBLE_COLLECTIONS_PATH", collections_path())
                    .env("ANSIBLE_CONFIG", config.path().join("ansible.cfg"))
                    .env("ANSIBLE_NOCOLOR", "1"),
            );
            for section in [
                &*format!("MODULE {name}"),
                "OPTIONS",
                "EXAMPLES",
                "RETURN VALUES",
            ] {
                assert!(
                    text.contains(section),
                    "{} {name}: no {section:?}:\n{text}",
                    ansible.version
                );
            }
        }
    }
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------
// aarch64: the cross-built module under qemu-user.
// ---------------------------------------------------------------------------------------

#[test]
fn aarch64_module_runs_under_qemu() {
    let binary = repo_root().join("target/aarch64-unknown-linux-musl/module/traefik_route");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --profile module --target aarch64-unknown-linux-musl \
         -p tabiri-homelab-modules` (or scripts/build-collection.sh)",
        binary.display()
    );
    // ELF e_machine 183 (EM_AARCH64), so qemu really runs an aarch64 build.
    let header = std::fs::read(&binary).expect("module binary");
    assert!(
        header.starts_with(b"\x7fELF") && header.get(18..20) == Some(&[183, 0][..]),
        "{} is not an aarch64 ELF binary",
        binary.display()
    );
    let dir = temp_dir("aarch64");
    let d = path_str(dir.path());
    let args = json!({
        "name": "arm",
        "config_dir": d,
        "rule": "Host(`arm.lab.localhost`)",
        "entrypoints": ["web"],
        "servers": ["http://127.0.0.1:9"],
        "priority": 10,
        "_ansible_check_mode": false,
        "_ansible_diff": true,
        "_ansible_no_log": false,
        "_ansible_verbosity": 0,
        "_ansible_version": "2.19.0",
        "_ansible_module_name": "tabiri.homelab.traefik_route",
        "_ansible_some_future_key": {"ignored": true},
    });
    let args_file = dir.path().join("args");
    std::fs::write(&args_file, args.to_string()).unwrap();
    let module = |args_file: &Path| -> Json {
        let output = Command::new("qemu-aarch64-static")
            .arg(&binary)
            .arg(args_file)
            .output()
            .expect("qemu-aarch64-static (Debian qemu-user-static)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "the module must print one JSON object ({e}):\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    };
    let first = module(&args_file);
    assert_eq!(first["changed"], true, "{first}");
    assert_ne!(first["failed"], true, "{first}");
    assert_eq!(first["action"], "create");
    assert!(
        first["diff"].is_object() || first["diff"].is_array(),
        "{first}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("arm.toml")).unwrap(),
        TraefikRoute {
            name: "arm".into(),
            config_dir: d.clone(),
            rule: "Host(`arm.lab.localhost`)".into(),
            entrypoints: vec!["web".into()],
            servers: vec!["http://127.0.0.1:9".into()],
            middlewares: vec![],
            priority: Some(10),
            pass_host_header: true,
            tls_cert_resolver: None,
            traefik_api_url: None,
        }
        .render()
    );
    let second = module(&args_file);
    assert_eq!(second["changed"], false, "{second}");

    let mut bad = args.clone();
    bad["rule"] = json!("Host(`arm.lab.localhost`");
    let bad_file = dir.path().join("bad-args");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let failed = module(&bad_file);
    assert_eq!(failed["failed"], true, "{failed}");
    assert!(failed["msg"].as_str().unwrap_or_default().contains("rule"));
}

// ---------------------------------------------------------------------------------------
// examples/playbooks the way Semaphore UI runs it
// ---------------------------------------------------------------------------------------

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The files site.yml hard-codes (it exposes no variables for its paths), with their
/// contents, so the test can tell that a `--check` run wrote nothing.
fn site_yml_files() -> Vec<(&'static str, Option<Vec<u8>>)> {
    [
        "/etc/traefik/dynamic",
        "/etc/traefik/dynamic/nextcloud.toml",
        "/etc/traefik/dynamic/nextcloud.yml",
        "/etc/prometheus/file_sd",
        "/etc/prometheus/file_sd/node.json",
        "/etc/prometheus/file_sd/node.yml",
        "/etc/docker/daemon.json",
    ]
    .into_iter()
    .map(|p| {
        let meta = std::fs::metadata(p).ok();
        let content = match meta {
            Some(m) if m.is_dir() => Some(dir_entries(Path::new(p)).join("\n").into_bytes()),
            Some(_) => std::fs::read(p).ok(),
            None => None,
        };
        (p, content)
    })
    .collect()
}

/// What Semaphore does with `examples/playbooks` as a local repository: `ansible-galaxy
/// collection install -r collections/requirements.yml` from the repository's directory,
/// then `ansible-playbook -i <inventory> site.yml`, with the `edge` group holding the
/// namespace host (on 2.19, and on 2.18, Semaphore's newest).
///
/// site.yml hard-codes its paths (/etc/traefik/dynamic, /etc/prometheus/file_sd,
/// docker_logging's default /etc/docker/daemon.json) and the namespace host shares this
/// machine's filesystem, so it only runs with `--check --diff` (no real run, no `-e`), and
/// the test checks that nothing under those paths appeared or changed.
#[test]
fn semaphore_path_installs_from_requirements_and_runs_site_playbook() {
    let examples = repo_root().join("examples/playbooks");
    let requirements = std::fs::read_to_string(examples.join("collections/requirements.yml"))
        .expect("examples/playbooks/collections/requirements.yml");
    let name = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("- name: "))
        .expect("a `- name:` in requirements.yml")
        .trim()
        .to_string();
    assert!(
        name.starts_with("../../dist/") && name.ends_with(".tar.gz"),
        "requirements.yml names {name}"
    );
    // The tarball as the unchanged requirements.yml finds it from examples/playbooks.
    let tarball = examples.join(&name);
    assert!(
        tarball.exists(),
        "{name} does not resolve from examples/playbooks: run scripts/build-collection.sh"
    );

    // Layout: the copy sits at <tmp>/examples/playbooks with the tarball at
    // <tmp>/dist/<file>, the same relative depth as in the repository, so the copied
    // requirements.yml stays byte for byte what ships (its `name:` is not rewritten).
    let tmp = temp_dir("semaphore");
    let project = tmp.path().join("examples/playbooks");
    copy_dir(&examples, &project);
    let copied_tarball = project.join(&name);
    std::fs::create_dir_all(copied_tarball.parent().unwrap()).unwrap();
    std::fs::copy(&tarball, &copied_tarball).unwrap();

    // The inventory: examples/playbooks/inventory.ini with the namespace host added to
    // `edge`, in the same INI format, with the harness's SSH settings as host variables.
    let host = ns_host().inventory_host("edge1");
    let mut line = host.name.clone();
    for (key, value) in &host.vars {
        match value {
            Json::String(s) if s.contains(' ') => line.push_str(&format!(" {key}=\"{s}\"")),
            Json::String(s) => line.push_str(&format!(" {key}={s}")),
            other => line.push_str(&format!(" {key}={other}")),
        }
    }
    let original_inventory = std::fs::read_to_string(examples.join("inventory.ini")).unwrap();
    let inventory = project.join("inventory.ini");
    std::fs::write(&inventory, format!("{original_inventory}{line}\n")).unwrap();
    let config = tmp.path().join("ansible.cfg");
    std::fs::write(&config, "[defaults]\n").unwrap();

    // The namespace host shares this machine's /etc: the outcome asserted below is that of
    // an edge host without Traefik's dynamic configuration directory.
    assert!(
        !Path::new("/etc/traefik/dynamic").exists(),
        "this test expects no /etc/traefik/dynamic on the machine running it"
    );
    let before = site_yml_files();
    for ansible in Ansible::all() {
        let v = &ansible.version;
        let installed = tmp.path().join(format!("collections_path-{v}"));
        let mut galaxy = Command::new(ansible.bin_dir.join("ansible-galaxy"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ANSIBLE_") {
                galaxy.env_remove(key);
            }
        }
        let started = std::time::Instant::now();
        let output = galaxy
            .current_dir(&project)
            .args([
                "collection",
                "install",
                "-r",
                "collections/requirements.yml",
                "-p",
            ])
            .arg(&installed)
            .env("ANSIBLE_CONFIG", &config)
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .expect("ansible-galaxy");
        let galaxy_out = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "ansible-galaxy {v} [{:.1?}]\n{galaxy_out}",
            started.elapsed()
        );
        assert!(output.status.success(), "ansible-galaxy {v}:\n{galaxy_out}");
        assert!(
            galaxy_out.contains("tabiri.homelab:0.1.0 was installed successfully"),
            "ansible-galaxy {v}:\n{galaxy_out}"
        );
        let manifest: Json = serde_json::from_str(
            &std::fs::read_to_string(
                installed.join("ansible_collections/tabiri/homelab/MANIFEST.json"),
            )
            .expect("MANIFEST.json of the installed collection"),
        )
        .unwrap();
        assert_eq!(manifest["collection_info"]["version"], "0.1.0");

        let run = ansible
            .playbook_file(&project, &inventory, "site.yml", &installed)
            .check()
            .diff()
            .run();
        eprintln!("{} [{:.1?}]\n{}", run.command, run.elapsed, run.output());
        let h = "edge1";
        // site.yml gathers facts (no `gather_facts: false`), with `become: true`.
        run.ok(h, "Gathering Facts");
        // The first task already stops the dry run here: traefik_route needs its
        // config_dir to exist (site.yml does not set create_dir), even in check mode.
        // So prometheus_target, health_check (which needs https://nextcloud.example.org
        // to answer), docker_logging and the Restart Docker handler never run.
        let route = run.failed(h, "Route Nextcloud through Traefik");
        assert_eq!(route.action, "tabiri.homelab.traefik_route");
        assert!(
            route
                .msg
                .contains("config_dir: the directory /etc/traefik/dynamic does not exist"),
            "{}",
            route.result
        );
        let names: Vec<&str> = run.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["Gathering Facts", "Route Nextcloud through Traefik"],
            "{}",
            run.output()
        );
        run.assert_failure();
        assert_eq!(
            run.recap(h),
            &acceptance_tests::ansible::Recap {
                ok: 1,
                failed: 1,
                ..Default::default()
            },
            "{}",
            run.output()
        );
    }
    assert_eq!(site_yml_files(), before, "a --check run wrote into /etc");
}

/// `tabiri.homelab.compose_stack` on its own SSH host with its own Docker Engine: check
/// mode writes and starts nothing, a run changes then is unchanged, an env value used by
/// one service recreates only it (`--diff` names it, `-vvv` never shows the value), and
/// `state: absent` takes the project down; on ansible-core 2.19 and 2.18.
#[test]
fn compose_stack_converges_and_check_mode_runs_nothing() {
    use acceptance_tests::docker::DockerEngine;
    let host = SshHost::start();
    let engine = DockerEngine::start(&host);
    let dir = host.dir.join("stacks/shop");
    let secret = "shop-s3cr3t-token";
    let compose = "services:\n  web:\n    image: tabiri-test/busybox:1\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n    environment:\n      TOKEN: ${TOKEN}\n    volumes:\n      - ./www/index.html:/www/index.html:ro\n    ports:\n      - \"127.0.0.1:18090:8080\"\n  worker:\n    image: tabiri-test/busybox:1\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    environment:\n      MODE: ${MODE}\n";
    let task = |name: &str, mode: &str, state: &str| {
        json!({
            "name": name,
            "tabiri.homelab.compose_stack": {
                "project": "shop",
                "project_dir": path_str(&dir),
                "compose": compose,
                "env": {"TOKEN": secret, "MODE": mode},
                "files": {"www/index.html": "shop"},
                "wait_timeout": "40s",
                "state": state,
            }
        })
    };
    for ansible in Ansible::all() {
        let hosts = [host.inventory_host(NS)];
        let checked = ansible
            .play(&hosts, json!([task("stack", "calm", "present")]))
            .check()
            .run();
        checked.assert_success();
        let result = checked.ok(NS, "stack");
        assert!(
            result.changed,
            "check mode reports the change: {}",
            result.result
        );
        assert!(
            engine.containers("shop").is_empty(),
            "check mode started something"
        );
        assert!(!dir.exists(), "check mode wrote {}", dir.display());

        let run = ansible
            .play(
                &hosts,
                json!([
                    task("stack", "calm", "present"),
                    task("stack again", "calm", "present")
                ]),
            )
            .run();
        run.assert_success();
        assert!(run.ok(NS, "stack").changed);
        assert!(!run.ok(NS, "stack again").changed, "{}", run.output());
        let services = &run.ok(NS, "stack again").result["services"];
        assert_eq!(services["web"]["state"], "running", "{services}");
        let before = engine.containers("shop");

        let changed = ansible
            .play(&hosts, json!([task("stack", "busy", "present")]))
            .diff()
            .verbose(3)
            .run();
        changed.assert_success();
        let output = changed.output();
        assert!(
            output.contains("worker: recreate (configuration changed)"),
            "{output}"
        );
        assert!(!output.contains(secret), "the secret is in the output");
        let after = engine.containers("shop");
        let id = |list: &[(String, String)], s: &str| {
            list.iter().find(|(n, _)| n == s).map(|(_, i)| i.clone())
        };
        assert_eq!(id(&after, "web"), id(&before, "web"));
        assert_ne!(id(&after, "worker"), id(&before, "worker"));

        let gone = ansible
            .play(
                &hosts,
                json!([
                    task("down", "busy", "absent"),
                    task("down again", "busy", "absent")
                ]),
            )
            .run();
        gone.assert_success();
        assert!(gone.ok(NS, "down").changed);
        assert!(!gone.ok(NS, "down again").changed);
        assert!(engine.containers("shop").is_empty());
        assert!(!dir.exists());
    }
}

#[test]
fn netbird_enroll_enrols_once_follows_a_new_url_and_leaves() {
    use acceptance_tests::netbird::NetbirdDouble;
    // Its own host: the agent is mounted into this host's SSH sessions.
    let host = SshHost::start();
    let first = NetbirdDouble::start();
    let second = NetbirdDouble::start();
    let agent = first.install_agent(&host);
    second.reach_from(&host);
    let key_of = |double: &NetbirdDouble| {
        let (status, key) = double.api(
            "POST",
            "/api/setup-keys",
            Some(json!({"name": "lab", "type": "reusable", "expires_in": 86400, "auto_groups": [], "usage_limit": 0})),
        );
        assert_eq!(status, 200, "{key}");
        key["key"].as_str().unwrap().to_string()
    };
    let (key1, key2) = (key_of(&first), key_of(&second));
    let task = |name: &str, url: &str, key: &str, state: &str| {
        json!({"name": name, "tabiri.homelab.netbird_enroll": {
            "management_url": url, "setup_key": key, "hostname": "vm-ansible", "state": state}})
    };
    for ansible in Ansible::all() {
        let hosts = [host.inventory_host(NS)];
        let checked = ansible
            .play(&hosts, json!([task("enrol", &first.url, &key1, "present")]))
            .check()
            .run();
        checked.assert_success();
        assert!(checked.ok(NS, "enrol").changed);
        assert_eq!(
            agent.status(&host)["daemonStatus"],
            "NeedsLogin",
            "check mode enrolled"
        );

        let run = ansible
            .play(
                &hosts,
                json!([
                    task("enrol", &first.url, &key1, "present"),
                    task("enrol again", &first.url, &key1, "present")
                ]),
            )
            .verbose(3)
            .run();
        run.assert_success();
        let enrolled = run.ok(NS, "enrol");
        assert!(enrolled.changed);
        assert!(!run.ok(NS, "enrol again").changed, "{}", run.output());
        let ip = enrolled.result["ip"].as_str().unwrap().to_string();
        let peers = first.account()["peers"].clone();
        assert_eq!(peers[0]["ip"], json!(ip), "{peers}");
        assert_eq!(peers[0]["hostname"], "vm-ansible");
        assert!(enrolled.result["fqdn"]
            .as_str()
            .unwrap()
            .ends_with(".netbird.selfhosted"));
        assert!(!run.output().contains(&key1), "the key printed at -vvv");

        // Another management URL: the agent goes down first (a connected agent ignores
        // a new URL), then enrols there.
        let moved = ansible
            .play(&hosts, json!([task("move", &second.url, &key2, "present")]))
            .run();
        moved.assert_success();
        assert!(moved.ok(NS, "move").changed);
        let status = agent.status(&host);
        assert_eq!(status["management"]["url"], json!(second.url), "{status}");
        assert_eq!(status["daemonStatus"], "Connected");
        assert_eq!(second.account()["peers"].as_array().unwrap().len(), 1);

        let gone = ansible
            .play(
                &hosts,
                json!([
                    task("leave", &second.url, &key2, "absent"),
                    task("leave again", &second.url, &key2, "absent")
                ]),
            )
            .run();
        gone.assert_success();
        assert!(gone.ok(NS, "leave").changed);
        assert!(!gone.ok(NS, "leave again").changed);
        assert_eq!(agent.status(&host)["daemonStatus"], "NeedsLogin");
        // The first server's peer is left for its own cleanup; start the next round clean.
        for peer in first.account()["peers"].as_array().unwrap() {
            first.api(
                "DELETE",
                &format!("/api/peers/{}", peer["id"].as_str().unwrap()),
                None,
            );
        }
    }
    let argv = agent.argv_log();
    assert!(
        argv.contains("NB_SETUP_KEY"),
        "the key went by environment: {argv}"
    );
    assert!(
        !argv.contains(&key1) && !argv.contains(&key2),
        "a key in argv: {argv}"
    );
    first.assert_conforms();
    second.assert_conforms();
}

#[test]
fn backup_job_changed_then_unchanged_check_diff_and_a_restore_drill() {
    let host = SshHost::start();
    let data = host.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "alpha\n").unwrap();
    for d in ["backup", "cron.d", "systemd"] {
        std::fs::create_dir_all(host.dir.join(d)).unwrap();
    }
    let password = "ansible-restic-s3cr3t";
    let task = |name: &str, state: &str| {
        json!({"name": name, "tabiri.homelab.backup_job": {
            "name": "files", "repository": path_str(&host.dir.join("repo")), "password": password,
            "paths": [path_str(&data)], "schedule": "*-*-* 03:15:00",
            "dumps": [{"name": "db.sql", "command": ["echo", "dump"]}],
            "retention": {"keep_last": 2},
            "config_dir": path_str(&host.dir.join("backup")),
            "cron_dir": path_str(&host.dir.join("cron.d")),
            "systemd_dir": path_str(&host.dir.join("systemd")),
            "run_now": true, "state": state}})
    };
    let job_dir = host.dir.join("backup/files");
    for ansible in Ansible::all() {
        let hosts = [host.inventory_host(NS)];
        let checked = ansible
            .play(&hosts, json!([task("job", "present")]))
            .check()
            .diff()
            .run();
        checked.assert_success();
        assert!(checked.ok(NS, "job").changed);
        assert!(!job_dir.exists(), "check mode wrote the job");
        assert!(
            checked.output().contains("job.sh"),
            "the diff shows the script"
        );
        let run = ansible
            .play(
                &hosts,
                json!([task("job", "present"), task("job again", "present")]),
            )
            .verbose(3)
            .run();
        run.assert_success();
        assert!(run.ok(NS, "job").changed);
        assert!(!run.ok(NS, "job again").changed, "{}", run.output());
        assert_eq!(run.ok(NS, "job again").result["scheduler"], "cron");
        assert!(
            run.ok(NS, "job again").result["snapshots"]
                .as_u64()
                .unwrap()
                >= 2
        );
        assert!(!run.output().contains(password), "the password at -vvv");
        let cron = std::fs::read_to_string(host.dir.join("cron.d/tabiri-backup-files")).unwrap();
        assert!(cron.contains("15 3 * * * root"), "{cron}");

        let drill = ansible
            .play(
                &hosts,
                json!([{"name": "drill", "tabiri.homelab.backup_restore_test": {
                    "name": "files", "config_dir": path_str(&host.dir.join("backup"))}}]),
            )
            .run();
        drill.assert_success();
        let log = drill.ok(NS, "drill").result["log"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(log.contains("restored and identical"), "{log}");

        let gone = ansible
            .play(
                &hosts,
                json!([task("remove", "absent"), task("remove again", "absent")]),
            )
            .run();
        gone.assert_success();
        assert!(gone.ok(NS, "remove").changed);
        assert!(!gone.ok(NS, "remove again").changed);
        assert!(!job_dir.exists() && !host.dir.join("cron.d/tabiri-backup-files").exists());
        assert!(
            host.dir.join("repo/config").exists(),
            "the repository stays"
        );
    }
}

/// `prometheus_target` leaves a target file it did not write alone, as
/// `homelab_prometheus_target` does: writing over it and removing it both fail, naming the
/// file, and its bytes stay as they were (in check mode too); its own file beside it is
/// still written, rewritten and removed.
#[test]
fn prometheus_target_refuses_a_file_it_did_not_write() {
    let ns = ns_host();
    let sd_dir = temp_dir("file-sd-foreign");
    let sd = path_str(sd_dir.path());
    let foreign = sd_dir.path().join("foreign.json");
    let foreign_text = "[{\"targets\": [\"hand.lab:9100\"]}]\n";
    std::fs::write(&foreign, foreign_text).unwrap();
    let hosts = [ns.inventory_host(NS)];
    let task = |name: &str, job: &str, target: &str, state: &str| {
        json!({
            "name": name,
            "ignore_errors": job == "foreign",
            "tabiri.homelab.prometheus_target": {
                "job": job,
                "targets": [target],
                "file_sd_dir": sd,
                "state": state,
            }
        })
    };
    let ansible = Ansible::new("2.19");
    let tasks = json!([
        task("overwrite foreign", "foreign", "ours.lab:9100", "present"),
        task("remove foreign", "foreign", "ours.lab:9100", "absent"),
        task("own", "own", "ours.lab:9100", "present"),
        task("own changed", "own", "other.lab:9100", "present"),
    ]);

    let checked = ansible.play(&hosts, tasks.clone()).check().run();
    for name in ["overwrite foreign", "remove foreign"] {
        let refused = checked.failed(NS, name);
        assert!(
            refused.msg.contains(&path_str(&foreign)),
            "check mode fails as the real run would: {}",
            refused.msg
        );
    }
    assert!(checked.ok(NS, "own").changed);

    let run = ansible.play(&hosts, tasks).run();
    for (name, remedy) in [
        ("overwrite foreign", "should replace it"),
        ("remove foreign", "should be removed"),
    ] {
        let refused = run.failed(NS, name);
        assert!(!refused.changed, "{name}: {}", refused.result);
        assert_eq!(
            refused.msg,
            format!(
                "{} exists and was not written by Tabiri Homelab (it is not a target list as \
                 this tool writes it), so it was left alone; move it away or delete it if this \
                 prometheus target {remedy}",
                foreign.display()
            ),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        foreign_text.as_bytes(),
        "the foreign file is byte-identical"
    );

    // Its own file: written, rewritten with other targets, removed.
    assert!(run.ok(NS, "own").changed);
    assert!(run.ok(NS, "own changed").changed);
    let own = sd_dir.path().join("own.json");
    let written: Json = serde_json::from_str(&std::fs::read_to_string(&own).unwrap()).unwrap();
    assert_eq!(
        written,
        json!([{"targets": ["other.lab:9100"], "labels": {}}])
    );
    let gone = ansible
        .play(
            &hosts,
            json!([task("remove own", "own", "other.lab:9100", "absent")]),
        )
        .run();
    gone.assert_success();
    assert!(gone.ok(NS, "remove own").changed);
    assert_eq!(dir_entries(sd_dir.path()), vec!["foreign.json".to_string()]);
    assert_eq!(std::fs::read(&foreign).unwrap(), foreign_text.as_bytes());
}
