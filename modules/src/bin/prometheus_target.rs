//! `tabiri.homelab.prometheus_target`: see [`tabiri_homelab_modules::prometheus_target`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::prometheus_target::MODULE)
}
