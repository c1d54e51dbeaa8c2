//! `homelab_compose_stack` against real Docker Engines (20.10) and Compose (2.40), each
//! engine inside an SSH test host's network namespace: apply, empty plan, import, destroy;
//! every kind of change noticed, with exactly the affected containers recreated; faults
//! rolled back with the previous version still serving; bad input refused at plan; secrets
//! never printed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acceptance_tests::docker::DockerEngine;
use acceptance_tests::hcl::SshProvider;
use acceptance_tests::procs::wait_for;
use acceptance_tests::ssh_hosts::{ensure_sudo_user, SshHost, SUDO_USER};
use acceptance_tests::Workspace;

const STACK: &str = "homelab_compose_stack.web";
const GREETING_SECRET: &str = "greeting-s3cr3t-value";
/// A `files` value: its content must never print either.
const FILE_SECRET: &str = "file-s3cr3t-content";

/// A workspace logging in to `host` with its key, host keys checked against its known_hosts.
fn workspace(host: &SshHost) -> Workspace {
    let mut ws = Workspace::new();
    let known = ws.path().join("known_hosts");
    std::fs::copy(&host.known_hosts, &known).expect("known_hosts");
    ws.var("key", host.client_private_key());
    ws.var("known_hosts", known.display().to_string());
    ws.var("greeting", GREETING_SECRET);
    ws
}

/// Two services: `web` (httpd with a healthcheck, the greeting in its environment, a page
/// bind-mounted from `files`) and `worker` (a shell loop on its own image).
fn compose(port: u16, web_command: &str) -> String {
    format!(
        r#"services:
  web:
    image: tabiri-test/busybox:1
    command: {web_command}
    environment:
      GREETING: ${{GREETING}}
    volumes:
      - ./www/index.html:/www/index.html:ro
    ports:
      - "127.0.0.1:{port}:8080"
    healthcheck:
      test: ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 1s
      retries: 3
      start_period: 10s
  worker:
    image: tabiri-test/worker:1
    command: ["sh", "-c", "while true; do sleep 1; done"]
    environment:
      MODE: ${{WORKER_MODE}}
"#
    )
}

const HTTPD: &str = r#"["httpd", "-f", "-p", "8080", "-h", "/www"]"#;

struct Config<'a> {
    host: &'a SshHost,
    /// Who logs in (`root`, or the sudo user with `sudo = true`).
    user: &'a str,
    compose: String,
    mode: &'a str,
    page: &'a str,
    /// `wait_timeout`, which no host records (an import finds the default).
    wait_timeout: &'a str,
}

impl<'a> Config<'a> {
    /// Root on `host`, serving `page` on `port`, the worker in mode `steady`.
    fn new(host: &'a SshHost, port: u16, page: &'a str) -> Self {
        Self {
            host,
            user: "root",
            compose: compose(port, HTTPD),
            mode: "steady",
            page,
            wait_timeout: "40s",
        }
    }

    fn hcl(&self) -> String {
        let dir = self.host.dir.join("stacks/web");
        format!(
            r#"{head}resource "homelab_compose_stack" "web" {{
  host {{
    address = "{address}"
    user    = "{user}"
    sudo    = {sudo}
  }}
  project     = "web"
  project_dir = "{dir}"
  compose     = <<-EOT
{compose}
EOT
  env = {{
    GREETING    = var.greeting
    WORKER_MODE = "{mode}"
  }}
  files = {{
    "www/index.html" = "{page}"
  }}
  wait         = true
  wait_timeout = "{wait_timeout}"
}}
output "services" {{ value = homelab_compose_stack.web.services }}
"#,
            head = SshProvider {
                secrets: &["greeting"],
                ..SshProvider::default()
            }
            .hcl(),
            address = self.host.address,
            user = self.user,
            sudo = self.user != "root",
            dir = dir.display(),
            // Terraform interpolates `${...}` in a heredoc; Compose is to see it.
            compose = self.compose.replace("${", "$${"),
            mode = self.mode,
            page = self.page,
            wait_timeout = self.wait_timeout,
        )
    }
}

/// The page `web` serves on `port` inside the host's namespace.
fn page(host: &SshHost, port: u16) -> String {
    let out = host
        .in_netns("curl")
        .args(["-s", "-m", "3", &format!("http://127.0.0.1:{port}/")])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Terraform wraps diagnostics: whitespace folded to single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn start() -> (SshHost, DockerEngine) {
    let host = SshHost::start();
    let engine = DockerEngine::start(&host);
    engine.build_busybox_image("tabiri-test/worker:1", "one");
    (host, engine)
}

fn id_of(containers: &[(String, String)], service: &str) -> String {
    containers
        .iter()
        .find(|(s, _)| s == service)
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("no {service} container in {containers:?}"))
}

