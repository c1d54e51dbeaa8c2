# Every connected peer of the private zone, e.g. for Prometheus targets on mesh addresses.
data "homelab_netbird_peers" "private" {
  group     = homelab_netbird_group.private.id
  connected = true
}

output "private_mesh_ips" { value = data.homelab_netbird_peers.private.peers[*].ip }
