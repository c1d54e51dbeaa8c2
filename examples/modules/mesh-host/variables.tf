variable "name" {
  type        = string
  description = "The peer's name in NetBird and its DNS label in the mesh: a lower-case DNS label such as nextcloud."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "The name must be a lower-case DNS label: letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen."
  }
}

variable "address" {
  type        = string
  description = "The host's IPv4 address, reached over SSH to run the NetBird agent."

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

variable "setup_key" {
  type        = string
  sensitive   = true
  description = "The NetBird setup key the agent enrols with. Null makes the provider create a one-off key for this enrolment and delete it afterwards."
}

variable "group_ids" {
  type        = list(string)
  default     = []
  description = "IDs of the NetBird groups the peer is put in. Groups it joined otherwise (All, the setup key's auto groups) are left alone."

  validation {
    condition     = alltrue([for g in var.group_ids : can(regex("^[A-Za-z0-9_-]+$", g))])
    error_message = "Every entry of group_ids must be a NetBird group ID (letters, digits, - and _), not a group name with spaces."
  }
}

variable "management_url" {
  type        = string
  default     = null
  description = "The management URL the agent connects to. Null means the provider's netbird.management_url."

  validation {
    condition     = var.management_url == null ? true : can(regex("^https?://[^\\s/]+", var.management_url))
    error_message = "The management_url must be an http:// or https:// URL."
  }
}

# The three inputs below shape the host block only. Credentials never pass through them:
# keys stay in the provider's ssh block (or the SSH agent).

variable "ssh_user" {
  type        = string
  default     = null
  description = "The user to log in as. Null means the provider's ssh.user."

  validation {
    condition     = var.ssh_user == null ? true : can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.ssh_user))
    error_message = "The ssh_user must be a Unix user name such as admin."
  }
}

variable "sudo" {
  type        = bool
  default     = false
  description = "Run the agent's commands through passwordless sudo, for a non-root ssh_user."
}

variable "trust_on_first_use" {
  type        = bool
  default     = false
  description = "Accept the host key presented on the first connection and pin it in state. For a host created in the same apply, whose key no known_hosts file can list yet. False checks the key against the provider's ssh.known_hosts."
}
