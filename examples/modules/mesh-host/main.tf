# One host enrolled in the NetBird mesh. The NetBird agent must already be installed on the
# host (the guest template or a playbook puts it there); this module brings it up with the
# setup key and files the peer under its name and groups.
terraform {
  required_version = ">= 1.0"

  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

resource "homelab_netbird_peer" "this" {
  # Only where to connect and how: the user's key comes from the provider's ssh block, so
  # no secret ever sits in this block (Terraform 1.0.3's `terraform show` also cannot print
  # a state whose nested block holds one; 1.11's can).
  host {
    address            = var.address
    port               = var.ssh_port
    user               = var.ssh_user
    sudo               = var.sudo
    trust_on_first_use = var.trust_on_first_use
  }

  name           = var.name
  setup_key      = var.setup_key
  groups         = var.group_ids
  management_url = var.management_url

  # Shell access goes through the lab's own SSH, not the agent's SSH server.
  ssh_enabled = false
}
