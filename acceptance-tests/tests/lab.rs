//! The whole Tabiri lab (`terraform/` with the reusable modules) against the local lab
//! (`acceptance_tests::lab`), with the real terraform:
//! - a copy of the lab and its modules outside the repository, applied while one host's
//!   sshd is down: the apply fails naming that host, the rest is applied, and once sshd is
//!   back the next apply converges and a plan is empty; every service answers through
//!   Traefik, every target is up in Prometheus, backups restore; destroy leaves no guest,
//!   instance, record, peer or container, and the lab's end leaves no namespace;
//! - `make demo`'s own flow (scripts/demo.sh): up, the printed curl commands answer, a
//!   second up changes nothing, demo-stop leaves no process;
//! - `terraform fmt -check` and `terraform validate` on the lab and every module.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use acceptance_tests::lab::{LocalLab, Ports};
use acceptance_tests::procs::wait_for;
use acceptance_tests::{repo_root, terraform, Workspace};
use serde_json::{json, Value as Json};

const SERVICES: &[&str] = &[
    "airflow",
    "grafana",
    "jdownloader",
    "nextcloud",
    "portainer",
    "semaphore",
];

fn answer(addr: &str, host: &str) -> Option<String> {
    acceptance_tests::http::get(addr, host, "/")
        .ok()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
}

