//! How to reach a Proxmox VE cluster, as a user writes it,
//! and the client settings that follow once the environment fallbacks are applied.
//!
//! Every field is optional because each falls back to an environment variable, named as
//! the Proxmox tools users come from name them; what is checked here is what can be
//! checked without sending anything.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::client::{check_api_token, check_endpoint, check_username, Auth, ClientConfig};
use crate::secret::Secret;
use crate::validation::FieldError;
use crate::validation::Validate;

/// Environment fallbacks, one per field.
pub const ENV_ENDPOINT: &str = "PROXMOX_VE_ENDPOINT";
pub const ENV_API_TOKEN: &str = "PROXMOX_VE_API_TOKEN";
pub const ENV_USERNAME: &str = "PROXMOX_VE_USERNAME";
pub const ENV_PASSWORD: &str = "PROXMOX_VE_PASSWORD";
pub const ENV_INSECURE: &str = "PROXMOX_VE_INSECURE";
pub const ENV_CA_FILE: &str = "PROXMOX_VE_CA_FILE";

/// Proxmox VE access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxmoxSettings {
    /// The API's URL, `https://<host>:8006/`. Only `https` is accepted. Falls back to `PROXMOX_VE_ENDPOINT`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A user with its realm, e.g. `root@pam` or `terraform@pve`. Falls back to `PROXMOX_VE_USERNAME`.
    #[serde(default)]
    pub username: Option<String>,
    /// The user's password. Sensitive. Falls back to `PROXMOX_VE_PASSWORD`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// An API token `user@realm!tokenid=secret`, instead of `username` and `password`. Sensitive. Falls back to `PROXMOX_VE_API_TOKEN`.
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// Skip verifying the server's certificate (for a lab's self-signed certificate, prefer `ca_file`). Falls back to `PROXMOX_VE_INSECURE`.
    #[serde(default)]
    pub insecure: Option<bool>,
    /// A PEM file with the certificate(s) to trust for the endpoint instead of the system's CAs, e.g. Proxmox's `/etc/pve/pve-root-ca.pem`. Falls back to `PROXMOX_VE_CA_FILE`.
    #[serde(default)]
    pub ca_file: Option<String>,
}

impl ProxmoxSettings {
    /// The client settings from these values and the environment fallbacks, `None` when
    /// neither names an endpoint (Proxmox is then simply not configured). `written` says
    /// whether the user wrote a block at all: a block without an endpoint is an error.
    pub fn client_config(
        &self,
        written: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<ClientConfig>, FieldError> {
        let nonempty = |name: &str| env(name).filter(|v| !v.is_empty());
        let Some(endpoint) = self.endpoint.clone().or_else(|| nonempty(ENV_ENDPOINT)) else {
            if written {
                return Err(FieldError::field(
                    "endpoint",
                    format!(
                        "no endpoint: set endpoint = \"https://<host>:8006/\" or {ENV_ENDPOINT}"
                    ),
                ));
            }
            return Ok(None);
        };
        check_endpoint(&endpoint).map_err(|e| FieldError::field("endpoint", e))?;
        let password = |missing: String| {
            self.password
                .clone()
                .or_else(|| env(ENV_PASSWORD).map(Secret::new))
                .ok_or_else(|| FieldError::field("password", missing))
        };
        let auth = if let Some(token) = &self.api_token {
            Auth::Token(token.clone())
        } else if let Some(username) = &self.username {
            Auth::Password {
                username: username.clone(),
                password: password(format!(
                    "username is set but no password (set password or {ENV_PASSWORD})"
                ))?,
            }
        } else if let Some(token) = nonempty(ENV_API_TOKEN) {
            check_api_token(&token)
                .map_err(|e| FieldError::field("api_token", format!("{ENV_API_TOKEN}: {e}")))?;
            Auth::Token(Secret::new(token))
        } else if let Some(username) = nonempty(ENV_USERNAME) {
            let password = password(format!(
                "{ENV_USERNAME} is set but no password (set password or {ENV_PASSWORD})"
            ))?;
            check_username(&username)
                .map_err(|e| FieldError::field("username", format!("{ENV_USERNAME}: {e}")))?;
            Auth::Password { username, password }
        } else {
            return Err(FieldError::field(
                "api_token",
                format!(
                    "no credentials: set api_token (or {ENV_API_TOKEN}), or username and password (or {ENV_USERNAME} and {ENV_PASSWORD})"
                ),
            ));
        };
        let insecure = self.insecure.unwrap_or_else(|| {
            env(ENV_INSECURE).is_some_and(|v| {
                matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes")
            })
        });
        let mut config = ClientConfig::new(endpoint, auth);
        config.insecure = insecure;
        config.ca_file = self
            .ca_file
            .clone()
            .or_else(|| nonempty(ENV_CA_FILE))
            .map(Into::into);
        Ok(Some(config))
    }
}

impl Validate for ProxmoxSettings {
    /// What the written values get wrong (the environment is not consulted).
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(Err(e)) = self.endpoint.as_deref().map(check_endpoint) {
            errors.push(FieldError::field("endpoint", e));
        }
        if let Some(Err(e)) = self.api_token.as_ref().map(|t| check_api_token(t.expose())) {
            errors.push(FieldError::field("api_token", e));
        }
        if let Some(Err(e)) = self.username.as_deref().map(check_username) {
            errors.push(FieldError::field("username", e));
        }
        if self.api_token.is_some() && (self.username.is_some() || self.password.is_some()) {
            errors.push(FieldError::field(
                "api_token",
                "set either api_token or username and password, not both",
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            errors.push(FieldError::field(
                "username",
                "password is set, so username is needed too (e.g. \"root@pam\")",
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_are_checked_without_showing_secrets() {
        let settings = ProxmoxSettings {
            endpoint: Some("http://127.0.0.2:8006/".into()),
            api_token: Some(Secret::new("root@pam-x=y")),
            ..ProxmoxSettings::default()
        };
        let errors = settings.validate();
        let paths: Vec<String> = errors.iter().map(FieldError::path_string).collect();
        assert_eq!(paths, ["endpoint", "api_token"]);
        assert!(!format!("{errors:?}").contains("=y"));
    }

    #[test]
    fn environment_fills_what_the_block_leaves_out() {
        let env = |name: &str| match name {
            ENV_ENDPOINT => Some("https://127.0.0.2:8006/".to_string()),
            ENV_API_TOKEN => Some("root@pam!tf=abc".to_string()),
            _ => None,
        };
        let config = ProxmoxSettings::default()
            .client_config(false, &env)
            .unwrap()
            .expect("configured from the environment");
        assert!(matches!(config.auth, Auth::Token(_)));
        assert_eq!(
            ProxmoxSettings::default()
                .client_config(false, &|_| None)
                .unwrap()
                .map(|c| c.endpoint),
            None
        );
        let missing = ProxmoxSettings::default()
            .client_config(true, &|_| None)
            .unwrap_err();
        assert_eq!(missing.path_string(), "endpoint");
    }
}
