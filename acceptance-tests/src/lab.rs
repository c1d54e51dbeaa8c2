//! The local Tabiri lab that `make demo` and the lab tests apply `terraform/` to: every part
//! on loopback or in network namespaces this process makes, gone when it ends.
//!
//! - fakepve (Proxmox) with the lab's templates, moto (EC2, Route 53) with the lab's zone;
//! - the NetBird management double;
//! - one SSH host per Proxmox guest and EC2 instance of the lab (`HOSTS`), each with its own
//!   Docker engine, a stand-in image built `FROM scratch` and the stand-in NetBird agent;
//!   the guests' cloud-init addresses in `terraform/` are these hosts' addresses;
//! - Traefik (file provider), Prometheus (file_sd) and node_exporter (textfile collector,
//!   where the backup jobs' metrics land) on loopback.
//!
//! [`LocalLab::write_vars`] writes what the HCL needs to know about them as a
//! `-var-file` (`lab.tfvars.json`): endpoints, the token, the SSH key and known_hosts,
//! each host's address and gateway.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::docker::DockerEngine;
use crate::fakepve::{self, FakePve};
use crate::moto::Moto;
use crate::netbird::{Agent, NetbirdDouble};
use crate::procs::{wait_for, Background};
use crate::prometheus::{node_exporter, Prometheus};
use crate::ssh_hosts::SshHost;
use crate::traefik::Traefik;

/// The lab's machines: (name, what it is, zone). Proxmox VMs and containers hold the local
/// services, the EC2 instance the cloud edge.
pub const HOSTS: &[(&str, &str, &str)] = &[
    ("nextcloud", "proxmox-vm", "private"),
    ("jdownloader", "proxmox-lxc", "private"),
    ("management", "proxmox-vm", "management"),
    ("edge", "ec2", "public"),
];

/// The image every stand-in service runs: busybox alone, built from scratch on each host.
pub const STANDIN_IMAGE: &str = "tabiri/standin:1";

/// Fixed loopback ports, so the printed commands stay the same between runs.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub traefik_web: u16,
    pub traefik_api: u16,
    pub prometheus: u16,
    pub node_exporter: u16,
}

impl Ports {
    /// `DEMO_*_PORT` from the environment, else the demo's defaults.
    pub fn from_env() -> Self {
        let port = |name: &str, default: u16| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            traefik_web: port("DEMO_WEB_PORT", 18000),
            traefik_api: port("DEMO_API_PORT", 18090),
            prometheus: port("DEMO_PROMETHEUS_PORT", 19090),
            node_exporter: port("DEMO_NODE_EXPORTER_PORT", 19100),
        }
    }

    /// Free ports, for tests that run beside a demo.
    pub fn free() -> Self {
        let free = crate::procs::free_port;
        Self {
            traefik_web: free(),
            traefik_api: free(),
            prometheus: free(),
            node_exporter: free(),
        }
    }
}

pub struct LabHost {
    pub name: &'static str,
    pub kind: &'static str,
    pub zone: &'static str,
    pub docker: DockerEngine,
    pub agent: Agent,
    pub ssh: SshHost,
}

pub struct LocalLab {
    pub dir: PathBuf,
    pub ports: Ports,
    pub pve: FakePve,
    pub moto: Moto,
    pub netbird: NetbirdDouble,
    pub hosts: Vec<LabHost>,
    _traefik: Traefik,
    _prometheus: Prometheus,
    _services: Vec<Background>,
}

