//! `tabiri.homelab.compose_stack`: see [`tabiri_homelab_modules::compose_stack`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::compose_stack::MODULE)
}
