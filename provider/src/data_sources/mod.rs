//! One module per data source. A new data source: add `<name>.rs` here, list it in
//! `HomelabProvider::data_sources`, add `examples/data-sources/homelab_<name>/`, run
//! `make docs`.

pub mod aws_ami;
pub mod backup_snapshots;
pub mod netbird_group;
pub mod netbird_peers;
pub mod proxmox_nodes;
pub mod route53_zone;
