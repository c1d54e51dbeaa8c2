//! Waiting on Traefik's API, against a stand-in that answers with the JSON shapes a real
//! Traefik 3.7 gives (captured from one). `traefik_real.rs` runs the real binary.

mod support;

use std::time::{Duration, Instant};

use lab::deadline::Deadline;
use lab::traefik::{wait_until_routed, wait_until_unrouted, TraefikRoute};
use serde_json::json;

/// The deadline of a wait in these tests, named as the setting a user would raise.
fn within(length: Duration) -> Deadline {
    Deadline::after(length, "wait_timeout")
}

fn route() -> TraefikRoute {
    serde_json::from_value(json!({
        "name": "whoami",
        "config_dir": "/etc/traefik/dynamic",
        "rule": "Host(`whoami.lab`)",
        "servers": ["http://10.0.0.5:8080"],
        "middlewares": ["auth"],
    }))
    .unwrap()
}

fn router_json(rule: &str, status: &str, errors: &[&str]) -> String {
    let mut v = json!({
        "entryPoints": ["web"],
        "middlewares": ["auth@file"],
        "service": "whoami",
        "rule": rule,
        "priority": rule.len(),
        "status": status,
        "using": ["web"],
        "name": "whoami@file",
        "provider": "file",
    });
    if !errors.is_empty() {
        v["error"] = json!(errors);
    }
    v.to_string()
}

fn service_json() -> String {
    json!({
        "loadBalancer": {
            "servers": [{"url": "http://10.0.0.5:8080"}],
            "strategy": "wrr",
            "passHostHeader": true,
        },
        "status": "enabled",
        "usedBy": ["whoami@file"],
        "name": "whoami@file",
        "provider": "file",
        "type": "loadbalancer",
    })
    .to_string()
}

const ROUTER: &str = "/api/http/routers/whoami@file";
const SERVICE: &str = "/api/http/services/whoami@file";

