//! `tabiri.homelab.compose_stack` run by the real `ansible-playbook` from the built
//! collection over real SSH to a network-namespace host with its own real Docker Engine.
//! Needs root, `make collection` (or `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::{path_str, NS};
use acceptance_tests::ssh_hosts::SshHost;
use serde_json::json;

/// `tabiri.homelab.compose_stack` on its own SSH host with its own Docker Engine: check
/// mode writes and starts nothing, a run changes then is unchanged, an env value used by
/// one service recreates only it (`--diff` names it, `-vvv` never shows the value), and
/// `state: absent` takes the project down; on ansible-core 2.19 and 2.18.
#[test]
fn compose_stack_converges_and_check_mode_runs_nothing() {
    use acceptance_tests::docker::DockerEngine;
    let host = SshHost::start();
    let engine = DockerEngine::start(&host);
    let dir = host.dir.join("stacks/shop");
    let secret = "shop-s3cr3t-token";
    let compose = "services:\n  web:\n    image: tabiri-test/busybox:1\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n    environment:\n      TOKEN: ${TOKEN}\n    volumes:\n      - ./www/index.html:/www/index.html:ro\n    ports:\n      - \"127.0.0.1:18090:8080\"\n  worker:\n    image: tabiri-test/busybox:1\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    environment:\n      MODE: ${MODE}\n";
    let task = |name: &str, mode: &str, state: &str| {
        json!({
            "name": name,
            "tabiri.homelab.compose_stack": {
                "project": "shop",
                "project_dir": path_str(&dir),
                "compose": compose,
                "env": {"TOKEN": secret, "MODE": mode},
                "files": {"www/index.html": "shop"},
                "wait_timeout": "40s",
                "state": state,
            }
        })
    };
    for ansible in Ansible::all() {
        let hosts = [host.inventory_host(NS)];
        let checked = ansible
            .play(&hosts, json!([task("stack", "calm", "present")]))
            .check()
            .run();
        checked.assert_success();
        let result = checked.ok(NS, "stack");
        assert!(
            result.changed,
            "check mode reports the change: {}",
            result.result
        );
        assert!(
            engine.containers("shop").is_empty(),
            "check mode started something"
        );
        assert!(!dir.exists(), "check mode wrote {}", dir.display());

        let run = ansible
            .play(
                &hosts,
                json!([
                    task("stack", "calm", "present"),
                    task("stack again", "calm", "present")
                ]),
            )
            .run();
        run.assert_success();
        assert!(run.ok(NS, "stack").changed);
        assert!(!run.ok(NS, "stack again").changed, "{}", run.output());
        let services = &run.ok(NS, "stack again").result["services"];
        assert_eq!(services["web"]["state"], "running", "{services}");
        let before = engine.containers("shop");

        let changed = ansible
            .play(&hosts, json!([task("stack", "busy", "present")]))
            .diff()
            .verbose(3)
            .run();
        changed.assert_success();
        let output = changed.output();
        assert!(
            output.contains("worker: recreate (configuration changed)"),
            "{output}"
        );
        assert!(!output.contains(secret), "the secret is in the output");
        let after = engine.containers("shop");
        let id = |list: &[(String, String)], s: &str| {
            list.iter().find(|(n, _)| n == s).map(|(_, i)| i.clone())
        };
        assert_eq!(id(&after, "web"), id(&before, "web"));
        assert_ne!(id(&after, "worker"), id(&before, "worker"));

        let gone = ansible
            .play(
                &hosts,
                json!([
                    task("down", "busy", "absent"),
                    task("down again", "busy", "absent")
                ]),
            )
            .run();
        gone.assert_success();
        assert!(gone.ok(NS, "down").changed);
        assert!(!gone.ok(NS, "down again").changed);
        assert!(engine.containers("shop").is_empty());
        assert!(!dir.exists());
    }
}
