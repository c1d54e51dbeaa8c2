# The Tabiri lab: every host, the NetBird mesh, Traefik routes, services, monitoring and
# backups, applied with `terraform apply`. `make demo` applies it to the local lab with
# demo.tfvars plus the lab's own addresses; copy terraform.tfvars.example to point it at a
# real Proxmox, AWS account and NetBird account.
terraform {
  required_version = ">= 1.0"
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
