# The import ID is the project name, with [user@]address[:port]: in front for a project on a
# host over SSH. The project's directory comes from its containers' working-directory label;
# compose.yaml, .env and the files its services mount from there are adopted.
terraform import homelab_compose_stack.nextcloud admin@10.0.20.11:nextcloud
