//! `docker_logging` run as Ansible runs it.

mod support;

use std::fs;

use serde_json::{json, Value};
use support::{path_str, run};

const BIN: &str = env!("CARGO_BIN_EXE_docker_logging");

#[test]
fn creates_daemon_json_then_needs_no_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("etc/docker/daemon.json");
    let args = json!({"max_size": "10m", "max_file": "3", "daemon_json": path_str(&file), "_ansible_diff": true});
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    let r = run(BIN, &check);
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert_eq!(r.out["restart_needed"], true);
    assert!(!file.exists());

    let r = run(BIN, &args);
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert_eq!(r.out["restart_needed"], true);
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\n    \"max-file\": \"3\",\n    \"max-size\": \"10m\"\n  }\n}\n"
    );
    let r = run(BIN, &args);
    assert_eq!(r.out["changed"], false);
    assert_eq!(r.out["restart_needed"], false);
}

#[test]
fn keeps_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daemon.json");
    fs::write(
        &file,
        r#"{"data-root": "/srv/docker", "log-opts": {"compress": "true"}}"#,
    )
    .unwrap();
    let r = run(
        BIN,
        &json!({"max_size": "512k", "max_file": 5, "daemon_json": path_str(&file)}),
    );
    assert_eq!(r.out["restart_needed"], true, "{}", r.stdout);
    let v: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        v,
        json!({
            "data-root": "/srv/docker", "log-driver": "json-file",
            "log-opts": {"compress": "true", "max-size": "512k", "max-file": "5"},
        })
    );
}

#[test]
fn invalid_json_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daemon.json");
    fs::write(&file, "{\"data-root\": \"/srv\",,}").unwrap();
    let r = run(
        BIN,
        &json!({"max_size": "10m", "max_file": 3, "daemon_json": path_str(&file)}),
    );
    assert_eq!(r.code, 1);
    let msg = r.out["msg"].as_str().unwrap();
    assert!(msg.contains("is not valid JSON"), "{msg}");
    assert!(msg.contains("left untouched"), "{msg}");
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "{\"data-root\": \"/srv\",,}"
    );
}

#[test]
fn bad_sizes_and_counts_name_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let file = path_str(&dir.path().join("daemon.json"));
    let r = run(
        BIN,
        &json!({"max_size": "ten", "max_file": 3, "daemon_json": file}),
    );
    assert!(r.out["msg"].as_str().unwrap().starts_with(
        "invalid docker logging settings: max_size: must be a whole number and a unit k, m or g"
    ));
    let r = run(
        BIN,
        &json!({"max_size": "10m", "max_file": 0, "daemon_json": file}),
    );
    assert_eq!(
        r.out["msg"],
        "invalid docker logging settings: max_file: must be at least 1, got 0"
    );
    let r = run(BIN, &json!({"max_size": "10m"}));
    assert_eq!(r.out["msg"], "missing required arguments: max_file");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
