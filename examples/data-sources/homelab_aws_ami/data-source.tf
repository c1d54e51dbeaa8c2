data "homelab_aws_ami" "ubuntu" {
  owners      = ["amazon"]
  name        = "ubuntu/images/hvm-ssd/ubuntu-*"
  most_recent = true
}

output "ubuntu_ami" {
  value = "${data.homelab_aws_ami.ubuntu.id} (${data.homelab_aws_ami.ubuntu.image_name})"
}
