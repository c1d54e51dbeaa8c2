# The import ID is the route file's absolute path; for a file on a host over SSH, put
# [user@]address[:port]: in front.
# The host's key: checked against the provider's ssh.known_hosts when that is set; otherwise
# the key the host presents is recorded (host_public_key), and the first plan refuses it
# unless the configuration's host block pins that same key (host_key), trusts on first use,
# or known_hosts lists it. Nothing is written before that plan.
terraform import homelab_traefik_route.whoami /etc/traefik/dynamic/whoami.toml
terraform import homelab_traefik_route.whoami admin@10.0.20.11:/etc/traefik/dynamic/whoami.toml