fn state_addresses(ws: &Workspace) -> Vec<String> {
    ws.ok(&["state", "list"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// AWS objects moto still holds: instances not terminated, record sets other than NS/SOA.
fn aws_leftovers(endpoint: &str) -> Json {
    let script = r#"
import json, sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="eu-west-1",
          aws_access_key_id="test", aws_secret_access_key="test")
ec2 = boto3.client("ec2", **kw)
alive = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
         if i["State"]["Name"] != "terminated"]
r53 = boto3.client("route53", **kw)
records = [rr["Name"] + " " + rr["Type"] for z in r53.list_hosted_zones()["HostedZones"]
           for rr in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]
           if rr["Type"] not in ("NS", "SOA")]
groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"]
print(json.dumps({"instances": alive, "records": records, "security_groups": groups}))
"#;
    let out = Command::new(acceptance_tests::fakepve::python())
        .args(["-c", script, endpoint])
        .output()
        .expect("python");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_lab_applies_around_a_host_that_is_down_and_destroys_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut lab = LocalLab::start(dir.path(), Ports::free());
    let ws = lab.workspace();
    let jdownloader = lab.host("jdownloader").ssh.address.clone();

    // One host unreachable during the apply: that host is named, the rest is applied.
    lab.stop_sshd("jdownloader");
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains(&format!("{jdownloader}:22")),
        "the error names the host that is down:\n{text}"
    );
    let applied = state_addresses(&ws);
    let mut expected = vec![
        "module.service[\"nextcloud\"].homelab_compose_stack.this",
        "module.guest[\"nextcloud\"].module.mesh[0].homelab_netbird_peer.this",
        "homelab_proxmox_backup_job.tier1_guests",
        "module.cloud_edge.homelab_route53_record.this[\"airflow.lab.example.com\"]",
    ];
    // What waits on a resource inside a module called with for_each waits, on Terraform
    // 1.11, for that resource in every instance of the module (1.0.3 waited for its own
    // instance only): there, one host down holds up every service's route, target and
    // backup job until it is back, though no other host's stack, peer or guest.
    if !acceptance_tests::Terraform::under_test().is_current() {
        expected.push("module.service[\"airflow\"].homelab_traefik_route.this");
    }
    for expected in expected {
        assert!(
            applied.iter().any(|a| a == expected),
            "{expected} was not applied: {applied:#?}\n{text}"
        );
    }
    assert!(
        !applied
            .iter()
            .any(|a| a == "module.service[\"jdownloader\"].homelab_compose_stack.this"),
        "nothing is recorded on the host that was down"
    );

    // sshd is back: the next apply converges, and then nothing is left to do.
    lab.restart_sshd("jdownloader");
    ws.apply();
    ws.expect_empty_plan();

    let web = format!("127.0.0.1:{}", lab.ports.traefik_web);
    for service in SERVICES {
        let host = format!("{service}.lab.localhost");
        let body = wait_for(&host, Duration::from_secs(20), || answer(&web, &host));
        assert!(body.contains("(stand-in)"), "{host}: {body}");
    }
    let prometheus = format!("127.0.0.1:{}", lab.ports.prometheus);
    let targets = || -> Vec<(String, String)> {
        // curl: Prometheus answers in chunks, which http::get does not undo.
        let body = Command::new("curl")
            .args(["-fsS", &format!("http://{prometheus}/api/v1/targets")])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        let targets: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        let mut seen: Vec<(String, String)> = targets["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| (t["scrapeUrl"].to_string(), t["health"].to_string()))
            .collect();
        seen.sort();
        seen
    };
    // 4 hosts, 6 services and the machine's own node_exporter, every one up.
    let all_up =
        |seen: &[(String, String)]| seen.len() == 11 && seen.iter().all(|(_, h)| h == "\"up\"");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut seen = targets();
    while !all_up(&seen) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        seen = targets();
    }
    assert!(
        all_up(&seen),
        "Prometheus targets: {seen:#?}\n{}",
        std::fs::read_to_string(dir.path().join("prometheus/prometheus.log")).unwrap_or_default()
    );
    // The tier-1 backup ran during apply and restores the service's stack directory.
    let project = dir
        .path()
        .canonicalize()
        .unwrap()
        .join("hosts/nextcloud/opt/tabiri/stacks/nextcloud");
    let restore = dir.path().join("restore");
    let out = Command::new("restic")
        .args(["-r"])
        .arg(dir.path().join("backups/nextcloud-tier1"))
        .args(["restore", "latest", "--path"])
        .arg(&project)
        .arg("--target")
        .arg(&restore)
        .env("RESTIC_PASSWORD", "tabiri-demo-restic")
        .output()
        .expect("restic");
    assert!(out.status.success(), "{out:?}");
    let page = restore
        .join(project.strip_prefix("/").unwrap())
        .join("www/index.html");
    assert_eq!(
        std::fs::read_to_string(&page).expect("the restored page"),
        "NextCloud (stand-in) on nextcloud\n"
    );

    // Destroy: no guest, instance, record, peer or container is left; the backups stay.
    ws.destroy();
    let guests: Vec<u64> = lab.pve.guest_ids();
    assert_eq!(guests, Vec::<u64>::new(), "Proxmox guests left");
    assert_eq!(lab.pve.api("GET", "/cluster/backup", json!({})), json!([]));
    assert_eq!(
        aws_leftovers(&lab.moto.endpoint),
        json!({"instances": [], "records": [], "security_groups": []})
    );
    let (status, peers) = lab.netbird.api("GET", "/api/peers", None);
    assert_eq!((status, peers), (200, json!([])));
    for host in &lab.hosts {
        assert_eq!(host.docker.ok(&["ps", "-aq"]).trim(), "", "{}", host.name);
    }
    assert!(dir.path().join("backups/nextcloud-tier1/config").exists());

    let namespaces: Vec<String> = lab.hosts.iter().map(|h| h.ssh.netns.clone()).collect();
    drop(lab);
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for ns in namespaces {
        assert!(!list.contains(&ns), "namespace {ns} left: {list}");
    }
}

/// A newcomer's machine as this image gives it: a home whose `.terraformrc` does not exist
/// while `TF_CLI_CONFIG_FILE` names it, and the provider in the home's filesystem mirror
/// as `make install` puts it there (`install-mirror`, its second half: the build under test,
/// so no release build).
struct NewcomerHome {
    home: tempfile::TempDir,
}

