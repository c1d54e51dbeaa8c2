//! A real Traefik (from `.tools/bin/traefik`) watching a route directory, on loopback.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::procs::{free_port, wait_for, Background};

pub struct Traefik {
    pub routes_dir: tempfile::TempDir,
    pub web_addr: String,
    pub api_url: String,
    pub log: PathBuf,
    _process: Background,
}

impl Traefik {
    pub fn start() -> Self {
        let routes_dir = tempfile::Builder::new()
            .prefix("homelab-routes-")
            .tempdir()
            .expect("routes dir");
        let web_port = free_port();
        let api_port = free_port();
        let log = routes_dir.path().with_extension("traefik.log");
        let mut command = Command::new(crate::tool("traefik"));
        command.args([
            format!("--entrypoints.web.address=127.0.0.1:{web_port}"),
            format!("--entrypoints.traefik.address=127.0.0.1:{api_port}"),
            "--api.insecure=true".to_string(),
            format!("--providers.file.directory={}", routes_dir.path().display()),
            "--providers.file.watch=true".to_string(),
            // Traefik's default 2 s throttle only slows the tests down.
            "--providers.providersThrottleDuration=100ms".to_string(),
            "--log.level=DEBUG".to_string(),
        ]);
        let process = Background::spawn("traefik", &mut command, &log);
        let api_url = format!("http://127.0.0.1:{api_port}");
        let overview = format!("127.0.0.1:{api_port}");
        wait_for("Traefik's API", Duration::from_secs(20), || {
            crate::http::get(&overview, "localhost", "/api/overview")
                .ok()
                .filter(|(status, _)| *status == 200)
        });
        Self {
            routes_dir,
            web_addr: format!("127.0.0.1:{web_port}"),
            api_url,
            log,
            _process: process,
        }
    }

    pub fn dir(&self) -> String {
        self.routes_dir.path().display().to_string()
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
