# The lab's zones as NetBird groups. Members join from their own side
# (homelab_netbird_peer.groups, a setup key's auto_groups); `peers` here adds more.
resource "homelab_netbird_group" "dmz" { name = "dmz" }
resource "homelab_netbird_group" "private" { name = "private" }
