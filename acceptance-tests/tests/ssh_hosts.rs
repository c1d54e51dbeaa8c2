//! On-host resources over real SSH: OpenSSH servers in network namespaces this test makes,
//! a real Traefik and a real Prometheus running inside those namespaces, the real
//! terraform. Routes and targets are applied, planned empty, drifted by hand, imported and
//! destroyed; host keys are checked every way a user can ask for; faults (sshd down, a
//! session killed mid-apply, a command failing on the host) end in clear errors and a next
//! apply that converges; bad input fails at plan with its attribute path; keys and
//! passphrases never print.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use acceptance_tests::hcl::SshProvider;
use acceptance_tests::http;
use acceptance_tests::procs::wait_for;
use acceptance_tests::prometheus::Prometheus;
use acceptance_tests::ssh_hosts::{ensure_sudo_user, SshHost, SUDO_USER};
use acceptance_tests::traefik::Traefik;
use acceptance_tests::{dir_entries, Workspace};

const ROUTE: &str = "homelab_traefik_route.app";
const TARGET: &str = "homelab_prometheus_target.node";

/// The provider over SSH; an empty `known_hosts` variable leaves the setting unset.
fn header() -> String {
    SshProvider {
        ssh: &[
            (
                "known_hosts",
                r#"var.known_hosts == "" ? null : var.known_hosts"#,
            ),
            ("connect_timeout", r#""3s""#),
        ],
        ..SshProvider::default()
    }
    .hcl()
}

/// A directory on the shared filesystem only root may write to (as `/etc/...` would be).
fn root_dir(host: &SshHost, name: &str) -> PathBuf {
    let dir = host.dir.join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// A workspace whose provider logs in with `key_host`'s client key and checks host keys
/// against a known_hosts file (in the workspace) listing `known` (none: an empty file).
fn workspace(key_host: &SshHost, known: &[&SshHost]) -> Workspace {
    let mut ws = Workspace::new();
    let text: String = known
        .iter()
        .map(|h| std::fs::read_to_string(&h.known_hosts).expect("known_hosts"))
        .collect();
    let path = ws.path().join("known_hosts");
    std::fs::write(&path, text).expect("known_hosts");
    ws.var("key", key_host.client_private_key());
    ws.var("known_hosts", path.display().to_string());
    ws
}

fn route(host_block: &str, dir: &Path, server: &str) -> String {
    format!(
        r#"
resource "homelab_traefik_route" "app" {{
  name        = "app"
  config_dir  = "{dir}"
  rule        = "Host(`app.lab.localhost`)"
  entrypoints = ["web"]
  servers     = ["http://{server}"]
  {host_block}
}}
"#,
        dir = dir.display()
    )
}

fn target(host_block: &str, dir: &Path, targets: &[String]) -> String {
    let targets = targets
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
resource "homelab_prometheus_target" "node" {{
  job         = "node"
  targets     = [{targets}]
  labels      = {{ env = "lab" }}
  file_sd_dir = "{dir}"
  {host_block}
}}
"#,
        dir = dir.display()
    )
}

/// Temporary files an interrupted write would leave.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut names = dir_entries(dir);
    names.retain(|n| n.ends_with(".tmp"));
    names
}

/// Traefik inside `host`'s namespace, serving on its address and watching `dir`; the
/// address of its web entrypoint.
fn traefik_in(host: &SshHost, dir: &Path) -> (Traefik, String) {
    let web = format!("{}:8000", host.address);
    let traefik = Traefik::spawn(
        Some(host),
        &web,
        &format!("{}:8080", host.address),
        dir,
        &host.dir.join("traefik.log"),
    );
    traefik.wait_ready();
    (traefik, web)
}

/// Prometheus inside `host`'s namespace, reading file_sd files from `dir`; its address.
fn prometheus_in(host: &SshHost, dir: &Path) -> (Prometheus, String) {
    let listen = format!("{}:9090", host.address);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: file_sd\n    \
         file_sd_configs:\n      - files: ['{}/*.json']\n        refresh_interval: 1s\n",
        dir.display()
    );
    let prometheus = Prometheus::start(Some(host), &listen, &host.dir.join("prometheus"), &config);
    (prometheus, listen)
}

