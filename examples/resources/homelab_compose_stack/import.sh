# The import ID is the project name, with [user@]address[:port]: in front for a project on a
# host over SSH. The project's directory comes from its containers' working-directory label;
# compose.yaml, .env and the files its services mount from there are adopted.
# The host's key: checked against the provider's ssh.known_hosts when that is set; otherwise
# the key the host presents is recorded (host_public_key), and the first plan refuses it
# unless the configuration's host block pins that same key (host_key), trusts on first use,
# or known_hosts lists it. Nothing is written before that plan.
terraform import homelab_compose_stack.nextcloud admin@10.0.20.11:nextcloud
