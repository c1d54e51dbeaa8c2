# A Proxmox guest made ready for services: a VM cloned from a cloud-init template or an LXC
# container, with a static address on one bridge, SSH keys, and (by default) enrolled in the
# NetBird mesh. Docker log rotation on these hosts is the playbook's job
# (tabiri.homelab.docker_logging), not this module's.
terraform {
  required_version = ">= 1.0"

  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

locals {
  # The zone is a tag too, so the Proxmox UI groups guests by zone.
  tags = setunion(var.tags, [var.zone])
}

resource "homelab_proxmox_vm" "this" {
  count = var.kind == "vm" ? 1 : 0

  node  = var.node
  name  = var.name
  vm_id = var.vm_id
  clone = { template_id = var.template_id, full = true }

  cores  = var.cores
  memory = var.memory

  # The template's boot disk is expected in scsi0 (as Proxmox's cloud-init templates have
  # it); a larger size grows it after the clone.
  disks   = [{ slot = "scsi0", storage = var.storage, size_gb = var.disk_gb }]
  network = [{ bridge = var.bridge, model = "virtio" }]

  cloud_init = {
    user     = var.ssh_user
    ssh_keys = var.ssh_public_keys
    ipv4     = var.ipv4_cidr
    gateway  = var.gateway
  }

  # Without the guest agent nothing tells when the VM has booted; the enrolment then
  # relies on the provider's ssh.connect_timeout to outlast the boot.
  agent = { enabled = var.guest_agent, wait_for_ip = var.guest_agent, timeout = "5m" }

  started = true
  on_boot = true
  tags    = local.tags
}

resource "homelab_proxmox_lxc" "this" {
  count = var.kind == "lxc" ? 1 : 0

  node       = var.node
  hostname   = var.name
  vm_id      = var.vm_id
  ostemplate = var.ostemplate

  cores  = var.cores
  memory = var.memory
  rootfs = { storage = var.storage, size_gb = var.disk_gb }

  network = [{
    name    = "eth0"
    bridge  = var.bridge
    ipv4    = var.ipv4_cidr
    gateway = var.gateway
  }]

  # Unprivileged, with nesting so Docker and systemd services run inside.
  unprivileged = true
  features     = { nesting = true }

  # Keys for root, the only user a fresh container has. No password: key logins only.
  ssh_keys = var.ssh_public_keys

  started = true
  on_boot = true
  tags    = local.tags
}

locals {
  # Read back from whichever guest exists rather than from var.ipv4_cidr, so everything
  # using the address (the enrolment, the callers' services) waits for the guest.
  ipv4_cidr = one(concat(
    homelab_proxmox_vm.this[*].cloud_init.ipv4,
    homelab_proxmox_lxc.this[*].network[0].ipv4,
  ))
  address = split("/", local.ipv4_cidr)[0]
  vm_id   = one(concat(homelab_proxmox_vm.this[*].vm_id, homelab_proxmox_lxc.this[*].vm_id))

  # A VM's keys belong to the cloud-init user, who needs sudo for the agent; a container's
  # belong to root.
  ssh_user = var.kind == "vm" ? var.ssh_user : "root"
  sudo     = local.ssh_user != "root"
}

module "mesh" {
  source = "../mesh-host"
  count  = var.enrol ? 1 : 0

  name      = var.name
  address   = local.address
  setup_key = var.setup_key
  group_ids = var.group_ids
  ssh_user  = local.ssh_user
  sudo      = local.sudo

  # A guest made in this apply is in no known_hosts file yet: by default, pin the key it
  # presents first.
  trust_on_first_use = var.trust_on_first_use
}
