provider "homelab" {
  # Every on-host resource logs in with this key; host keys come from known_hosts only.
  ssh {
    user        = var.ssh_user
    private_key = file(var.ssh_private_key_file)
    known_hosts = var.known_hosts_file
  }

  proxmox {
    endpoint = var.pve_endpoint
    username = var.pve_username
    password = var.pve_password
    ca_file  = var.pve_ca_file
  }

  # Against AWS, leave aws_endpoint and the static keys unset: the standard credential
  # chain (profile, SSO, instance role) applies.
  aws {
    region     = var.aws_region
    endpoint   = var.aws_endpoint
    access_key = var.aws_access_key
    secret_key = var.aws_secret_key
  }

  netbird {
    management_url = var.netbird_url
    token          = var.netbird_token
  }
}
