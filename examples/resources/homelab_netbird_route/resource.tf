# The Proxmox LAN, routed through the management host for the management zone's peers.
resource "homelab_netbird_route" "proxmox_lan" {
  network_id  = "proxmox-lan"
  description = "Proxmox VE hosts and guests"
  network     = "192.168.10.0/24"
  peer        = homelab_netbird_peer.management.id
  groups      = [homelab_netbird_group.management.id]
  masquerade  = true
  metric      = 100
}
