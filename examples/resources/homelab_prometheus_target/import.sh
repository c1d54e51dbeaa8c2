# The import ID is the target file's path, with [user@]address[:port]: in front for a file
# on a host over SSH (its key is checked against the provider's ssh.known_hosts).
terraform import homelab_prometheus_target.node admin@10.0.20.30:/etc/prometheus/file_sd/node.json
