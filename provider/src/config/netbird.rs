//! The provider's `netbird` block, the management API client `configure` builds from it
//! (nothing is sent until a resource needs it), and what the NetBird resources share: the
//! error naming the block when it is missing, and NetBird errors as diagnostics.

use lab::netbird::{check_management_url, check_token, Client, NetbirdError};
use lab::secret::Secret;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::schema::{Attribute, Block, NestedBlock};

use super::slot::{Need, Slot};

/// The block's name in `provider "homelab" { ... }`.
pub const BLOCK: &str = "netbird";
/// Environment fallbacks, as NetBird's own tools name them.
pub const ENV_URL: &str = "NB_MANAGEMENT_URL";
pub const ENV_TOKEN: &str = "NB_PAT";

const NEED: Need = Need {
    product: "NetBird",
    block: BLOCK,
    example: "  provider \"homelab\" {\n    netbird {\n      management_url = \"https://api.netbird.io\"\n      token          = var.netbird_token\n    }\n  }\n\n(or set NB_MANAGEMENT_URL and NB_PAT)",
};

/// The NetBird part of the provider's state.
pub type NetbirdSlot = Slot<Client>;

pub fn block() -> NestedBlock {
    let block = Block::new(
        "NetBird management API access for `homelab_netbird_*`: the URL of the management \
         service and a personal access token (`nbp_...`, of a service user for automation). \
         Falls back to `NB_MANAGEMENT_URL` and `NB_PAT`. Nothing is sent until a resource \
         needs it.",
    )
    .attribute(
        Attribute::optional("management_url", Type::String).description(
            "The management service's base URL, e.g. `https://api.netbird.io` or your own \
             `https://netbird.lab:443`. Agents enrolled by `homelab_netbird_peer` connect \
             here too unless the peer says otherwise. Falls back to `NB_MANAGEMENT_URL`.",
        ),
    )
    .attribute(
        Attribute::optional("token", Type::String)
            .description("A personal access token, `nbp_...`. Sensitive. Falls back to `NB_PAT`.")
            .sensitive(),
    );
    NestedBlock::single(BLOCK, block)
}

fn invalid(name: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        "Invalid netbird block",
        format!("netbird.{name}: {}", message.into()),
    )
    .at(AttrPath::attr(BLOCK).then_attr(name))
}

fn block_of(provider_config: &Value) -> Option<&Value> {
    provider_config.get_attr(BLOCK).filter(|b| !b.is_null())
}

/// Checks the block's known values at validate time.
pub fn validate(provider_config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(block) = block_of(provider_config) else {
        return diags;
    };
    if let Some(url) = block.get_attr("management_url").and_then(Value::as_str) {
        if let Err(e) = check_management_url(url) {
            diags.push(invalid("management_url", e));
        }
    }
    if let Some(token) = block.get_attr("token").and_then(Value::as_str) {
        if let Err(e) = check_token(token) {
            diags.push(invalid("token", e));
        }
    }
    diags
}

impl Slot<Client> {
    /// Builds the client from the `netbird` block with the environment fallbacks. Without
    /// a block and without `NB_MANAGEMENT_URL`, NetBird is simply not configured.
    pub fn configure(&self, provider_config: &Value) -> Diagnostics {
        self.configure_with_env(provider_config, &|name| std::env::var(name).ok())
    }

    pub fn configure_with_env(
        &self,
        provider_config: &Value,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Diagnostics {
        let block = block_of(provider_config);
        if block.is_some_and(|b| !b.is_known()) {
            self.set_unknown();
            return Diagnostics::new();
        }
        let mut diags = validate(provider_config);
        if diags.has_errors() {
            self.set_failed("the netbird block is invalid");
            return diags;
        }
        let from_block = |name: &str| {
            block
                .and_then(|b| b.get_attr(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
        let Some(url) = from_block("management_url").or_else(|| nonempty(ENV_URL)) else {
            if block.is_some() {
                let diag = invalid(
                    "management_url",
                    format!("no management URL: set management_url or {ENV_URL}"),
                );
                self.set_failed(diag.detail.clone());
                diags.push(diag);
            } else {
                self.clear();
            }
            return diags;
        };
        let Some(token) = from_block("token").or_else(|| nonempty(ENV_TOKEN)) else {
            let diag = invalid("token", format!("no token: set token or {ENV_TOKEN}"));
            self.set_failed(diag.detail.clone());
            diags.push(diag);
            return diags;
        };
        match Client::new(&url, Secret::new(token)) {
            Ok(client) => self.set_ready(client),
            Err(e) => {
                let text = e.to_string();
                let attribute = if text.contains("token") {
                    "token"
                } else {
                    "management_url"
                };
                self.set_failed(text.clone());
                diags.push(invalid(attribute, text));
            }
        }
        diags
    }

    /// The client, or an error naming the `netbird` block for `type_name`.
    pub fn client(&self, type_name: &str) -> Result<std::sync::Arc<Client>, Diagnostics> {
        self.get(type_name, &NEED)
    }
}

/// A NetBird failure as a diagnostic: the summary says what was being done, the detail
/// carries the server's own message.
pub fn error(summary: &str, e: NetbirdError) -> Diagnostics {
    let mut detail = e.to_string();
    match e.status() {
        Some(401) => detail.push_str(
            "\n\nThe token was refused: check netbird.token (or NB_PAT) and that it has not expired.",
        ),
        Some(403) => detail.push_str("\n\nThe token's user may not do this: use an admin service user's token."),
        _ => {}
    }
    Diagnostic::error(summary, detail).into()
}

/// The client for a NetBird resource or data source (the kit has checked the block at
/// plan; this names it again if it went missing since).
pub fn client_for(kit: &crate::kit::Kit) -> Result<std::sync::Arc<Client>, Diagnostics> {
    kit.provider.netbird.client(kit.definition.type_name)
}

/// The `id` a state records.
pub fn id_of(state: &Value) -> Option<&str> {
    state
        .get_attr("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: Option<&str>, token: Option<&str>) -> Value {
        let s = |v: Option<&str>| v.map(|t| Value::String(t.into())).unwrap_or(Value::Null);
        Value::object([(
            BLOCK,
            Value::object([("management_url", s(url)), ("token", s(token))]),
        )])
    }

    #[test]
    fn bad_tokens_are_named_never_shown() {
        let diags = validate(&config(Some("https://nb.lab"), Some("ghp_secretvalue")));
        let text = format!("{diags:?}");
        assert!(
            text.contains("netbird.token") && !text.contains("secretvalue"),
            "{text}"
        );
        let slot = NetbirdSlot::default();
        let env = |name: &str| match name {
            ENV_URL => Some("https://nb.lab".to_string()),
            ENV_TOKEN => Some(format!("nbp_{}", "x".repeat(36))),
            _ => None,
        };
        assert!(slot
            .configure_with_env(&Value::object([(BLOCK, Value::Null)]), &env)
            .is_empty());
        assert!(slot.ready().is_some());
        let none = NetbirdSlot::default();
        none.configure_with_env(&Value::object([(BLOCK, Value::Null)]), &|_| None);
        assert!(
            format!("{:?}", none.client("homelab_netbird_group").unwrap_err())
                .contains("netbird {")
        );
    }
}
