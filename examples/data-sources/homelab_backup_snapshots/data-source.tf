# The newest snapshot of NextCloud's tier-1 job, read on its host with the job's own
# credentials (they never leave the host).
data "homelab_backup_snapshots" "nextcloud" {
  host {
    address = homelab_proxmox_vm.nextcloud.ipv4_addresses[0]
    user    = "admin"
    sudo    = true
  }
  name       = homelab_backup_job.nextcloud_tier1.name
  depends_on = [homelab_backup_job.nextcloud_tier1]
}

output "nextcloud_latest_backup" { value = data.homelab_backup_snapshots.nextcloud.latest_time }
