# A reusable key for the private zone's hosts, replaced a week before it expires.
resource "homelab_netbird_setup_key" "private" {
  name          = "private-hosts"
  type          = "reusable"
  usage_limit   = 0
  auto_groups   = [homelab_netbird_group.private.id]
  expires_in    = "720h"
  rotate_before = "168h"
}
