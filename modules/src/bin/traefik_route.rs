//! `tabiri.homelab.traefik_route`: see [`tabiri_homelab_modules::traefik_route`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::traefik_route::MODULE)
}
