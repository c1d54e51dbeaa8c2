# The import ID is the security group's ID. Imported rules are listed by port, then protocol.
terraform import homelab_aws_security_group.public sg-0123456789abcdef0
