//! Every schema the provider serves passes the checks Terraform 1.3+ runs when it loads a
//! provider (`tfplugin::schema::check`): one broken schema would stop every command of
//! every user on a current Terraform.

use terraform_provider_homelab::HomelabProvider;

#[test]
fn every_schema_the_provider_serves_passes_terraforms_load_checks() {
    let problems = tfplugin::schema::check::check_provider(&HomelabProvider::new());
    assert!(
        problems.is_empty(),
        "Terraform would refuse the provider:\n{}",
        problems.join("\n")
    );
}
