# The cloud half of the lab: the public edge on EC2 with its DNS in Route 53. `make demo`
# applies it against moto (an EC2/Route 53-compatible service on loopback); against AWS,
# leave aws_endpoint unset and drop the static keys from the provider block.

variable "aws_endpoint" {
  type        = string
  default     = null
  description = "An EC2/Route 53-compatible endpoint (moto in the demo); null for AWS."
}

data "homelab_aws_ami" "ubuntu" {
  owners      = ["amazon"]
  name        = "ubuntu/images/hvm-ssd/ubuntu-*"
  most_recent = true
}

resource "homelab_aws_security_group" "public" {
  name        = "lab-public"
  description = "Public zone: HTTP and HTTPS from anywhere"
  ingress = [
    { protocol = "tcp", from_port = 443, to_port = 443, cidr_blocks = ["0.0.0.0/0"] },
    { protocol = "tcp", from_port = 80, to_port = 80, cidr_blocks = ["0.0.0.0/0"] },
  ]
  egress = [{ protocol = "-1", from_port = 0, to_port = 0, cidr_blocks = ["0.0.0.0/0"] }]
  tags   = { Zone = "public" }
}

resource "homelab_aws_instance" "airflow" {
  ami                = data.homelab_aws_ami.ubuntu.id
  instance_type      = "t3.small"
  security_group_ids = [homelab_aws_security_group.public.id]
  user_data          = "#cloud-config\npackages: [docker.io]\n"
  tags               = { Name = "airflow", Tier = "cloud" }
}

data "homelab_route53_zone" "lab" { name = "lab.example.com" }

resource "homelab_route53_record" "airflow" {
  zone_id = data.homelab_route53_zone.lab.id
  name    = "airflow.lab.example.com"
  type    = "A"
  ttl     = 300
  records = [homelab_aws_instance.airflow.public_ip]
}

output "airflow" {
  value = "${homelab_route53_record.airflow.fqdn} -> ${homelab_aws_instance.airflow.public_ip} (${homelab_aws_instance.airflow.id})"
}
