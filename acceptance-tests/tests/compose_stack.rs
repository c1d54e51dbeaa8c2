//! `homelab_compose_stack` against real Docker Engines (20.10) and Compose (2.40), each
//! engine inside an SSH test host's network namespace: apply, empty plan, import, destroy;
//! every kind of change noticed, with exactly the affected containers recreated; faults
//! rolled back with the previous version still serving; bad input refused at plan; secrets
//! never printed.

use acceptance_tests::docker::DockerEngine;
use acceptance_tests::ssh_hosts::SshHost;
use acceptance_tests::Workspace;

const STACK: &str = "homelab_compose_stack.web";
const GREETING_SECRET: &str = "greeting-s3cr3t-value";

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
    compose: String,
    mode: &'a str,
    page: &'a str,
    /// `wait_timeout`, which no host records (an import finds the default).
    wait_timeout: &'a str,
}

impl Config<'_> {
    fn hcl(&self) -> String {
        let dir = self.host.dir.join("stacks/web");
        format!(
            r#"
terraform {{
  required_providers {{
    homelab = {{ source = "tabiri/homelab" }}
  }}
}}
variable "key" {{
  type      = string
  sensitive = true
}}
variable "known_hosts" {{ type = string }}
variable "greeting" {{
  type      = string
  sensitive = true
}}
provider "homelab" {{
  ssh {{
    private_key = var.key
    known_hosts = var.known_hosts
  }}
}}
resource "homelab_compose_stack" "web" {{
  host {{
    address = "{address}"
    user    = "root"
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
            address = self.host.address,
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
        host: &host,
        compose: compose(18081, HTTPD),
        mode: "steady",
        page: "hello",
        wait_timeout: "5m",
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
    // Terraform 1.0.3 records that `env` holds a sensitive variable only when it applies:
    // right after an import it plans `env` as an update whose before and after are equal.
    // Applying it changes nothing on the host; then the plan is empty.
    let ids = engine.containers("web");
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.contains("~ env ") && !plan.contains("~ compose"),
        "{plan}"
    );
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
    let mut config = Config {
        host: &host,
        compose: compose(18082, HTTPD),
        mode: "steady",
        page: "one",
        wait_timeout: "40s",
    };
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
        host: &host,
        compose: compose(18083, HTTPD),
        mode: "steady",
        page: "good",
        wait_timeout: "20s",
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
    let config = Config {
        host: &host,
        compose: compose(18086, HTTPD),
        mode: "m",
        page: "p",
        wait_timeout: "40s",
    };
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
