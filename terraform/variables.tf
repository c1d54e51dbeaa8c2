# ---------------------------------------------------------------- access

variable "ssh_user" {
  type        = string
  default     = "root"
  description = "The user every host is managed as (root, or an admin with passwordless sudo)."
}

variable "ssh_private_key_file" {
  type        = string
  description = "The admin's SSH private key, as a file path."
}

variable "ssh_public_keys" {
  type        = list(string)
  default     = []
  description = "Public keys cloud-init puts on every guest (the admin's)."
}

variable "known_hosts_file" {
  type        = string
  description = "known_hosts holding every host's key: host keys are always verified."
}

variable "pve_endpoint" {
  type        = string
  description = "The Proxmox VE API, https://<host>:8006/."
  validation {
    condition     = can(regex("^https://", var.pve_endpoint))
    error_message = "The pve_endpoint must be an https:// URL."
  }
}

variable "pve_username" {
  type        = string
  default     = "root@pam"
  description = "The Proxmox user, with its realm."
}

variable "pve_password" {
  type        = string
  sensitive   = true
  description = "The Proxmox user's password."
}

variable "pve_ca_file" {
  type        = string
  default     = null
  description = "A PEM file with the Proxmox certificate to trust (/etc/pve/pve-root-ca.pem)."
}

variable "pve_node" {
  type        = string
  default     = "pve1"
  description = "The Proxmox node the guests run on."
}

variable "aws_region" {
  type        = string
  default     = "eu-west-1"
  description = "The AWS region of the cloud edge."
}

variable "aws_endpoint" {
  type        = string
  default     = null
  description = "An EC2/Route 53-compatible endpoint (the local lab's moto); null for AWS."
}

variable "aws_access_key" {
  type        = string
  default     = null
  description = "A static access key; null uses the standard credential chain."
}

variable "aws_secret_key" {
  type        = string
  default     = null
  sensitive   = true
  description = "The secret belonging to aws_access_key."
}

variable "netbird_url" {
  type        = string
  description = "The NetBird management URL (https://api.netbird.io or your own)."
}

variable "netbird_token" {
  type        = string
  sensitive   = true
  description = "A NetBird personal access token (nbp_...)."
}

# ---------------------------------------------------------------- the lab

variable "hosts" {
  type = map(object({
    address = string
    gateway = string
  }))
  description = "Each machine's LAN address and gateway: the Proxmox guests' cloud-init addresses (nextcloud, jdownloader, management) and the cloud edge's address (edge)."
  validation {
    condition     = alltrue([for name in ["nextcloud", "jdownloader", "management", "edge"] : contains(keys(var.hosts), name)])
    error_message = "The hosts map needs nextcloud, jdownloader, management and edge."
  }
  validation {
    condition     = alltrue([for h in values(var.hosts) : can(cidrhost("${h.address}/32", 0)) && can(cidrhost("${h.gateway}/32", 0))])
    error_message = "Every host's address and gateway must be IPv4 addresses."
  }
}

variable "lan_prefix_length" {
  type        = number
  default     = 30
  description = "The prefix length of the guests' LAN addresses."
  validation {
    condition     = var.lan_prefix_length >= 8 && var.lan_prefix_length <= 30
    error_message = "The lan_prefix_length must be between 8 and 30."
  }
}

variable "proxmox_lan" {
  type        = string
  default     = "10.199.0.0/16"
  description = "The Proxmox LAN routed into the mesh for the management zone."
  validation {
    condition     = can(cidrnetmask(var.proxmox_lan))
    error_message = "The proxmox_lan must be an IPv4 CIDR such as 192.168.10.0/24."
  }
}

variable "domain" {
  type        = string
  default     = "lab.localhost"
  description = "The domain the services are published under (<service>.<domain>)."
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain))
    error_message = "The domain must be a DNS name such as lab.example.com."
  }
}

variable "public_zone" {
  type        = string
  default     = "lab.example.com"
  description = "The Route 53 hosted zone of the cloud edge's public names."
}

variable "tls_cert_resolver" {
  type        = string
  default     = null
  description = "Traefik's certificate resolver for the routes (TLS); null serves plain HTTP, as the demo does."
}

variable "entrypoints" {
  type        = list(string)
  default     = ["web"]
  description = "Traefik entry points the routes listen on (websecure with TLS)."
}

variable "traefik_dir" {
  type        = string
  description = "Traefik's file-provider directory on the machine Terraform runs on."
}

variable "traefik_api_url" {
  type        = string
  default     = null
  description = "Traefik's API; apply waits until each route is live."
}

variable "prometheus_sd_dir" {
  type        = string
  description = "The directory Prometheus's file_sd_configs read."
}

variable "metrics_dir" {
  type        = string
  description = "node_exporter's textfile directory, where backup jobs write their metrics."
}

variable "host_root" {
  type        = string
  default     = ""
  description = "A prefix for every path the lab writes on its hosts: empty on real hosts; the local lab, whose hosts share one filesystem, gives each its own directory under it."
}

# ---------------------------------------------------------------- backups

variable "backup_repository_base" {
  type        = string
  description = "Where restic repositories live, one per job below it: an absolute path, sftp:user@host:/path or s3:https://endpoint/bucket."
  validation {
    condition     = can(regex("^(/|sftp:|s3:)", var.backup_repository_base))
    error_message = "The backup_repository_base must be an absolute path, sftp:... or s3:...."
  }
}

variable "backup_password" {
  type        = string
  sensitive   = true
  description = "The restic repositories' password."
}

variable "backup_env" {
  type        = map(string)
  default     = {}
  sensitive   = true
  description = "Environment for restic (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for s3: repositories)."
}

variable "heartbeat_url" {
  type        = string
  default     = null
  sensitive   = true
  description = "A healthchecks.io-style URL pinged by every backup job (null: none)."
}

variable "vzdump_storage" {
  type        = string
  default     = "local"
  description = "The Proxmox storage tier-1 vzdump archives go to."
}

variable "tier3_enabled" {
  type        = bool
  default     = false
  description = "Back up tier 3 (caches, downloads) too."
}
