# A group is imported by its ID or by its name.
terraform import homelab_netbird_group.private private
