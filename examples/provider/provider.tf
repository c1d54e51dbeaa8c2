terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}

# Every block is optional: configure what the lab uses.
provider "homelab" {
  # AWS (homelab_aws_*, homelab_route53_*): the standard credential chain (environment,
  # profile, SSO, instance role) unless access_key/secret_key are set. `endpoint` (or
  # AWS_ENDPOINT_URL) points at an EC2/Route 53-compatible service instead of AWS.
  aws {
    region  = "eu-west-1"
    profile = "lab"
  }
}
