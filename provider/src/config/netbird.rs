//! The provider's `netbird` block, the management API client `configure` builds from it
//! (nothing is sent until a resource needs it), and what the NetBird resources share: the
//! error naming the block when it is missing, and NetBird errors as diagnostics.

use lab::netbird::{Client, NetbirdError, NetbirdSettings};
use lab::validation::FieldError;
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};

use super::slot::{invalid, Env, ProviderBlock, Slot};

/// The `netbird` block: read into `lab::netbird::NetbirdSettings`, connected to the
/// management API client.
pub struct NetbirdBlock;

/// The NetBird part of the provider's state.
pub type NetbirdSlot = Slot<NetbirdBlock>;

#[tfplugin::async_trait]
impl ProviderBlock for NetbirdBlock {
    type Settings = NetbirdSettings;
    type Client = Client;
    const NAME: &'static str = "netbird";
    const PRODUCT: &'static str = "NetBird";
    const DESCRIPTION: &'static str =
        "NetBird management API access for `homelab_netbird_*`: the URL of the management \
         service and a personal access token (`nbp_...`, of a service user for automation). \
         Falls back to `NB_MANAGEMENT_URL` and `NB_PAT`. Nothing is sent until a resource \
         needs it.";
    const SENSITIVE: &'static [&'static str] = &["token"];
    const EXAMPLE: &'static str = "  provider \"homelab\" {\n    netbird {\n      management_url = \"https://api.netbird.io\"\n      token          = var.netbird_token\n    }\n  }\n\n(or set NB_MANAGEMENT_URL and NB_PAT)";

    /// The client, from the block or `NB_MANAGEMENT_URL` and `NB_PAT` alone.
    async fn connect(
        settings: NetbirdSettings,
        written: bool,
        env: Env<'_>,
        _warnings: &mut Diagnostics,
    ) -> Result<Option<Client>, Diagnostics> {
        let Some((url, token)) = settings
            .resolve(written, env)
            .map_err(|e| invalid::<Self>(&[e]))?
        else {
            return Ok(None);
        };
        Client::new(&url, token).map(Some).map_err(|e| {
            let text = e.to_string();
            let attribute = if text.contains("token") {
                "token"
            } else {
                "management_url"
            };
            invalid::<Self>(&[FieldError::field(attribute, text)])
        })
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

/// The `id` a state records.
pub fn id_of(state: &Value) -> Option<&str> {
    state
        .get_attr("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::slot;
    use super::*;
    use lab::netbird::settings::{ENV_TOKEN, ENV_URL};

    fn config(url: Option<&str>, token: Option<&str>) -> Value {
        let s = |v: Option<&str>| v.map(|t| Value::String(t.into())).unwrap_or(Value::Null);
        Value::object([(
            NetbirdBlock::NAME,
            Value::object([("management_url", s(url)), ("token", s(token))]),
        )])
    }

    #[tokio::test]
    async fn bad_tokens_are_named_never_shown() {
        let diags = slot::validate::<NetbirdBlock>(&config(
            Some("https://nb.lab"),
            Some("ghp_secretvalue"),
        ));
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
        let no_block = Value::object([(NetbirdBlock::NAME, Value::Null)]);
        assert!(slot.configure_with_env(&no_block, &env).await.is_empty());
        assert!(slot.ready().is_some());
        let none = NetbirdSlot::default();
        none.configure_with_env(&no_block, &|_| None).await;
        assert!(
            format!("{:?}", none.client("homelab_netbird_group").unwrap_err())
                .contains("netbird {")
        );
    }
}