/// Waits until Prometheus scrapes `scrape_url` (a target from our file) with health "up".
fn wait_scraped(prometheus: &str, target: &str) {
    wait_for(
        &format!("Prometheus to scrape {target}"),
        Duration::from_secs(30),
        || {
            let (_, body) = http::get(prometheus, "localhost", "/api/v1/targets").ok()?;
            let json: serde_json::Value = serde_json::from_str(&body).ok()?;
            json["data"]["activeTargets"]
                .as_array()?
                .iter()
                .any(|t| {
                    t["labels"]["instance"] == target
                        && t["health"] == "up"
                        && t["labels"]["env"] == "lab"
                })
                .then_some(())
        },
    );
}

#[test]
fn routes_and_targets_on_two_ssh_hosts() {
    ensure_sudo_user();
    let web = SshHost::start();
    let monitoring = SshHost::start();
    let routes = root_dir(&web, "traefik");
    let file_sd = root_dir(&monitoring, "file_sd");
    let (_traefik, traefik_web) = traefik_in(&web, &routes);
    let (_prometheus, prometheus) = prometheus_in(&monitoring, &file_sd);
    let backend = http::serve_text_on(&web.host_side_address, "backend-over-ssh");
    // One provider key for both hosts.
    monitoring.authorize(&web.client_key.with_extension("pub"));

    let ws = workspace(&web, &[&web, &monitoring]);
    let web_host = format!("host {{\n    address = \"{}\"\n  }}", web.address);
    let monitoring_host = format!(
        "host {{\n    address = \"{}\"\n    user    = \"{SUDO_USER}\"\n    sudo    = true\n  }}",
        monitoring.address
    );
    let scrape = vec![prometheus.clone()];
    let config = format!(
        "{}{}{}",
        header(),
        route(&web_host, &routes, &backend),
        target(&monitoring_host, &file_sd, &scrape)
    );
    ws.config(&config);
    ws.apply();

    // Served and scraped through the namespace addresses.
    wait_for(
        "Traefik to route app.lab.localhost",
        Duration::from_secs(15),
        || {
            http::get(&traefik_web, "app.lab.localhost", "/")
                .ok()
                .filter(|(s, b)| *s == 200 && b.contains("backend-over-ssh"))
        },
    );
    wait_scraped(&prometheus, &prometheus);
    let target_file = file_sd.join("node.json");
    let written = std::fs::read_to_string(&target_file).expect("target file");
    assert!(written.contains(&prometheus), "{written}");
    ws.expect_empty_plan();

    // Recorded host keys are the hosts' own.
    let state = ws.resource(ROUTE).expect("route in state");
    assert_eq!(state["host_public_key"], web.host_public_key());
    let state = ws.resource(TARGET).expect("target in state");
    assert_eq!(state["host_public_key"], monitoring.host_public_key());

    // Drift by hand on the hosts: an edited route, a removed target file.
    let route_file = routes.join("app.toml");
    let edited = std::fs::read_to_string(&route_file)
        .unwrap()
        .replace("app.lab.localhost", "other.lab.localhost");
    std::fs::write(&route_file, edited).unwrap();
    std::fs::remove_file(&target_file).unwrap();
    ws.expect_plan(ROUTE, &["update"]);
    ws.expect_plan(TARGET, &["create"]);
    ws.apply();
    ws.expect_empty_plan();
    assert!(std::fs::read_to_string(&route_file)
        .unwrap()
        .contains("app.lab.localhost"));
    assert!(target_file.exists());

    // Import both from the hosts. The route's ID says all its host block does, so the plan
    // is empty at once; the target's `sudo = true` is no fact of the file, so the plan
    // updates the host block in place (writing nothing) and is empty after that.
    ws.state_rm(ROUTE);
    ws.state_rm(TARGET);
    ws.import(ROUTE, &format!("{}:{}", web.address, route_file.display()));
    ws.import(
        TARGET,
        &format!(
            "{SUDO_USER}@{}:{}",
            monitoring.address,
            target_file.display()
        ),
    );
    ws.expect_plan(TARGET, &["update"]);
    let before = std::fs::metadata(&target_file).unwrap().modified().unwrap();
    ws.apply();
    ws.expect_empty_plan();
    assert_eq!(
        std::fs::metadata(&target_file).unwrap().modified().unwrap(),
        before
    );

    // Every SSH login was one connection per host per terraform run, never one per file:
    // the plan/apply/import runs above are 9 provider processes at most per host.
    assert!(
        web.accepted_logins() <= 12,
        "{} logins",
        web.accepted_logins()
    );

    ws.destroy();
    assert!(!route_file.exists());
    assert!(!target_file.exists());
    assert!(leftovers(&routes).is_empty() && leftovers(&file_sd).is_empty());

    // A target file already there with other targets is never overwritten by a create.
    std::fs::write(&target_file, "[{\"targets\": [\"other:9100\"]}]\n").unwrap();
    let err = flat(&ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]));
    assert!(err.contains("already holds other targets"), "{err}");
    assert!(std::fs::read_to_string(&target_file)
        .unwrap()
        .contains("other:9100"));
}

