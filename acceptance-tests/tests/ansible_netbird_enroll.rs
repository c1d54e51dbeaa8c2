//! `tabiri.homelab.netbird_enroll` run by the real `ansible-playbook` from the built
//! collection over real SSH to a network-namespace host running the stand-in NetBird agent
//! against two NetBird management doubles. Needs root, `make collection` (or
//! `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::NS;
use acceptance_tests::ssh_hosts::SshHost;
use serde_json::json;

#[test]
fn netbird_enroll_enrols_once_follows_a_new_url_and_leaves() {
    use acceptance_tests::netbird::NetbirdDouble;
    // Its own host: the agent is mounted into this host's SSH sessions.
    let host = SshHost::start();
    let first = NetbirdDouble::start();
    let second = NetbirdDouble::start();
    let agent = first.install_agent(&host);
    second.reach_from(&host);
    let key_of = |double: &NetbirdDouble| {
        let (status, key) = double.api(
            "POST",
            "/api/setup-keys",
            Some(json!({"name": "lab", "type": "reusable", "expires_in": 86400, "auto_groups": [], "usage_limit": 0})),
        );
        assert_eq!(status, 200, "{key}");
        key["key"].as_str().unwrap().to_string()
    };
    let (key1, key2) = (key_of(&first), key_of(&second));
    let task = |name: &str, url: &str, key: &str, state: &str| {
        json!({"name": name, "tabiri.homelab.netbird_enroll": {
            "management_url": url, "setup_key": key, "hostname": "vm-ansible", "state": state}})
    };
    for ansible in Ansible::all() {
        let hosts = [host.inventory_host(NS)];
        let checked = ansible
            .play(&hosts, json!([task("enrol", &first.url, &key1, "present")]))
            .check()
            .run();
        checked.assert_success();
        assert!(checked.ok(NS, "enrol").changed);
        assert_eq!(
            agent.status(&host)["daemonStatus"],
            "NeedsLogin",
            "check mode enrolled"
        );

        let run = ansible
            .play(
                &hosts,
                json!([
                    task("enrol", &first.url, &key1, "present"),
                    task("enrol again", &first.url, &key1, "present")
                ]),
            )
            .verbose(3)
            .run();
        run.assert_success();
        let enrolled = run.ok(NS, "enrol");
        assert!(enrolled.changed);
        assert!(!run.ok(NS, "enrol again").changed, "{}", run.output());
        let ip = enrolled.result["ip"].as_str().unwrap().to_string();
        let peers = first.account()["peers"].clone();
        assert_eq!(peers[0]["ip"], json!(ip), "{peers}");
        assert_eq!(peers[0]["hostname"], "vm-ansible");
        assert!(enrolled.result["fqdn"]
            .as_str()
            .unwrap()
            .ends_with(".netbird.selfhosted"));
        assert!(!run.output().contains(&key1), "the key printed at -vvv");

        // Another management URL: the agent goes down first (a connected agent ignores
        // a new URL), then enrols there.
        let moved = ansible
            .play(&hosts, json!([task("move", &second.url, &key2, "present")]))
            .run();
        moved.assert_success();
        assert!(moved.ok(NS, "move").changed);
        let status = agent.status(&host);
        assert_eq!(status["management"]["url"], json!(second.url), "{status}");
        assert_eq!(status["daemonStatus"], "Connected");
        assert_eq!(second.account()["peers"].as_array().unwrap().len(), 1);

        let gone = ansible
            .play(
                &hosts,
                json!([
                    task("leave", &second.url, &key2, "absent"),
                    task("leave again", &second.url, &key2, "absent")
                ]),
            )
            .run();
        gone.assert_success();
        assert!(gone.ok(NS, "leave").changed);
        assert!(!gone.ok(NS, "leave again").changed);
        assert_eq!(agent.status(&host)["daemonStatus"], "NeedsLogin");
        // The first server's peer is left for its own cleanup; start the next round clean.
        for peer in first.account()["peers"].as_array().unwrap() {
            first.api(
                "DELETE",
                &format!("/api/peers/{}", peer["id"].as_str().unwrap()),
                None,
            );
        }
    }
    let argv = agent.argv_log();
    assert!(
        argv.contains("NB_SETUP_KEY"),
        "the key went by environment: {argv}"
    );
    assert!(
        !argv.contains(&key1) && !argv.contains(&key2),
        "a key in argv: {argv}"
    );
    first.assert_conforms();
    second.assert_conforms();
}
