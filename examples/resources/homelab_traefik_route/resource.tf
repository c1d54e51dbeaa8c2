variable "traefik_dir" { type = string }

resource "homelab_traefik_route" "whoami" {
  name              = "whoami"
  config_dir        = var.traefik_dir
  rule              = "Host(`whoami.lab.localhost`)"
  entrypoints       = ["web"]
  servers           = ["http://127.0.0.1:18080", "http://127.0.0.1:18081"]
  middlewares       = []
  priority          = 10
  pass_host_header  = true
  tls_cert_resolver = null
}

output "route_file" { value = homelab_traefik_route.whoami.config_path }
