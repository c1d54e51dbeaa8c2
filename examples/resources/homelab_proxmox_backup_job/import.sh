# The import ID is the job's ID, as Datacenter > Backup lists it.
terraform import homelab_proxmox_backup_job.tier1_guests tier1-guests
