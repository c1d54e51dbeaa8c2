//! `health_check` run as Ansible runs it, against local HTTP, HTTPS and TCP servers.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use support::{closed_port, run, serve, serve_tls};

const BIN: &str = env!("CARGO_BIN_EXE_health_check");
const PASSWORD: &str = "pw-9f8e7d6c";

fn ca_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ca.pem")
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn healthy_http_with_basic_auth_and_body() {
    let base = serve(|path, head| {
        // "admin:pw-9f8e7d6c" in base64.
        let authed = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Basic YWRtaW46cHctOWY4ZTdkNmM="));
        match (path, authed) {
            ("/health", true) => (200, "{\"status\": \"ok\"}".into()),
            (_, false) => (401, "who are you".into()),
            _ => (404, String::new()),
        }
    });
    let r = run(
        BIN,
        &json!({
            "url": format!("{base}/health"), "url_username": "admin", "url_password": PASSWORD,
            "expect_body": "\"ok\"", "_ansible_check_mode": true,
        }),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.out["changed"], false);
    assert_eq!(r.out["status"], 200);
    assert_eq!(r.out["attempts"], 1);
    assert!(r.out["elapsed"].is_number());
    assert!(!r.stdout.contains(PASSWORD));
}

#[test]
fn unhealthy_after_retries_with_status_body_and_attempts() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let base = serve(move |_, _| {
        seen.fetch_add(1, Ordering::SeqCst);
        (503, format!("maintenance {}", "x".repeat(300)))
    });
    let r = run(
        BIN,
        &json!({"url": format!("{base}/"), "retries": "2", "delay": 0.05, "expect_status": [200, 204]}),
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.out["changed"], false);
    assert_eq!(r.out["status"], 503);
    assert_eq!(r.out["attempts"], 3);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let msg = r.out["msg"].as_str().unwrap();
    assert!(msg.contains("is not healthy after 3 attempts"), "{msg}");
    assert!(
        msg.contains("HTTP 503 Service Unavailable (expected 200 or 204); body: \"maintenance xxx"),
        "{msg}"
    );
    let excerpt = format!("maintenance {}", "x".repeat(200 - "maintenance ".len()));
    assert!(msg.contains(&format!("{excerpt}...\"")), "{msg}");
}

#[test]
fn recovers_within_its_retries() {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let base = serve(move |_, _| {
        if seen.fetch_add(1, Ordering::SeqCst) < 2 {
            (503, "starting".into())
        } else {
            (200, "up".into())
        }
    });
    let r = run(BIN, &json!({"url": base, "retries": 5, "delay": 0}));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.out["attempts"], 3);
}

#[test]
fn the_password_never_appears_even_when_echoed() {
    // The server echoes the password back in its body, which lands in the message.
    let base = serve(|_, _| (500, format!("bad password {PASSWORD}")));
    let r = run(
        BIN,
        &json!({
            "url": format!("{base}/?token={PASSWORD}"), "url_username": "admin",
            "url_password": PASSWORD, "headers": {"X-Token": PASSWORD},
            "_ansible_verbosity": 4, "_ansible_diff": true,
        }),
    );
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains(PASSWORD), "{}", r.stdout);
    assert_eq!(
        r.out["invocation"]["module_args"]["url_password"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
    assert!(r.out["msg"]
        .as_str()
        .unwrap()
        .contains("bad password ********"));
}

#[test]
fn https_needs_a_trusted_certificate() {
    let port = serve_tls(|_, _| (200, "ok".into()));
    let url = format!("https://localhost:{port}/");
    let r = run(BIN, &json!({"url": url}));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let msg = r.out["msg"].as_str().unwrap();
    assert!(msg.contains("invalid peer certificate"), "{msg}");
    assert!(msg.contains("set ca_file"), "{msg}");

    let r = run(BIN, &json!({"url": url, "ca_file": ca_file()}));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = run(
        BIN,
        &json!({"url": format!("https://127.0.0.1:{port}/"), "ca_file": ca_file()}),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = run(BIN, &json!({"url": url, "validate_certs": "no"}));
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn tcp_checks_connect() {
    let base = serve(|_, _| (200, String::new()));
    let addr = base.trim_start_matches("http://");
    let r = run(BIN, &json!({"tcp": addr, "headers": {"X": "y"}}));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.out.get("status").is_none(), "{}", r.stdout);
    assert_eq!(
        r.out["warnings"],
        json!(["headers only apply to url checks and were ignored for tcp"])
    );

    let port = closed_port();
    let r = run(
        BIN,
        &json!({"tcp": format!("127.0.0.1:{port}"), "retries": 1, "delay": 0}),
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.out["attempts"], 2);
    let msg = r.out["msg"].as_str().unwrap();
    assert!(msg.contains("Connection refused"), "{msg}");
}

#[test]
fn option_errors() {
    for (args, want) in [
        (json!({}), "one of the following is required: url, tcp"),
        (
            json!({"url": "http://a/", "tcp": "a:1"}),
            "parameters are mutually exclusive: url|tcp",
        ),
        (
            json!({"url": "ftp://nas.lab/"}),
            "invalid health check: url: must be an http or https URL, got scheme \"ftp\" in \"ftp://nas.lab/\"",
        ),
        (
            json!({"tcp": "nas.lab", "retries": 1}),
            "invalid health check: tcp: must be host:port with a port (e.g. \"nas.lab:9100\" or \"[2001:db8::1]:9100\"), got \"nas.lab\"",
        ),
        (
            json!({"url": "http://a/", "retries": "many"}),
            "argument 'retries' is of type str and we were unable to convert to int: \"many\" is not a whole number",
        ),
        (
            json!({"url": "http://a/", "timeout": "soon"}),
            "argument 'timeout' is of type str and we were unable to convert to float: \"soon\" is not a number",
        ),
    ] {
        let r = run(BIN, &args);
        assert_eq!(r.code, 1, "{args}");
        assert_eq!(r.out["msg"], want, "{args}");
    }
}
