//! fakepve (TESTBED.md) served for a test: on its own loopback address (127.0.X.Y, found
//! free) at PVE's port 8006, with a self-signed certificate made for this
//! run (the provider trusts it through `ca_file`), and driven through fakepve's Python API
//! for faults (`src/fakepve_driver.py`: locks, failing tasks, slow shutdowns, expired
//! tickets, a flaky network). The process dies with the value.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value as Json};

/// The Python driver beside this file.
pub fn driver_script() -> PathBuf {
    crate::repo_root().join("acceptance-tests/src/fakepve_driver.py")
}

/// The Python that has fakepve installed (`scripts/setup.sh all`).
pub fn python() -> PathBuf {
    let venv = crate::repo_root().join(".tools/venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// How to start the fake.
#[derive(Clone, Debug)]
pub struct Options {
    /// `{"guests": [...], "vztmpl": [...]}` as the driver reads it.
    pub guests: Json,
    /// Real seconds per PVE second; 0 runs every task to its end before the request returns.
    pub time_scale: f64,
    /// PVE seconds added to every answer (real seconds = latency x time_scale).
    pub latency: f64,
    /// Serve a certificate made by `openssl req -x509`, as users make one for a self-signed
    /// Proxmox: it carries basicConstraints CA:TRUE (the usual one comes from rcgen).
    pub openssl_certificate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            guests: lab_guests(),
            time_scale: 0.0,
            latency: 0.0,
            openssl_certificate: false,
        }
    }
}

/// The templates a homelab has: a Debian cloud-init VM template (9000, 8 GB on local-lvm)
/// and a second one (9001) for replacement tests, Debian 12 and Alpine container
/// templates, and two installer ISOs.
pub fn lab_guests() -> Json {
    let template = |vmid: u32, name: &str| {
        json!({
            "vmid": vmid, "name": name, "template": true,
            "config": {
                "scsi0": format!("local-lvm:base-{vmid}-disk-0,size=8G"),
                "ide2": format!("local-lvm:vm-{vmid}-cloudinit,media=cdrom"),
                "net0": format!("virtio=BC:24:11:00:{:02X}:00,bridge=vmbr0", vmid % 256),
                "cores": "1", "memory": "1024", "scsihw": "virtio-scsi-single",
                "ostype": "l26", "agent": "1", "boot": "order=scsi0",
                "serial0": "socket", "vga": "serial0"
            }
        })
    };
    json!({
        "guests": [template(9000, "debian-12-cloudinit"), template(9001, "ubuntu-2404-cloudinit")],
        "vztmpl": [
            "debian-12-standard_12.7-1_amd64.tar.zst",
            "alpine-3.20-default_20240908_amd64.tar.xz"
        ],
        "iso": ["opnsense-24.7.iso", "debian-12.9.0-amd64-netinst.iso"]
    })
}

/// `openssl req -x509` for `ip`, the way a Proxmox guide has users make one.
pub fn openssl_self_signed(ip: &str, cert: &std::path::Path, key: &std::path::Path) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "30", "-subj", &format!("/CN={ip}")])
        .args(["-addext", &format!("subjectAltName=IP:{ip},DNS:localhost")])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl req -x509: {out:?}");
}

static NEXT_HOST: AtomicU32 = AtomicU32::new(2);

/// A loopback address with port 8006 free. Each process starts its search at its own place
/// (by pid), so two processes starting a fake at the same moment (a test beside the demo's
/// lab) do not both find the same address free.
fn free_host() -> String {
    let start = (std::process::id() % 40) * 6;
    loop {
        let n = start + NEXT_HOST.fetch_add(1, Ordering::SeqCst);
        let host = format!("127.0.{}.{}", n / 250, n % 250);
        if n % 250 < 2 {
            continue;
        }
        if TcpListener::bind((host.as_str(), 8006)).is_ok() {
            return host;
        }
    }
}

pub struct FakePve {
    /// `https://127.0.X.Y:8006`
    pub url: String,
    pub host: String,
    /// The certificate the fake serves, to trust as `ca_file`.
    pub ca_file: PathBuf,
    pub dir: tempfile::TempDir,
    child: Child,
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
}

