variable "name" {
  type        = string
  description = "The edge's name: the instance's Name tag and the prefix of its security groups (<name>-<zone>). A lower-case DNS label."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "The name must be a lower-case DNS label: letters, digits and hyphens, at most 63 characters, not starting or ending with a hyphen."
  }
}

variable "instance_type" {
  type        = string
  default     = "t3.small"
  description = "The EC2 instance type. Changed in place (stop, modify, start)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "The instance_type must be an EC2 type written family.size, such as t3.small."
  }
}

variable "ami_name_pattern" {
  type        = string
  default     = "ubuntu/images/hvm-ssd/ubuntu-*"
  description = "Name pattern of the AMI to boot (* and ? wildcards); the newest match is used."

  validation {
    condition     = length(trimspace(var.ami_name_pattern)) > 0
    error_message = "The ami_name_pattern must not be empty."
  }
}

variable "ami_owners" {
  type        = list(string)
  default     = ["amazon"]
  description = "Accounts (IDs or aliases such as amazon, self) whose AMIs ami_name_pattern is matched against."

  validation {
    condition     = length(var.ami_owners) > 0 && alltrue([for o in var.ami_owners : can(regex("^([0-9]{12}|amazon|aws-marketplace|self)$", o))])
    error_message = "The ami_owners must list at least one 12-digit account ID or one of amazon, aws-marketplace, self."
  }
}

variable "zone_name" {
  type        = string
  description = "The Route 53 hosted zone the records go in, e.g. lab.example.com."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$", var.zone_name))
    error_message = "The zone_name must be a lower-case DNS name with at least two labels, such as lab.example.com, without a trailing dot."
  }
}

variable "records" {
  type        = list(string)
  default     = []
  description = "Host names pointing at the instance (A records): relative to zone_name (\"airflow\") or fully qualified inside it (\"airflow.lab.example.com\")."

  validation {
    condition     = alltrue([for r in var.records : can(regex("^(\\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", r))])
    error_message = "Every record must be a lower-case DNS name without a trailing dot (a leading * label is allowed)."
  }
}

variable "zones" {
  type = map(object({
    description = string
    ingress = list(object({
      protocol    = string
      from_port   = number
      to_port     = number
      cidr_blocks = list(string)
    }))
  }))
  description = "One security group per network zone, keyed by zone name (e.g. public); every group is attached to the instance. Egress is open in each group."

  validation {
    condition     = length(var.zones) > 0 && alltrue([for z in keys(var.zones) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", z))])
    error_message = "The zones must have at least one entry, each keyed by a lower-case DNS label such as public."
  }

  validation {
    condition     = alltrue([for z in values(var.zones) : length(trimspace(z.description)) > 0])
    error_message = "Every zone needs a description (it is the security group's description)."
  }

  validation {
    condition = alltrue(flatten([for z in values(var.zones) : [for r in z.ingress :
      can(regex("^(tcp|udp|icmp|icmpv6|-1|all|25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$", r.protocol)) &&
      r.from_port >= -1 && r.from_port <= 65535 && r.to_port >= -1 && r.to_port <= 65535 &&
      (contains(["tcp", "udp"], r.protocol) ? (r.from_port >= 0 && r.from_port <= r.to_port) : true)
    ]]))
    error_message = "Every ingress rule needs a protocol (tcp, udp, icmp, icmpv6, -1, all or 0-255) and ports from -1 to 65535; for tcp and udp, 0 <= from_port <= to_port."
  }

  validation {
    condition = alltrue(flatten([for z in values(var.zones) : [for r in z.ingress : [for c in r.cidr_blocks :
      can(regex("^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$", c))
    ]]]))
    error_message = "Every ingress cidr_blocks entry must be an IPv4 CIDR such as 0.0.0.0/0 or 100.64.0.0/10."
  }
}

variable "user_data" {
  type        = string
  default     = "#cloud-config\npackages: [docker.io]\n"
  description = "Cloud-init user data for the instance (at most 16 KiB). Changing it stops, modifies and starts the instance."

  validation {
    condition     = length(var.user_data) <= 16384
    error_message = "The user_data must be at most 16384 characters."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags on the instance and the security groups. Name (on the instance) and Zone (on each group) are set by the module."

  validation {
    condition     = alltrue([for k in keys(var.tags) : length(k) > 0 && length(k) <= 128 && !can(regex("^aws:", k))])
    error_message = "Tag keys must be 1-128 characters and must not start with aws: (reserved by AWS)."
  }
}
