# The machines: Proxmox guests for the local services, an EC2 instance for the cloud edge.
# Each joins the mesh in its zone as soon as it exists.

locals {
  guests = {
    nextcloud   = { kind = "vm", zone = "private", cores = 4, memory = 4096, disk_gb = 32, tags = ["tier1", "private"] }
    jdownloader = { kind = "lxc", zone = "private", cores = 2, memory = 1024, disk_gb = 16, tags = ["media", "private"] }
    management  = { kind = "vm", zone = "management", cores = 2, memory = 4096, disk_gb = 32, tags = ["management"] }
  }
}

module "nextcloud" {
  source          = "../examples/modules/proxmox-host"
  name            = "nextcloud"
  kind            = local.guests.nextcloud.kind
  node            = var.pve_node
  cores           = local.guests.nextcloud.cores
  memory          = local.guests.nextcloud.memory
  disk_gb         = local.guests.nextcloud.disk_gb
  ipv4_cidr       = "${var.hosts.nextcloud.address}/${var.lan_prefix_length}"
  gateway         = var.hosts.nextcloud.gateway
  ssh_user        = var.ssh_user
  ssh_public_keys = var.ssh_public_keys
  tags            = local.guests.nextcloud.tags
  zone            = local.guests.nextcloud.zone
  setup_key       = homelab_netbird_setup_key.zone["private"].key
  group_ids       = [homelab_netbird_group.zone["private"].id]
}

module "jdownloader" {
  source          = "../examples/modules/proxmox-host"
  name            = "jdownloader"
  kind            = local.guests.jdownloader.kind
  node            = var.pve_node
  cores           = local.guests.jdownloader.cores
  memory          = local.guests.jdownloader.memory
  disk_gb         = local.guests.jdownloader.disk_gb
  ipv4_cidr       = "${var.hosts.jdownloader.address}/${var.lan_prefix_length}"
  gateway         = var.hosts.jdownloader.gateway
  ssh_user        = var.ssh_user
  ssh_public_keys = var.ssh_public_keys
  tags            = local.guests.jdownloader.tags
  zone            = local.guests.jdownloader.zone
  setup_key       = homelab_netbird_setup_key.zone["private"].key
  group_ids       = [homelab_netbird_group.zone["private"].id]
}

# Portainer, Semaphore's runner, Grafana: the management zone.
module "management" {
  source          = "../examples/modules/proxmox-host"
  name            = "management"
  kind            = local.guests.management.kind
  node            = var.pve_node
  cores           = local.guests.management.cores
  memory          = local.guests.management.memory
  disk_gb         = local.guests.management.disk_gb
  ipv4_cidr       = "${var.hosts.management.address}/${var.lan_prefix_length}"
  gateway         = var.hosts.management.gateway
  ssh_user        = var.ssh_user
  ssh_public_keys = var.ssh_public_keys
  tags            = local.guests.management.tags
  zone            = local.guests.management.zone
  setup_key       = homelab_netbird_setup_key.zone["management"].key
  group_ids       = [homelab_netbird_group.zone["management"].id]
}

# The cloud edge: Airflow and cloud monitoring on EC2, a security group per zone it serves,
# and its public names.
module "cloud_edge" {
  source        = "../examples/modules/cloud-edge"
  name          = "edge"
  instance_type = "t3.small"
  zone_name     = var.public_zone
  records       = ["airflow.${var.public_zone}", "status.${var.public_zone}"]
  zones = {
    public = {
      description = "Public zone: HTTP and HTTPS from anywhere"
      ingress = [
        { protocol = "tcp", from_port = 443, to_port = 443, cidr_blocks = ["0.0.0.0/0"] },
        { protocol = "tcp", from_port = 80, to_port = 80, cidr_blocks = ["0.0.0.0/0"] },
      ]
    }
    # NetBird's WireGuard port; everything else arrives through the mesh.
    mesh = {
      description = "Mesh zone: WireGuard from the NetBird peers"
      ingress     = [{ protocol = "udp", from_port = 51820, to_port = 51820, cidr_blocks = ["0.0.0.0/0"] }]
    }
  }
  tags = { Tier = "cloud" }
}

# The edge instance joins the mesh at the address it is reached on (its public address on
# AWS; the local lab's namespace host in the demo).
module "edge_mesh" {
  source     = "../examples/modules/mesh-host"
  name       = "edge"
  address    = var.hosts.edge.address
  setup_key  = homelab_netbird_setup_key.zone["public"].key
  group_ids  = [homelab_netbird_group.zone["public"].id, homelab_netbird_group.zone["dmz"].id]
  ssh_user   = var.ssh_user
  sudo       = var.ssh_user != "root"
  depends_on = [module.cloud_edge]
}

locals {
  # Where each machine is reached: what runs on a host waits for that address alone, not
  # for the rest of the lab (a host that is down holds up only what runs on it).
  lan_addresses = {
    nextcloud   = module.nextcloud.address
    jdownloader = module.jdownloader.address
    management  = module.management.address
    edge        = module.edge_mesh.address
  }
  mesh_addresses = {
    nextcloud   = module.nextcloud.mesh_ip
    jdownloader = module.jdownloader.mesh_ip
    management  = module.management.mesh_ip
    edge        = module.edge_mesh.mesh_ip
  }
  addresses = var.reach_over_mesh ? local.mesh_addresses : local.lan_addresses
  zone_of   = { nextcloud = "private", jdownloader = "private", management = "management", edge = "public" }
  # What each machine is, for the outputs and the picture of the lab.
  machines = {
    nextcloud   = { address = local.lan_addresses.nextcloud, zone = local.zone_of.nextcloud, kind = "proxmox vm", mesh_ip = module.nextcloud.mesh_ip }
    jdownloader = { address = local.lan_addresses.jdownloader, zone = local.zone_of.jdownloader, kind = "proxmox lxc", mesh_ip = module.jdownloader.mesh_ip }
    management  = { address = local.lan_addresses.management, zone = local.zone_of.management, kind = "proxmox vm", mesh_ip = module.management.mesh_ip }
    edge        = { address = local.lan_addresses.edge, zone = local.zone_of.edge, kind = "ec2", mesh_ip = module.edge_mesh.mesh_ip }
  }
  # Each host's own directory on the local lab's shared filesystem; "" on real hosts.
  host_root = { for name in keys(var.hosts) : name => var.host_root == "" ? "" : "${var.host_root}/${name}" }
}
