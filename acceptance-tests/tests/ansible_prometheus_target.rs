//! `tabiri.homelab.prometheus_target` run by the real `ansible-playbook` from the built
//! collection, over real SSH to a network-namespace host (`ns`) and with `connection:
//! local` (`localhost`): a real Prometheus scrapes the targets it lists. Needs root, `make
//! collection` (or `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use std::path::Path;
use std::time::Duration;

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::{dir_entries, ns_host, path_str, temp_dir, LOCAL, NS};
use acceptance_tests::procs::{free_port, wait_for};
use acceptance_tests::prometheus::Prometheus;
use acceptance_tests::ssh_hosts::localhost;
use serde_json::{json, Value as Json};

/// Prometheus on loopback scraping every target listed in `file_sd_dir` (job `acc`), all
/// within a second of a change.
fn prometheus_reading(file_sd_dir: &Path) -> (tempfile::TempDir, Prometheus) {
    let dir = temp_dir("prometheus");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: acc\n    file_sd_configs:\n      \
         - files: ['{}/*.json']\n        refresh_interval: 1s\n",
        file_sd_dir.display()
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let prometheus = Prometheus::start(None, &addr, dir.path(), &config);
    (dir, prometheus)
}

#[test]
fn prometheus_target_is_scraped_by_real_prometheus() {
    let ns = ns_host();
    let sd_dir = temp_dir("file-sd");
    let (_prometheus_dir, prometheus) = prometheus_reading(sd_dir.path());
    let sd = path_str(sd_dir.path());
    let hosts = [
        ns.inventory_host(NS)
            .var("job", "acc-ns")
            .var("target", prometheus.addr.clone()),
        localhost()
            .var("job", "acc-local")
            .var("target", prometheus.addr.replace("127.0.0.1", "localhost")),
    ];
    let task = |name: &str, state: &str| {
        json!({
            "name": name,
            "tabiri.homelab.prometheus_target": {
                "job": "{{ job }}",
                "targets": ["{{ target }}"],
                "labels": {"env": "lab", "written_by": "{{ inventory_hostname }}"},
                "file_sd_dir": sd,
                "state": state,
            }
        })
    };
    let ansible = Ansible::new("2.19");
    let run = ansible
        .play(
            &hosts,
            json!([task("targets", "present"), task("targets again", "present")]),
        )
        .run();
    run.assert_success();
    for (host, job, target) in [
        (NS, "acc-ns", prometheus.addr.clone()),
        (
            LOCAL,
            "acc-local",
            prometheus.addr.replace("127.0.0.1", "localhost"),
        ),
    ] {
        let first = run.ok(host, "targets");
        assert!(first.changed, "{host}: {}", first.result);
        assert!(!run.ok(host, "targets again").changed, "{host} idempotent");
        let path = first.result["path"].as_str().expect("path returned");
        assert_eq!(path, format!("{sd}/{job}.json"));
        let file: Json =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("file_sd JSON");
        assert_eq!(
            file,
            json!([{ "targets": [target], "labels": {"env": "lab", "written_by": host} }]),
            "{host}: {path}"
        );
    }

    // Prometheus picks both files up and scrapes the targets with their labels.
    let targets = wait_for(
        "Prometheus to list both targets",
        Duration::from_secs(30),
        || {
            let active = prometheus.active_targets();
            let ours: Vec<Json> = active
                .into_iter()
                .filter(|t| t["labels"]["env"] == "lab")
                .collect();
            (ours.len() == 2).then_some(ours)
        },
    );
    for target in &targets {
        assert_eq!(target["labels"]["job"], "acc");
        assert!(
            ["ns", "localhost"].contains(&target["labels"]["written_by"].as_str().unwrap()),
            "{target}"
        );
    }
    wait_for(
        "Prometheus to scrape the targets",
        Duration::from_secs(30),
        || {
            let active = prometheus.active_targets();
            let up = active
                .iter()
                .filter(|t| t["labels"]["env"] == "lab" && t["health"] == "up")
                .count();
            (up == 2).then_some(())
        },
    );

    // state=absent on the namespace host: its target goes away, the other stays.
    let run = ansible
        .play(&hosts[..1], json!([task("remove", "absent")]))
        .run();
    run.assert_success();
    assert!(run.ok(NS, "remove").changed);
    assert_eq!(
        dir_entries(sd_dir.path()),
        vec!["acc-local.json".to_string()]
    );
    wait_for(
        "Prometheus to drop the removed target",
        Duration::from_secs(30),
        || {
            let active = prometheus.active_targets();
            let ours: Vec<&Json> = active
                .iter()
                .filter(|t| t["labels"]["env"] == "lab")
                .collect();
            (ours.len() == 1 && ours[0]["labels"]["written_by"] == "localhost").then_some(())
        },
    );
}

