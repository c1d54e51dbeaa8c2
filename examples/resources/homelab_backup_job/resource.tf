# NextCloud's tier-1 backup: its stack directory and a database dump, nightly to S3, kept
# 7 days / 4 weeks / 6 months, checked weekly, a restore drill of 50 files every Sunday,
# heartbeats to healthchecks.io and node_exporter metrics. The first backup runs during
# apply, so the apply ends with a snapshot that exists.
resource "homelab_backup_job" "nextcloud_tier1" {
  host {
    address = homelab_proxmox_vm.nextcloud.ipv4_addresses[0]
    user    = "admin"
    sudo    = true
  }
  name       = "nextcloud-tier1"
  repository = "s3:https://s3.eu-west-1.amazonaws.com/tabiri-backups/nextcloud"
  password   = var.restic_password
  env = {
    AWS_ACCESS_KEY_ID     = var.backup_key_id
    AWS_SECRET_ACCESS_KEY = var.backup_key
  }
  paths         = ["/opt/tabiri/stacks/nextcloud"]
  dumps         = [{ name = "nextcloud.sql", command = ["docker", "exec", "nextcloud-db-1", "pg_dump", "-U", "nextcloud"] }]
  schedule      = "*-*-* 02:30:00"
  retention     = { keep_daily = 7, keep_weekly = 4, keep_monthly = 6 }
  check         = { schedule = "Sat *-*-* 05:00:00", read_data_subset = "5%" }
  heartbeat_url = var.healthchecks_url
  metrics_dir   = "/var/lib/prometheus/node-exporter"
  restore_test  = { schedule = "Sun *-*-* 04:00:00", sample = 50 }
  run_now       = true
}