/// The `Host` operations themselves over a real sshd, through lab's SSH client: files,
/// directories, commands with stdin and secret environment (never in the process list),
/// sudo, and a session killed in the middle of a command (an error naming the host, then
/// the next operation reconnects).
#[tokio::test]
async fn host_operations_over_real_ssh() {
    use lab::host::target::{HostArgs, SshDefaults, SshTarget};
    use lab::host::{Command as HostCommand, FileMode, Host};
    use lab::secret::Secret;

    ensure_sudo_user();
    let host = SshHost::start();
    let pool = lab::host::ssh::SshPool::new();
    let defaults = SshDefaults {
        private_key: Some(Secret::new(host.client_private_key())),
        ..SshDefaults::default()
    };
    let target = |user: Option<&str>, sudo: bool| {
        let args = HostArgs {
            address: host.address.clone(),
            user: user.map(str::to_owned),
            host_key: Some(host.host_public_key()),
            sudo,
            ..HostArgs::default()
        };
        SshTarget::resolve(&args, &defaults, None).unwrap()
    };
    let root = pool.host(target(None, false));
    let dir = root_dir(&host, "ops");
    let nested = dir.join("a/b");

    assert!(!root.dir_exists(&nested).await.unwrap());
    assert!(root.ensure_dir(&nested).await.unwrap());
    assert!(!root.ensure_dir(&nested).await.unwrap());
    assert!(root.dir_exists(&nested).await.unwrap());
    let file = nested.join("it's a file.txt");
    assert_eq!(root.read_file(&file).await.unwrap(), None);
    let mode = FileMode {
        mode: 0o640,
        owner: Some(format!("{SUDO_USER}:root")),
    };
    root.write_file(&file, b"content\n", &mode).await.unwrap();
    assert_eq!(
        root.read_file(&file).await.unwrap().as_deref(),
        Some(&b"content\n"[..])
    );
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    let uid = Command::new("id").args(["-u", SUDO_USER]).output().unwrap();
    assert_eq!(
        meta.uid().to_string(),
        String::from_utf8_lossy(&uid.stdout).trim()
    );
    assert_eq!(
        root.list_dir(&nested).await.unwrap(),
        Some(vec!["it's a file.txt".to_string()])
    );
    assert_eq!(root.list_dir(&dir.join("none")).await.unwrap(), None);
    assert!(root.remove_file(&file).await.unwrap());
    assert!(!root.remove_file(&file).await.unwrap());

    // stdin and a secret environment value reach the command; the process list never
    // holds the value (it is captured while the command runs).
    let out = root
        .run(
            &HostCommand::new([
                "sh",
                "-c",
                "ps -eo args > \"$1\"; cat; printf '%s' \"$TOKEN\"",
                "sh",
                &dir.join("ps.txt").display().to_string(),
            ])
            .stdin("from-stdin:")
            .env("TOKEN", Secret::new("tok-3141592")),
        )
        .await
        .unwrap();
    assert_eq!(out.status, Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from-stdin:tok-3141592"
    );
    let ps = std::fs::read_to_string(dir.join("ps.txt")).unwrap();
    assert!(ps.contains("ps -eo args"), "{ps}");
    assert!(!ps.contains("tok-3141592"), "{ps}");
    let failed = lab::host::run_checked(
        &root,
        &HostCommand::new(["sh", "-c", "echo nope >&2; exit 4"]),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        failed.starts_with(&format!(
            "ssh root@{}:22: `sh -c 'echo nope >&2; exit 4'` failed (exit status 4): nope",
            host.address
        )),
        "{failed}"
    );

    // sudo: a non-root user writes where only root may.
    let admin = pool.host(target(Some(SUDO_USER), true));
    admin
        .write_file(&dir.join("by-sudo"), b"x", &FileMode::config_file())
        .await
        .unwrap();
    let plain = pool.host(target(Some(SUDO_USER), false));
    let denied = plain
        .write_file(&dir.join("by-user"), b"x", &FileMode::config_file())
        .await
        .unwrap_err()
        .to_string();
    assert!(denied.contains("Permission denied"), "{denied}");
    assert!(leftovers(&dir).is_empty());

    // A session killed mid-command: an error, then the next operation opens a new connection.
    let logins = host.accepted_logins();
    let sleep = HostCommand::new(["sleep", "5"]);
    let slow = root.run(&sleep);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        host.kill_sessions()
    };
    let (result, killed) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(slow, killer)
    })
    .await
    .expect("a killed session ends the command within 20 s");
    assert!(killed > 0);
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("ssh root@{}:22: running `sleep 5`", host.address)),
        "{err}"
    );
    assert!(err.contains("dropped"), "{err}");
    let again = tokio::time::timeout(
        Duration::from_secs(20),
        root.read_file(&dir.join("by-sudo")),
    )
    .await
    .expect("the next operation does not hang")
    .unwrap();
    assert_eq!(again.as_deref(), Some(&b"x"[..]));
    assert!(host.accepted_logins() > logins);
}

