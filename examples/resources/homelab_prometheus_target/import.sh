# The import ID is the target file's path, with [user@]address[:port]: in front for a file
# on a host over SSH.
# The host's key: checked against the provider's ssh.known_hosts when that is set; otherwise
# the key the host presents is recorded (host_public_key), and the first plan refuses it
# unless the configuration's host block pins that same key (host_key), trusts on first use,
# or known_hosts lists it. Nothing is written before that plan.
terraform import homelab_prometheus_target.node admin@10.0.20.30:/etc/prometheus/file_sd/node.json
