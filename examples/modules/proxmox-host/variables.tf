variable "name" {
  type        = string
  description = "The guest's name (VM name or container host name) and its peer name in the mesh: a lower-case DNS label."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "The name must be a lower-case DNS label: letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen."
  }
}

variable "kind" {
  type        = string
  description = "What the guest is: \"vm\" (a QEMU VM cloned from template_id) or \"lxc\" (a container created from ostemplate)."

  validation {
    condition     = contains(["vm", "lxc"], var.kind)
    error_message = "The kind must be \"vm\" or \"lxc\"."
  }
}

variable "node" {
  type        = string
  default     = "pve1"
  description = "The Proxmox node the guest runs on."

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", var.node))
    error_message = "The node must be a Proxmox node name (a DNS label such as pve1)."
  }
}

variable "vm_id" {
  type        = number
  default     = null
  description = "The guest's VMID. Null takes the next free one."

  validation {
    condition     = var.vm_id == null ? true : (var.vm_id >= 100 && var.vm_id <= 999999999 && floor(var.vm_id) == var.vm_id)
    error_message = "The vm_id must be a whole number from 100 to 999999999, or null."
  }
}

variable "template_id" {
  type        = number
  default     = 9000
  description = "VMID of the cloud-init template a VM is cloned from (kind = \"vm\" only)."

  validation {
    condition     = var.template_id >= 100 && var.template_id <= 999999999 && floor(var.template_id) == var.template_id
    error_message = "The template_id must be a whole number from 100 to 999999999."
  }
}

variable "ostemplate" {
  type        = string
  default     = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  description = "The OS template volume a container is created from (kind = \"lxc\" only)."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_.-]*:vztmpl/[^/\\s]+$", var.ostemplate))
    error_message = "The ostemplate must be a template volume such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst."
  }
}

variable "cores" {
  type        = number
  default     = 2
  description = "CPU cores."

  validation {
    condition     = var.cores >= 1 && var.cores <= 512 && floor(var.cores) == var.cores
    error_message = "The cores must be a whole number from 1 to 512."
  }
}

variable "memory" {
  type        = number
  default     = 2048
  description = "Memory in MB."

  validation {
    condition     = var.memory >= 16 && floor(var.memory) == var.memory
    error_message = "The memory must be a whole number of MB, at least 16."
  }
}

variable "disk_gb" {
  type        = number
  default     = 16
  description = "Size of the root disk in GB. It grows in place; Proxmox cannot shrink it. For a VM it must be at least the template's disk size."

  validation {
    condition     = var.disk_gb >= 1 && floor(var.disk_gb) == var.disk_gb
    error_message = "The disk_gb must be a whole number of GB, at least 1."
  }
}

variable "storage" {
  type        = string
  default     = "local-lvm"
  description = "The Proxmox storage holding the guest's disk (for a container it must accept container volumes)."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_.-]*$", var.storage))
    error_message = "The storage must be a Proxmox storage ID such as local-lvm."
  }
}

variable "bridge" {
  type        = string
  default     = "vmbr0"
  description = "The bridge the guest's single network interface is attached to."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_.-]{0,14}$", var.bridge))
    error_message = "The bridge must be a Linux interface name such as vmbr0 (at most 15 characters)."
  }
}

variable "ipv4_cidr" {
  type        = string
  description = "The guest's static IPv4 address with its prefix length, e.g. 10.199.0.2/30."

  validation {
    condition     = can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$", var.ipv4_cidr))
    error_message = "The ipv4_cidr must be an IPv4 address with a prefix length, such as 10.199.0.2/30."
  }
}

variable "gateway" {
  type        = string
  description = "The IPv4 default gateway, inside ipv4_cidr's network."

  validation {
    condition     = can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$", var.gateway))
    error_message = "The gateway must be an IPv4 address such as 10.199.0.1."
  }
}

variable "ssh_user" {
  type        = string
  default     = "admin"
  description = "The user cloud-init creates on a VM, with ssh_public_keys and passwordless sudo. A container has only root, so for kind = \"lxc\" the login user is root."

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.ssh_user))
    error_message = "The ssh_user must be a Unix user name such as admin."
  }
}

variable "ssh_public_keys" {
  type        = list(string)
  description = "SSH public keys allowed to log in: for ssh_user on a VM, for root in a container. Public keys only, one per entry."

  validation {
    condition     = length(var.ssh_public_keys) > 0 && alltrue([for k in var.ssh_public_keys : can(regex("^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\\.com) [A-Za-z0-9+/]+=*( .*)?$", k))])
    error_message = "The ssh_public_keys must hold at least one OpenSSH public key line (ssh-ed25519 AAAA... comment); private keys do not belong here."
  }
}

variable "tags" {
  type        = set(string)
  default     = []
  description = "Proxmox tags on the guest. The zone is added as a tag as well."

  validation {
    condition     = alltrue([for t in var.tags : can(regex("^[a-z0-9_][a-z0-9_+.-]*$", t))])
    error_message = "Every tag must be lower case: letters, digits, _, +, . and -, not starting with + . or -."
  }
}

variable "zone" {
  type        = string
  description = "The network zone the guest belongs to: public, dmz, private or management."

  validation {
    condition     = contains(["public", "dmz", "private", "management"], var.zone)
    error_message = "The zone must be one of public, dmz, private or management."
  }
}

variable "setup_key" {
  type        = string
  default     = null
  sensitive   = true
  description = "The NetBird setup key the guest enrols with (when enrol is true). Null makes a one-off key for the enrolment."
}

variable "group_ids" {
  type        = list(string)
  default     = []
  description = "IDs of the NetBird groups the guest's peer is put in (when enrol is true)."

  validation {
    condition     = alltrue([for g in var.group_ids : can(regex("^[A-Za-z0-9_-]+$", g))])
    error_message = "Every entry of group_ids must be a NetBird group ID (letters, digits, - and _)."
  }
}

variable "enrol" {
  type        = bool
  default     = true
  description = "Enrol the guest in the NetBird mesh. The template must ship the NetBird agent."
}

variable "guest_agent" {
  type        = bool
  default     = false
  description = "VM only: enable the QEMU guest agent and wait (up to 5 minutes) until it reports an address, so the VM has booted before it is enrolled. The template must run qemu-guest-agent."
}

variable "trust_on_first_use" {
  type        = bool
  default     = true
  description = "Pin the host key the new guest presents first (recorded in state). Set false when the provider's ssh.known_hosts already lists the guest's key (a host key baked into the template, or a lab that knows its hosts): every resource on the host then shares one SSH connection."
}
