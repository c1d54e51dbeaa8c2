//! One module per resource. A new resource: add `<name>.rs` here, list it in
//! `HomelabProvider::resources`, add `examples/resources/homelab_<name>/`, run `make docs`.

pub mod aws_instance;
pub mod aws_security_group;
pub mod backup_job;
pub mod compose_stack;
pub mod netbird_group;
pub mod netbird_object;
pub mod netbird_peer;
pub mod netbird_policy;
pub mod netbird_route;
pub mod netbird_setup_key;
pub mod prometheus_target;
pub mod proxmox_backup_job;
pub mod proxmox_guest;
pub mod proxmox_lxc;
pub mod proxmox_vm;
pub mod route53_record;
pub mod traefik_route;
pub mod whole_file;
