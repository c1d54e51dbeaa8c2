//! `tabiri.homelab.netbird_enroll`: see [`tabiri_homelab_modules::netbird_enroll`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::netbird_enroll::MODULE)
}
