# The local lab of `make demo`. Its addresses, endpoints, token and keys change with every
# start and come from the lab itself (.demo/lab.tfvars.json, the second -var-file).
aws_access_key  = "test"
aws_secret_key  = "test"
backup_password = "tabiri-demo-restic"
domain          = "lab.localhost"
public_zone     = "lab.example.com"
proxmox_lan     = "10.199.0.0/16"
entrypoints     = ["web"]