#[test]
fn host_keys_are_always_verified() {
    let mut a = SshHost::start();
    let b = SshHost::start();
    let dir = root_dir(&a, "routes");
    let ws = workspace(&a, &[]);
    let host = |extra: &str| {
        format!(
            "host {{\n    address = \"{}\"\n    {extra}\n  }}",
            a.address
        )
    };

    // Unknown key: refused with its fingerprint, nothing written.
    let fingerprint = fingerprint_of(&a.host_public_key());
    ws.config(&format!(
        "{}{}",
        header(),
        route(&host(""), &dir, "127.0.0.1:1")
    ));
    let err = flat(&ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]));
    assert!(
        err.contains("unknown host key") && err.contains(&fingerprint),
        "{err}"
    );
    assert!(!dir.join("app.toml").exists());

    // Pinned key of another host: mismatch with both fingerprints.
    let pinned_b = format!("host_key = \"{}\"", b.host_public_key());
    ws.config(&format!(
        "{}{}",
        header(),
        route(&host(&pinned_b), &dir, "127.0.0.1:1")
    ));
    let err = flat(&ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]));
    assert!(err.contains("host key mismatch"), "{err}");
    assert!(
        err.contains(&fingerprint_of(&b.host_public_key())) && err.contains(&fingerprint),
        "{err}"
    );

    // Pinned by fingerprint: works.
    let pinned_a = format!("host_key = \"{fingerprint}\"");
    ws.config(&format!(
        "{}{}",
        header(),
        route(&host(&pinned_a), &dir, "127.0.0.1:1")
    ));
    ws.apply();
    assert!(dir.join("app.toml").exists());
    ws.destroy();

    // Trust on first use: records the key, refuses a changed one on the next plan.
    ws.config(&format!(
        "{}{}",
        header(),
        route(&host("trust_on_first_use = true"), &dir, "127.0.0.1:1")
    ));
    ws.apply();
    let state = ws.resource(ROUTE).unwrap();
    assert_eq!(state["host_public_key"], a.host_public_key());
    ws.expect_empty_plan();
    a.rotate_host_key();
    let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
    assert!(err.contains("host key mismatch"), "{err}");
    assert!(
        err.contains(&fingerprint) && err.contains(&fingerprint_of(&a.host_public_key())),
        "{err}"
    );
}