impl NewcomerHome {
    fn new() -> Self {
        let home = tempfile::tempdir().expect("temp home");
        let out = Command::new("make")
            .current_dir(repo_root())
            .args(["install-mirror", "PROFILE=dev"])
            .arg(format!(
                "MIRROR_ROOT={}",
                home.path().join(".terraform.d/plugins").display()
            ))
            .output()
            .expect("make install-mirror");
        assert!(out.status.success(), "make install-mirror: {out:?}");
        Self { home }
    }

    /// The environment of a command run as the newcomer.
    fn apply_to(&self, command: &mut Command) {
        command
            .env("HOME", self.home.path())
            .env("TF_CLI_CONFIG_FILE", self.home.path().join(".terraformrc"))
            .env_remove("TF_DATA_DIR")
            .env_remove("TF_PLUGIN_CACHE_DIR");
    }
}

fn demo(dir: &Path, ports: Ports, newcomer: &NewcomerHome, action: &str) -> String {
    let mut command = Command::new(repo_root().join("scripts/demo.sh"));
    newcomer.apply_to(&mut command);
    let out = command
        .arg(action)
        .env("DEMO_DIR", dir)
        .env("TERRAFORM", terraform())
        .env("LAB_BIN", repo_root().join("target/debug/local-lab"))
        .env("DEMO_WEB_PORT", ports.traefik_web.to_string())
        .env("DEMO_API_PORT", ports.traefik_api.to_string())
        .env("DEMO_PROMETHEUS_PORT", ports.prometheus.to_string())
        .env("DEMO_NODE_EXPORTER_PORT", ports.node_exporter.to_string())
        .env(
            "PATH",
            format!(
                "{}:{}",
                terraform().parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("scripts/demo.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "demo.sh {action} failed:\n{text}");
    text
}

/// `make demo` as a newcomer runs it: the machine's own environment, the provider from
/// `make install`'s mirror through a plain `terraform init`; up, up again (nothing
/// changes), stop, up on a new lab (nothing an old lab wrote is in the way), stop.
#[test]
fn make_demo_brings_the_lab_up_prints_what_to_try_and_stops_clean() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = Ports::free();
    let newcomer = NewcomerHome::new();
    let demo_dir = dir.path().join("demo");
    // Stops the demo's lab however this test ends (the check below runs it as the user would).
    struct StopOnDrop<'a>(&'a Path, Ports, &'a NewcomerHome);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let _ = std::panic::catch_unwind(|| demo(self.0, self.1, self.2, "down"));
            }
        }
    }
    let _stop = StopOnDrop(&demo_dir, ports, &newcomer);
    let first = demo(&demo_dir, ports, &newcomer, "up");
    assert!(first.contains("Apply complete!"), "{first}");
    for heading in ["host", "zone", "mesh IP", "services", "URLs"] {
        assert!(
            first.contains(heading),
            "the table lacks {heading}:\n{first}"
        );
    }
    // Every printed curl command answers with its stand-in service.
    let curls: Vec<&str> = first
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("curl -H 'Host: "))
        .collect();
    assert_eq!(curls.len(), SERVICES.len(), "{first}");
    for line in curls {
        let out = Command::new("sh").args(["-c", line]).output().unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.contains("(stand-in)"), "{line}: {body}");
    }
    let picture = demo_dir.join("lab.png");
    assert!(
        first.contains(&picture.display().to_string())
            && std::fs::metadata(&picture).unwrap().len() > 10_000,
        "{first}"
    );
    let dot = std::fs::read_to_string(demo_dir.join("lab.dot")).unwrap();
    for node in [
        "host:nextcloud",
        "svc:airflow",
        "repo:",
        "vzdump:local",
        "route:proxmox-lan",
    ] {
        assert!(dot.contains(node), "the picture lacks {node}");
    }

    // A second `make demo` changes nothing.
    let second = demo(&demo_dir, ports, &newcomer, "up");
    assert!(
        second.contains("Resources: 0 added, 0 changed, 0 destroyed."),
        "{second}"
    );

    // demo-stop: the lab's process and everything it started are gone.
    let stop = |demo_dir: &Path| {
        let pid = std::fs::read_to_string(demo_dir.join("lab.pid")).unwrap();
        demo(demo_dir, ports, &newcomer, "down");
        assert!(!Path::new(&format!("/proc/{}", pid.trim())).exists());
        let left = Command::new("pgrep")
            .args(["-af", &demo_dir.display().to_string()])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&left.stdout), "", "processes left");
    };
    stop(&demo_dir);

    // `make demo` after `make demo-stop`: a new lab from an empty state, which finds none of
    // the old lab's files (routes, Prometheus targets) in its way.
    let again = demo(&demo_dir, ports, &newcomer, "up");
    assert!(again.contains("Apply complete!"), "{again}");
    assert!(!again.contains("already holds"), "{again}");
    stop(&demo_dir);
}

