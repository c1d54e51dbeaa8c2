//! `prometheus_target` run as Ansible runs it.

mod support;

use std::fs;

use serde_json::json;
use support::{path_str, run};

const BIN: &str = env!("CARGO_BIN_EXE_prometheus_target");

#[test]
fn writes_file_sd_json_once() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("file_sd");
    let args = json!({
        "job": "node", "targets": "nas.lab:9100,10.0.0.5:9100",
        "labels": {"env": "lab", "rack": 2}, "file_sd_dir": path_str(&sd),
        "create_dir": true, "_ansible_diff": true,
    });
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    let r = run(BIN, &check);
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    assert!(!sd.exists(), "check mode created the directory");

    let r = run(BIN, &args);
    assert_eq!(r.out["changed"], true, "{}", r.stdout);
    let file = sd.join("node.json");
    assert_eq!(r.out["path"], path_str(&file));
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        "[\n  {\n    \"targets\": [\n      \"nas.lab:9100\",\n      \"10.0.0.5:9100\"\n    ],\n    \"labels\": {\n      \"env\": \"lab\",\n      \"rack\": \"2\"\n    }\n  }\n]\n"
    );
    assert_eq!(r.out["diff"]["after"], text);

    let r = run(BIN, &args);
    assert_eq!(r.out["changed"], false, "{}", r.stdout);
    assert_eq!(r.out["msg"], format!("{} is up to date", file.display()));

    let r = run(
        BIN,
        &json!({"job": "node", "file_sd_dir": path_str(&sd), "state": "absent"}),
    );
    assert_eq!(r.out["changed"], true);
    assert!(!file.exists());
}

#[test]
fn a_target_without_a_port_names_targets() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        BIN,
        &json!({"job": "node", "targets": ["nas.lab:9100", "nas.lab"], "file_sd_dir": path_str(dir.path())}),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.out["msg"],
        "invalid prometheus target \"node\": targets[1]: must be host:port with a port (e.g. \
         \"nas.lab:9100\" or \"[2001:db8::1]:9100\"), got \"nas.lab\""
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn missing_targets_and_directory_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        BIN,
        &json!({"job": "node", "file_sd_dir": path_str(dir.path())}),
    );
    assert_eq!(
        r.out["msg"],
        "state is present but all of the following are missing: targets"
    );
    let missing = dir.path().join("nope");
    let r = run(
        BIN,
        &json!({"job": "node", "targets": ["a:1"], "file_sd_dir": path_str(&missing)}),
    );
    assert_eq!(
        r.out["msg"],
        format!(
            "file_sd_dir: the directory {} does not exist; create it first or set create_dir: true",
            missing.display()
        )
    );
    // Removing from a directory that does not exist is already done.
    let r = run(
        BIN,
        &json!({"job": "node", "file_sd_dir": path_str(&missing), "state": "absent"}),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.out["changed"], false);
}
