output "instance_id" {
  value       = homelab_aws_instance.this.id
  description = "The EC2 instance ID (i-...)."
}

output "public_ip" {
  value       = homelab_aws_instance.this.public_ip
  description = "The instance's public IPv4 address; null when it has none."
}

output "private_ip" {
  value       = homelab_aws_instance.this.private_ip
  description = "The instance's private IPv4 address inside its VPC."
}

output "security_group_ids" {
  value       = { for zone, sg in homelab_aws_security_group.zone : zone => sg.id }
  description = "Security group ID (sg-...) per zone."
}

output "fqdns" {
  value       = [for f in local.fqdns : homelab_route53_record.this[f].fqdn]
  description = "The records' names as DNS serves them, in the order of records."
}

output "ami_id" {
  value       = data.homelab_aws_ami.this.id
  description = "The AMI the instance was launched from."
}
