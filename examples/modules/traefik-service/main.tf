# A web service published through Traefik: one route per service, with the hostname
# derived from the lab's domain. Copy this module into your own lab.
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

variable "name" {
  type        = string
  description = "Service name; also the router name and the first DNS label."
}

variable "domain" {
  type        = string
  description = "The lab's domain, e.g. lab.localhost."
}

variable "servers" {
  type        = list(string)
  description = "Backend URLs, load-balanced by Traefik."
}

variable "traefik_dir" {
  type        = string
  description = "Absolute path of Traefik's file-provider directory."
}

variable "traefik_api_url" {
  type        = string
  default     = null
  description = "Traefik's API; when set, apply waits until the route is live."
}

variable "entrypoints" {
  type    = list(string)
  default = ["web"]
}

resource "homelab_traefik_route" "this" {
  name            = var.name
  config_dir      = var.traefik_dir
  rule            = "Host(`${var.name}.${var.domain}`)"
  entrypoints     = var.entrypoints
  servers         = var.servers
  traefik_api_url = var.traefik_api_url
}

output "url" {
  value = "http://${var.name}.${var.domain}/"
}

output "config_path" {
  value = homelab_traefik_route.this.config_path
}
