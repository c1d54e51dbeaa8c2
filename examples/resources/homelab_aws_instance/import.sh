# The import ID is the instance ID.
terraform import homelab_aws_instance.airflow i-0123456789abcdef0
