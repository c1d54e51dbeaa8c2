output "url" {
  value       = "http://${local.hostname}"
  description = "Where the service answers through Traefik."
}

output "host" {
  value       = local.hostname
  description = "The service's host name, <name>.<domain> (the route's Host rule), e.g. for a DNS record."
}

output "backend" {
  value       = local.backend
  description = "The URL Traefik forwards to: the port the service publishes on its host."
}

output "stack_services" {
  value       = homelab_compose_stack.this.services
  description = "Per Compose service: state, health, image, image ID, containers and config hash, as last read."
}

output "backup_job" {
  value       = one(homelab_backup_job.this[*].name)
  description = "The backup job's name, or null without a backup."
}

output "project_dir" {
  # From the stack itself: what backs it up waits until it exists.
  value       = homelab_compose_stack.this.project_dir
  description = "The stack's project directory on the host, once the stack runs there."
}

output "backup_repository" {
  value       = one(homelab_backup_job.this[*].repository)
  description = "Where the backup job's snapshots go, or null without a backup."
}
