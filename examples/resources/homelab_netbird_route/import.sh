# A route is imported by its ID.
terraform import homelab_netbird_route.proxmox_lan chacdk86lnnboviihd7g
