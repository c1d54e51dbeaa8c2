//! `tabiri.homelab.backup_restore_test`: see [`tabiri_homelab_modules::backup_restore_test`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::backup_restore_test::MODULE)
}
