variable "name" {
  type        = string
  description = "The service's name: a lower-case DNS label. It names the Compose project, the Traefik route, the Prometheus target file, the backup job and the first label of the service's host name."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "The name must be a lower-case DNS label: letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen."
  }
}

variable "display_name" {
  type        = string
  description = "A human name for the service (\"Nextcloud\"), attached to its Prometheus target as the display_name label."

  validation {
    condition     = length(trimspace(var.display_name)) > 0
    error_message = "The display_name must not be empty."
  }
}

variable "address" {
  type        = string
  description = "IPv4 address of the host the service runs on; reached over SSH and by Traefik and Prometheus."

  validation {
    condition     = can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$", var.address))
    error_message = "The address must be an IPv4 address such as 10.0.20.11."
  }
}

variable "ssh_port" {
  type        = number
  default     = 22
  description = "The SSH port on address."

  validation {
    condition     = var.ssh_port >= 1 && var.ssh_port <= 65535 && floor(var.ssh_port) == var.ssh_port
    error_message = "The ssh_port must be a whole number from 1 to 65535."
  }
}

variable "compose_yaml" {
  type        = string
  description = "The compose file's text. It must publish the service on port (and metrics_port) of the host."

  validation {
    condition     = length(trimspace(var.compose_yaml)) > 0
    error_message = "The compose_yaml must not be empty."
  }
}

variable "env" {
  type        = map(string)
  default     = {}
  sensitive   = true
  description = "Values the compose file interpolates ($${NAME}), written to the project's .env on the host (mode 0600)."

  validation {
    condition     = alltrue([for k in keys(var.env) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "Every key of env must be a variable name: letters, digits and _, not starting with a digit."
  }
}

variable "port" {
  type        = number
  description = "The port the service publishes on address; Traefik sends requests there."

  validation {
    condition     = var.port >= 1 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "The port must be a whole number from 1 to 65535."
  }
}

variable "domain" {
  type        = string
  description = "The lab's domain; the service answers at <name>.<domain>."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", var.domain))
    error_message = "The domain must be a lower-case DNS name such as lab.example.com, without a trailing dot."
  }
}

variable "entrypoints" {
  type        = list(string)
  default     = ["web"]
  description = "Traefik entry points the route listens on."

  validation {
    condition     = alltrue([for e in var.entrypoints : can(regex("^[A-Za-z0-9_-]+$", e))])
    error_message = "Every entry point must be a Traefik entry point name (letters, digits, - and _)."
  }
}

variable "traefik_dir" {
  type        = string
  description = "Absolute path of Traefik's file-provider directory on the machine Terraform runs on, without a trailing slash."

  validation {
    condition     = can(regex("^/([^\\s]*[^/\\s])?$", var.traefik_dir))
    error_message = "The traefik_dir must be an absolute path without spaces or a trailing slash."
  }
}

variable "traefik_api_url" {
  type        = string
  default     = null
  description = "Traefik's API. When set, apply waits until Traefik reports the route live."

  validation {
    condition     = var.traefik_api_url == null ? true : can(regex("^https?://[^\\s/]+", var.traefik_api_url))
    error_message = "The traefik_api_url must be an http:// or https:// URL, or null."
  }
}

variable "prometheus_sd_dir" {
  type        = string
  description = "Absolute path of the directory Prometheus's file_sd_configs reads, on the machine Terraform runs on."

  validation {
    condition     = can(regex("^/([^\\s]*[^/\\s])?$", var.prometheus_sd_dir))
    error_message = "The prometheus_sd_dir must be an absolute path without spaces or a trailing slash."
  }
}

variable "metrics_port" {
  type        = number
  default     = null
  description = "The port Prometheus scrapes on address. Null means port."

  validation {
    condition     = var.metrics_port == null ? true : (var.metrics_port >= 1 && var.metrics_port <= 65535 && floor(var.metrics_port) == var.metrics_port)
    error_message = "The metrics_port must be a whole number from 1 to 65535, or null."
  }
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Extra Prometheus labels on the service's target. The module sets service and display_name itself."

  validation {
    condition     = alltrue([for k in keys(var.labels) : can(regex("^[a-zA-Z_][a-zA-Z0-9_]*$", k))])
    error_message = "Every key of labels must be a Prometheus label name: letters, digits and _, not starting with a digit."
  }
}

variable "backup" {
  type = object({
    repository     = string
    paths          = list(string)
    schedule       = string
    keep_daily     = number
    keep_weekly    = number
    metrics_dir    = string
    restore_sample = number
  })
  default     = null
  description = "A restic backup job for the service, or null for none. Every field is required: metrics_dir = \"\" writes no metrics, restore_sample = -1 runs no restore drill (0 restores everything). The password is backup_password."

  validation {
    condition = var.backup == null ? true : (
      can(regex("^(/|sftp:|s3:)", var.backup.repository)) &&
      alltrue([for p in var.backup.paths : can(regex("^/", p))]) &&
      length(trimspace(var.backup.schedule)) > 0 &&
      var.backup.keep_daily >= 0 && floor(var.backup.keep_daily) == var.backup.keep_daily &&
      var.backup.keep_weekly >= 0 && floor(var.backup.keep_weekly) == var.backup.keep_weekly &&
      (var.backup.metrics_dir == "" || can(regex("^/", var.backup.metrics_dir))) &&
      var.backup.restore_sample >= -1 && floor(var.backup.restore_sample) == var.backup.restore_sample
    )
    error_message = "The backup needs a repository that is an absolute path, sftp:... or s3:...; absolute paths (the stack directory is always backed up); a schedule; whole keep_daily and keep_weekly of 0 or more; a metrics_dir that is empty or absolute; and a whole restore_sample of -1 or more."
  }
}

variable "backup_name" {
  type        = string
  default     = null
  description = "The backup job's name (it names the snapshots' tag and the schedule's files). Null means the service's name."
}

variable "backup_dumps" {
  type = list(object({
    name    = string
    command = list(string)
  }))
  default     = []
  description = "Dumps streamed into the backup, each { name, command }: the command's output is stored as a file called name. A dump that fails fails the run."
}

variable "backup_env" {
  type        = map(string)
  default     = {}
  sensitive   = true
  description = "Environment for restic, e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for an s3: repository. Kept in a 0600 file on the host."
}

variable "backup_password" {
  type        = string
  default     = null
  sensitive   = true
  description = "The restic repository's password. Required when backup is set; kept apart from backup so that object stays readable in plans."
}

variable "backup_restore_schedule" {
  type        = string
  default     = "Sun *-*-* 04:00:00"
  description = "When the restore drill runs, in systemd calendar syntax (used when backup.restore_sample is 0 or more)."

  validation {
    condition     = length(trimspace(var.backup_restore_schedule)) > 0
    error_message = "The backup_restore_schedule must not be empty."
  }
}

variable "backup_heartbeat_url" {
  type        = string
  default     = null
  sensitive   = true
  description = "A heartbeat URL the backup job pings (/start, success, /fail). Null for none."
}

# How the host is reached. The private key and known_hosts file stay in the provider's
# ssh block; these inputs never carry a secret.

variable "ssh_user" {
  type        = string
  default     = null
  description = "The user to log in as on address. Null means the provider's ssh.user."

  validation {
    condition     = var.ssh_user == null ? true : can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.ssh_user))
    error_message = "The ssh_user must be a Unix user name such as admin, or null."
  }
}

