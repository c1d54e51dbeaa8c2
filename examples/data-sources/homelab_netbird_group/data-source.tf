# NetBird's own group of every peer, which no resource manages.
data "homelab_netbird_group" "all" { name = "All" }
