//! The provider's `proxmox` block, the API client `configure` builds from it (nothing is
//! sent until a resource needs it), and what the Proxmox resources share: the error naming
//! the block when it is missing, Proxmox errors as diagnostics (PVE's per-field messages
//! pointed at the attribute they concern), the `timeouts` block's wording, and what guest
//! states record (VMID, node, values Proxmox fills).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use lab::proxmox::client::{check_api_token, check_endpoint, check_username};
use lab::proxmox::{Auth, Client, ClientConfig, ProxmoxError};
use lab::secret::Secret;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::schema::{Attribute, Block, NestedBlock};

use crate::kit::Timeouts;

/// The block's name in `provider "homelab" { ... }`.
pub const BLOCK: &str = "proxmox";

/// Environment fallbacks, named as bpg/proxmox names them.
pub const ENV_ENDPOINT: &str = "PROXMOX_VE_ENDPOINT";
pub const ENV_API_TOKEN: &str = "PROXMOX_VE_API_TOKEN";
pub const ENV_USERNAME: &str = "PROXMOX_VE_USERNAME";
pub const ENV_PASSWORD: &str = "PROXMOX_VE_PASSWORD";
pub const ENV_INSECURE: &str = "PROXMOX_VE_INSECURE";
pub const ENV_CA_FILE: &str = "PROXMOX_VE_CA_FILE";

enum Configured {
    Ready(Arc<Client>),
    /// The block (or environment) could not be used; the reason was reported.
    Failed(String),
    /// The block holds values unknown until apply.
    Unknown,
}

/// The Proxmox part of the provider's state: empty until `configure` finds a `proxmox`
/// block or `PROXMOX_VE_ENDPOINT`.
#[derive(Default)]
pub struct ProxmoxSlot(RwLock<Option<Configured>>);

pub use crate::derive::{args_from, unknowns_to_null};

/// The `proxmox` block's schema.
pub fn block() -> NestedBlock {
    let attribute =
        |name: &str, ty: Type, text: &str| Attribute::optional(name, ty).description(text);
    let block = Block::new(
        "Proxmox VE access for `homelab_proxmox_vm`, `homelab_proxmox_lxc` and \
         `homelab_proxmox_nodes`. Authenticate with `api_token`, or with `username` and \
         `password` (a ticket is fetched at the first request and again when it expires). \
         The server certificate is verified: against the system's CAs, against `ca_file`, \
         or not at all with `insecure = true`. Every attribute falls back to the \
         environment variable bpg/proxmox users know (`PROXMOX_VE_ENDPOINT`, \
         `PROXMOX_VE_API_TOKEN`, `PROXMOX_VE_USERNAME`, `PROXMOX_VE_PASSWORD`, \
         `PROXMOX_VE_INSECURE`, and `PROXMOX_VE_CA_FILE`). Nothing is sent to Proxmox \
         until a resource needs it.",
    )
    .attribute(attribute(
        "endpoint",
        Type::String,
        "The API's URL, `https://<host>:8006/`. Only `https` is accepted. Falls back to `PROXMOX_VE_ENDPOINT`.",
    ))
    .attribute(attribute(
        "username",
        Type::String,
        "A user with its realm, e.g. `root@pam` or `terraform@pve`. Falls back to `PROXMOX_VE_USERNAME`.",
    ))
    .attribute(
        attribute(
            "password",
            Type::String,
            "The user's password. Sensitive. Falls back to `PROXMOX_VE_PASSWORD`.",
        )
        .sensitive(),
    )
    .attribute(
        attribute(
            "api_token",
            Type::String,
            "An API token `user@realm!tokenid=secret`, instead of `username` and `password`. Sensitive. Falls back to `PROXMOX_VE_API_TOKEN`.",
        )
        .sensitive(),
    )
    .attribute(attribute(
        "insecure",
        Type::Bool,
        "Skip verifying the server's certificate (for a lab's self-signed certificate, prefer `ca_file`). Falls back to `PROXMOX_VE_INSECURE`.",
    ))
    .attribute(attribute(
        "ca_file",
        Type::String,
        "A PEM file with the certificate(s) to trust for the endpoint instead of the system's CAs, e.g. Proxmox's `/etc/pve/pve-root-ca.pem`. Falls back to `PROXMOX_VE_CA_FILE`.",
    ));
    NestedBlock::single(BLOCK, block)
}

fn at(name: &str) -> AttrPath {
    AttrPath::attr(BLOCK).then_attr(name)
}

fn invalid(name: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        "Invalid proxmox block",
        format!("proxmox.{name}: {}", message.into()),
    )
    .at(at(name))
}

fn string_attr<'a>(block: &'a Value, name: &str) -> Option<&'a str> {
    block.get_attr(name).and_then(Value::as_str)
}

