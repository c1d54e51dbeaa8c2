# A job is imported by its host and name: [user@]address[:port]:name. Its arguments come
# from the job's directory on the host (/etc/tabiri/backup/<name>/).
terraform import homelab_backup_job.nextcloud_tier1 admin@10.0.20.11:nextcloud-tier1
