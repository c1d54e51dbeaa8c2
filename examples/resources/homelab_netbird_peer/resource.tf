# NextCloud's VM joins the mesh in the private zone. The agent is installed on the VM; the
# setup key reaches it in the environment of `netbird up`, never on a command line.
resource "homelab_netbird_peer" "nextcloud" {
  host {
    address = homelab_proxmox_vm.nextcloud.ipv4_addresses[0]
    user    = "admin"
    sudo    = true
  }
  setup_key   = homelab_netbird_setup_key.private.key
  name        = "nextcloud"
  groups      = [homelab_netbird_group.private.id]
  ssh_enabled = false
}

output "nextcloud_mesh_ip" { value = homelab_netbird_peer.nextcloud.ip }
