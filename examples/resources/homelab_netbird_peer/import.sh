# A peer is imported by the host it runs on and its ID: [user@]address[:port]:peer_id. The
# agent on that host must report the peer's mesh IP.
terraform import homelab_netbird_peer.nextcloud admin@10.0.20.11:ch8i4ug6lnn4g9hqv7m1
