output "peer_id" {
  value       = homelab_netbird_peer.this.id
  description = "The peer's ID in NetBird."
}

output "mesh_ip" {
  # The resource calls it `ip`; callers of this module read it as the mesh address.
  value       = homelab_netbird_peer.this.ip
  description = "The peer's IP address inside the mesh."
}

output "name" {
  value       = homelab_netbird_peer.this.name
  description = "The peer's name in NetBird."
}

output "groups" {
  value       = homelab_netbird_peer.this.groups
  description = "IDs of the groups this module put the peer in (a set)."
}

output "fqdn" {
  value       = homelab_netbird_peer.this.fqdn
  description = "The peer's DNS name inside the mesh."
}

output "host_public_key" {
  value       = homelab_netbird_peer.this.host_public_key
  description = "The SSH host key the host presented; other resources on the same host can pin it as their host_key."
}

output "address" {
  value       = one(homelab_netbird_peer.this.host[*].address)
  description = "The address the host was enrolled at (over SSH): use it for what runs on the host after it joined the mesh."
}
