data "homelab_proxmox_nodes" "all" {}

# Place a guest on the online node with the most free memory.
resource "homelab_proxmox_lxc" "pihole" {
  node       = data.homelab_proxmox_nodes.all.most_free_memory
  hostname   = "pihole"
  ostemplate = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  rootfs     = { storage = "local-lvm", size_gb = 4 }
  network    = [{ name = "eth0", bridge = "vmbr0", ipv4 = "10.0.0.53/24", gateway = "10.0.0.1" }]
}

output "online_nodes" { value = data.homelab_proxmox_nodes.all.online }
