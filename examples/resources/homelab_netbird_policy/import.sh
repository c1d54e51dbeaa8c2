# A policy is imported by its ID.
terraform import homelab_netbird_policy.dmz_to_private ch8i4ug6lnn4g9hqv7mg
