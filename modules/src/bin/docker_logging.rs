//! `tabiri.homelab.docker_logging`: see [`tabiri_homelab_modules::docker_logging`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::docker_logging::MODULE)
}
