output "vm_id" {
  value       = local.vm_id
  description = "The guest's VMID."
}

output "address" {
  value       = local.address
  description = "The guest's IPv4 address, without the prefix length."
}

output "kind" {
  value       = var.kind
  description = "\"vm\" or \"lxc\"."
}

output "zone" {
  value       = var.zone
  description = "The network zone the guest belongs to."
}

output "mesh_ip" {
  value       = one(module.mesh[*].mesh_ip)
  description = "The guest's IP in the NetBird mesh; null when it is not enrolled."
}

output "peer_id" {
  value       = one(module.mesh[*].peer_id)
  description = "The guest's NetBird peer ID; null when it is not enrolled."
}

output "ssh_user" {
  value       = local.ssh_user
  description = "The user whose keys the guest accepts: ssh_user on a VM, root in a container."
}

output "host_public_key" {
  value       = one(module.mesh[*].host_public_key)
  description = "The SSH host key the guest presented at enrolment, for other resources on it to pin; null when it is not enrolled."
}