/// Checks the block's known values (the rest are checked at configure).
pub fn validate(provider_config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(block) = provider_config.get_attr(BLOCK).filter(|b| !b.is_null()) else {
        return diags;
    };
    if let Some(endpoint) = string_attr(block, "endpoint") {
        if let Err(e) = check_endpoint(endpoint) {
            diags.push(invalid("endpoint", e));
        }
    }
    if let Some(token) = string_attr(block, "api_token") {
        if let Err(e) = check_api_token(token) {
            diags.push(invalid("api_token", e));
        }
    }
    if let Some(username) = string_attr(block, "username") {
        if let Err(e) = check_username(username) {
            diags.push(invalid("username", e));
        }
    }
    let set = |name: &str| block.get_attr(name).is_some_and(|v| !v.is_null());
    if set("api_token") && (set("username") || set("password")) {
        diags.push(invalid(
            "api_token",
            "set either api_token or username and password, not both",
        ));
    }
    if set("password") && block.get_attr("username").is_some_and(Value::is_null) {
        diags.push(invalid(
            "username",
            "password is set, so username is needed too (e.g. \"root@pam\")",
        ));
    }
    diags
}

/// The settings after the environment fallbacks, or an error naming the attribute.
fn settings(
    block: Option<&Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ClientConfig>, Diagnostic> {
    let from_block = |name: &str| block.and_then(|b| string_attr(b, name)).map(str::to_string);
    let endpoint = from_block("endpoint").or_else(|| env(ENV_ENDPOINT).filter(|e| !e.is_empty()));
    let Some(endpoint) = endpoint else {
        if block.is_some() {
            return Err(invalid(
                "endpoint",
                format!("no endpoint: set endpoint = \"https://<host>:8006/\" or {ENV_ENDPOINT}"),
            ));
        }
        return Ok(None);
    };
    check_endpoint(&endpoint).map_err(|e| invalid("endpoint", e))?;
    let block_token = from_block("api_token");
    let block_user = from_block("username");
    let auth = if let Some(token) = block_token {
        Auth::Token(Secret::new(token))
    } else if let Some(username) = block_user {
        let password = from_block("password")
            .or_else(|| env(ENV_PASSWORD))
            .ok_or_else(|| {
                invalid(
                    "password",
                    format!("username is set but no password (set password or {ENV_PASSWORD})"),
                )
            })?;
        Auth::Password {
            username,
            password: Secret::new(password),
        }
    } else if let Some(token) = env(ENV_API_TOKEN).filter(|t| !t.is_empty()) {
        check_api_token(&token)
            .map_err(|e| invalid("api_token", format!("{ENV_API_TOKEN}: {e}")))?;
        Auth::Token(Secret::new(token))
    } else if let Some(username) = env(ENV_USERNAME).filter(|u| !u.is_empty()) {
        let password = from_block("password")
            .or_else(|| env(ENV_PASSWORD))
            .ok_or_else(|| {
                invalid(
                    "password",
                    format!(
                        "{ENV_USERNAME} is set but no password (set password or {ENV_PASSWORD})"
                    ),
                )
            })?;
        check_username(&username)
            .map_err(|e| invalid("username", format!("{ENV_USERNAME}: {e}")))?;
        Auth::Password {
            username,
            password: Secret::new(password),
        }
    } else {
        return Err(invalid(
            "api_token",
            format!(
                "no credentials: set api_token (or {ENV_API_TOKEN}), or username and password (or {ENV_USERNAME} and {ENV_PASSWORD})"
            ),
        ));
    };
    let insecure = match block
        .and_then(|b| b.get_attr("insecure"))
        .and_then(Value::as_bool)
    {
        Some(v) => v,
        None => env(ENV_INSECURE)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
            .unwrap_or(false),
    };
    let ca_file = from_block("ca_file").or_else(|| env(ENV_CA_FILE).filter(|f| !f.is_empty()));
    let mut config = ClientConfig::new(endpoint, auth);
    config.insecure = insecure;
    config.ca_file = ca_file.map(Into::into);
    Ok(Some(config))
}

impl ProxmoxSlot {
    /// Builds the client from the `proxmox` block with the environment fallbacks. Without a
    /// block and without `PROXMOX_VE_ENDPOINT`, Proxmox is simply not configured.
    pub fn configure(&self, provider_config: &Value) -> Diagnostics {
        self.configure_with_env(provider_config, &|name| std::env::var(name).ok())
    }

    pub fn configure_with_env(
        &self,
        provider_config: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Diagnostics {
        let block = provider_config.get_attr(BLOCK).filter(|b| !b.is_null());
        if block.is_some_and(|b| !b.is_known()) {
            *self.0.write().expect("lock") = Some(Configured::Unknown);
            return Diagnostics::new();
        }
        let mut diags = validate(provider_config);
        if diags.has_errors() {
            *self.0.write().expect("lock") =
                Some(Configured::Failed("the proxmox block is invalid".into()));
            return diags;
        }
        let config = match settings(block, env) {
            Ok(Some(config)) => config,
            Ok(None) => {
                *self.0.write().expect("lock") = None;
                return diags;
            }
            Err(diag) => {
                *self.0.write().expect("lock") = Some(Configured::Failed(diag.detail.clone()));
                diags.push(diag);
                return diags;
            }
        };
        if config.insecure && config.ca_file.is_some() {
            diags.push(
                Diagnostic::warning(
                    "ca_file is ignored",
                    "proxmox.insecure = true turns certificate checks off, so proxmox.ca_file is not used",
                )
                .at(at("ca_file")),
            );
        }
        match Client::new(config) {
            Ok(client) => {
                *self.0.write().expect("lock") = Some(Configured::Ready(Arc::new(client)));
            }
            Err(e) => {
                let text = e.to_string();
                let attribute = if text.contains("ca_file") {
                    "ca_file"
                } else {
                    "endpoint"
                };
                *self.0.write().expect("lock") = Some(Configured::Failed(text.clone()));
                diags.push(
                    Diagnostic::error("Cannot set up Proxmox access", text).at(at(attribute)),
                );
            }
        }
        diags
    }

    /// The client, when the block is usable (for optional plan-time checks).
    pub fn ready(&self) -> Option<Arc<Client>> {
        match &*self.0.read().expect("lock") {
            Some(Configured::Ready(client)) => Some(client.clone()),
            _ => None,
        }
    }

    /// Whether the block's values are still unknown (plan before their sources exist).
    pub fn unknown(&self) -> bool {
        matches!(&*self.0.read().expect("lock"), Some(Configured::Unknown))
    }

    /// The client, or an error naming the `proxmox` block for `type_name`.
    pub fn client(&self, type_name: &str) -> Result<Arc<Client>, Diagnostics> {
        match &*self.0.read().expect("lock") {
            Some(Configured::Ready(client)) => Ok(client.clone()),
            Some(Configured::Failed(reason)) => Err(Diagnostic::error(
                "Proxmox is not configured",
                format!("{type_name} needs the provider's `proxmox` block, which could not be used: {reason}"),
            )
            .into()),
            Some(Configured::Unknown) => Err(Diagnostic::error(
                "Proxmox is not configured",
                format!(
                    "{type_name} needs the provider's `proxmox` block, whose values are not known yet; set them from variables or constants"
                ),
            )
            .into()),
            None => Err(Diagnostic::error(
                "Proxmox is not configured",
                format!(
                    "{type_name} needs Proxmox access: add a `proxmox` block to the provider (or set {ENV_ENDPOINT} and credentials), e.g.\n\n  \
                     provider \"homelab\" {{\n    proxmox {{\n      endpoint  = \"https://pve.lab:8006/\"\n      api_token = var.pve_token\n    }}\n  }}"
                ),
            )
            .into()),
        }
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

/// On update, puts back the prior value of everything the plan left unknown that the
/// configuration leaves out (attributes Proxmox fills, MAC addresses inside `network`):
/// Terraform's proposed state does not carry prior values into nested attributes, and a
/// value Proxmox chose once (even "none") stays what it is until something changes it.
pub fn keep_prior_unknowns(planned: &mut Value, prior: &Value, config: &Value) {
    if planned.is_unknown() {
        if config.is_null() && prior.is_known() {
            *planned = prior.clone();
        }
        return;
    }
    match planned {
        Value::Object(fields) => {
            for (k, v) in fields.iter_mut() {
                let before = prior.get_attr(k).unwrap_or(&Value::Null);
                let given = config.get_attr(k).unwrap_or(&Value::Null);
                keep_prior_unknowns(v, before, given);
            }
        }
        Value::List(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                let before = prior.index(i).unwrap_or(&Value::Null);
                let given = config.index(i).unwrap_or(&Value::Null);
                if !before.is_null() {
                    keep_prior_unknowns(v, before, given);
                }
            }
        }
        _ => {}
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
        Value::object([(BLOCK, Value::Object(all))])
    }

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn bad_blocks_point_at_the_attribute() {
        let diags = validate(&block_value(&[
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
    fn environment_fallbacks() {
        let env = |name: &str| match name {
            ENV_ENDPOINT => Some("https://127.0.0.2:8006/".to_string()),
            ENV_API_TOKEN => Some("root@pam!tf=abc".to_string()),
            _ => None,
        };
        let slot = ProxmoxSlot::default();
        let diags = slot.configure_with_env(&Value::object([(BLOCK, Value::Null)]), &env);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(slot.ready().is_some());
        let none = ProxmoxSlot::default();
        assert!(none
            .configure_with_env(&Value::object([(BLOCK, Value::Null)]), &|_| None)
            .is_empty());
        let e = none.client("homelab_proxmox_vm").unwrap_err();
        assert!(format!("{e:?}").contains("proxmox"));
    }
}
