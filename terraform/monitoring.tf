# Prometheus scrapes every host's node_exporter over the LAN (the mesh on a real lab); each
# service's own target comes with it (services.tf).
resource "homelab_prometheus_target" "hosts" {
  file_sd_dir = var.prometheus_sd_dir
  job         = "hosts"
  targets     = [for name, address in local.addresses : "${address}:9100"]
  labels      = { lab = "tabiri" }
}
