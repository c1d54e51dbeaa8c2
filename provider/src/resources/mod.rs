//! One module per resource. A new resource: add `<name>.rs` here, list it in
//! `HomelabProvider::resources`, add `examples/resources/homelab_<name>/`, run `make docs`.

pub mod traefik_route;
