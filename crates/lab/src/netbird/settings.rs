//! How to reach a NetBird management service, as a user writes it, with the environment
//! fallbacks NetBird's own tools read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{check_management_url, check_token};
use crate::secret::Secret;
use crate::validation::FieldError;
use crate::validation::Validate;

/// Environment fallbacks, as NetBird's own tools name them.
pub const ENV_URL: &str = "NB_MANAGEMENT_URL";
pub const ENV_TOKEN: &str = "NB_PAT";

/// NetBird management API access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetbirdSettings {
    /// The management service's base URL, e.g. `https://api.netbird.io` or your own
    /// `https://netbird.lab:443`. Agents enrolled by `homelab_netbird_peer` connect here too
    /// unless the peer says otherwise. Falls back to `NB_MANAGEMENT_URL`.
    #[serde(default)]
    pub management_url: Option<String>,
    /// A personal access token, `nbp_...`. Sensitive. Falls back to `NB_PAT`.
    #[serde(default)]
    pub token: Option<Secret>,
}

impl NetbirdSettings {
    /// The URL and token from these values and the environment, `None` when neither names
    /// a management URL (NetBird is then simply not configured). `written` says whether
    /// the user wrote a block at all: a block without a URL is an error.
    pub fn resolve(
        &self,
        written: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<(String, Secret)>, FieldError> {
        let nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
        let Some(url) = self.management_url.clone().or_else(|| nonempty(ENV_URL)) else {
            if written {
                return Err(FieldError::field(
                    "management_url",
                    format!("no management URL: set management_url or {ENV_URL}"),
                ));
            }
            return Ok(None);
        };
        let token = self
            .token
            .clone()
            .or_else(|| nonempty(ENV_TOKEN).map(Secret::new))
            .ok_or_else(|| {
                FieldError::field("token", format!("no token: set token or {ENV_TOKEN}"))
            })?;
        Ok(Some((url, token)))
    }
}

impl Validate for NetbirdSettings {
    /// What the written values get wrong (the environment is not consulted).
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(Err(e)) = self.management_url.as_deref().map(check_management_url) {
            errors.push(FieldError::field("management_url", e));
        }
        if let Some(Err(e)) = self.token.as_ref().map(|t| check_token(t.expose())) {
            errors.push(FieldError::field("token", e));
        }
        errors
    }
}
