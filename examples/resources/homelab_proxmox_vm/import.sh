# The import ID is node/vmid. Proxmox does not record the template a VM was cloned from
# or its cloud-init password: the first plan after an import records them (an in-place
# update that never replaces the VM).
terraform import homelab_proxmox_vm.nextcloud pve1/101