#[tokio::test]
async fn returns_once_traefik_serves_this_version() {
    let api = support::serve(|path, _| match path {
        ROUTER => (200, router_json("Host(`whoami.lab`)", "enabled", &[])),
        SERVICE => (200, service_json()),
        _ => (404, "{}".into()),
    })
    .await;
    wait_until_routed(&api, &route(), &within(Duration::from_secs(5)))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_older_disabled_version_is_waited_out_not_reported() {
    // Traefik first still shows the previous, broken version of the router.
    let api = support::serve(|path, n| match path {
        ROUTER if n < 3 => (
            200,
            router_json(
                "Host(`old`)",
                "disabled",
                &["middleware \"nope@file\" does not exist"],
            ),
        ),
        ROUTER => (200, router_json("Host(`whoami.lab`)", "enabled", &[])),
        SERVICE => (200, service_json()),
        _ => (404, "{}".into()),
    })
    .await;
    wait_until_routed(&api, &route(), &within(Duration::from_secs(5)))
        .await
        .unwrap();
}

#[tokio::test]
async fn traefik_rejecting_this_version_fails_at_once_with_its_words() {
    let api = support::serve(|path, _| match path {
        ROUTER => (
            200,
            router_json(
                "Host(`whoami.lab`)",
                "disabled",
                &[
                    "entryPoint \"bogus\" doesn't exist",
                    "middleware \"auth@file\" does not exist",
                ],
            ),
        ),
        SERVICE => (200, service_json()),
        _ => (404, "{}".into()),
    })
    .await;
    let start = Instant::now();
    let err = wait_until_routed(&api, &route(), &within(Duration::from_secs(10)))
        .await
        .unwrap_err()
        .to_string();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(
        err,
        format!(
            "Traefik at {api}{ROUTER} reports router whoami@file as disabled: entryPoint \
             \"bogus\" doesn't exist; middleware \"auth@file\" does not exist"
        )
    );
}

#[tokio::test]
async fn a_warning_is_a_rejection_too() {
    let api = support::serve(|path, _| match path {
        ROUTER => (
            200,
            router_json(
                "Host(`whoami.lab`)",
                "warning",
                &["entryPoint \"bogus\" doesn't exist"],
            ),
        ),
        SERVICE => (200, service_json()),
        _ => (404, "{}".into()),
    })
    .await;
    let err = wait_until_routed(&api, &route(), &within(Duration::from_secs(10)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("reports router whoami@file as warning: entryPoint \"bogus\" doesn't exist"),
        "{err}"
    );
}

#[tokio::test]
async fn timeout_says_what_it_waited_for_and_what_it_saw() {
    let api = support::serve(|_, _| (404, "{\"message\":\"router not found\"}".into())).await;
    let err = wait_until_routed(&api, &route(), &within(Duration::from_millis(300)))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("timed out after "), "{err}");
    assert!(
        err.ends_with(&format!(
            " (wait_timeout = 300ms) waiting for Traefik at {api} to serve router whoami@file as \
             written to /etc/traefik/dynamic/whoami.toml; last seen: Traefik has no router \
             whoami@file yet"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn timeout_on_a_stale_version_points_at_the_likely_cause() {
    let api = support::serve(|path, _| match path {
        ROUTER => (200, router_json("Host(`old`)", "enabled", &[])),
        SERVICE => (200, service_json()),
        _ => (404, "{}".into()),
    })
    .await;
    let err = wait_until_routed(&api, &route(), &within(Duration::from_millis(300)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "last seen: Traefik still runs another version of whoami@file (rule is \
             \"Host(`old`)\"); Traefik keeps its previous configuration while any file in \
             /etc/traefik/dynamic fails to load, see its log"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_api_times_out_with_the_connection_error() {
    // Bind then drop to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = format!("http://127.0.0.1:{port}");
    let err = wait_until_routed(&api, &route(), &within(Duration::from_millis(300)))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("last seen: GET {api}{ROUTER}: ")),
        "{err}"
    );
}

#[tokio::test]
async fn auth_failure_is_final_and_hides_the_password() {
    let api = support::serve(|_, _| (401, "401 Unauthorized".into())).await;
    let with_creds = api.replace("http://", "http://admin:hunter2@");
    let start = Instant::now();
    let err = wait_until_routed(&with_creds, &route(), &within(Duration::from_secs(10)))
        .await
        .unwrap_err()
        .to_string();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("admin:redacted@"), "{err}");
    assert!(
        err.contains(
            "answered HTTP 401 Unauthorized: 401 Unauthorized; traefik_api_url must reach"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn api_url_with_a_path_prefix_is_extended() {
    let api = support::serve(|path, _| match path {
        "/traefik/api/http/routers/whoami@file" => {
            (200, router_json("Host(`whoami.lab`)", "enabled", &[]))
        }
        "/traefik/api/http/services/whoami@file" => (200, service_json()),
        _ => (404, "{}".into()),
    })
    .await;
    wait_until_routed(
        &format!("{api}/traefik/"),
        &route(),
        &within(Duration::from_secs(5)),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn waits_until_the_router_is_gone() {
    let api = support::serve(|path, n| match path {
        ROUTER if n < 2 => (200, router_json("Host(`whoami.lab`)", "enabled", &[])),
        _ => (404, "{}".into()),
    })
    .await;
    wait_until_unrouted(&api, "whoami", &within(Duration::from_secs(5)))
        .await
        .unwrap();

    let api = support::serve(|_, _| (200, router_json("Host(`x`)", "enabled", &[]))).await;
    let err = wait_until_unrouted(&api, "whoami", &within(Duration::from_millis(250)))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("timed out after "), "{err}");
    assert!(
        err.ends_with(&format!(
            " (wait_timeout = 250ms) waiting for Traefik at {api} to drop router whoami@file; \
             last seen: Traefik still has router whoami@file"
        )),
        "{err}"
    );
}