/// `make install`, then a plain `terraform init` in the machine's own environment, and
/// `terraform providers lock` against that mirror: the hashes it writes are the ones `init`
/// then checks the installed provider against.
#[test]
fn make_install_then_plain_init_and_providers_lock() {
    let newcomer = NewcomerHome::new();
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        work.path().join("main.tf"),
        "terraform {\n  required_providers {\n    homelab = { source = \"tabiri/homelab\" }\n  }\n}\n\
         provider \"homelab\" {}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut command = Command::new(terraform());
        newcomer.apply_to(&mut command);
        let out = command
            .current_dir(work.path())
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "terraform {args:?}:\n{text}");
        text
    };
    let init = run(&["init", "-input=false", "-no-color"]);
    assert!(init.contains("Installing tabiri/homelab"), "{init}");
    let lock_file = work.path().join(".terraform.lock.hcl");
    std::fs::remove_file(&lock_file).unwrap();
    let mirror = newcomer.home.path().join(".terraform.d/plugins");
    run(&[
        "providers",
        "lock",
        "-no-color",
        "-platform=linux_amd64",
        &format!("-fs-mirror={}", mirror.display()),
    ]);
    let locked = std::fs::read_to_string(&lock_file).unwrap();
    assert!(
        locked.contains("registry.terraform.io/tabiri/homelab") && locked.contains("\"h1:"),
        "{locked}"
    );
    // A fresh init checks the mirror's package against those hashes.
    std::fs::remove_dir_all(work.path().join(".terraform")).unwrap();
    run(&["init", "-input=false", "-no-color"]);
    assert_eq!(std::fs::read_to_string(&lock_file).unwrap(), locked);
    run(&["validate", "-no-color"]);
}