variable "sudo" {
  type        = bool
  default     = false
  description = "Run commands on the host through passwordless sudo, for a non-root ssh_user."
}

variable "host_key" {
  type        = string
  default     = null
  description = "The host's SSH public key or SHA256 fingerprint to pin (e.g. proxmox-host's host_public_key). Null checks the provider's ssh.known_hosts, or trusts on first use."

  validation {
    condition     = var.host_key == null ? true : can(regex("^(SHA256:[A-Za-z0-9+/]+=*|(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*( .*)?)$", var.host_key))
    error_message = "The host_key must be a public key line (ssh-ed25519 AAAA...) or a SHA256: fingerprint, or null."
  }
}

variable "trust_on_first_use" {
  type        = bool
  default     = false
  description = "When host_key is null: pin the key the host presents on first connection instead of checking the provider's ssh.known_hosts."
}

variable "files" {
  type        = map(string)
  default     = {}
  description = "Extra files in the project directory, by relative path (a page, a config the compose file mounts)."
}

variable "path_prefix" {
  type        = string
  default     = ""
  description = "A prefix for every path the module writes on the host: empty on a real host; hosts that share one filesystem (the local demo lab) each get their own."

  validation {
    condition     = var.path_prefix == "" || can(regex("^/.*[^/]$", var.path_prefix))
    error_message = "The path_prefix must be empty or an absolute path without a trailing slash."
  }
}

variable "tls_cert_resolver" {
  type        = string
  default     = null
  description = "Serve the route over TLS with a certificate from this Traefik certificate resolver; null serves plain HTTP."
}
