//! The provider's `proxmox` block, the API client `configure` builds from it (nothing is
//! sent until a resource needs it), and what the Proxmox resources share: the error naming
//! the block when it is missing, Proxmox errors as diagnostics (PVE's per-field messages
//! pointed at the attribute they concern), the `timeouts` block's wording, and what guest
//! states record (VMID, node, values Proxmox fills).

use std::time::Duration;

use lab::proxmox::{Client, ProxmoxError, ProxmoxSettings};
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;

use super::slot::{cannot_set_up, invalid, Env, ProviderBlock, Slot};
use crate::kit::Timeouts;

/// The `proxmox` block: read into `lab::proxmox::ProxmoxSettings`, connected to the API
/// client.
pub struct ProxmoxBlock;

/// The Proxmox part of the provider's state: empty until `configure` finds a `proxmox`
/// block or `PROXMOX_VE_ENDPOINT`.
pub type ProxmoxSlot = Slot<ProxmoxBlock>;

#[tfplugin::async_trait]
impl ProviderBlock for ProxmoxBlock {
    type Settings = ProxmoxSettings;
    type Client = Client;
    const NAME: &'static str = "proxmox";
    const PRODUCT: &'static str = "Proxmox";
    const DESCRIPTION: &'static str =
        "Proxmox VE access for `homelab_proxmox_vm`, `homelab_proxmox_lxc` and \
         `homelab_proxmox_nodes`. Authenticate with `api_token`, or with `username` and \
         `password` (a ticket is fetched at the first request and again when it expires). \
         The server certificate is verified: against the system's CAs, against `ca_file`, \
         or not at all with `insecure = true`. Every attribute falls back to the \
         environment variable bpg/proxmox users know (`PROXMOX_VE_ENDPOINT`, \
         `PROXMOX_VE_API_TOKEN`, `PROXMOX_VE_USERNAME`, `PROXMOX_VE_PASSWORD`, \
         `PROXMOX_VE_INSECURE`, and `PROXMOX_VE_CA_FILE`). Nothing is sent to Proxmox \
         until a resource needs it.";
    const SENSITIVE: &'static [&'static str] = &["password", "api_token"];
    const EXAMPLE: &'static str = "  provider \"homelab\" {\n    proxmox {\n      endpoint  = \"https://pve.lab:8006/\"\n      api_token = var.pve_token\n    }\n  }\n\n(or set PROXMOX_VE_ENDPOINT and credentials)";

    /// The client, from the block or `PROXMOX_VE_*` alone.
    async fn connect(
        settings: ProxmoxSettings,
        written: bool,
        env: Env<'_>,
        warnings: &mut Diagnostics,
    ) -> Result<Option<Client>, Diagnostics> {
        let Some(config) = settings
            .client_config(written, env)
            .map_err(|e| invalid::<Self>(&[e]))?
        else {
            return Ok(None);
        };
        if config.insecure && config.ca_file.is_some() {
            warnings.push(
                Diagnostic::warning(
                    "ca_file is ignored",
                    "proxmox.insecure = true turns certificate checks off, so proxmox.ca_file is not used",
                )
                .at(AttrPath::attr(Self::NAME).then_attr("ca_file")),
            );
        }
        Client::new(config).map(Some).map_err(|e| {
            let text = e.to_string();
            let attribute = if text.contains("ca_file") {
                "ca_file"
            } else {
                "endpoint"
            };
            cannot_set_up::<Self>(attribute, text)
        })
    }
}

// --------------------------------------------------------------- shared helpers

/// A Proxmox failure as a diagnostic. PVE's per-field errors (HTTP 400) are shown verbatim
/// and, when `field_path` knows the attribute a PVE parameter comes from, pointed at it.
pub fn error(
    summary: &str,
    e: &ProxmoxError,
    field_path: &dyn Fn(&str) -> Option<AttrPath>,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut pointed = false;
    if let ProxmoxError::Api { errors, .. } = e {
        for (field, message) in errors {
            if let Some(path) = field_path(field) {
                pointed = true;
                let top = path
                    .first_attr()
                    .map(AttrPath::attr)
                    .unwrap_or_else(|| path.clone());
                diags.push(
                    Diagnostic::error(
                        summary,
                        format!(
                            "Proxmox rejected {field} ({path}): {}\n\n{e}",
                            message.replace('\n', " ")
                        ),
                    )
                    .at(top),
                );
            }
        }
    }
    if !pointed {
        diags.push(Diagnostic::error(summary, e.to_string()));
    }
    diags
}

/// The `timeouts` block of Proxmox resources: `(operation, default)`.
pub fn timeouts(operations: Vec<(&'static str, Duration)>) -> Timeouts {
    Timeouts {
        description: "How long each operation may take, as durations (`30s`, `10m`, `1h30m`). \
             Waits for config locks, tasks and the guest agent all end within them, with an \
             error naming the timeout.",
        operations,
    }
}

/// The VMID a guest resource's state records (none before the guest exists).
pub fn vmid_of(value: &Value) -> Option<u32> {
    let vmid = value.get_attr("vm_id").and_then(Value::as_i64)?;
    u32::try_from(vmid).ok()
}

/// The node and VMID a guest resource's state records (none before the guest exists).
pub fn guest_location(value: &Value) -> Option<(&str, u32)> {
    Some((
        value.get_attr("node").and_then(Value::as_str)?,
        vmid_of(value)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::slot;
    use super::*;
    use std::collections::BTreeMap;

    fn block_value(fields: &[(&str, Value)]) -> Value {
        let mut all: BTreeMap<String, Value> = [
            "endpoint",
            "username",
            "password",
            "api_token",
            "insecure",
            "ca_file",
        ]
        .iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
        for (k, v) in fields {
            all.insert(k.to_string(), v.clone());
        }
        Value::object([(ProxmoxBlock::NAME, Value::Object(all))])
    }

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn bad_blocks_point_at_the_attribute() {
        let diags = slot::validate::<ProxmoxBlock>(&block_value(&[
            ("endpoint", s("http://127.0.0.2:8006/")),
            ("api_token", s("root@pam-x=y")),
        ]));
        let paths: Vec<String> = diags
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, vec!["proxmox.endpoint", "proxmox.api_token"]);
        assert!(
            !format!("{diags:?}").contains("=y"),
            "the token's secret is never shown"
        );
    }

    #[test]
    fn unknown_values_are_checked_once_known() {
        let diags = slot::validate::<ProxmoxBlock>(&block_value(&[
            ("endpoint", Value::unknown()),
            ("api_token", s("root@pam-x=y")),
        ]));
        let paths: Vec<String> = diags
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, vec!["proxmox.api_token"]);
    }

    #[tokio::test]
    async fn environment_fallbacks() {
        let env = |name: &str| match name {
            lab::proxmox::settings::ENV_ENDPOINT => Some("https://127.0.0.2:8006/".to_string()),
            lab::proxmox::settings::ENV_API_TOKEN => Some("root@pam!tf=abc".to_string()),
            _ => None,
        };
        let slot = ProxmoxSlot::default();
        let no_block = Value::object([(ProxmoxBlock::NAME, Value::Null)]);
        let diags = slot.configure_with_env(&no_block, &env).await;
        assert!(diags.is_empty(), "{diags:?}");
        assert!(slot.ready().is_some());
        let none = ProxmoxSlot::default();
        assert!(none
            .configure_with_env(&no_block, &|_| None)
            .await
            .is_empty());
        let e = none.client("homelab_proxmox_vm").unwrap_err();
        assert!(format!("{e:?}").contains("proxmox {"));
    }
}
