//! `tabiri.homelab.health_check`: see [`tabiri_homelab_modules::health_check`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::health_check::MODULE)
}
