# Backups in tiers. Tier 1 (configuration, state, nightly dumps) comes with each service
# (services.tf) and, for whole guests, Proxmox's own vzdump job below. Tier 2 is the
# application data, weekly. Tier 3 (caches, downloads) is off unless tier3_enabled.
# Every restic job checks itself: a failed dump fails the run, metrics go to node_exporter
# (the BackupFailed / BackupStale alerts), a restore drill proves the snapshots restore.

resource "homelab_proxmox_backup_job" "tier1_guests" {
  id       = "tier1-guests"
  schedule = "*-*-* 01:30"
  storage  = var.vzdump_storage
  # One output each: a reference to the whole module would wait for every host to enrol.
  vmids         = [module.guest["nextcloud"].vm_id, module.guest["management"].vm_id, module.guest["jdownloader"].vm_id]
  mode          = "snapshot"
  compress      = "zstd"
  prune_backups = { keep_daily = 7, keep_weekly = 4 }
  comment       = "tier 1: whole guests"
}

locals {
  backup_host = {
    nextcloud   = local.addresses.nextcloud
    jdownloader = local.addresses.jdownloader
  }
  backup_dirs = {
    for host, root in local.host_root : host => {
      config = "${root}/etc/tabiri/backup"
      cron   = "${root}/etc/cron.d"
    }
  }
}

# Tier 2: NextCloud's application data (the stack directory) and a dump streamed from the
# running container, weekly, kept two months.
resource "homelab_backup_job" "nextcloud_tier2" {
  host { address = local.backup_host.nextcloud }
  name       = "nextcloud-tier2"
  repository = "${var.backup_repository_base}/nextcloud-tier2"
  password   = var.backup_password
  env        = var.backup_env
  paths      = [module.service["nextcloud"].project_dir]
  dumps = [{
    name    = "nextcloud-data.tar"
    command = ["docker", "exec", "nextcloud-nextcloud-1", "/bin/busybox", "tar", "-c", "/www"]
  }]
  schedule      = "Sun *-*-* 03:00:00"
  retention     = { keep_weekly = 8 }
  heartbeat_url = var.heartbeat_url
  metrics_dir   = var.metrics_dir
  restore_test  = { schedule = "Sun *-*-* 05:00:00", sample = 0 }
  run_now       = true
  config_dir    = local.backup_dirs.nextcloud.config
  cron_dir      = local.backup_dirs.nextcloud.cron
}

# Tier 3: JDownloader's downloads; they can be fetched again, so off by default.
resource "homelab_backup_job" "jdownloader_tier3" {
  count = var.tier3_enabled ? 1 : 0
  host { address = local.backup_host.jdownloader }
  name        = "jdownloader-tier3"
  repository  = "${var.backup_repository_base}/jdownloader-tier3"
  password    = var.backup_password
  env         = var.backup_env
  paths       = [module.service["jdownloader"].project_dir]
  schedule    = "Sat *-*-* 04:00:00"
  retention   = { keep_last = 2 }
  metrics_dir = var.metrics_dir
  run_now     = true
  config_dir  = local.backup_dirs.jdownloader.config
  cron_dir    = local.backup_dirs.jdownloader.cron
}
