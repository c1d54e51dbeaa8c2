//! moto (`moto_server`, from `.tools/bin`) as the EC2 and Route 53 the AWS tests run
//! against: one server per test file on a free loopback port, with a seeded AMI catalogue
//! (`DescribeImages(Owners=["amazon"])` lists it) and AMI validation on, so launching an
//! AMI that does not exist fails as on AWS.
//!
//! Also a loopback proxy in front of moto that reports every instance as `pending`, for
//! the "never reaches running" fault: moto starts instances at once.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::procs::{free_port, wait_for, Background};

/// The AMIs moto serves: three Ubuntu releases (Canonical's owner ID, listed under the
/// `amazon` alias as moto does for its catalogue) and one Debian image.
pub const AMIS: &[(&str, &str, &str)] = &[
    (
        "ami-0a11ce0000000001",
        "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230601",
        "2023-06-01T00:00:00.000Z",
    ),
    (
        "ami-0a11ce0000000002",
        "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240101",
        "2024-01-01T00:00:00.000Z",
    ),
    (
        "ami-0a11ce0000000003",
        "ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server-20240601",
        "2024-06-01T00:00:00.000Z",
    ),
    (
        "ami-0a11ce0000000004",
        "debian-12-amd64-20240601",
        "2024-06-01T00:00:00.000Z",
    ),
];

/// The newest Ubuntu AMI in [`AMIS`]: what `most_recent = true` must pick.
pub const NEWEST_UBUNTU: &str = "ami-0a11ce0000000003";

pub struct Moto {
    pub port: u16,
    /// `http://127.0.0.1:PORT`, for the provider's `aws.endpoint`.
    pub endpoint: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    _process: Background,
}

impl Moto {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("homelab-moto-")
            .tempdir()
            .expect("moto dir");
        let amis: Vec<serde_json::Value> = AMIS
            .iter()
            .map(|(id, name, created)| {
                let owner = if name.starts_with("debian") {
                    "136693071363"
                } else {
                    "099720109477"
                };
                serde_json::json!({
                    "ami_id": id,
                    "name": name,
                    "creation_date": created,
                    "owner_id": owner,
                    "state": "available",
                    "public": true,
                    "description": format!("{name} (seeded for tests)"),
                    "image_location": format!("{owner}/{name}"),
                    "image_type": "machine",
                    "platform": null,
                    "architecture": "x86_64",
                    "root_device_type": "ebs",
                    "root_device_name": "/dev/sda1",
                    "virtualization_type": "hvm",
                    "hypervisor": "xen",
                    "sriov": "simple",
                })
            })
            .collect();
        let amis_path = dir.path().join("amis.json");
        std::fs::write(&amis_path, serde_json::to_vec_pretty(&amis).unwrap()).expect("AMI list");
        let port = free_port();
        let log = dir.path().join("moto.log");
        // A test file keeps its moto in a `static`, which is never dropped: a watcher ends
        // moto when the test process is gone (or when moto is killed with the shell).
        let script = format!(
            "\"$0\" -H 127.0.0.1 -p {port} & m=$!\n\
             (while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; \
             kill -9 $m 2>/dev/null) &\n\
             wait $m",
            parent = std::process::id()
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg(crate::tool("moto_server"))
            .env("MOTO_AMIS_PATH", &amis_path)
            .env("MOTO_ENABLE_AMI_VALIDATION", "true");
        let process = Background::spawn("moto_server", &mut command, &log);
        let endpoint = format!("http://127.0.0.1:{port}");
        let addr = format!("127.0.0.1:{port}");
        wait_for("moto_server", Duration::from_secs(30), || {
            crate::http::get(&addr, "localhost", "/moto-api/")
                .ok()
                .filter(|(status, _)| *status == 200)
        });
        Self {
            port,
            endpoint,
            log,
            _dir: dir,
            _process: process,
        }
    }
}

/// The provider block the AWS tests use: the interface's, with the endpoint from a
/// variable.
pub fn provider_block() -> &'static str {
    r#"
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
variable "aws_endpoint" { type = string }
provider "homelab" {
  aws {
    region     = "eu-west-1"
    endpoint   = var.aws_endpoint   # unset against real AWS
    access_key = "test"
    secret_key = "test"
  }
}
"#
}

/// A workspace pointed at `endpoint`, with nothing from the developer's own AWS setup
/// leaking in (and no instance-metadata lookups).
pub fn workspace(endpoint: &str) -> crate::Workspace {
    let mut ws = crate::Workspace::new();
    ws.var("aws_endpoint", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    ws
}

/// A proxy to moto that rewrites DescribeInstances answers so every instance looks
/// `pending`: an instance that never reaches running. Stops when dropped.
pub struct PendingProxy {
    pub endpoint: String,
    stop: Arc<AtomicBool>,
}

impl PendingProxy {
    pub fn start(moto_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        std::thread::spawn(move || {
                            let _ = proxy_one(stream, moto_port);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            stop,
        }
    }
}

impl Drop for PendingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one HTTP request (headers and a Content-Length body).
fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..header_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = data[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Ok(Some((head, body)))
}

fn proxy_one(mut client: TcpStream, moto_port: u16) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // One request per connection: answers say `Connection: close`.
    let Some((head, body)) = read_request(&mut client)? else {
        return Ok(());
    };
    let head: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let head = head.trim_end().to_string() + "\r\nConnection: close\r\n\r\n";
    let mut upstream = TcpStream::connect(("127.0.0.1", moto_port))?;
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&body)?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response)?;
    let describe_instances = String::from_utf8_lossy(&body).contains("Action=DescribeInstances");
    if describe_instances {
        if let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let (head, rest) = response.split_at(split + 4);
            let text = String::from_utf8_lossy(rest)
                .replace("<name>running</name>", "<name>pending</name>")
                .replace("<code>16</code>", "<code>0</code>");
            let head: String = String::from_utf8_lossy(head)
                .split("\r\n")
                .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:") && !l.is_empty())
                .collect::<Vec<_>>()
                .join("\r\n");
            response =
                format!("{head}\r\nContent-Length: {}\r\n\r\n{text}", text.len()).into_bytes();
        }
    }
    client.write_all(&response)?;
    Ok(())
}
