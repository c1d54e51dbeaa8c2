//! `terraform-provider-homelab`: started by Terraform, or with `-debug` by a developer.

fn main() -> std::process::ExitCode {
    tfplugin::server::serve(
        terraform_provider_homelab::HomelabProvider::new(),
        terraform_provider_homelab::ADDRESS,
    )
}
