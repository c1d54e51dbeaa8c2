//! Faults, through fakepve's Python API: a VM locked by a backup, tasks ending in
//! `TASK ERROR`, a shutdown slower than the timeout, an expired ticket, a flaky network,
//! lock errors during parallel clones, a missing or hanging guest agent. Each ends in
//! success or a clear error (naming the timeout when it is one), leaves no guest that
//! Terraform's state does not know about, and a second apply converges.

use std::time::{Duration, Instant};

use acceptance_tests::fakepve::{self, FakePve, Options};
use acceptance_tests::Workspace;
use serde_json::{json, Value as Json};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab";

fn vm(name: &str, count: u32, cores: u32, extra: &str) -> String {
    format!(
        r#"{provider}
resource "homelab_proxmox_vm" "{name}" {{
  count  = {count}
  node   = "pve1"
  name   = "{name}${{count.index}}"
  clone  = {{ template_id = 9000 }}
  cores  = {cores}
  memory = 1024
  disks   = [{{ slot = "scsi0", storage = "local-lvm", size_gb = 8 }}]
  network = [{{ bridge = "vmbr0" }}]
  cloud_init = {{
    user     = "admin"
    ssh_keys = ["{KEY}"]
    ipv4     = "dhcp"
  }}
  {extra}
}}
"#,
        provider = fakepve::provider_block()
    )
}

fn workspace(fake: &FakePve) -> Workspace {
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws
}

