data "homelab_route53_zone" "lab" {
  name = "lab.example.com"
}

data "homelab_route53_zone" "internal" {
  name         = "lab.internal"
  private_zone = true
}

output "lab_name_servers" {
  value = data.homelab_route53_zone.lab.name_servers
}
