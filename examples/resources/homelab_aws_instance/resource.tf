data "homelab_aws_ami" "ubuntu" {
  owners      = ["099720109477"] # Canonical
  name        = "ubuntu/images/hvm-ssd/ubuntu-*"
  most_recent = true
}

resource "homelab_aws_instance" "airflow" {
  ami                = data.homelab_aws_ami.ubuntu.id
  instance_type      = "t3.small"
  security_group_ids = [homelab_aws_security_group.public.id]
  key_name           = "lab"
  root_volume_size   = 30
  user_data          = "#cloud-config\npackages: [docker.io]\n"
  tags               = { Name = "airflow", Tier = "cloud" }

  timeouts {
    create = "10m"
  }
}
