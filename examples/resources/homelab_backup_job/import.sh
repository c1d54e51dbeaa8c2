# A job is imported by its host and name: [user@]address[:port]:name. Its arguments come
# from the job's directory on the host (/etc/tabiri/backup/<name>/).
# The host's key: checked against the provider's ssh.known_hosts when that is set; otherwise
# the key the host presents is recorded (host_public_key), and the first plan refuses it
# unless the configuration's host block pins that same key (host_key), trusts on first use,
# or known_hosts lists it. Nothing is written before that plan.
terraform import homelab_backup_job.nextcloud_tier1 admin@10.0.20.11:nextcloud-tier1