/// The VM ids Terraform's state holds.
fn state_ids(ws: &Workspace) -> Vec<u64> {
    let state = ws.state();
    let mut ids: Vec<u64> = state["values"]["root_module"]["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["values"]["vm_id"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Cores as the VM will run with them (pending or current).
fn cores(fake: &FakePve, vmid: u64) -> Json {
    let guest = fake.guest(vmid).expect("the VM exists");
    let pending = &guest["pending"]["cores"];
    if pending.is_null() {
        guest["config"]["cores"].clone()
    } else {
        pending.clone()
    }
}

/// No guest exists that the state does not know about, and the reverse.
fn no_orphans(fake: &FakePve, ws: &Workspace) {
    let mut guests = fake.guest_ids();
    guests.sort();
    assert_eq!(
        guests,
        state_ids(ws),
        "guests in Proxmox vs in Terraform's state"
    );
}

fn apply_fails(ws: &Workspace) -> String {
    ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"])
}

#[test]
fn a_backup_lock_is_waited_out_or_named_in_a_timeout() {
    // 1 PVE second = 50 ms: a 60 s backup holds the lock for 3 s.
    let fake = FakePve::start_with(Options {
        time_scale: 0.05,
        ..Options::default()
    });
    let ws = workspace(&fake);
    ws.config(&vm("web", 1, 1, ""));
    ws.apply();
    let vmid = state_ids(&ws)[0];

    // The update waits for the backup to finish, then applies.
    fake.command(json!({"op": "backup", "vmid": vmid, "secs": 60}));
    assert_eq!(fake.guest(vmid).unwrap()["lock"], "backup");
    ws.config(&vm("web", 1, 2, ""));
    let start = Instant::now();
    ws.apply();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "it did not wait for the lock"
    );
    assert_eq!(cores(&fake, vmid), "2");
    ws.expect_empty_plan();

    // A backup longer than the update timeout: a clear error naming the timeout and the
    // lock, nothing changed; once the backup is over, the next apply converges.
    fake.command(json!({"op": "backup", "vmid": vmid, "secs": 6000}));
    ws.config(&vm(
        "web",
        1,
        3,
        r#"timeouts {
    update = "2s"
  }"#,
    ));
    let text = apply_fails(&ws);
    assert!(text.contains("timeouts.update = 2s"), "{text}");
    assert!(text.contains("VM is locked (backup)"), "{text}");
    assert_eq!(cores(&fake, vmid), "2");
    fake.command(json!({"op": "unlock", "vmid": vmid}));
    ws.apply();
    assert_eq!(cores(&fake, vmid), "3");
    ws.expect_empty_plan();

    // Destroy waits for a running backup too.
    fake.command(json!({"op": "backup", "vmid": vmid, "secs": 40}));
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

#[test]
fn a_task_error_shows_the_task_log_and_the_next_apply_converges() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    // The VM is cloned and configured, then its start task fails.
    fake.fail(
        "POST",
        "/status/start",
        json!({"error": "qemu_exited_code", "times": 1}),
    );
    ws.config(&vm("web", 1, 1, ""));
    let text = apply_fails(&ws);
    assert!(
        text.contains("start of VM 100 failed: QEMU exited with code 1"),
        "{text}"
    );
    assert!(
        text.contains("TASK ERROR: QEMU exited with code 1"),
        "the task log is shown: {text}"
    );
    // The VM exists and the state knows it (tainted): nothing is orphaned.
    no_orphans(&fake, &ws);
    ws.expect_plan("homelab_proxmox_vm.web[0]", &["delete", "create"]);
    ws.apply();
    no_orphans(&fake, &ws);
    assert_eq!(fake.guest(state_ids(&ws)[0]).unwrap()["status"], "running");
    ws.expect_empty_plan();

    // A clone task that fails: PVE removes the half-made VM; nothing is recorded and the
    // next apply converges.
    fake.fail(
        "POST",
        "/qemu/9000/clone",
        json!({"status": 500, "message": "clone failed: unexpected error", "times": 1}),
    );
    ws.config(&vm("web", 2, 1, ""));
    let text = apply_fails(&ws);
    assert!(text.contains("clone failed: unexpected error"), "{text}");
    no_orphans(&fake, &ws);
    ws.apply();
    no_orphans(&fake, &ws);
    assert_eq!(fake.guest_ids().len(), 2);
    ws.expect_empty_plan();
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

#[test]
fn a_shutdown_slower_than_the_timeout_is_bounded() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    ws.config(&vm("web", 1, 1, ""));
    ws.apply();
    let vmid = state_ids(&ws)[0];
    // The guest would take ten minutes to power off.
    fake.set(vmid, json!({"shutdown_secs": 600}));

    // A reboot for pending changes asks for a clean shutdown only: it fails, naming the
    // time allowed, and the VM keeps running with its changes pending.
    ws.config(&vm(
        "web",
        1,
        2,
        "reboot_after_update = true\n  timeouts {\n    update = \"1m\"\n  }",
    ));
    let text = apply_fails(&ws);
    assert!(
        text.contains("VM quit/powerdown failed - got timeout"),
        "{text}"
    );
    assert!(
        text.contains("clean shutdown allowed") && text.contains("bounded by timeouts.update"),
        "the error names the time allowed: {text}"
    );
    let guest = fake.guest(vmid).unwrap();
    assert_eq!(guest["status"], "running");
    assert_eq!(guest["pending"]["cores"], "2");
    no_orphans(&fake, &ws);

    // Once the guest shuts down properly, the next apply converges.
    fake.set(vmid, json!({"shutdown_secs": 5}));
    ws.apply();
    assert_eq!(fake.guest(vmid).unwrap()["config"]["cores"], "2");
    ws.expect_empty_plan();

    // Destroy stops a guest that ignores the shutdown once the bounded wait is over.
    fake.set(vmid, json!({"shutdown_secs": 600}));
    ws.config(&vm(
        "web",
        1,
        2,
        "reboot_after_update = true\n  timeouts {\n    delete = \"2m\"\n  }",
    ));
    ws.apply();
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

#[test]
fn an_expired_ticket_means_a_new_login() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    ws.config(&vm("web", 1, 1, ""));
    ws.apply();
    // The ticket stops being valid mid-run: the next request gets PVE's 401.
    fake.fail(
        "GET",
        "/cluster/resources",
        json!({"status": 401, "message": "permission denied - invalid PVE ticket", "times": 1}),
    );
    fake.reset_requests();
    ws.expect_empty_plan();
    let logins = fake
        .requests()
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/access/ticket"))
        .count();
    assert_eq!(logins, 2, "one login, and one more after the 401");
    // All tickets revoked between runs: every run logs in afresh anyway.
    fake.command(json!({"op": "revoke_tickets"}));
    ws.config(&vm("web", 1, 2, ""));
    ws.apply();
    ws.expect_empty_plan();
    ws.destroy();
}

