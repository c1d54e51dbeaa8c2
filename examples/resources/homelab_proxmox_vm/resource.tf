# Clone a cloud-init template and configure it. The provider block needs
# proxmox { endpoint, api_token | username + password, ca_file | insecure }.
resource "homelab_proxmox_vm" "nextcloud" {
  node   = "pve1"
  name   = "nextcloud"
  clone  = { template_id = 9000, full = true }
  cores  = 4
  memory = 4096

  # Disks grow in place (never shrink); a new slot adds a disk.
  disks = [{ slot = "scsi0", storage = "local-lvm", size_gb = 32 }]

  # net0, net1, ... in order; the MAC address is kept once Proxmox picked it.
  network = [{ bridge = "vmbr0", model = "virtio", vlan_id = 20 }]

  cloud_init = {
    user        = "admin"
    password    = var.nextcloud_password # sensitive, never shown
    ssh_keys    = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab"]
    ipv4        = "10.0.20.11/24"
    gateway     = "10.0.20.1"
    dns_servers = ["10.0.20.1"]
    dns_domain  = "lab.example"
  }

  # Wait (at most agent.timeout) until the guest agent reports an address.
  agent = { enabled = true, wait_for_ip = true, timeout = "3m" }

  started = true
  on_boot = true
  tags    = ["tier1", "private"]

  # Apply changes Proxmox keeps pending until a reboot (e.g. fewer cores) by rebooting.
  reboot_after_update = true

  timeouts {
    create = "20m"
    delete = "5m"
  }
}

variable "nextcloud_password" {
  type      = string
  sensitive = true
}

output "nextcloud_vmid" { value = homelab_proxmox_vm.nextcloud.vm_id }
output "nextcloud_ip" { value = homelab_proxmox_vm.nextcloud.ipv4_addresses }