impl FakePve {
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("homelab-fakepve-")
            .tempdir()
            .expect("temp dir");
        let host = free_host();
        let ca_file = dir.path().join("fakepve.crt");
        let key_file = dir.path().join("fakepve.key");
        if options.openssl_certificate {
            openssl_self_signed(&host, &ca_file, &key_file);
        } else {
            let cert = rcgen::generate_simple_self_signed(vec![host.clone(), "localhost".into()])
                .expect("self-signed certificate");
            std::fs::write(&ca_file, cert.cert.pem()).expect("write certificate");
            std::fs::write(&key_file, cert.key_pair.serialize_pem()).expect("write key");
        }
        let guests = dir.path().join("guests.json");
        std::fs::write(&guests, options.guests.to_string()).expect("write guests");
        let log = std::fs::File::create(dir.path().join("fakepve.log")).expect("log file");
        let mut child = Command::new(python())
            .arg(driver_script())
            .args(["--guests", &guests.display().to_string()])
            .args(["--host", &host, "--port", "8006"])
            .args(["--cert", &ca_file.display().to_string()])
            .args(["--key", &key_file.display().to_string()])
            .args(["--time-scale", &options.time_scale.to_string()])
            .args(["--latency", &options.latency.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start fakepve ({}): {e}", python().display()));
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        let read = stdout.read_line(&mut first);
        let started: Json = serde_json::from_str(first.trim()).unwrap_or(Json::Null);
        let Some(url) = started["url"].as_str().map(str::to_string) else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("fakepve.log")).unwrap_or_default();
            panic!(
                "fakepve did not start ({read:?}, {first:?}); run `scripts/setup.sh all`:\n{log}"
            );
        };
        FakePve {
            url,
            host,
            ca_file,
            dir,
            child,
            io: Mutex::new((stdin, stdout)),
        }
    }

    /// The provider's endpoint, `https://127.0.X.Y:8006/`.
    pub fn endpoint(&self) -> String {
        format!("{}/", self.url)
    }

    /// Sends one command to the driver and returns its result; panics on an error.
    pub fn command(&self, command: Json) -> Json {
        let mut io = self.io.lock().expect("driver lock");
        let (stdin, stdout) = &mut *io;
        writeln!(stdin, "{command}").expect("write to driver");
        stdin.flush().expect("flush driver");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read driver");
        let answer: Json = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("driver answered {line:?}: {e}"));
        if let Some(error) = answer.get("error") {
            panic!("fakepve driver: {command} failed: {error}");
        }
        answer["ok"].clone()
    }

    /// Every VM and container: `{vmid, type, name, node, status, lock, template, config, pending}`.
    pub fn guests(&self) -> Vec<Json> {
        self.command(json!({"op": "guests"}))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The guest with this id.
    pub fn guest(&self, vmid: u64) -> Option<Json> {
        self.guests().into_iter().find(|g| g["vmid"] == vmid)
    }

    /// Ids of the guests that are not templates.
    pub fn guest_ids(&self) -> Vec<u64> {
        self.guests()
            .iter()
            .filter(|g| g["template"] != true)
            .filter_map(|g| g["vmid"].as_u64())
            .collect()
    }

    /// `pve.fail(method, suffix, ...)`: `extra` holds `status`/`message`, or `error`, and `times`.
    pub fn fail(&self, method: &str, suffix: &str, extra: Json) {
        let mut command = json!({"op": "fail", "method": method, "suffix": suffix});
        if let (Some(target), Some(fields)) = (command.as_object_mut(), extra.as_object()) {
            for (k, v) in fields {
                target.insert(k.clone(), v.clone());
            }
        }
        self.command(command);
    }

    /// Sets attributes of a guest (`shutdown_secs`, `agent`, `start_error`, ...).
    pub fn set(&self, vmid: u64, attrs: Json) {
        self.command(json!({"op": "set", "vmid": vmid, "attrs": attrs}));
    }

    /// The requests seen so far, as `(method, path)`.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.command(json!({"op": "requests"}))
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|r| {
                        (
                            r[0].as_str().unwrap_or_default().to_string(),
                            r[1].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A request through the HTTP API, as another client (or a person in the UI) would
    /// send it: changes behind Terraform's back. Waits for the task it starts. Returns the
    /// answer's `data`; panics on an error status.
    pub fn api(&self, method: &str, path: &str, params: Json) -> Json {
        let answer =
            self.command(json!({"op": "api", "method": method, "path": path, "params": params}));
        let status = answer["status"].as_u64().unwrap_or(0);
        assert!(status == 200, "{method} {path}: {answer}");
        answer["body"]["data"].clone()
    }

    /// Writes/actions among the requests (everything but GET).
    pub fn writes(&self) -> Vec<(String, String)> {
        self.requests()
            .into_iter()
            .filter(|(m, p)| m != "GET" && !p.ends_with("/access/ticket"))
            .collect()
    }

    pub fn reset_requests(&self) {
        self.command(json!({"op": "reset_requests"}));
    }

    /// The driver's stderr so far (fakepve's own log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("fakepve.log")).unwrap_or_default()
    }

    /// The provider block for this fake, logging in as root@pam with `var.pve_password`.
    pub fn provider_block(&self) -> String {
        provider_block()
    }

    /// Terraform variables this fake's provider block reads.
    pub fn vars(&self, ws: &mut crate::Workspace) {
        ws.var("pve_endpoint", self.endpoint())
            .var("pve_password", "secret")
            .var("pve_ca_file", self.ca_file.display().to_string());
    }
}

impl Drop for FakePve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `terraform` and `provider` blocks of the documented example, reading the endpoint,
/// password and CA file from variables.
pub fn provider_block() -> String {
    crate::hcl::proxmox_provider("var.pve_endpoint") + &crate::hcl::variable("pve_endpoint")
}
