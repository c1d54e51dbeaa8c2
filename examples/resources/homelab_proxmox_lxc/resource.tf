resource "homelab_proxmox_lxc" "jdownloader" {
  node         = "pve1"
  hostname     = "jdownloader"
  ostemplate   = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  cores        = 2
  memory       = 1024
  swap         = 512
  rootfs       = { storage = "local-lvm", size_gb = 8 } # grows in place
  network      = [{ name = "eth0", bridge = "vmbr0", ipv4 = "dhcp" }]
  unprivileged = true
  features     = { nesting = true } # for Docker or systemd services inside
  ssh_keys     = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab"]
  password     = var.root_password # sensitive, set at creation
  started      = true
  on_boot      = true
  tags         = ["media"]
}

variable "root_password" {
  type      = string
  sensitive = true
}