fn run(what: &str, command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("dir");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn wait_http(what: &str, addr: &str, path: &str) {
    wait_for(what, Duration::from_secs(60), || {
        crate::http::get(addr, "localhost", path)
            .ok()
            .filter(|(status, _)| *status == 200)
    });
}

/// Prometheus's alert rules for the backups: a failed last run, or no success for a day.
const BACKUP_RULES: &str = r#"groups:
  - name: backups
    rules:
      - alert: BackupFailed
        expr: restic_backup_exit_code != 0
        labels: { severity: critical }
        annotations: { summary: "backup job {{ $labels.job_name }} failed its last run" }
      - alert: BackupStale
        expr: time() - restic_backup_last_success_timestamp_seconds > 26 * 3600
        labels: { severity: warning }
        annotations: { summary: "backup job {{ $labels.job_name }} has not succeeded for a day" }
"#;

impl LocalLab {
    /// Starts every part under `dir` (made if missing) and waits until each answers.
    pub fn start(dir: &Path, ports: Ports) -> Self {
        std::fs::create_dir_all(dir).expect("lab dir");
        let dir = dir.canonicalize().expect("lab dir");
        // A new lab starts from an empty Terraform state (its machines are new), so what an
        // earlier lab had written on its hosts (stacks, jobs, routes, Prometheus targets)
        // describes nothing and goes: left, it would read as files someone else wrote. The
        // backup repositories stay, as a real lab's would.
        for written in ["hosts", "traefik", "prometheus/targets", "metrics"] {
            let _ = std::fs::remove_dir_all(dir.join(written));
        }
        let pve = FakePve::start();
        let moto = Moto::start();
        let netbird = NetbirdDouble::start();

        // One client key for every host, as a lab's admin has.
        let key = dir.join("ssh/id_ed25519");
        if !key.exists() {
            std::fs::create_dir_all(key.parent().unwrap()).expect("ssh dir");
            run(
                "ssh-keygen",
                Command::new("ssh-keygen")
                    .args([
                        "-q",
                        "-t",
                        "ed25519",
                        "-N",
                        "",
                        "-C",
                        "tabiri-lab-admin",
                        "-f",
                    ])
                    .arg(&key),
            );
        }
        let mut known_hosts = String::new();
        let mut hosts = Vec::new();
        let mut services = Vec::new();
        for (name, kind, zone) in HOSTS {
            let ssh = SshHost::start();
            ssh.authorize(&key.with_extension("pub"));
            known_hosts.push_str(&format!("{} {}\n", ssh.address, ssh.host_public_key()));
            let docker = DockerEngine::start(&ssh);
            docker.build_busybox_image(STANDIN_IMAGE, name);
            let agent = netbird.install_agent(&ssh);
            // The hosts share this machine's filesystem: each keeps what the lab writes on
            // it (stacks, backup jobs, their cron entries) under its own root.
            for sub in [
                "etc/cron.d",
                "etc/tabiri/backup",
                "etc/systemd/system",
                "opt/tabiri/stacks",
            ] {
                std::fs::create_dir_all(dir.join("hosts").join(name).join(sub)).expect("host root");
            }
            // What Prometheus scrapes of the machine itself.
            services.push(node_exporter(
                Some(&ssh),
                &format!("{}:9100", ssh.address),
                None,
                &dir.join(format!("node_exporter-{name}.log")),
            ));
            hosts.push(LabHost {
                name,
                kind,
                zone,
                docker,
                agent,
                ssh,
            });
        }
        write(&dir.join("ssh/known_hosts"), &known_hosts);

        let traefik_dir = dir.join("traefik");
        std::fs::create_dir_all(&traefik_dir).expect("traefik dir");
        let traefik = Traefik::spawn(
            None,
            &format!("127.0.0.1:{}", ports.traefik_web),
            &format!("127.0.0.1:{}", ports.traefik_api),
            &traefik_dir,
            &dir.join("traefik.log"),
        );

        let metrics_dir = dir.join("metrics");
        let sd_dir = dir.join("prometheus/targets");
        std::fs::create_dir_all(&metrics_dir).expect("metrics dir");
        std::fs::create_dir_all(&sd_dir).expect("file_sd dir");
        services.push(node_exporter(
            None,
            &format!("127.0.0.1:{}", ports.node_exporter),
            Some(&metrics_dir),
            &dir.join("node_exporter.log"),
        ));
        write(&dir.join("prometheus/backups.rules.yml"), BACKUP_RULES);
        let prometheus = Prometheus::spawn(
            None,
            &format!("127.0.0.1:{}", ports.prometheus),
            &dir.join("prometheus"),
            &format!(
                "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n\
                 rule_files: [\"backups.rules.yml\"]\n\
                 scrape_configs:\n\
                 \x20 - job_name: backups\n    static_configs: [{{ targets: [\"127.0.0.1:{ne}\"] }}]\n\
                 \x20 - job_name: lab\n    file_sd_configs: [{{ files: [\"{sd}/*.json\"], refresh_interval: 5s }}]\n",
                ne = ports.node_exporter,
                sd = sd_dir.display()
            ),
        );

        // The lab's DNS zone and the bucket Terraform's state may live in.
        run(
            "the lab's hosted zone and state bucket",
            Command::new(fakepve::python()).args(["-c", SEED_AWS, &moto.endpoint]),
        );

        traefik.wait_ready();
        prometheus.wait_ready();
        wait_http(
            "node_exporter",
            &format!("127.0.0.1:{}", ports.node_exporter),
            "/metrics",
        );
        LocalLab {
            dir,
            ports,
            pve,
            moto,
            netbird,
            hosts,
            _traefik: traefik,
            _prometheus: prometheus,
            _services: services,
        }
    }

    /// Stops `name`'s sshd: the host is unreachable until [`restart_sshd`](Self::restart_sshd).
    pub fn stop_sshd(&mut self, name: &str) {
        host_named(&mut self.hosts, name).ssh.stop_sshd();
    }

    /// Starts `name`'s sshd again, with its sessions' Docker engine and NetBird agent.
    pub fn restart_sshd(&mut self, name: &str) {
        let host = host_named(&mut self.hosts, name);
        host.ssh.restart_sshd();
        host.docker.serve_sessions_of(&host.ssh);
        host.agent = self.netbird.install_agent(&host.ssh);
    }

    /// A workspace holding a copy of `terraform/` with the reusable modules beside it
    /// (`./modules/<name>`, as a lab that copied them has them), `demo.tfvars` and this
    /// lab's variables auto-loaded, and the modules installed.
    pub fn workspace(&self) -> crate::Workspace {
        let ws = crate::Workspace::new();
        let root = crate::repo_root();
        let copy =
            |from: PathBuf, to: &Path| run("cp -r", Command::new("cp").arg("-r").arg(from).arg(to));
        copy(root.join("terraform/."), ws.path());
        copy(root.join("examples/modules"), ws.path());
        // What a `make demo` on this machine may have left beside the sources.
        let _ = std::fs::remove_dir_all(ws.path().join(".terraform"));
        let _ = std::fs::remove_file(ws.path().join(".terraform.lock.hcl"));
        std::fs::rename(
            ws.path().join("demo.tfvars"),
            ws.path().join("demo.auto.tfvars"),
        )
        .expect("demo.tfvars");
        for entry in std::fs::read_dir(ws.path()).expect("the copy") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "tf") {
                let text = std::fs::read_to_string(&path).expect("read");
                std::fs::write(&path, text.replace("../examples/modules/", "./modules/"))
                    .expect("write");
            }
        }
        std::fs::copy(self.write_vars(), ws.path().join("lab.auto.tfvars.json"))
            .expect("copy the lab's variables");
        ws.ok(&["get", "-no-color"]);
        ws
    }

    pub fn host(&self, name: &str) -> &LabHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("the lab has no host {name}"))
    }

    /// What `terraform/` needs to know about this lab, as Terraform variables.
    pub fn vars(&self) -> Json {
        let hosts: serde_json::Map<String, Json> = self
            .hosts
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    json!({"address": h.ssh.address, "gateway": h.ssh.host_side_address}),
                )
            })
            .collect();
        let path = |p: &str| self.dir.join(p).display().to_string();
        json!({
            "pve_endpoint": self.pve.endpoint(),
            "pve_username": "root@pam",
            "pve_password": "secret",
            "pve_ca_file": self.pve.ca_file.display().to_string(),
            "aws_endpoint": self.moto.endpoint,
            "netbird_url": self.netbird.url,
            "netbird_token": self.netbird.token,
            "ssh_private_key_file": path("ssh/id_ed25519"),
            "known_hosts_file": path("ssh/known_hosts"),
            "hosts": hosts,
            "traefik_dir": path("traefik"),
            "traefik_api_url": format!("http://127.0.0.1:{}", self.ports.traefik_api),
            "prometheus_sd_dir": path("prometheus/targets"),
            "metrics_dir": path("metrics"),
            "host_root": path("hosts"),
            "backup_repository_base": path("backups"),
            "ssh_public_keys": [std::fs::read_to_string(self.dir.join("ssh/id_ed25519.pub"))
                .expect("the lab's public key").trim()],
        })
    }

    /// Writes [`vars`](Self::vars) to `lab.tfvars.json` in the lab's directory (0600: it
    /// holds the NetBird token) and returns its path.
    pub fn write_vars(&self) -> PathBuf {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join("lab.tfvars.json");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .expect("lab.tfvars.json");
        file.write_all(
            serde_json::to_string_pretty(&self.vars())
                .unwrap()
                .as_bytes(),
        )
        .expect("write lab.tfvars.json");
        path
    }
}