/// `prometheus_target` leaves a target file it did not write alone, as
/// `homelab_prometheus_target` does: writing over it and removing it both fail, naming the
/// file, and its bytes stay as they were (in check mode too); its own file beside it is
/// still written, rewritten and removed.
#[test]
fn prometheus_target_refuses_a_file_it_did_not_write() {
    let ns = ns_host();
    let sd_dir = temp_dir("file-sd-foreign");
    let sd = path_str(sd_dir.path());
    let foreign = sd_dir.path().join("foreign.json");
    let foreign_text = "[{\"targets\": [\"hand.lab:9100\"]}]\n";
    std::fs::write(&foreign, foreign_text).unwrap();
    let hosts = [ns.inventory_host(NS)];
    let task = |name: &str, job: &str, target: &str, state: &str| {
        json!({
            "name": name,
            "ignore_errors": job == "foreign",
            "tabiri.homelab.prometheus_target": {
                "job": job,
                "targets": [target],
                "file_sd_dir": sd,
                "state": state,
            }
        })
    };
    let ansible = Ansible::new("2.19");
    let tasks = json!([
        task("overwrite foreign", "foreign", "ours.lab:9100", "present"),
        task("remove foreign", "foreign", "ours.lab:9100", "absent"),
        task("own", "own", "ours.lab:9100", "present"),
        task("own changed", "own", "other.lab:9100", "present"),
    ]);

    let checked = ansible.play(&hosts, tasks.clone()).check().run();
    for name in ["overwrite foreign", "remove foreign"] {
        let refused = checked.failed(NS, name);
        assert!(
            refused.msg.contains(&path_str(&foreign)),
            "check mode fails as the real run would: {}",
            refused.msg
        );
    }
    assert!(checked.ok(NS, "own").changed);

    let run = ansible.play(&hosts, tasks).run();
    for (name, remedy) in [
        ("overwrite foreign", "should replace it"),
        ("remove foreign", "should be removed"),
    ] {
        let refused = run.failed(NS, name);
        assert!(!refused.changed, "{name}: {}", refused.result);
        assert_eq!(
            refused.msg,
            format!(
                "{} exists and was not written by Tabiri Homelab (it is not a target list as \
                 this tool writes it), so it was left alone; move it away or delete it if this \
                 prometheus target {remedy}",
                foreign.display()
            ),
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        foreign_text.as_bytes(),
        "the foreign file is byte-identical"
    );

    // Its own file: written, rewritten with other targets, removed.
    assert!(run.ok(NS, "own").changed);
    assert!(run.ok(NS, "own changed").changed);
    let own = sd_dir.path().join("own.json");
    let written: Json = serde_json::from_str(&std::fs::read_to_string(&own).unwrap()).unwrap();
    assert_eq!(
        written,
        json!([{"targets": ["other.lab:9100"], "labels": {}}])
    );
    let gone = ansible
        .play(
            &hosts,
            json!([task("remove own", "own", "other.lab:9100", "absent")]),
        )
        .run();
    gone.assert_success();
    assert!(gone.ok(NS, "remove own").changed);
    assert_eq!(dir_entries(sd_dir.path()), vec!["foreign.json".to_string()]);
    assert_eq!(std::fs::read(&foreign).unwrap(), foreign_text.as_bytes());
}