#[test]
fn lifecycle_apply_plan_import_destroy() {
    let (host, engine) = start();
    let ws = workspace(&host);
    let config = Config {
        wait_timeout: "5m",
        ..Config::new(&host, 18081, "hello")
    };
    ws.config(&config.hcl());
    let applied = ws.apply();
    assert!(!applied.contains(GREETING_SECRET), "{applied}");
    assert_eq!(page(&host, 18081), "hello");
    let services = ws.output("services");
    assert_eq!(services["web"]["health"], "healthy", "{services}");
    assert_eq!(services["worker"]["state"], "running", "{services}");
    assert_eq!(services["web"]["containers"][0], "web-web-1", "{services}");
    ws.expect_empty_plan();

    // Adopt the running project: forget it, import it, and nothing is left to do.
    ws.state_rm(STACK);
    ws.import(STACK, &format!("root@{}:web", host.address));
    // Terraform records that `env` holds a sensitive variable only when it applies: right
    // after an import it plans an update whose before and after are equal (1.0.3 shows it
    // as `~ env`, 1.11 shows no attribute, as the change is only the sensitive mark).
    // Applying it changes nothing on the host; then the plan is empty.
    let ids = engine.containers("web");
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.contains("Plan: 0 to add, 1 to change, 0 to destroy.") && !plan.contains("~ compose"),
        "{plan}"
    );
    if acceptance_tests::Terraform::under_test().is_current() {
        assert!(!plan.contains("~ env"), "{plan}");
    } else {
        assert!(plan.contains("~ env "), "{plan}");
    }
    ws.apply();
    assert_eq!(engine.containers("web"), ids);
    ws.expect_empty_plan();

    // The secret is in the host's .env, mode 0600, and nowhere in Terraform's output.
    let env = host.dir.join("stacks/web/.env");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&env).expect(".env").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let shown = ws.ok(&["show", "-no-color"]);
    assert!(!shown.contains(GREETING_SECRET), "{shown}");

    ws.destroy();
    assert!(engine.containers("web").is_empty());
    assert!(
        engine.networks("web").is_empty(),
        "{:?}",
        engine.networks("web")
    );
    assert!(!host.dir.join("stacks/web").exists());
}

#[test]
fn every_change_recreates_exactly_what_it_touches() {
    let (host, engine) = start();
    let ws = workspace(&host);
    let mut config = Config::new(&host, 18082, "one");
    ws.config(&config.hcl());
    ws.apply();
    let before = engine.containers("web");

    // An env value only `worker` uses: only worker is recreated.
    config.mode = "busy";
    ws.config(&config.hcl());
    ws.expect_plan(STACK, &["update"]);
    ws.apply();
    let after = engine.containers("web");
    assert_eq!(id_of(&after, "web"), id_of(&before, "web"));
    assert_ne!(id_of(&after, "worker"), id_of(&before, "worker"));
    ws.expect_empty_plan();

    // A file only `web` mounts: only web is recreated, and serves the new page.
    let before = after;
    config.page = "two";
    ws.config(&config.hcl());
    ws.apply();
    let after = engine.containers("web");
    assert_ne!(id_of(&after, "web"), id_of(&before, "web"));
    assert_eq!(id_of(&after, "worker"), id_of(&before, "worker"));
    assert_eq!(page(&host, 18082), "two");
    ws.expect_empty_plan();

    // The worker's image rebuilt under the same tag.
    let before = after;
    engine.build_busybox_image("tabiri-test/worker:1", "two");
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.contains("worker: recreate (image changed)"), "{plan}");
    ws.apply();
    let after = engine.containers("web");
    assert_eq!(id_of(&after, "web"), id_of(&before, "web"));
    assert_ne!(id_of(&after, "worker"), id_of(&before, "worker"));
    ws.expect_empty_plan();

    // The compose file edited by hand on the host: the plan shows it, apply puts it back.
    let file = host.dir.join("stacks/web/compose.yaml");
    let text = std::fs::read_to_string(&file).expect("compose.yaml");
    std::fs::write(&file, text.replace("sleep 1", "sleep 2")).expect("edit");
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.contains("sleep 2"), "{plan}");
    ws.apply();
    assert_eq!(std::fs::read_to_string(&file).expect("compose.yaml"), text);
    ws.expect_empty_plan();

    // A container stopped by hand, one removed by hand, an orphan started by hand.
    let before = engine.containers("web");
    engine.ok(&["stop", &id_of(&before, "worker")]);
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.contains("worker: recreate (container exited)"),
        "{plan}"
    );
    ws.apply();
    ws.expect_empty_plan();
    let now = engine.containers("web");
    engine.ok(&["rm", "-f", &id_of(&now, "web")]);
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.contains("web: create"), "{plan}");
    ws.apply();
    assert_eq!(page(&host, 18082), "two");
    engine.ok(&[
        "run",
        "-d",
        "--label",
        "com.docker.compose.project=web",
        "--label",
        "com.docker.compose.service=stray",
        "--label",
        "com.docker.compose.oneoff=False",
        "tabiri-test/worker:1",
        "sh",
        "-c",
        "sleep 600",
    ]);
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.contains("stray: remove (not in the compose file)"),
        "{plan}"
    );
    ws.apply();
    let services: Vec<String> = engine
        .containers("web")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(services, vec!["web".to_string(), "worker".to_string()]);
    ws.expect_empty_plan();
    ws.destroy();
}