/// Creates in moto what the lab expects of its AWS account: the hosted zone
/// `lab.example.com`, and the state bucket `tabiri-tfstate` and lock table `tabiri-tflock`
/// that `terraform/backend.tf.example` names. Safe to run twice.
pub fn seed_aws(endpoint: &str) {
    run(
        "the lab's hosted zone, state bucket and lock table",
        Command::new(fakepve::python()).args(["-c", SEED_AWS, endpoint]),
    );
}

const SEED_AWS: &str = r#"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="eu-west-1",
          aws_access_key_id="test", aws_secret_access_key="test")
r53 = boto3.client("route53", **kw)
zones = r53.list_hosted_zones_by_name(DNSName="lab.example.com")["HostedZones"]
if not any(z["Name"] == "lab.example.com." for z in zones):
    r53.create_hosted_zone(Name="lab.example.com", CallerReference="tabiri-lab")
s3 = boto3.client("s3", **kw)
if "tabiri-tfstate" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket="tabiri-tfstate", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
dynamodb = boto3.client("dynamodb", **kw)
if "tabiri-tflock" not in dynamodb.list_tables()["TableNames"]:
    dynamodb.create_table(
        TableName="tabiri-tflock", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}])
"#;

fn host_named<'a>(hosts: &'a mut [LabHost], name: &str) -> &'a mut LabHost {
    hosts
        .iter_mut()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("the lab has no host {name}"))
}
