# The import ID is node/vmid. Proxmox does not record the OS template, root password or
# SSH keys a container was created with: the first plan after an import records them (an
# in-place update that sends nothing to Proxmox and never replaces the container).
terraform import homelab_proxmox_lxc.jdownloader pve1/100