#[test]
fn agent_passphrase_keys_and_bastion() {
    let bastion = SshHost::start();
    let hidden = SshHost::start_behind(&bastion);
    let dir = root_dir(&bastion, "routes");
    let hidden_dir = root_dir(&hidden, "routes");
    let mut ws = workspace(&bastion, &[&bastion, &hidden]);

    // A passphrase key, authorised on the bastion.
    let pass_key = ws.path().join("pass_key");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "s3cret-phrase", "-f"])
        .arg(&pass_key)
        .status()
        .unwrap();
    assert!(keygen.success());
    bastion.authorize(&pass_key.with_extension("pub"));
    ws.var("pass_key", std::fs::read_to_string(&pass_key).unwrap());
    let vars = "variable \"pass_key\" {\n  type      = string\n  sensitive = true\n}\n";
    let host = format!(
        "host {{\n    address = \"{}\"\n    private_key = var.pass_key\n    private_key_passphrase = \"s3cret-phrase\"\n  }}",
        bastion.address
    );
    ws.config(&format!(
        "{}{vars}{}",
        header(),
        route(&host, &dir, "127.0.0.1:1")
    ));
    ws.apply();
    assert!(dir.join("app.toml").exists());

    // Secrets never print: not in a trace log, not in plan output or the state shown.
    let trace = ws.path().join("trace.log");
    ws.env("TF_LOG", "trace");
    ws.env("TF_LOG_PATH", trace.display().to_string());
    let plan = ws.ok(&["plan", "-input=false"]);
    let refreshed = ws.ok(&["apply", "-refresh-only", "-auto-approve", "-input=false"]);
    // The state as `terraform show` prints it, where the Terraform can (1.0.3 itself crashes
    // printing a state whose nested block holds a sensitive value; 1.11 does not).
    let shown = if acceptance_tests::Terraform::under_test().is_current() {
        ws.ok(&["show", "-no-color"])
    } else {
        String::new()
    };
    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(log.contains("homelab"), "no trace log");
    let key_body = std::fs::read_to_string(&pass_key).unwrap();
    let key_line = key_body.lines().nth(1).unwrap().to_owned();
    for text in [&plan, &refreshed, &shown, &log] {
        assert!(!text.contains("s3cret-phrase"));
        assert!(!text.contains(&key_line));
    }
    ws.destroy();

    // The agent signs when no key is set.
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let agent = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _agent = scopeguard(agent);
    wait_for("ssh-agent", Duration::from_secs(5), || {
        sock.exists().then_some(())
    });
    let added = Command::new("ssh-add")
        .arg(&bastion.client_key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let mut ws = workspace(&bastion, &[&bastion, &hidden]);
    ws.var("key", "");
    ws.env("SSH_AUTH_SOCK", sock.display().to_string());
    let agent_header = header().replace("private_key     = var.key\n", "");
    let host = format!("host {{\n    address = \"{}\"\n  }}", bastion.address);
    ws.config(&format!(
        "{agent_header}{}",
        route(&host, &dir, "127.0.0.1:1")
    ));
    ws.apply();
    assert!(dir.join("app.toml").exists());
    ws.destroy();

    // A host only the bastion can reach (its one link is to the bastion's namespace): its
    // sshd sees the connection come from the bastion's side of that link.
    hidden.authorize(&bastion.client_key.with_extension("pub"));
    let host = format!(
        "host {{\n    address = \"{}\"\n    bastion {{\n      address = \"{}\"\n    }}\n  }}",
        hidden.address, bastion.address
    );
    ws.config(&format!(
        "{agent_header}{}",
        route(&host, &hidden_dir, "127.0.0.1:1")
    ));
    ws.apply();
    assert!(hidden_dir.join("app.toml").exists());
    let hidden_log = std::fs::read_to_string(&hidden.sshd_log).unwrap();
    let via = format!(
        "Accepted publickey for root from {} ",
        hidden.host_side_address
    );
    assert!(hidden_log.contains(&via), "{hidden_log}");
    ws.expect_empty_plan();
    ws.destroy();
    assert!(!hidden_dir.join("app.toml").exists());
}

