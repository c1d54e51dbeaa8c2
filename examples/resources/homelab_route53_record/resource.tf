data "homelab_route53_zone" "lab" { name = "lab.example.com" }

resource "homelab_route53_record" "airflow" {
  zone_id = data.homelab_route53_zone.lab.id
  name    = "airflow.lab.example.com"
  type    = "A"
  ttl     = 300
  records = [homelab_aws_instance.airflow.public_ip]
}

resource "homelab_route53_record" "spf" {
  zone_id = data.homelab_route53_zone.lab.id
  name    = "lab.example.com"
  type    = "TXT"
  ttl     = 3600
  records = ["v=spf1 -all"] # quoted for Route 53 by the provider
}
