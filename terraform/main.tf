# The Tabiri lab. `make demo` applies it to the local lab: Traefik in front of the
# services, each service a route to its backends.
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

provider "homelab" {
  # The cloud half (cloud.tf). The static keys are moto's; against AWS, remove them and
  # let the standard credential chain (profile, SSO, instance role) apply.
  aws {
    region     = "eu-west-1"
    endpoint   = var.aws_endpoint
    access_key = "test"
    secret_key = "test"
  }
}

variable "traefik_dir" {
  type        = string
  description = "Traefik's file-provider directory."
}

variable "traefik_api_url" {
  type        = string
  default     = null
  description = "Traefik's API, so apply waits until each route is live."
}

variable "domain" {
  type    = string
  default = "lab.localhost"
}

variable "nextcloud_servers" {
  type    = list(string)
  default = ["http://127.0.0.1:18080"]
}

variable "grafana_servers" {
  type    = list(string)
  default = ["http://127.0.0.1:18081"]
}

module "nextcloud" {
  source          = "../examples/modules/traefik-service"
  name            = "nextcloud"
  domain          = var.domain
  servers         = var.nextcloud_servers
  traefik_dir     = var.traefik_dir
  traefik_api_url = var.traefik_api_url
}

module "grafana" {
  source          = "../examples/modules/traefik-service"
  name            = "grafana"
  domain          = var.domain
  servers         = var.grafana_servers
  traefik_dir     = var.traefik_dir
  traefik_api_url = var.traefik_api_url
}

output "urls" {
  value = [module.nextcloud.url, module.grafana.url]
}
