# One service on one host: its Compose stack on the host, a Traefik route and a Prometheus
# target written on the machine Terraform runs on (where Traefik and Prometheus read their
# file providers), and optionally a restic backup job on the host.
terraform {
  required_version = ">= 1.0"

  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

locals {
  hostname     = "${var.name}.${var.domain}"
  backend      = "http://${var.address}:${var.port}"
  metrics_port = var.metrics_port == null ? var.port : var.metrics_port
  project_dir  = "${var.path_prefix}/opt/tabiri/stacks/${var.name}"

  # host_key and trust_on_first_use conflict in the provider; a pinned key wins, so a
  # caller can pass an optional key and keep trust_on_first_use as the fallback.
  trust_on_first_use = var.host_key == null && var.trust_on_first_use
}

resource "homelab_compose_stack" "this" {
  # Where and as whom only; the key comes from the provider's ssh block.
  host {
    address            = var.address
    port               = var.ssh_port
    user               = var.ssh_user
    sudo               = var.sudo
    host_key           = var.host_key
    trust_on_first_use = local.trust_on_first_use
  }

  project     = var.name
  project_dir = local.project_dir
  compose     = var.compose_yaml
  env         = var.env
  files       = var.files

  # up --wait: a stack whose services do not come up is rolled back and fails the apply,
  # so the route and target below only appear for a running service.
  wait = true
}

resource "homelab_traefik_route" "this" {
  # No host block: Traefik's file provider reads traefik_dir on this machine.
  name            = var.name
  config_dir      = var.traefik_dir
  rule            = "Host(`${local.hostname}`)"
  entrypoints     = var.entrypoints
  servers         = [local.backend]
  traefik_api_url = var.traefik_api_url

  tls_cert_resolver = var.tls_cert_resolver

  depends_on = [homelab_compose_stack.this]
}

resource "homelab_prometheus_target" "this" {
  # A file of its own per service (<name>.json), so services come and go independently.
  job         = var.name
  file_sd_dir = var.prometheus_sd_dir
  targets     = ["${var.address}:${local.metrics_port}"]
  labels = merge(var.labels, {
    service      = var.name
    display_name = var.display_name
  })

  depends_on = [homelab_compose_stack.this]
}

resource "homelab_backup_job" "this" {
  count = var.backup != null ? 1 : 0

  host {
    address            = var.address
    port               = var.ssh_port
    user               = var.ssh_user
    sudo               = var.sudo
    host_key           = var.host_key
    trust_on_first_use = local.trust_on_first_use
  }

  name       = var.backup_name == null ? var.name : var.backup_name
  repository = var.backup.repository
  password   = var.backup_password
  env        = var.backup_env
  # The stack directory holds the service's configuration and state: always in the backup.
  paths    = distinct(concat([local.project_dir], var.backup.paths))
  dumps    = var.backup_dumps
  schedule = var.backup.schedule
  retention = {
    keep_daily  = var.backup.keep_daily
    keep_weekly = var.backup.keep_weekly
  }
  heartbeat_url = var.backup_heartbeat_url
  metrics_dir   = var.backup.metrics_dir == "" ? null : var.backup.metrics_dir

  # The object has no optional fields, so -1 stands for "no restore drill".
  restore_test = var.backup.restore_sample < 0 ? null : {
    schedule = var.backup_restore_schedule
    sample   = var.backup.restore_sample
  }

  # The first backup runs during apply: apply ends with a snapshot that exists.
  run_now = true
  # On a shared filesystem each host keeps its job's files in its own directory.
  config_dir  = var.path_prefix == "" ? null : "${var.path_prefix}/etc/tabiri/backup"
  cron_dir    = var.path_prefix == "" ? null : "${var.path_prefix}/etc/cron.d"
  systemd_dir = var.path_prefix == "" ? null : "${var.path_prefix}/etc/systemd/system"

  # Back up what the stack has made, not an empty directory.
  depends_on = [homelab_compose_stack.this]
}
