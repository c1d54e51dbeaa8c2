//! homelab_proxmox_backup_job with the real terraform against fakepve (its `/cluster/backup`
//! kept by the driver as PVE keeps jobs.cfg): create, empty plan, in-place updates (guests
//! to all, retention dropped), drift through the API (disabled, edited, deleted), a job
//! made elsewhere refused with "import it", import then empty plan, bad input refused at
//! plan with its path and nothing sent, destroy.

use acceptance_tests::fakepve::{self, FakePve};
use acceptance_tests::Workspace;
use serde_json::{json, Value as Json};

const JOB: &str = "homelab_proxmox_backup_job.tier1";

fn config(body: &str) -> String {
    format!(
        r#"{provider}
resource "homelab_proxmox_backup_job" "tier1" {{
  id       = "tier1-guests"
  schedule = "*-*-* 02:30"
  storage  = "local"
{body}
}}
"#,
        provider = fakepve::provider_block(),
    )
}

const GUESTS: &str = r#"
  vmids         = [100, 101]
  mode          = "snapshot"
  compress      = "zstd"
  prune_backups = { keep_daily = 7, keep_weekly = 4, keep_last = 2 }
  mailto        = ["ops@lab.example"]
  comment       = "tier 1: service state of whole guests"
"#;

/// The job as Proxmox answers a client other than Terraform; null when there is none.
fn job(fake: &FakePve, id: &str) -> Json {
    let path = format!("/cluster/backup/{id}");
    let answer = fake.command(json!({"op": "api", "method": "GET", "path": path, "params": {}}));
    answer["body"]["data"].clone()
}

#[test]
fn vzdump_job_lifecycle() {
    let fake = FakePve::start();
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    ws.config(&config(GUESTS));
    ws.apply();
    let found = job(&fake, "tier1-guests");
    assert_eq!(found["vmid"], "100,101", "{found}");
    assert_eq!(found["schedule"], "*-*-* 02:30");
    assert_eq!(found["storage"], "local");
    assert_eq!(found["mode"], "snapshot");
    assert_eq!(found["compress"], "zstd");
    assert_eq!(
        found["prune-backups"],
        json!({"keep-daily": 7, "keep-last": 2, "keep-weekly": 4})
    );
    assert_eq!(found["mailto"], "ops@lab.example");
    assert_eq!(found["enabled"].to_string(), "1");
    let state = ws.resource(JOB).unwrap();
    assert_eq!(state["prune_backups"]["keep_daily"], 7);
    assert_eq!(state["vmids"], json!([100, 101]));
    ws.expect_empty_plan();

    // Every guest instead of a list, retention left to the storage, mail off: the job is
    // exactly what the configuration says (vmid, prune-backups and mailto deleted).
    ws.config(&config(
        "  all = true\n  exclude = [101]\n  compress = \"zstd\"\n  notification_mode = \"notification-system\"\n",
    ));
    ws.expect_plan(JOB, &["update"]);
    ws.apply();
    let found = job(&fake, "tier1-guests");
    assert_eq!(found["all"].to_string(), "1", "{found}");
    assert_eq!(found["exclude"], "101");
    for gone in ["vmid", "prune-backups", "mailto", "comment"] {
        assert!(found.get(gone).is_none(), "{gone} stayed: {found}");
    }
    assert_eq!(found["notification-mode"], "notification-system");
    ws.expect_empty_plan();
    ws.config(&config(GUESTS));
    ws.apply();
    ws.expect_empty_plan();

    // Drift in the Proxmox UI: disabled and moved to 04:00; the plan shows it, apply mends it.
    fake.api(
        "PUT",
        "/cluster/backup/tier1-guests",
        json!({"enabled": "0", "schedule": "04:00"}),
    );
    ws.expect_plan(JOB, &["update"]);
    ws.apply();
    let found = job(&fake, "tier1-guests");
    assert_eq!(
        (found["enabled"].to_string(), found["schedule"].clone()),
        ("1".to_string(), json!("*-*-* 02:30"))
    );
    ws.expect_empty_plan();

    // Deleted behind Terraform's back: planned again as a create.
    fake.api("DELETE", "/cluster/backup/tier1-guests", json!({}));
    ws.expect_plan(JOB, &["create"]);
    ws.apply();
    assert_eq!(job(&fake, "tier1-guests")["vmid"], "100,101");

    // Import, then an empty plan.
    ws.state_rm(JOB);
    ws.import(JOB, "tier1-guests");
    ws.expect_empty_plan();

    // A job with this ID made elsewhere is not taken over silently.
    ws.state_rm(JOB);
    let text = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        text.contains("already exists") && text.contains("terraform import"),
        "{text}"
    );
    ws.import(JOB, "tier1-guests");

    // A new ID replaces the job; the old one is gone.
    ws.config(&config(GUESTS).replace("tier1-guests", "tier1-vms"));
    ws.expect_plan(JOB, &["delete", "create"]);
    ws.apply();
    assert!(job(&fake, "tier1-guests").is_null());
    assert_eq!(job(&fake, "tier1-vms")["vmid"], "100,101");

    // Destroy removes it, and an import of what is not there says so.
    ws.destroy();
    assert_eq!(fake.api("GET", "/cluster/backup", json!({})), json!([]));
    let text = ws.fails(&["import", "-input=false", "-no-color", JOB, "tier1-vms"]);
    assert!(text.contains("has no vzdump job"), "{text}");
}

#[test]
fn bad_input_is_refused_at_plan_with_its_path_and_sends_nothing() {
    let fake = FakePve::start();
    let mut ws = Workspace::new();
    fake.vars(&mut ws);
    let cases: [(&str, &str, &str); 7] = [
        ("  vmids = [100]\n  all = true\n", "all", "not both"),
        ("  compress = \"zstd\"\n", "vmids", "name the guests"),
        ("  vmids = [100, 42]\n", "vmids[1]", "not a guest ID"),
        (
            "  vmids = [100]\n  mode = \"hot\"\n",
            "mode",
            "snapshot, suspend, stop",
        ),
        (
            "  vmids = [100]\n  prune_backups = { keep_daily = 0 }\n",
            "prune_backups",
            "keep_daily = 0",
        ),
        (
            "  vmids = [100]\n  exclude = [101]\n",
            "exclude",
            "only applies with all",
        ),
        (
            "  vmids = [100]\n  mailto = [\"root\"]\n",
            "mailto[0]",
            "not a mail address",
        ),
    ];
    fake.reset_requests();
    for (body, path, message) in cases {
        ws.config(&config(body));
        let text = ws.fails(&["plan", "-input=false", "-no-color"]);
        assert!(
            text.contains(path) && text.contains(message),
            "{body}: expected {path} / {message}:\n{text}"
        );
    }
    ws.config(&config("  vmids = [100]\n").replace("*-*-* 02:30", "at half past two"));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(text.contains("schedule"), "{text}");
    ws.config(&config("  vmids = [100]\n").replace("tier1-guests", "1st job"));
    let text = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(text.contains("is not a job ID"), "{text}");
    assert_eq!(fake.writes(), vec![], "a refused plan sends nothing");
}
