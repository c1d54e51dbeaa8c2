//! `traefik_route` run as Ansible runs it: the binary, an args file, one JSON object.

mod support;

use std::fs;

use lab::traefik::TraefikRoute;
use serde_json::{json, Value};
use support::{path_str, run, serve};

const BIN: &str = env!("CARGO_BIN_EXE_traefik_route");

fn args(dir: &str, extra: Value) -> Value {
    let mut a = json!({
        "name": "whoami",
        "config_dir": dir,
        "rule": "Host(`whoami.lab`)",
        "servers": ["http://10.0.0.5:8080"],
        "entrypoints": ["websecure"],
        "_ansible_check_mode": false,
        "_ansible_diff": true,
        "_ansible_verbosity": 3,
        "_ansible_module_name": "tabiri.homelab.traefik_route",
    });
    a.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    a
}

#[test]
fn check_mode_then_create_then_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = path_str(dir.path());
    let file = dir.path().join("whoami.toml");

    let r = run(BIN, &args(&d, json!({"_ansible_check_mode": true})));
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert_eq!(r.out["action"], "create");
    assert_eq!(r.out["msg"], format!("would create {}", file.display()));
    assert_eq!(r.out["diff"]["before"], "");
    assert!(!file.exists(), "check mode wrote the file");

    let r = run(BIN, &args(&d, json!({})));
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert_eq!(r.out["path"], path_str(&file));
    // The same bytes as the Terraform resource writes: lab's render of the same route.
    let route: TraefikRoute = serde_json::from_value(json!({
        "name": "whoami", "config_dir": d, "rule": "Host(`whoami.lab`)",
        "servers": ["http://10.0.0.5:8080"], "entrypoints": ["websecure"],
    }))
    .unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), route.render());
    assert_eq!(r.out["diff"]["after"], route.render());
    assert_eq!(r.out["diff"]["after_header"], path_str(&file));

    let r = run(BIN, &args(&d, json!({})));
    assert_eq!(r.out["changed"], false, "{}", r.stdout);
    assert_eq!(r.out["action"], "none");
    assert!(r.out.get("diff").is_none());
    assert_eq!(
        r.out["invocation"]["module_args"]["pass_host_header"], true,
        "defaults are applied by the module"
    );
}

#[test]
fn a_hand_edit_is_reported_and_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = path_str(dir.path());
    run(BIN, &args(&d, json!({})));
    let file = dir.path().join("whoami.toml");
    let edited = fs::read_to_string(&file)
        .unwrap()
        .replace("10.0.0.5", "10.0.0.9");
    fs::write(&file, &edited).unwrap();
    let r = run(BIN, &args(&d, json!({"_ansible_check_mode": true})));
    assert_eq!(r.out["action"], "update");
    assert_eq!(r.out["diff"]["before"], edited);
    assert_eq!(fs::read_to_string(&file).unwrap(), edited);
    let r = run(BIN, &args(&d, json!({})));
    assert_eq!(r.out["changed"], true);
    assert!(fs::read_to_string(&file).unwrap().contains("10.0.0.5"));
}

#[test]
fn a_foreign_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("whoami.toml");
    fs::write(&file, "[http.routers]\n").unwrap();
    for extra in [json!({}), json!({"state": "absent"})] {
        let r = run(BIN, &args(&path_str(dir.path()), extra));
        assert_eq!(r.code, 1, "{}", r.stdout);
        let msg = r.out["msg"].as_str().unwrap();
        assert!(
            msg.contains("exists and was not written by Tabiri Homelab"),
            "{msg}"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "[http.routers]\n");
    }
}

#[test]
fn a_missing_directory_is_an_error_unless_create_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = path_str(&dir.path().join("dynamic"));
    let r = run(BIN, &args(&d, json!({})));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.out["msg"],
        format!(
            "config_dir: the directory {d} does not exist; create it first or set create_dir: true"
        )
    );
    let r = run(
        BIN,
        &args(&d, json!({"create_dir": true, "_ansible_check_mode": true})),
    );
    assert_eq!(r.out["changed"], true);
    assert!(!dir.path().join("dynamic").exists());
    let r = run(BIN, &args(&d, json!({"create_dir": "yes"})));
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert!(dir.path().join("dynamic/whoami.toml").exists());
}

