terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

# Every block is optional: configure what the lab uses.
provider "homelab" {}
