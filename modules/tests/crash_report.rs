//! A panic in a binary built with the `module` profile (`panic = "abort"`, what the
//! collection ships) still prints exactly one JSON failure, secrets scrubbed, exit 1.
//! Builds `examples/crashing_module.rs` for the host's musl target with that profile.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

fn build_crashing_module() -> PathBuf {
    let target = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "module",
            "--target",
            &target,
        ])
        .args([
            "-p",
            "tabiri-homelab-modules",
            "--example",
            "crashing_module",
        ])
        .args(["--message-format", "json"])
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build --example crashing_module: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The executable cargo reports, wherever the target dir is.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["target"]["name"] == "crashing_module")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the crashing_module executable")
}

#[test]
fn a_crash_in_an_aborting_build_is_one_scrubbed_json_failure() {
    let binary = build_crashing_module();
    let dir = tempfile::tempdir().unwrap();
    // On another thread the hook has no context: the panic's text (which may hold a
    // secret) is left out, and so is the invocation.
    let scrubbed_invocation = json!("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER");
    for (args, expected_msg, expected_password) in [
        (
            json!({"name": "x", "password": "pw-4711", "_ansible_no_log": false}),
            "module crashed: boom with ********",
            &scrubbed_invocation,
        ),
        (
            json!({"name": "x", "password": "pw-4711", "on_thread": true}),
            "module crashed: panic before the options were read or on another thread",
            &Value::Null,
        ),
    ] {
        let path = dir.path().join("args");
        std::fs::write(&path, args.to_string()).unwrap();
        let out = Command::new(&binary).arg(&path).output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
        let result: Value = serde_json::from_str(&stdout).expect("JSON");
        assert_eq!(result["failed"], true);
        let msg = result["msg"].as_str().unwrap();
        assert!(msg.starts_with(expected_msg), "{msg}");
        assert!(msg.contains("crashing_module.rs:"), "location: {msg}");
        assert!(!stdout.contains("pw-4711") && !stderr.contains("pw-4711"));
        assert_eq!(
            &result["invocation"]["module_args"]["password"],
            expected_password
        );
    }
}
