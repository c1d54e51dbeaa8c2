//! A real Traefik (from `.tools/bin/traefik`) watching a route directory, started the one
//! way every test and the local lab start it: on loopback, or inside an SSH test host's
//! network namespace.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs::{free_port, wait_for, Background};
use crate::ssh_hosts::SshHost;

pub struct Traefik {
    /// `address:port` of the `web` entrypoint.
    pub web_addr: String,
    pub api_url: String,
    pub log: PathBuf,
    routes_dir: PathBuf,
    api_addr: String,
    _process: Background,
    _own_routes_dir: Option<tempfile::TempDir>,
}

impl Traefik {
    /// On loopback at free ports, watching a temp dir of its own; returns once it answers.
    pub fn start() -> Self {
        let routes_dir = tempfile::Builder::new()
            .prefix("homelab-routes-")
            .tempdir()
            .expect("routes dir");
        let log = routes_dir.path().with_extension("traefik.log");
        let mut traefik = Self::spawn(
            None,
            &format!("127.0.0.1:{}", free_port()),
            &format!("127.0.0.1:{}", free_port()),
            routes_dir.path(),
            &log,
        );
        traefik._own_routes_dir = Some(routes_dir);
        traefik.wait_ready();
        traefik
    }

    /// Starts Traefik with its `web` entrypoint on `web_addr` and its API on `api_addr`,
    /// watching `routes_dir`, logging to `log`; inside `host`'s network namespace when
    /// one is given. Does not wait: see [`Traefik::wait_ready`].
    pub fn spawn(
        host: Option<&SshHost>,
        web_addr: &str,
        api_addr: &str,
        routes_dir: &Path,
        log: &Path,
    ) -> Self {
        let program = crate::tool("traefik");
        let mut command = match host {
            Some(host) => host.in_netns(&program.display().to_string()),
            None => Command::new(program),
        };
        command.args([
            format!("--entrypoints.web.address={web_addr}"),
            format!("--entrypoints.traefik.address={api_addr}"),
            "--api.insecure=true".to_string(),
            format!("--providers.file.directory={}", routes_dir.display()),
            "--providers.file.watch=true".to_string(),
            // Traefik's default 2 s throttle only slows the tests down.
            "--providers.providersThrottleDuration=100ms".to_string(),
            "--log.level=DEBUG".to_string(),
        ]);
        let process = Background::spawn("traefik", &mut command, log);
        Self {
            web_addr: web_addr.to_string(),
            api_url: format!("http://{api_addr}"),
            log: log.to_path_buf(),
            routes_dir: routes_dir.to_path_buf(),
            api_addr: api_addr.to_string(),
            _process: process,
            _own_routes_dir: None,
        }
    }

    pub fn wait_ready(&self) {
        wait_for("Traefik's API", Duration::from_secs(60), || {
            crate::http::get(&self.api_addr, "localhost", "/api/overview")
                .ok()
                .filter(|(status, _)| *status == 200)
        });
    }

    /// The directory it reads routes from.
    pub fn routes_dir(&self) -> &Path {
        &self.routes_dir
    }

    pub fn dir(&self) -> String {
        self.routes_dir.display().to_string()
    }

    /// GET / through Traefik's web entrypoint with the given Host header.
    pub fn get(&self, host: &str) -> (u16, String) {
        crate::http::get(&self.web_addr, host, "/").unwrap_or((0, String::new()))
    }

    /// Waits until a request for `host` gets `status` with `body` in it (Traefik applies
    /// file changes asynchronously).
    pub fn wait_for_response(&self, host: &str, status: u16, body: &str) {
        let what = format!("Traefik to answer {host} with {status} {body:?}");
        wait_for(&what, Duration::from_secs(15), || {
            let (got_status, got_body) = self.get(host);
            (got_status == status && got_body.contains(body)).then_some(())
        });
    }
}
