//! `tabiri.homelab.backup_job`: see [`tabiri_homelab_modules::backup_job`].

fn main() {
    tabiri_homelab_modules::runtime::main(&tabiri_homelab_modules::backup_job::MODULE)
}