#[test]
fn a_flaky_network_ends_in_success_or_a_clear_error_and_converges() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    // One request in five is dropped (connection reset), repeatably.
    fake.command(json!({"op": "flaky_network", "drop_rate": 0.2, "seed": 7}));
    ws.config(&vm("web", 3, 1, ""));
    let first = ws.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    if !first.status.success() {
        let text = String::from_utf8_lossy(&first.stdout).to_string()
            + &String::from_utf8_lossy(&first.stderr);
        assert!(
            text.contains("127.0.0.") || text.contains("Proxmox"),
            "a clear error: {text}"
        );
        ws.apply();
    }
    no_orphans(&fake, &ws);
    assert_eq!(fake.guest_ids().len(), 3);
    let dropped = fake.command(json!({"op": "network_stats"}))["dropped"]
        .as_u64()
        .unwrap();
    assert!(dropped > 0, "the network dropped requests");
    ws.expect_empty_plan();
    ws.config(&vm("web", 3, 2, ""));
    ws.apply();
    for id in fake.guest_ids() {
        assert_eq!(fake.guest(id).unwrap()["pending"]["cores"], "2");
    }
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

#[test]
fn parallel_clones_get_distinct_ids_despite_lock_errors() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    // The template's config lock times out for the first clones, as when several clones
    // of one template run at once.
    fake.fail(
        "POST",
        "/qemu/9000/clone",
        json!({"error": "config_lock_timeout", "times": 4}),
    );
    ws.config(&vm("node", 6, 1, ""));
    ws.apply();
    let ids = state_ids(&ws);
    assert_eq!(ids, vec![100, 101, 102, 103, 104, 105]);
    no_orphans(&fake, &ws);
    // A refresh reads the cluster's resource list once, then one request per VM.
    fake.reset_requests();
    ws.expect_empty_plan();
    let requests = fake.requests();
    let listed = requests
        .iter()
        .filter(|(_, p)| p.ends_with("/cluster/resources"))
        .count();
    assert_eq!(listed, 1, "{requests:?}");
    assert!(
        requests.len() <= 1 + 1 + 6,
        "at most 2 requests per VM: {requests:?}"
    );
    ws.destroy();
    assert!(fake.guest_ids().is_empty());
}

#[test]
fn a_missing_agent_is_an_error_naming_the_timeout_never_a_hang() {
    let fake = FakePve::start();
    let ws = workspace(&fake);
    let wait = r#"agent = { enabled = true, wait_for_ip = true, timeout = "3s" }"#;
    ws.config(&vm("web", 1, 1, wait));
    let start = Instant::now();
    let text = apply_fails(&ws);
    assert!(start.elapsed() < Duration::from_secs(30), "bounded");
    assert!(text.contains("agent.timeout = 3s"), "{text}");
    assert!(text.contains("QEMU guest agent is not running"), "{text}");
    no_orphans(&fake, &ws);
    // The agent comes up: untaint, and the next run reads its address.
    let vmid = state_ids(&ws)[0];
    fake.set(vmid, json!({"agent": {}}));
    ws.ok(&["untaint", "homelab_proxmox_vm.web[0]"]);
    ws.apply();
    let state = ws.resource("homelab_proxmox_vm.web[0]").unwrap();
    assert_eq!(state["ipv4_addresses"], json!(["192.0.2.10"]));
    ws.expect_empty_plan();
    ws.destroy();
}

#[test]
fn a_hanging_agent_is_bounded_by_the_timeout() {
    // Real time: a hanging agent makes PVE answer only after 10 s.
    let fake = FakePve::start_with(Options {
        time_scale: 1.0,
        ..Options::default()
    });
    let ws = workspace(&fake);
    ws.config(&vm("web", 1, 1, ""));
    ws.apply();
    let vmid = state_ids(&ws)[0];
    fake.set(vmid, json!({"agent": {}, "agent_hangs": true}));
    ws.config(&vm(
        "web",
        1,
        2,
        r#"agent = { enabled = true, wait_for_ip = true, timeout = "2s" }"#,
    ));
    let start = Instant::now();
    let text = apply_fails(&ws);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "the 2s agent timeout bounds it: {took:?}"
    );
    assert!(text.contains("agent.timeout = 2s"), "{text}");
    fake.set(vmid, json!({"agent_hangs": false}));
    ws.apply();
    ws.expect_empty_plan();
    ws.destroy();
}
