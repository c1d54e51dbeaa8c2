//! NetBird: the mesh every lab host joins. `homelab_netbird_*` and
//! `tabiri.homelab.netbird_enroll`.
//!
//! - [`client`] (feature `async-http`): the management REST API, one shared read of each
//!   collection per run.
//! - [`group`], [`setup_key`], [`policy`], [`route`], [`peer`]: one file per API object:
//!   its arguments with `validate`, how the API's answer maps back to them (order and
//!   server-filled values never show as changes) and, with `async-http`, create, read,
//!   update and delete.
//! - [`settings`]: how to reach the management service: URL and token, with their environment
//!   fallbacks.
//! - [`agent`] (feature `host-api`): the `netbird` agent on a host: `status --json`, `up`
//!   with the setup key in a 0600 file (never in argv), `down`, `logout`.
//!
//! Facts of the server this follows: the setup key is shown in clear text only in the
//! create answer; only a key's `auto_groups` and `revoked` can change; a group's PUT
//! replaces its whole membership; policies take group IDs and answer group objects;
//! peers exist only once an agent enrolled.

#[cfg(feature = "host-api")]
pub mod agent;
#[cfg(feature = "async-http")]
pub mod client;
pub mod group;
pub mod peer;
pub mod policy;
pub mod route;
pub mod settings;
pub mod setup_key;

#[cfg(feature = "async-http")]
pub use client::Client;
pub use settings::NetbirdSettings;

/// What the NetBird client and the capabilities over it report.
#[derive(Debug, thiserror::Error)]
pub enum NetbirdError {
    /// The API answered with an error: the server's own `message` and status.
    #[error("{method} {path}: HTTP {status}: {message}{}", attempts_note(*attempts))]
    Api {
        method: String,
        path: String,
        status: u16,
        message: String,
        attempts: u32,
    },
    /// No answer: connection refused or reset, timeout.
    #[error("{method} {url}{path}: {message}{}", attempts_note(*attempts))]
    Transport {
        method: String,
        url: String,
        path: String,
        message: String,
        attempts: u32,
    },
    /// An answer of an unexpected shape.
    #[error("{path}: unexpected answer: {message}")]
    Protocol { path: String, message: String },
    /// The client's own settings are unusable (URL, token).
    #[error("{0}")]
    Config(String),
    /// The desired state cannot be reached as asked (a group that does not exist, a key
    /// that cannot enrol).
    #[error("{0}")]
    Conflict(String),
    /// A wait ran out (or was stopped).
    #[error(transparent)]
    Timeout(#[from] crate::deadline::WaitEnded),
    /// Acting on the host failed (SSH, the agent's own error).
    #[error(transparent)]
    Host(#[from] crate::Error),
}

impl NetbirdError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, NetbirdError::Api { status: 404, .. })
    }

    /// The server's status, for an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            NetbirdError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// The `id` strings of a list of objects or of plain strings, as a set.
pub fn id_set(value: Option<&serde_json::Value>) -> std::collections::BTreeSet<String> {
    ids_of(value).into_iter().collect()
}

/// The `id` strings of a list of objects (`[{id, name}]`) or of plain strings.
pub fn ids_of(value: Option<&serde_json::Value>) -> Vec<String> {
    value
        .and_then(serde_json::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    serde_json::Value::String(id) => Some(id.clone()),
                    other => other.get("id").and_then(|v| v.as_str()).map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a management URL: `http(s)://host[:port]`, no path beyond `/`, no credentials.
pub fn check_management_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        format!("{url:?} is not a URL ({e}); expected e.g. \"https://api.netbird.io\"")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "{url:?}: the scheme must be https (or http for a management server on a trusted network)"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not carry credentials: the token goes in `token`".into());
    }
    if parsed.path() != "/" && !parsed.path().is_empty() {
        return Err(format!(
            "{url:?}: give the server's base URL without a path (the client adds /api/...)"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Checks a personal access token's shape without printing it: `nbp_` and 36 letters or
/// digits, as NetBird issues them.
pub fn check_token(token: &str) -> Result<(), String> {
    let Some(rest) = token.strip_prefix("nbp_") else {
        return Err(
            "a NetBird personal access token starts with \"nbp_\" (create one under Team > \
             Service Users or your user's Access Tokens)"
                .into(),
        );
    };
    if rest.len() != 36 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "a NetBird personal access token is \"nbp_\" and 36 letters or digits; this one has {} characters after the prefix",
            rest.len()
        ));
    }
    Ok(())
}

/// Whether two management URLs name the same service (`https://x` and `https://x:443/`).
pub fn same_management_url(a: &str, b: &str) -> bool {
    let key = |text: &str| {
        url::Url::parse(text).ok().map(|u| {
            (
                u.scheme().to_string(),
                u.host_str().unwrap_or("").to_ascii_lowercase(),
                u.port_or_known_default(),
            )
        })
    };
    match (key(a), key(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.trim_end_matches('/') == b.trim_end_matches('/'),
    }
}

/// A string field of an API object, empty when absent.
pub fn str_of<'a>(value: &'a serde_json::Value, name: &str) -> &'a str {
    value
        .get(name)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// A boolean field of an API object, false when absent.
pub fn bool_of(value: &serde_json::Value, name: &str) -> bool {
    value
        .get(name)
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_tokens() {
        assert_eq!(
            check_management_url("https://api.netbird.io/").unwrap(),
            "https://api.netbird.io"
        );
        assert!(check_management_url("ftp://x").is_err());
        assert!(check_management_url("https://x/api").is_err());
        assert!(check_management_url("https://u:p@x").is_err());
        assert!(check_token(&format!("nbp_{}", "a".repeat(36))).is_ok());
        let short = check_token("nbp_abc").unwrap_err();
        assert!(!short.contains("abc"), "the token is never shown: {short}");
        assert!(check_token("ghp_123").unwrap_err().contains("nbp_"));
    }
}
