# A peer is imported by the host it runs on and its ID: [user@]address[:port]:peer_id. The
# agent on that host must report the peer's mesh IP.
# The host's key: checked against the provider's ssh.known_hosts when that is set; otherwise
# the key the host presents is recorded (host_public_key), and the first plan refuses it
# unless the configuration's host block pins that same key (host_key), trusts on first use,
# or known_hosts lists it. Nothing is written before that plan.
terraform import homelab_netbird_peer.nextcloud admin@10.0.20.11:ch8i4ug6lnn4g9hqv7m1
