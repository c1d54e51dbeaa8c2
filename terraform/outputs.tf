output "hosts" {
  description = "Every machine: what it is, its zone, LAN and mesh addresses, and the services it runs."
  value = {
    for name, m in local.machines : name => {
      kind     = m.kind
      zone     = m.zone
      address  = m.address
      mesh_ip  = m.mesh_ip
      services = sort([for s, svc in local.services : s if svc.host == name])
    }
  }
}

output "urls" {
  description = "Each service's URL through Traefik."
  value       = { for name, s in module.service : name => s.url }
}

output "backups" {
  description = "Where each backup job's snapshots go, and its latest snapshot."
  value = merge(
    { for name, s in module.service : "${name}-tier1" => s.backup_repository if s.backup_repository != null },
    { "nextcloud-tier2" = homelab_backup_job.nextcloud_tier2.repository },
    { for job in homelab_backup_job.jdownloader_tier3 : job.name => job.repository },
    { "tier1-guests (vzdump)" = "proxmox storage ${homelab_proxmox_backup_job.tier1_guests.storage}" },
  )
}

output "cloud_edge" {
  description = "The cloud edge: its instance, public address and DNS names."
  value = {
    instance_id = module.cloud_edge.instance_id
    public_ip   = module.cloud_edge.public_ip
    names       = module.cloud_edge.fqdns
  }
}

output "ansible_inventory" {
  description = "An inventory of the lab's Docker hosts for examples/playbooks/lab-hosts.yml (Docker log rotation, a health check of every service's backend): terraform output -raw ansible_inventory > lab.ini"
  value = join("\n", concat(
    ["[docker_hosts]"],
    [for name, m in local.machines : "${name} ansible_host=${m.address} ansible_user=${var.ssh_user}"],
    ["", "[docker_hosts:vars]", "service_backends=${join(",", [for name, s in module.service : s.backend])}", ""],
  ))
}