#[test]
fn absent_removes_our_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = path_str(dir.path());
    run(BIN, &args(&d, json!({})));
    let absent =
        json!({"name": "whoami", "config_dir": d, "state": "absent", "_ansible_diff": true});
    let r = run(BIN, &absent);
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert_eq!(r.out["action"], "delete");
    assert_eq!(r.out["diff"]["after"], "");
    assert!(!dir.path().join("whoami.toml").exists());
    let r = run(BIN, &absent);
    assert_eq!(r.out["changed"], false);
    assert!(r.out["msg"]
        .as_str()
        .unwrap()
        .ends_with("is already absent"));
}

#[test]
fn bad_input_names_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let d = path_str(dir.path());
    let r = run(
        BIN,
        &args(&d, json!({"rule": "Host(whoami)", "servers": ["ftp://x"]})),
    );
    assert_eq!(r.code, 1);
    let msg = r.out["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("invalid traefik route \"whoami\": rule: "),
        "{msg}"
    );
    assert!(msg.contains("servers[0]: must be an http(s) URL"), "{msg}");

    let r = run(BIN, &args(&d, json!({"priority": "high"})));
    assert_eq!(
        r.out["msg"],
        "argument 'priority' is of type str and we were unable to convert to int: \"high\" is not a whole number"
    );
    let r = run(BIN, &args(&d, json!({"entrypoint": ["web"]})));
    assert!(r.out["msg"]
        .as_str()
        .unwrap()
        .starts_with("Unsupported parameters for (tabiri.homelab.traefik_route) module: entrypoint. Supported parameters include: config_dir, create_dir, entrypoints,"));
    let r = run(BIN, &json!({"name": "whoami", "config_dir": d}));
    assert_eq!(
        r.out["msg"],
        "state is present but all of the following are missing: rule, servers"
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn waits_for_traefik_over_plain_http_and_keeps_its_password_out() {
    let api = serve(|path, _| {
        match path {
        "/api/http/routers/whoami@file" => (
            200,
            json!({
                "entryPoints": ["websecure"], "service": "whoami", "rule": "Host(`whoami.lab`)",
                "status": "enabled", "name": "whoami@file", "provider": "file",
            })
            .to_string(),
        ),
        "/api/http/services/whoami@file" => (
            200,
            json!({
                "loadBalancer": {"servers": [{"url": "http://10.0.0.5:8080"}], "passHostHeader": true},
                "status": "enabled", "name": "whoami@file",
            })
            .to_string(),
        ),
        _ => (404, "{}".into()),
    }
    });
    let with_password = api.replace("http://", "http://admin:t0psecret@");
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        BIN,
        &args(
            &path_str(dir.path()),
            json!({"traefik_api_url": with_password}),
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.out["msg"]
        .as_str()
        .unwrap()
        .ends_with("; Traefik serves route whoami"));
    assert!(!r.stdout.contains("t0psecret"), "{}", r.stdout);

    // Traefik reports the route with an error: the run fails with Traefik's words, and
    // says the file is written.
    let api = serve(|path, _| {
        match path {
        "/api/http/routers/whoami@file" => (
            200,
            json!({
                "entryPoints": ["websecure"], "service": "whoami", "rule": "Host(`whoami.lab`)",
                "status": "disabled", "error": ["middleware \"auth@file\" does not exist"],
            })
            .to_string(),
        ),
        "/api/http/services/whoami@file" => (
            200,
            json!({"loadBalancer": {"servers": [{"url": "http://10.0.0.5:8080"}]}, "status": "enabled"})
                .to_string(),
        ),
        _ => (404, "{}".into()),
    }
    });
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        BIN,
        &args(&path_str(dir.path()), json!({"traefik_api_url": api})),
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.out["changed"], true);
    let msg = r.out["msg"].as_str().unwrap();
    assert!(msg.starts_with("created "), "{msg}");
    assert!(
        msg.contains("middleware \\\"auth@file\\\" does not exist")
            || msg.contains("middleware \"auth@file\" does not exist"),
        "{msg}"
    );
    assert!(dir.path().join("whoami.toml").exists());
}

#[test]
fn an_https_api_url_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        BIN,
        &args(
            &path_str(dir.path()),
            json!({"traefik_api_url": "https://admin:t0psecret@127.0.0.1:8443"}),
        ),
    );
    assert_eq!(r.code, 1);
    assert!(r.out["msg"]
        .as_str()
        .unwrap()
        .starts_with("traefik_api_url: this module reaches Traefik's API over plain http only"));
    assert!(!r.stdout.contains("t0psecret"), "{}", r.stdout);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