#[test]
fn the_lab_and_every_module_are_formatted_and_valid() {
    let root = repo_root();
    let out = Command::new(terraform())
        .args(["fmt", "-check", "-recursive", "-no-color"])
        .current_dir(&root)
        .args(["terraform"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "terraform fmt -check terraform: {out:?}"
    );
    let out = Command::new(terraform())
        .args(["fmt", "-check", "-recursive", "-no-color", "examples"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "terraform fmt -check examples: {out:?}"
    );

    // Copied outside the repository as a lab copies them: terraform/ beside examples/, so
    // its `../examples/modules/...` and the modules' `../mesh-host` resolve as here.
    let ws = Workspace::new();
    for dir in ["terraform", "examples"] {
        let status = Command::new("cp")
            .arg("-r")
            .arg(root.join(dir))
            .arg(ws.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut dirs = vec![ws.path().join("terraform")];
    for entry in std::fs::read_dir(ws.path().join("examples/modules")).unwrap() {
        dirs.push(entry.unwrap().path());
    }
    for target in dirs {
        let _ = std::fs::remove_dir_all(target.join(".terraform"));
        let dir = target.clone();
        let run = |args: &[&str]| {
            let mut command = Command::new(terraform());
            command
                .arg(format!("-chdir={}", target.display()))
                .args(args)
                .env("TF_CLI_CONFIG_FILE", ws.path().join("terraform.rc"));
            command.output().unwrap()
        };
        let got = run(&["get", "-no-color"]);
        assert!(got.status.success(), "{}: {got:?}", dir.display());
        let valid = run(&["validate", "-no-color"]);
        assert!(
            valid.status.success(),
            "terraform validate {}:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&valid.stdout),
            String::from_utf8_lossy(&valid.stderr)
        );
    }
}

#[test]
fn the_state_backend_example_locks_a_second_apply_out_until_the_first_ends() {
    let moto = acceptance_tests::moto::Moto::start();
    acceptance_tests::lab::seed_aws(&moto.endpoint);
    // What each Terraform is told to use: S3's own lock file from 1.10 on, DynamoDB before.
    let current = acceptance_tests::Terraform::under_test().is_current();
    let example = if current {
        "terraform/backend.tf.example"
    } else {
        "terraform/backend-dynamodb.tf.example"
    };
    let backend = std::fs::read_to_string(repo_root().join(example)).expect(example);
    assert_eq!(
        backend.contains("use_lockfile = true"),
        current,
        "{example}"
    );
    let config = format!("{backend}\nresource \"null_resource\" \"marker\" {{}}\n");
    // Two working directories on the same state, as two people (or CI and a person) have.
    let workspaces: Vec<Workspace> = (0..2)
        .map(|_| {
            let ws = Workspace::with_null_provider();
            ws.config(&config);
            let endpoint = &moto.endpoint;
            ws.ok(&[
                "init",
                "-input=false",
                "-no-color",
                &format!("-backend-config=endpoint={endpoint}"),
                &format!("-backend-config=dynamodb_endpoint={endpoint}"),
                &format!("-backend-config=sts_endpoint={endpoint}"),
                "-backend-config=force_path_style=true",
                "-backend-config=skip_credentials_validation=true",
                "-backend-config=skip_metadata_api_check=true",
                "-backend-config=access_key=test",
                "-backend-config=secret_key=test",
            ]);
            ws
        })
        .collect();

    // The first apply holds the lock while it waits for its confirmation.
    let mut first = workspaces[0]
        .command(&["apply", "-input=true", "-no-color"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("terraform apply");
    wait_for(
        "the first apply to take the lock",
        Duration::from_secs(60),
        || {
            // Held: one lock record in DynamoDB, or the lock file beside the state in S3.
            let count_locks = if current {
                "import sys, boto3; s = boto3.client('s3', endpoint_url=sys.argv[1], region_name='eu-west-1', aws_access_key_id='t', aws_secret_access_key='t'); print(sum(1 for o in s.list_objects_v2(Bucket='tabiri-tfstate').get('Contents', []) if o['Key'] == 'lab/terraform.tfstate.tflock'))"
            } else {
                "import sys, boto3; t = boto3.client('dynamodb', endpoint_url=sys.argv[1], region_name='eu-west-1', aws_access_key_id='t', aws_secret_access_key='t').scan(TableName='tabiri-tflock'); print(sum(1 for i in t['Items'] if 'Info' in i))"
            };
            let out = Command::new(acceptance_tests::fakepve::python())
                .args(["-c", count_locks, &moto.endpoint])
                .output()
                .ok()?;
            (String::from_utf8_lossy(&out.stdout).trim() == "1").then_some(())
        },
    );
    let mut second = workspaces[1].spawn(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-lock-timeout=120s",
    ]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second apply went ahead while the first held the lock"
    );
    // The first is answered "no": it releases the lock, and the second goes on.
    {
        use std::io::Write;
        let mut stdin = first.stdin.take().unwrap();
        writeln!(stdin, "no").unwrap();
    }
    let first = first.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("Apply cancelled"),
        "{first:?}"
    );
    let status = second.wait().unwrap();
    let log = std::fs::read_to_string(workspaces[1].path().join("command.log")).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("Acquiring state lock"), "{log}");
    assert!(log.contains("Apply complete! Resources: 1 added"), "{log}");
    // Both see the one state in S3.
    assert!(workspaces[0]
        .ok(&["state", "list"])
        .contains("null_resource.marker"));
}
