variable "monitoring_host" { type = string }

# Node exporters of the lab, scraped by the Prometheus on the monitoring VM: the file_sd
# file is written there over SSH, as a user with passwordless sudo.
resource "homelab_prometheus_target" "node" {
  job         = "node"
  targets     = ["nas.lab:9100", "10.0.20.11:9100"]
  labels      = { env = "lab", role = "node" }
  file_sd_dir = "/etc/prometheus/file_sd"

  host {
    address = var.monitoring_host
    user    = "admin"
    sudo    = true
  }
}
