# The lab's edge in AWS: one EC2 instance behind one security group per network zone, with
# A records in the lab's Route 53 zone pointing at its public address.
terraform {
  required_version = ">= 1.0"

  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

data "homelab_aws_ami" "this" {
  owners      = var.ami_owners
  name        = var.ami_name_pattern
  most_recent = true
}

resource "homelab_aws_security_group" "zone" {
  for_each = var.zones

  name        = "${var.name}-${each.key}"
  description = each.value.description
  ingress     = each.value.ingress

  # The provider keeps exactly the declared rules and drops AWS's default egress, so the
  # instance's way out (packages, images, the mesh) is declared here.
  egress = [{ protocol = "-1", from_port = 0, to_port = 0, cidr_blocks = ["0.0.0.0/0"] }]

  tags = merge(var.tags, { Zone = each.key })
}

resource "homelab_aws_instance" "this" {
  ami                = data.homelab_aws_ami.this.id
  instance_type      = var.instance_type
  security_group_ids = [for sg in homelab_aws_security_group.zone : sg.id]
  user_data          = var.user_data
  tags               = merge(var.tags, { Name = var.name })
}

data "homelab_route53_zone" "this" {
  name = var.zone_name
}

locals {
  # A name already ending in the zone is taken as written; anything else is relative to it.
  fqdns = [
    for r in var.records :
    r == var.zone_name || trimsuffix(r, ".${var.zone_name}") != r ? r : "${r}.${var.zone_name}"
  ]
}

resource "homelab_route53_record" "this" {
  for_each = toset(local.fqdns)

  zone_id = data.homelab_route53_zone.this.id
  name    = each.value
  type    = "A"
  ttl     = 300
  records = [homelab_aws_instance.this.public_ip]
}
