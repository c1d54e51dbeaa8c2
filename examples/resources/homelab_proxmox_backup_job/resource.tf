# Tier 1: the whole NextCloud and management VMs, nightly, kept a week and a month of
# Sundays on the backup storage; the notification system reports failures.
resource "homelab_proxmox_backup_job" "tier1_guests" {
  id                = "tier1-guests"
  schedule          = "*-*-* 01:30"
  storage           = "pbs-nas"
  vmids             = [homelab_proxmox_vm.nextcloud.vm_id, homelab_proxmox_vm.management.vm_id]
  mode              = "snapshot"
  compress          = "zstd"
  prune_backups     = { keep_daily = 7, keep_weekly = 4 }
  notification_mode = "notification-system"
  comment           = "tier 1: service state of whole guests"
}

# Every guest but the scratch container, weekly.
resource "homelab_proxmox_backup_job" "weekly_all" {
  id            = "weekly-all"
  schedule      = "Sun 03:00"
  storage       = "local"
  all           = true
  exclude       = [199]
  prune_backups = { keep_last = 4 }
}
