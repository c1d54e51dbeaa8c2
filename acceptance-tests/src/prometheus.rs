//! A real Prometheus and node_exporter, started the one way every test and the local lab
//! start them: Prometheus with its `prometheus.yml`, data and log in one directory,
//! listening on the address given, on this machine or inside an SSH test host's network
//! namespace.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;

use crate::http::http10_get;
use crate::procs::{wait_for, Background};
use crate::ssh_hosts::SshHost;

/// node_exporter listening on `addr`, also exporting the `*.prom` files in `textfile_dir`
/// (where backup jobs write their metrics) when one is given; inside `host`'s network
/// namespace when one is given.
pub fn node_exporter(
    host: Option<&SshHost>,
    addr: &str,
    textfile_dir: Option<&Path>,
    log: &Path,
) -> Background {
    const PROGRAM: &str = "prometheus-node-exporter";
    let mut command = match host {
        Some(host) => host.in_netns(PROGRAM),
        None => Command::new(PROGRAM),
    };
    command.arg(format!("--web.listen-address={addr}"));
    if let Some(dir) = textfile_dir {
        command.arg(format!("--collector.textfile.directory={}", dir.display()));
    }
    Background::spawn("node_exporter", &mut command, log)
}

pub struct Prometheus {
    /// `address:port` of its web API.
    pub addr: String,
    /// Where its `prometheus.yml`, `data/` and `prometheus.log` are.
    pub dir: PathBuf,
    _process: Background,
}

impl Prometheus {
    /// Starts Prometheus with `config` as its `prometheus.yml` in `dir` (made if missing;
    /// relative `rule_files` resolve there), listening on `addr`; inside `host`'s network
    /// namespace when one is given. Returns once it is ready.
    pub fn start(host: Option<&SshHost>, addr: &str, dir: &Path, config: &str) -> Self {
        let prometheus = Self::spawn(host, addr, dir, config);
        prometheus.wait_ready();
        prometheus
    }

    /// [`Prometheus::start`] without waiting, for a caller that starts other parts
    /// meanwhile and calls [`Prometheus::wait_ready`] later.
    pub fn spawn(host: Option<&SshHost>, addr: &str, dir: &Path, config: &str) -> Self {
        std::fs::create_dir_all(dir).expect("Prometheus dir");
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("prometheus.yml");
        let program = crate::tool("prometheus");
        let mut command = match host {
            Some(host) => host.in_netns(&program.display().to_string()),
            None => Command::new(program),
        };
        command
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ));
        let process = Background::spawn("prometheus", &mut command, &dir.join("prometheus.log"));
        Self {
            addr: addr.to_string(),
            dir: dir.to_path_buf(),
            _process: process,
        }
    }

    pub fn wait_ready(&self) {
        wait_for("Prometheus to be ready", Duration::from_secs(60), || {
            http10_get(&self.addr, "/-/ready").filter(|(status, _)| *status == 200)
        });
    }

    /// The targets it scrapes now (`/api/v1/targets`' `activeTargets`).
    pub fn active_targets(&self) -> Vec<Json> {
        http10_get(&self.addr, "/api/v1/targets?state=active")
            .and_then(|(_, body)| serde_json::from_str::<Json>(&body).ok())
            .and_then(|j| j["data"]["activeTargets"].as_array().cloned())
            .unwrap_or_default()
    }
}
