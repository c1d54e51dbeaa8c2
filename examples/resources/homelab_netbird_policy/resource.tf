# The DMZ reaches the private zone over HTTPS only, and both may ping each other.
resource "homelab_netbird_policy" "dmz_to_private" {
  name = "dmz-to-private"
  rules = [
    { name = "https", action = "accept", protocol = "tcp", ports = ["443"], bidirectional = false,
    sources = [homelab_netbird_group.dmz.id], destinations = [homelab_netbird_group.private.id] },
    { name = "ping", action = "accept", protocol = "icmp", bidirectional = true,
    sources = [homelab_netbird_group.dmz.id], destinations = [homelab_netbird_group.private.id] },
  ]
}
