# NextCloud as a Compose project on a VM created in the same apply: the compose file, the
# admin password (only in .env on the VM, mode 0600) and a php.ini mounted by the app.
resource "homelab_compose_stack" "nextcloud" {
  host {
    address = homelab_proxmox_vm.nextcloud.ipv4_addresses[0]
    user    = "admin"
    sudo    = true
  }
  project = "nextcloud"
  compose = file("${path.module}/stacks/nextcloud.compose.yaml")
  env = {
    NEXTCLOUD_ADMIN_USER     = "admin"
    NEXTCLOUD_ADMIN_PASSWORD = var.nextcloud_admin_password
  }
  files = {
    "config/php.ini" = file("${path.module}/stacks/php.ini")
  }
  wait         = true
  wait_timeout = "3m"
}

output "nextcloud_services" { value = homelab_compose_stack.nextcloud.services }
