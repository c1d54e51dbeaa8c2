# Every service: a Compose project on its host, a Traefik route, a Prometheus target and
# (where it holds data) its tier-1 backup, through the reusable `service` module.

variable "standin_image" {
  type        = string
  default     = "tabiri/standin:1"
  description = "The image of the stand-in services (the local lab builds it on every host)."
}

locals {
  services = {
    nextcloud   = { host = "nextcloud", port = 8080, display = "NextCloud" }
    portainer   = { host = "management", port = 9000, display = "Portainer" }
    grafana     = { host = "management", port = 3000, display = "Grafana" }
    semaphore   = { host = "management", port = 3001, display = "Semaphore" }
    jdownloader = { host = "jdownloader", port = 5800, display = "JDownloader" }
    airflow     = { host = "edge", port = 8080, display = "Airflow" }
  }
  # Tier 1 of a service: its stack directory (configuration, state) and a dump of its data,
  # nightly, kept a week and a month of Sundays, with a restore drill every Sunday.
  tier1 = toset(["nextcloud", "portainer", "grafana", "semaphore", "airflow"])
}

# A route, target or backup job waits for its stack (only a running service gets them). On
# Terraform 1.11 that wait is for the stack of every instance of this module (Terraform 1.0
# waited for the instance's own), so a host that is down holds up every service's route,
# target and backup job until it is back; other hosts' stacks, guests and peers go ahead.
module "service" {
  for_each     = local.services
  source       = "../examples/modules/service"
  name         = each.key
  display_name = each.value.display
  address      = local.addresses[each.value.host]
  path_prefix  = local.host_root[each.value.host]
  compose_yaml = templatefile("${path.module}/stacks/standin.compose.yaml.tftpl", {
    name         = each.key
    display_name = "${each.value.display} (stand-in)"
    image        = var.standin_image
    address      = local.addresses[each.value.host]
    port         = each.value.port
  })
  files = {
    "www/index.html" = "${each.value.display} (stand-in) on ${each.value.host}\n"
    # What Prometheus scrapes: the stand-in's own metric.
    "www/metrics" = "# TYPE tabiri_standin_up gauge\ntabiri_standin_up{service=\"${each.key}\"} 1\n"
  }
  port              = each.value.port
  domain            = var.domain
  entrypoints       = var.entrypoints
  tls_cert_resolver = var.tls_cert_resolver
  traefik_dir       = var.traefik_dir
  traefik_api_url   = var.traefik_api_url
  prometheus_sd_dir = var.prometheus_sd_dir
  labels            = { zone = local.zone_of[each.value.host], host = each.value.host }
  backup_name       = "${each.key}-tier1"
  backup = contains(local.tier1, each.key) ? {
    repository     = "${var.backup_repository_base}/${each.key}-tier1"
    paths          = []
    schedule       = "*-*-* 02:30:00"
    keep_daily     = 7
    keep_weekly    = 4
    metrics_dir    = var.metrics_dir
    restore_sample = 50
  } : null
  # The service's data as its own dump (a database dump on a real NextCloud: pg_dump).
  backup_dumps = each.key == "nextcloud" ? [{
    name    = "nextcloud-data.tar"
    command = ["docker", "exec", "nextcloud-nextcloud-1", "/bin/busybox", "tar", "-c", "/www"]
  }] : []
  backup_password      = var.backup_password
  backup_env           = var.backup_env
  backup_heartbeat_url = var.heartbeat_url
}
