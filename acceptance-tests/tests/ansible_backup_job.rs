//! `tabiri.homelab.backup_job` and `tabiri.homelab.backup_restore_test` run by the real
//! `ansible-playbook` from the built collection over real SSH to a network-namespace host,
//! with real restic: the job is written, run, drilled by a restore and removed. Needs
//! root, `make collection` (or `HOMELAB_COLLECTION`) and `scripts/setup.sh all`.

use acceptance_tests::ansible::Ansible;
use acceptance_tests::ansible_fixtures::{path_str, NS};
use acceptance_tests::ssh_hosts::SshHost;
use serde_json::json;

#[test]
fn backup_job_changed_then_unchanged_check_diff_and_a_restore_drill() {
    let host = SshHost::start();
    let data = host.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "alpha\n").unwrap();
    for d in ["backup", "cron.d", "systemd"] {
        std::fs::create_dir_all(host.dir.join(d)).unwrap();
    }
    let password = "ansible-restic-s3cr3t";
    let task = |name: &str, state: &str| {
        json!({"name": name, "tabiri.homelab.backup_job": {
            "name": "files", "repository": path_str(&host.dir.join("repo")), "password": password,
            "paths": [path_str(&data)], "schedule": "*-*-* 03:15:00",
            "dumps": [{"name": "db.sql", "command": ["echo", "dump"]}],
            "retention": {"keep_last": 2},
            "config_dir": path_str(&host.dir.join("backup")),
            "cron_dir": path_str(&host.dir.join("cron.d")),
            "systemd_dir": path_str(&host.dir.join("systemd")),
            "run_now": true, "state": state}})
    };
    let job_dir = host.dir.join("backup/files");
    for ansible in Ansible::all() {
        let hosts = [host.inventory_host(NS)];
        let checked = ansible
            .play(&hosts, json!([task("job", "present")]))
            .check()
            .diff()
            .run();
        checked.assert_success();
        assert!(checked.ok(NS, "job").changed);
        assert!(!job_dir.exists(), "check mode wrote the job");
        assert!(
            checked.output().contains("job.sh"),
            "the diff shows the script"
        );
        let run = ansible
            .play(
                &hosts,
                json!([task("job", "present"), task("job again", "present")]),
            )
            .verbose(3)
            .run();
        run.assert_success();
        assert!(run.ok(NS, "job").changed);
        assert!(!run.ok(NS, "job again").changed, "{}", run.output());
        assert_eq!(run.ok(NS, "job again").result["scheduler"], "cron");
        assert!(
            run.ok(NS, "job again").result["snapshots"]
                .as_u64()
                .unwrap()
                >= 2
        );
        assert!(!run.output().contains(password), "the password at -vvv");
        let cron = std::fs::read_to_string(host.dir.join("cron.d/tabiri-backup-files")).unwrap();
        assert!(cron.contains("15 3 * * * root"), "{cron}");

        let drill = ansible
            .play(
                &hosts,
                json!([{"name": "drill", "tabiri.homelab.backup_restore_test": {
                    "name": "files", "config_dir": path_str(&host.dir.join("backup"))}}]),
            )
            .run();
        drill.assert_success();
        let log = drill.ok(NS, "drill").result["log"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(log.contains("restored and identical"), "{log}");

        let gone = ansible
            .play(
                &hosts,
                json!([task("remove", "absent"), task("remove again", "absent")]),
            )
            .run();
        gone.assert_success();
        assert!(gone.ok(NS, "remove").changed);
        assert!(!gone.ok(NS, "remove again").changed);
        assert!(!job_dir.exists() && !host.dir.join("cron.d/tabiri-backup-files").exists());
        assert!(
            host.dir.join("repo/config").exists(),
            "the repository stays"
        );
    }
}