#[test]
fn a_bad_version_never_replaces_the_running_one() {
    let (host, engine) = start();
    let ws = workspace(&host);
    let mut config = Config {
        wait_timeout: "20s",
        ..Config::new(&host, 18083, "good")
    };
    ws.config(&config.hcl());
    ws.apply();
    let running = engine.containers("web");

    // A compose file that does not parse: refused at plan with Compose's own words.
    config.compose =
        compose(18083, HTTPD).replace("    image: tabiri-test/busybox:1", "    image: [unclosed");
    ws.config(&config.hcl());
    let error = ws.fails(&["plan", "-no-color"]);
    assert!(error.contains("the compose file is not valid"), "{error}");
    assert_eq!(engine.containers("web"), running);

    // What this engine (20.10) cannot run, refused at plan with the reason.
    config.compose = compose(18083, HTTPD).replace(
        "      start_period: 10s",
        "      start_period: 10s\n      start_interval: 1s",
    );
    ws.config(&config.hcl());
    let error = flat(&ws.fails(&["plan", "-no-color"]));
    assert!(
        error.contains("service web: healthcheck.start_interval needs Docker Engine 25"),
        "{error}"
    );
    assert_eq!(engine.containers("web"), running);

    // A service that never becomes healthy: the apply fails naming it, and the previous
    // version serves again.
    config.compose = compose(18083, r#"["sh", "-c", "sleep 600"]"#);
    ws.config(&config.hcl());
    let error = flat(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(error.contains("service web (web-web-1) is"), "{error}");
    assert!(
        error.contains("The previous version is running again"),
        "{error}"
    );
    assert_eq!(page(&host, 18083), "good");

    // A port another process holds.
    let mut blocker = host
        .in_netns("busybox")
        .args(["nc", "-l", "-p", "18084"])
        .spawn()
        .expect("nc");
    std::thread::sleep(std::time::Duration::from_millis(300));
    config.compose = compose(18084, HTTPD);
    ws.config(&config.hcl());
    let error = flat(&ws.fails(&["apply", "-auto-approve", "-no-color"]));
    assert!(
        error.contains("The previous version is running again"),
        "{error}"
    );
    assert_eq!(page(&host, 18083), "good");
    let _ = blocker.kill();
    let _ = blocker.wait();

    // Fixed: the next apply converges.
    config.compose = compose(18085, HTTPD);
    config.page = "fixed";
    ws.config(&config.hcl());
    ws.apply();
    assert_eq!(page(&host, 18085), "fixed");
    ws.expect_empty_plan();
    ws.destroy();
}

#[test]
fn bad_input_fails_at_plan_with_its_path() {
    let host = SshHost::start();
    let ws = workspace(&host);
    let config = Config::new(&host, 18086, "p");
    let good = config.hcl();
    for (from, to, expect) in [
        (
            r#"project     = "web""#,
            r#"project     = "Web App""#,
            "project",
        ),
        (r#"project     = "web""#, r#"project     = """#, "project"),
        (
            r#""www/index.html" ="#,
            r#""/etc/passwd" ="#,
            "must be relative",
        ),
        (r#""www/index.html" ="#, r#""../x" ="#, "must stay inside"),
        (
            r#"wait_timeout = "40s""#,
            r#"wait_timeout = "soon""#,
            "wait_timeout",
        ),
        (
            r#"wait_timeout = "40s""#,
            "wait_timeout = \"40s\"\n  pull = \"sometimes\"",
            "pull: \"sometimes\"",
        ),
    ] {
        ws.config(&good.replace(from, to));
        let error = flat(&ws.fails(&["plan", "-no-color"]));
        assert!(error.contains(expect), "{to}: {error}");
    }
    // Refused at plan: nothing reached the host.
    assert!(!host.dir.join("stacks/web").exists());
}

#[test]
fn secrets_never_print_and_a_sudo_user_deploys() {
    ensure_sudo_user();
    let (host, engine) = start();
    let mut ws = workspace(&host);
    let trace = ws.path().join("trace.log");
    ws.env("TF_LOG", "trace");
    ws.env("TF_LOG_PATH", trace.display().to_string());
    let config = Config {
        user: SUDO_USER,
        ..Config::new(&host, 18087, FILE_SECRET)
    };
    ws.config(&config.hcl());

    // Every command line on the machine while Terraform works, sampled.
    let seen = Arc::new(Mutex::new(String::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (seen, stop) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Ok(out) = std::process::Command::new("ps")
                    .args(["-eo", "args"])
                    .output()
                {
                    seen.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&out.stdout));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let applied = ws.apply();
    let plan = ws.ok(&["plan", "-no-color"]);
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert_eq!(page(&host, 18087), FILE_SECRET);
    assert_eq!(engine.containers("web").len(), 2);

    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(log.contains("homelab"), "no trace log");
    let processes = seen.lock().unwrap().clone();
    assert!(
        processes.contains("docker"),
        "the sampler saw no docker command"
    );
    for (what, text) in [
        ("apply", &applied),
        ("plan", &plan),
        ("trace log", &log),
        ("ps", &processes),
    ] {
        assert!(
            !text.contains(GREETING_SECRET),
            "the secret is in the {what}"
        );
    }
    ws.destroy();
}

#[test]
fn a_cut_connection_mid_apply_converges_next_time() {
    let (host, engine) = start();
    let ws = workspace(&host);
    // `web` takes a few seconds to become healthy: long enough to cut the session.
    let slow = r#"["sh", "-c", "sleep 4; exec httpd -f -p 8080 -h /www"]"#;
    let config = Config {
        compose: compose(18088, slow),
        ..Config::new(&host, 18088, "after the cut")
    };
    ws.config(&config.hcl());
    let mut apply = ws.spawn(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    wait_for("the project's containers", Duration::from_secs(60), || {
        (!engine.containers("web").is_empty()).then_some(())
    });
    assert!(host.kill_sessions() > 0, "no SSH session to cut");
    let status = apply.wait().expect("terraform");
    let log = std::fs::read_to_string(ws.path().join("command.log")).unwrap_or_default();
    assert!(
        !status.success(),
        "the apply survived a cut connection: {log}"
    );
    assert!(
        flat(&log).contains(&format!("ssh root@{}:22", host.address)),
        "{log}"
    );

    ws.apply();
    assert_eq!(page(&host, 18088), "after the cut");
    ws.expect_empty_plan();
    // Nothing half-written is left beside the project.
    let leftovers: Vec<String> = std::fs::read_dir(host.dir.join("stacks"))
        .expect("stacks")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["web".to_string()]);
    ws.destroy();
}

#[test]
fn stacks_on_two_hosts_never_see_each_other() {
    let (a, engine_a) = start();
    let (b, engine_b) = start();
    let ws_a = workspace(&a);
    let ws_b = workspace(&b);
    // The same project name and port on both hosts: each host's engine runs its own.
    ws_a.config(&Config::new(&a, 18089, "on a").hcl());
    ws_b.config(&Config::new(&b, 18089, "on b").hcl());
    ws_a.apply();
    ws_b.apply();
    assert_eq!(page(&a, 18089), "on a");
    assert_eq!(page(&b, 18089), "on b");
    let ids_a = engine_a.containers("web");
    let ids_b = engine_b.containers("web");
    assert_eq!(ids_a.len(), 2);
    assert_eq!(ids_b.len(), 2);
    assert!(ids_a.iter().all(|c| !ids_b.contains(c)));
    ws_a.destroy();
    assert!(engine_a.containers("web").is_empty());
    assert_eq!(
        engine_b.containers("web"),
        ids_b,
        "destroying on a touched b"
    );
    ws_b.expect_empty_plan();
    ws_b.destroy();
}
