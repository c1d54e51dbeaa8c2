terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

# Every block is optional: configure what the lab uses.
provider "homelab" {
  # AWS (homelab_aws_*, homelab_route53_*): the standard credential chain (environment,
  # profile, SSO, instance role) unless access_key/secret_key are set. `endpoint` (or
  # AWS_ENDPOINT_URL) points at an EC2/Route 53-compatible service instead of AWS.
  aws {
    region  = "eu-west-1"
    profile = "lab"
  }

  # Proxmox VE (homelab_proxmox_vm, homelab_proxmox_lxc, homelab_proxmox_nodes): an API
  # token, or username + password; the server certificate is checked against ca_file.
  # Every attribute falls back to PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN, ...
  proxmox {
    endpoint  = "https://pve.lab.example:8006/"
    api_token = var.pve_api_token # "terraform@pve!homelab=<uuid>"
    ca_file   = "pve-root-ca.pem"
  }

  # NetBird (homelab_netbird_*): the management service and a service user's personal
  # access token. Fall back to NB_MANAGEMENT_URL and NB_PAT.
  netbird {
    management_url = "https://api.netbird.io"
    token          = var.netbird_token # "nbp_..."
  }

  # Hosts over SSH (the `host { }` block of homelab_traefik_route, homelab_prometheus_target,
  # ...): defaults for every host. Host keys are always verified: here against known_hosts;
  # a host block may pin `host_key` or set `trust_on_first_use` instead. Without a
  # private_key the SSH agent (SSH_AUTH_SOCK) signs.
  ssh {
    user            = "admin"
    private_key     = file("~/.ssh/lab_ed25519")
    known_hosts     = "/home/admin/.ssh/known_hosts"
    connect_timeout = "20s"
  }
}

variable "pve_api_token" {
  type      = string
  sensitive = true
}

variable "netbird_token" {
  type      = string
  sensitive = true
}
