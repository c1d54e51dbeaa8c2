# A key is imported by its ID. The server never shows the key itself again, so an imported
# key has no `key`: make a new one for enrolling hosts.
terraform import homelab_netbird_setup_key.private ch8i4ug6lnn4g9hqv7m0
