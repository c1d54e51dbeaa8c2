# The import ID is the route file's absolute path.
terraform import homelab_traefik_route.whoami /etc/traefik/dynamic/whoami.toml
