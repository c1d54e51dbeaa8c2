# The machines: Proxmox guests for the local services, an EC2 instance for the cloud edge.
# Each joins the mesh in its zone as soon as it exists.

locals {
  guests = {
    nextcloud   = { kind = "vm", zone = "private", cores = 4, memory = 4096, disk_gb = 32, tags = ["tier1", "private"] }
    jdownloader = { kind = "lxc", zone = "private", cores = 2, memory = 1024, disk_gb = 16, tags = ["media", "private"] }
    management  = { kind = "vm", zone = "management", cores = 2, memory = 4096, disk_gb = 32, tags = ["management"] }
  }
}

# NextCloud and JDownloader in the private zone; Portainer, Semaphore's runner and Grafana
# on the management VM.
module "guest" {
  for_each        = local.guests
  source          = "../examples/modules/proxmox-host"
  name            = each.key
  kind            = each.value.kind
  node            = var.pve_node
  cores           = each.value.cores
  memory          = each.value.memory
  disk_gb         = each.value.disk_gb
  ipv4_cidr       = "${var.hosts[each.key].address}/${var.lan_prefix_length}"
  gateway         = var.hosts[each.key].gateway
  ssh_user        = var.ssh_user
  ssh_public_keys = var.ssh_public_keys
  tags            = each.value.tags
  zone            = each.value.zone
  setup_key       = homelab_netbird_setup_key.zone[each.value.zone].key
  group_ids       = [homelab_netbird_group.zone[each.value.zone].id]
  # known_hosts_file lists every host, so every resource on a host shares one connection.
  trust_on_first_use = false
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
  # Where what runs on a host reaches it: its LAN address, an output that waits only for the
  # guests to exist. Each entry names one output; the mesh address is not used here because
  # Terraform waits for an output of every instance of a module, so every service would wait
  # for every host to enrol and one host that is down would hold up the whole lab.
  addresses = {
    nextcloud   = module.guest["nextcloud"].address
    jdownloader = module.guest["jdownloader"].address
    management  = module.guest["management"].address
    edge        = module.edge_mesh.address
  }
  zone_of = merge({ for name, guest in local.guests : name => guest.zone }, { edge = "public" })
  # What each machine is, for the outputs and the picture of the lab.
  machines = merge(
    { for name, guest in module.guest : name => {
      address = guest.address, zone = guest.zone, kind = "proxmox ${guest.kind}", mesh_ip = guest.mesh_ip
    } },
    { edge = { address = module.edge_mesh.address, zone = "public", kind = "ec2", mesh_ip = module.edge_mesh.mesh_ip } },
  )
  # Each host's own directory on the local lab's shared filesystem; "" on real hosts.
  host_root = { for name in keys(var.hosts) : name => var.host_root == "" ? "" : "${var.host_root}/${name}" }
}
