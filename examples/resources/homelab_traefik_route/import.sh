# The import ID is the route file's absolute path; for a file on a host over SSH, put
# [user@]address[:port]: in front (its key is checked against the provider's ssh.known_hosts).
terraform import homelab_traefik_route.whoami /etc/traefik/dynamic/whoami.toml
terraform import homelab_traefik_route.whoami admin@10.0.20.11:/etc/traefik/dynamic/whoami.toml
