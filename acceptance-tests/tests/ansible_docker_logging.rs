//! `tabiri.homelab.docker_logging` run by the real `ansible-playbook` from the built
//! collection over real SSH to a network-namespace host (`ns`): a real dockerd starts with
//! the daemon.json it edits and applies the rotation. Needs root, `make collection` (or
//! `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use std::path::Path;
use std::process::Command;

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::{dir_entries, ns_host, path_str, temp_dir, NS};
use acceptance_tests::docker::DockerEngine;
use serde_json::{json, Value as Json};

/// An image made FROM scratch holding Debian's static busybox, imported without a registry.
fn import_busybox_image(dockerd: &DockerEngine) -> &'static str {
    let busybox = Path::new("/bin/busybox");
    // The image is FROM scratch, so only a statically linked busybox runs in it (Debian's
    // busybox-static; the plain busybox package asks for /lib64/ld-linux-x86-64.so.2).
    let bytes = std::fs::read(busybox).unwrap_or_default();
    let is_static =
        bytes.starts_with(b"\x7fELF") && !bytes.windows(15).any(|w| w == b"/lib64/ld-linux");
    assert!(
        is_static,
        "a static /bin/busybox (Debian busybox-static) is needed for the container check: \
         add busybox-static to APT_PINS in scripts/setup.sh"
    );
    let rootfs = dockerd.dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let tarball = dockerd.dir.join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    dockerd.ok(&[
        "import",
        "-c",
        "CMD [\"/bin/busybox\", \"echo\", \"hello from busybox\"]",
        &path_str(&tarball),
        "homelab-acc-busybox:1",
    ]);
    "homelab-acc-busybox:1"
}

#[test]
fn docker_logging_sets_rotation_that_real_dockerd_applies() {
    let ns = ns_host();
    let dir = temp_dir("docker-logging");
    let daemon_json = dir.path().join("daemon.json");
    // Other settings in the file are kept.
    std::fs::write(&daemon_json, "{\n  \"debug\": false\n}\n").unwrap();
    let broken = dir.path().join("broken.json");
    let broken_text = "{ \"log-opts\": { \"max-size\": \"5m\", }\n";
    std::fs::write(&broken, broken_text).unwrap();
    let task = |name: &str, path: &Path| {
        json!({
            "name": name,
            "tabiri.homelab.docker_logging": {
                "max_size": "10m",
                "max_file": 3,
                "daemon_json": path_str(path),
            },
            "register": name.replace(' ', "_"),
            "ignore_errors": name.starts_with("broken"),
        })
    };
    let run = Ansible::new("2.19")
        .play(
            &[ns.inventory_host(NS)],
            json!([
                task("rotation", &daemon_json),
                task("rotation again", &daemon_json),
                task("broken file", &broken),
            ]),
        )
        .diff()
        .run();
    run.assert_success();
    let first = run.ok(NS, "rotation");
    assert!(first.changed, "{}", first.result);
    assert_eq!(first.result["restart_needed"], true);
    assert_eq!(first.result["path"], path_str(&daemon_json).as_str());
    let diff = first.diff.as_ref().expect("a diff with --diff");
    let diff = if diff.is_array() { &diff[0] } else { diff };
    let before = diff["before"].as_str().unwrap_or_default();
    let after = diff["after"].as_str().unwrap_or_default();
    assert!(
        !before.contains("max-size") && after.contains("\"max-size\": \"10m\""),
        "{diff}"
    );
    let again = run.ok(NS, "rotation again");
    assert!(!again.changed, "{}", again.result);
    assert_eq!(again.result["restart_needed"], false);
    let written: Json =
        serde_json::from_str(&std::fs::read_to_string(&daemon_json).unwrap()).unwrap();
    assert_eq!(written["debug"], false, "other keys are kept: {written}");
    assert_eq!(
        written["log-opts"],
        json!({"max-size": "10m", "max-file": "3"}),
        "{written}"
    );
    let failed = run.failed(NS, "broken file");
    assert!(
        failed.msg.contains(&path_str(&broken)),
        "the message names the file: {}",
        failed.msg
    );
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap(),
        broken_text,
        "a file that is not JSON is left alone"
    );
    assert_eq!(
        dir_entries(dir.path()),
        vec!["broken.json".to_string(), "daemon.json".to_string()],
        "no temp files left"
    );

    // The real daemon starts with the file and applies the rotation to new containers.
    let dockerd = DockerEngine::start_with_config(&daemon_json);
    assert_eq!(
        dockerd.ok(&["info", "--format", "{{json .LoggingDriver}}"]),
        "\"json-file\""
    );
    let image = import_busybox_image(&dockerd);
    let container = "homelab-acc-logging";
    let out = dockerd.ok(&["run", "--name", container, "--network", "none", image]);
    assert_eq!(out, "hello from busybox");
    let log_config: Json = serde_json::from_str(&dockerd.ok(&[
        "inspect",
        "--format",
        "{{json .HostConfig.LogConfig}}",
        container,
    ]))
    .unwrap();
    assert_eq!(
        log_config,
        json!({"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}})
    );
    dockerd.ok(&["rm", container]);
}
