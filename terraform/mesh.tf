# The NetBird mesh comes first: every host joins it, and the zones are its groups. Traffic
# between zones is what the policies below allow, nothing more.

locals {
  zones = ["public", "dmz", "private", "management"]
}

resource "homelab_netbird_group" "zone" {
  for_each = toset(local.zones)
  name     = each.key
}

# One reusable key per zone: a host enrolled with it lands in its zone's group.
resource "homelab_netbird_setup_key" "zone" {
  for_each      = toset(local.zones)
  name          = "${each.key}-hosts"
  type          = "reusable"
  usage_limit   = 0
  auto_groups   = [homelab_netbird_group.zone[each.key].id]
  expires_in    = "720h"
  rotate_before = "168h"
}

resource "homelab_netbird_policy" "public_to_dmz" {
  name = "public-to-dmz"
  rules = [
    { name = "web", action = "accept", protocol = "tcp", ports = ["80", "443"], bidirectional = false,
    sources = [homelab_netbird_group.zone["public"].id], destinations = [homelab_netbird_group.zone["dmz"].id] },
  ]
}

resource "homelab_netbird_policy" "dmz_to_private" {
  name = "dmz-to-private"
  rules = [
    { name = "services", action = "accept", protocol = "tcp", ports = ["8080"], bidirectional = false,
    sources = [homelab_netbird_group.zone["dmz"].id, homelab_netbird_group.zone["public"].id], destinations = [homelab_netbird_group.zone["private"].id] },
  ]
}

# The management zone reaches everything (SSH, Prometheus scrapes, Portainer's agent).
resource "homelab_netbird_policy" "management" {
  name = "management-to-all"
  rules = [
    { name    = "admin", action = "accept", protocol = "all", bidirectional = true,
      sources = [homelab_netbird_group.zone["management"].id],
    destinations = [for z in local.zones : homelab_netbird_group.zone[z].id] },
  ]
}

# The Proxmox LAN, reached through the management host by the management zone.
resource "homelab_netbird_route" "proxmox_lan" {
  network_id  = "proxmox-lan"
  description = "Proxmox VE hosts and guests"
  network     = var.proxmox_lan
  peer        = module.guest["management"].peer_id
  groups      = [homelab_netbird_group.zone["management"].id]
  masquerade  = true
  metric      = 100
}