#[test]
fn faults_end_in_clear_errors_and_converge() {
    ensure_sudo_user();
    let mut host = SshHost::start();
    let dir = root_dir(&host, "routes");
    let ws = workspace(&host, &[&host]);

    // A command failing on the host: a non-root user without sudo in a root-only directory.
    let no_sudo = format!(
        "host {{\n    address = \"{}\"\n    user = \"{SUDO_USER}\"\n  }}",
        host.address
    );
    ws.config(&format!(
        "{}{}",
        header(),
        route(&no_sudo, &dir, "127.0.0.1:1")
    ));
    let err = flat(&ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]));
    assert!(
        err.contains(&format!("ssh {SUDO_USER}@{}:22", host.address)),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
    assert!(ws.resource(ROUTE).is_none());

    // A read-only directory: the same for root (a read-only bind mount).
    let ro = root_dir(&host, "ro");
    let mounted = host
        .in_sshd_mounts("mount")
        .args(["--bind"])
        .arg(&ro)
        .arg(&ro)
        .status()
        .unwrap();
    assert!(mounted.success());
    let remounted = host
        .in_sshd_mounts("mount")
        .args(["-o", "remount,bind,ro"])
        .arg(&ro)
        .status()
        .unwrap();
    let root = format!("host {{\n    address = \"{}\"\n  }}", host.address);
    if remounted.success() {
        ws.config(&format!("{}{}", header(), route(&root, &ro, "127.0.0.1:1")));
        let err = flat(&ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]));
        assert!(err.contains("Read-only file system"), "{err}");
        assert!(leftovers(&ro).is_empty());
    }
    let _ = host.in_sshd_mounts("umount").arg(&ro).status();

    // Thirty routes at once share one connection, whose channels stay below sshd's
    // MaxSessions (OpenSSH's default 10 on these hosts): all land.
    let many: String = (0..30)
        .map(|i| {
            format!(
                "resource \"homelab_traefik_route\" \"r{i}\" {{\n  name = \"r{i}\"\n  config_dir = \"{}\"\n  rule = \"Host(`r{i}.lab`)\"\n  entrypoints = [\"web\"]\n  servers = [\"http://127.0.0.1:1\"]\n  {root}\n}}\n",
                dir.display()
            )
        })
        .collect();
    ws.config(&format!("{}{many}", header()));
    ws.ok(&["apply", "-auto-approve", "-input=false", "-parallelism=30"]);
    ws.expect_empty_plan();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 30);
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));

    // Every session killed while thirty changes are in flight: the apply ends (no hang)
    // with errors naming the host, and the next apply converges with no temporary file
    // left on the host.
    let changed = many.replace("127.0.0.1:1", "127.0.0.1:2");
    ws.config(&format!("{}{changed}", header()));
    let mut child = ws.spawn(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-parallelism=30",
        "-no-color",
    ]);
    let mut killed = 0;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the apply hung after its sessions were killed");
        }
        if started.elapsed() < Duration::from_secs(3) {
            killed += host.kill_sessions();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = flat(&std::fs::read_to_string(ws.path().join("command.log")).unwrap());
    eprintln!("killed {killed} sshd session processes; the apply {status}");
    if !status.success() {
        assert!(
            out.contains(&format!("ssh root@{}:22", host.address)),
            "{out}"
        );
    }
    assert!(killed > 0, "{out}");
    ws.apply();
    ws.expect_empty_plan();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 30);
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));

    // sshd down: a clear error within the connect timeout.
    host.stop_sshd();
    let started = std::time::Instant::now();
    let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
    assert!(
        err.contains("connection refused after 3s (connect_timeout)"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    host.restart_sshd();
    ws.destroy();
}

#[test]
fn bad_host_input_fails_at_plan_with_its_path() {
    let mut ws = Workspace::new();
    ws.var("key", "not a key");
    ws.var("known_hosts", "/dev/null");
    ws.var(
        "bad_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2\n-----END OPENSSH PRIVATE KEY-----",
    );
    let bad_key_var = "variable \"bad_key\" {\n  type      = string\n  sensitive = true\n}\n";
    let cases: &[(&str, &str)] = &[
        ("address = \"\"", "host.address"),
        ("address = \"127.0.0.9\"\n    port = 0", "host.port"),
        ("address = \"127.0.0.9\"\n    port = 70000", "host.port"),
        ("address = \"127.0.0.9\"\n    host_key = \"ssh-ed25519 AAAAnope\"", "host.host_key"),
        (
            "address = \"127.0.0.9\"\n    private_key = var.bad_key",
            "host.private_key",
        ),
        (
            "address = \"127.0.0.9\"\n    host_key = \"SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\"\n    trust_on_first_use = true",
            "host.trust_on_first_use",
        ),
    ];
    let dir = Path::new("/nonexistent-homelab");
    for (block, path) in cases {
        let config = format!(
            "{}{bad_key_var}{}",
            header().replace("private_key     = var.key\n", ""),
            route(&format!("host {{\n    {block}\n  }}"), dir, "127.0.0.1:1")
        );
        ws.config(&config);
        let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
        assert!(err.contains(path), "{block}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    // A relative route directory, on a remote host too.
    let config = format!(
        "{}{}",
        header().replace("private_key     = var.key\n", ""),
        route(
            "host {\n    address = \"127.0.0.9\"\n  }",
            Path::new("relative/dir"),
            "127.0.0.1:1"
        )
    );
    ws.config(&config);
    let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
    assert!(err.contains("config_dir"), "{err}");
    // A provider key that is not a key.
    ws.config(&format!(
        "{}{}",
        header(),
        route("", Path::new("/tmp"), "127.0.0.1:1")
    ));
    let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
    assert!(
        err.contains("ssh.private_key") && err.contains("is not a private key"),
        "{err}"
    );
}

/// Terraform's output with its line wrapping and box characters folded into single spaces.
fn flat(text: &str) -> String {
    text.replace(['│', '╷', '╵'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ssh-keygen -l`'s fingerprint of a public key line.
fn fingerprint_of(public_key: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.pub");
    std::fs::write(&file, format!("{public_key}\n")).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
fn scopeguard(child: std::process::Child) -> KillOnDrop {
    KillOnDrop(child)
}

/// Import of a file on a host whose key the resource pins (`host { host_key }`) while the
/// provider has no known_hosts: the import records the key the host presents, and the first
/// plan holds it to the configuration before anything is written: the same key plans in
/// place and applies without touching the file, another key or none at all is refused.
#[test]
fn import_records_the_hosts_key_and_the_first_plan_holds_it_to_the_configuration() {
    let a = SshHost::start();
    let b = SshHost::start();
    let dir = root_dir(&a, "routes");
    // The provider has no known_hosts (an empty variable leaves it null).
    let mut ws = workspace(&a, &[]);
    ws.var("known_hosts", "");
    let config = |host_extra: &str| {
        let host = format!(
            "host {{\n    address = \"{}\"\n    {host_extra}\n  }}",
            a.address
        );
        format!("{}{}", header(), route(&host, &dir, "127.0.0.1:1"))
    };
    let pinned_a = format!("host_key = \"{}\"", a.host_public_key());
    ws.config(&config(&pinned_a));
    ws.apply();
    let file = dir.join("app.toml");
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();
    ws.state_rm(ROUTE);

    // The import needs neither known_hosts nor the resource's configuration.
    let id = format!("{}:{}", a.address, file.display());
    ws.import(ROUTE, &id);
    assert_eq!(
        ws.resource(ROUTE).unwrap()["host_public_key"],
        a.host_public_key()
    );

    // The configuration pins another key: refused at plan with both fingerprints.
    ws.config(&config(&format!("host_key = \"{}\"", b.host_public_key())));
    let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
    assert!(err.contains("Host key mismatch"), "{err}");
    assert!(
        err.contains(&fingerprint_of(&a.host_public_key()))
            && err.contains(&fingerprint_of(&b.host_public_key())),
        "{err}"
    );
    // No key confirmed by the configuration at all: refused, naming the remedies.
    ws.config(&config(""));
    let err = flat(&ws.fails(&["plan", "-input=false", "-no-color"]));
    assert!(
        err.contains("Unconfirmed host key")
            && err.contains("host_key")
            && err.contains("trust_on_first_use"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written
    );

    // The pinned key is the one recorded: the host block is updated in place, the file is
    // left as it is, and then nothing is left to do.
    ws.config(&config(&pinned_a));
    ws.expect_plan(ROUTE, &["update"]);
    ws.apply();
    ws.expect_empty_plan();
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written
    );
    ws.destroy();
    assert!(!file.exists());

    // Where the provider's known_hosts decides and does not list the host, the import is
    // refused naming the one remedy an import can use.
    std::fs::write(&file, "# a route file\n").unwrap();
    let listed = workspace(&a, &[]);
    listed.config(&config(""));
    let err = flat(&listed.fails(&["import", "-input=false", "-no-color", ROUTE, &id]));
    assert!(
        err.contains("lists no key") && err.contains("an import reads no host block"),
        "{err}"
    );
    assert!(!err.contains("trust_on_first_use"), "{err}");
}
