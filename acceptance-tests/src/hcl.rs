//! The head every acceptance configuration starts with, written once: the `terraform` block
//! requiring this provider, its string variables, and the provider block with its `ssh`
//! settings for on-host resources.

/// `terraform { required_providers { homelab = ... } }`, what every configuration starts with.
pub const TERRAFORM_BLOCK: &str = r#"
terraform {
  required_providers {
    homelab = { source = "tabiri/homelab" }
  }
}
"#;

/// A string variable.
pub fn variable(name: &str) -> String {
    format!("variable \"{name}\" {{ type = string }}\n")
}

/// A sensitive string variable: Terraform never prints its value.
pub fn secret_variable(name: &str) -> String {
    format!("variable \"{name}\" {{\n  type      = string\n  sensitive = true\n}}\n")
}

/// `settings` as the lines of a block nested `depth` levels deep, the `=` aligned as
/// `terraform fmt` aligns them.
fn settings(depth: usize, settings: &[(&str, &str)]) -> String {
    let width = settings.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    let indent = "  ".repeat(depth);
    settings
        .iter()
        .map(|(key, value)| format!("{indent}{key:width$} = {value}\n"))
        .collect()
}

/// The head of a configuration whose resources act on hosts over SSH: the provider logs
/// in with the key in `var.key` and checks host keys against the known_hosts file named
/// by `var.known_hosts`.
pub struct SshProvider<'a> {
    /// More string variables the configuration reads.
    pub variables: &'a [&'a str],
    /// More sensitive string variables.
    pub secrets: &'a [&'a str],
    /// The `ssh` block's settings after `private_key = var.key`.
    pub ssh: &'a [(&'a str, &'a str)],
    /// More blocks inside the provider block, after `ssh` (`netbird { ... }`), indented.
    pub blocks: &'a str,
}

impl Default for SshProvider<'_> {
    fn default() -> Self {
        Self {
            variables: &[],
            secrets: &[],
            ssh: &[("known_hosts", "var.known_hosts")],
            blocks: "",
        }
    }
}

impl SshProvider<'_> {
    pub fn hcl(&self) -> String {
        let mut hcl = String::from(TERRAFORM_BLOCK);
        hcl.push_str(&secret_variable("key"));
        hcl.push_str(&variable("known_hosts"));
        for name in self.variables {
            hcl.push_str(&variable(name));
        }
        for name in self.secrets {
            hcl.push_str(&secret_variable(name));
        }
        let mut ssh = vec![("private_key", "var.key")];
        ssh.extend_from_slice(self.ssh);
        hcl.push_str(&format!(
            "provider \"homelab\" {{\n  ssh {{\n{}  }}\n{}}}\n",
            settings(2, &ssh),
            self.blocks
        ));
        hcl
    }
}

/// The provider's `proxmox` block over variables `pve_password` and `pve_ca_file`, with
/// `endpoint` (an HCL expression) as the API's address.
pub fn proxmox_provider(endpoint: &str) -> String {
    format!(
        "{TERRAFORM_BLOCK}{}{}\nprovider \"homelab\" {{\n  proxmox {{\n{}  }}\n}}\n",
        secret_variable("pve_password"),
        variable("pve_ca_file"),
        settings(
            2,
            &[
                ("endpoint", endpoint),
                ("username", "\"root@pam\""),
                ("password", "var.pve_password"),
                ("ca_file", "var.pve_ca_file"),
            ]
        )
    )
}
