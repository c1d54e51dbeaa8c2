//! NetBird setup keys (`homelab_netbird_setup_key`): what a host enrols with.
//!
//! The server shows a key in clear text once, in the answer to its creation; every later
//! read shows it masked. So the key is kept from that answer and never read again. Only
//! `auto_groups` and `revoked` can change on an existing key (a revoked key cannot be
//! un-revoked); everything else replaces it. A one-off key is usable once whatever
//! `usage_limit` says, so a larger limit is refused rather than silently ignored.

use std::collections::BTreeSet;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::validation::FieldError;
use crate::validation::Validate;

/// The API's bounds on `expires_in` (one day to one year).
pub const MIN_EXPIRES_IN: Duration = Duration::from_secs(86_400);
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(31_536_000);
pub const TYPES: &[&str] = &["one-off", "reusable"];

/// A NetBird setup key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupKey {
    /// The key's name, as the dashboard lists it.
    pub name: String,
    /// `one-off` (one enrolment) or `reusable`.
    #[serde(rename = "type")]
    pub key_type: String,
    /// How many enrolments the key allows; 0 is unlimited (reusable keys only). A one-off
    /// key allows one.
    #[serde(default)]
    pub usage_limit: i64,
    /// Peers enrolled with the key are removed once they have been offline for a while.
    #[serde(default)]
    pub ephemeral: bool,
    /// Group IDs every peer enrolled with this key joins.
    #[serde(default)]
    pub auto_groups: BTreeSet<String>,
    /// How long the key is valid from its creation, as a duration (`24h` to `8760h`).
    #[serde(default = "default_expires_in")]
    pub expires_in: String,
    /// Revoke the key: no further enrolments (peers already enrolled stay). A revoked key
    /// cannot be brought back; setting this to false again replaces the key.
    #[serde(default)]
    pub revoked: bool,
    /// Plan a replacement when the key expires sooner than this (e.g. `168h`), so hosts
    /// always have a usable key.
    #[serde(default)]
    pub rotate_before: Option<String>,
}

fn default_expires_in() -> String {
    "720h".into()
}

impl SetupKey {
    /// `expires_in` in seconds, for the API (after `validate`).
    pub fn expires_in_seconds(&self) -> u64 {
        crate::duration::parse(&self.expires_in)
            .map(|d| d.as_secs())
            .unwrap_or(MIN_EXPIRES_IN.as_secs())
    }

    /// The key as the API answers it, in the terms of the declaration: what the server
    /// cannot tell (the duration asked for, `rotate_before`) and `auto_groups` in the
    /// declared order are the declaration's.
    pub fn from_api(key: &Json, declared: &SetupKey) -> SetupKey {
        use super::{bool_of, str_of};
        let auto_groups = super::id_set(key.get("auto_groups"));
        SetupKey {
            name: str_of(key, "name").to_string(),
            key_type: str_of(key, "type").to_string(),
            usage_limit: match key.get("usage_limit").and_then(Json::as_i64) {
                // The server makes every one-off key's limit 1; 0 and 1 both ask for that.
                Some(1) if declared.key_type == "one-off" && declared.usage_limit <= 1 => {
                    declared.usage_limit
                }
                other => other.unwrap_or_default(),
            },
            ephemeral: bool_of(key, "ephemeral"),
            auto_groups,
            expires_in: declared.expires_in.clone(),
            revoked: bool_of(key, "revoked"),
            rotate_before: declared.rotate_before.clone(),
        }
    }
}

impl Validate for SetupKey {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(FieldError::field("name", "must not be empty"));
        }
        if !TYPES.contains(&self.key_type.as_str()) {
            errors.push(FieldError::field(
                "type",
                format!(
                    "must be \"one-off\" or \"reusable\", not {:?}",
                    self.key_type
                ),
            ));
        }
        if self.usage_limit < 0 {
            errors.push(FieldError::field(
                "usage_limit",
                "must be 0 (unlimited) or more",
            ));
        } else if self.key_type == "one-off" && self.usage_limit > 1 {
            errors.push(FieldError::field(
                "usage_limit",
                format!(
                    "a one-off key enrols exactly one peer; usage_limit = {} needs type = \"reusable\"",
                    self.usage_limit
                ),
            ));
        }
        let expires = match crate::duration::parse(&self.expires_in) {
            Ok(d) if !(MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&d) => {
                errors.push(FieldError::field(
                    "expires_in",
                    format!(
                        "{} is outside what NetBird accepts: from 24h (1 day) to 8760h (365 days)",
                        self.expires_in
                    ),
                ));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(FieldError::field("expires_in", e));
                None
            }
        };
        if let Some(rotate) = &self.rotate_before {
            match crate::duration::parse(rotate) {
                Ok(r) if expires.is_some_and(|e| r >= e) => errors.push(FieldError::field(
                    "rotate_before",
                    format!(
                        "{rotate} is not shorter than expires_in ({}): every plan would replace the key",
                        self.expires_in
                    ),
                )),
                Ok(_) => {}
                Err(e) => errors.push(FieldError::field("rotate_before", e)),
            }
        }
        if self.auto_groups.iter().any(|g| g.trim().is_empty()) {
            errors.push(FieldError::field(
                "auto_groups",
                "an empty string is not a group ID",
            ));
        }
        errors
    }
}

/// Why a key needs replacing now, if it does: expired, used up, or expiring within
/// `rotate_before`. `expires` is the API's RFC 3339 time, `now` seconds since the epoch.
pub fn replacement_reason(key: &Json, rotate_before: Option<&str>, now: i64) -> Option<String> {
    let state = super::str_of(key, "state");
    if state == "expired" {
        return Some("the key has expired".into());
    }
    if state == "overused" {
        return Some("the key's usage limit is used up".into());
    }
    let expires = parse_time(super::str_of(key, "expires"))?;
    let rotate = crate::duration::parse(rotate_before?).ok()?;
    let left = expires - now;
    (left < rotate.as_secs() as i64).then(|| {
        format!(
            "the key expires in {} (rotate_before = {})",
            crate::duration::format(Duration::from_secs(left.max(0) as u64)),
            rotate_before.unwrap_or_default()
        )
    })
}

/// Seconds since the epoch of an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<i64> {
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(parsed.unix_timestamp())
}

#[cfg(feature = "async-http")]
mod api {
    use serde_json::{json, Value as Json};

    use super::SetupKey;
    use crate::netbird::client::{Client, Collection, Method};
    use crate::netbird::NetbirdError;

    /// Creates the key; the answer holds the key in clear text, the only time it is shown.
    pub async fn create(client: &Client, key: &SetupKey) -> Result<Json, NetbirdError> {
        let usage_limit = if key.key_type == "one-off" {
            1
        } else {
            key.usage_limit
        };
        let body = json!({
            "name": key.name,
            "type": key.key_type,
            "expires_in": key.expires_in_seconds(),
            "auto_groups": key.auto_groups,
            "usage_limit": usage_limit,
            "ephemeral": key.ephemeral,
        });
        let created = client
            .write(
                Method::Post,
                Collection::SetupKeys,
                Collection::SetupKeys.path(),
                Some(&body),
            )
            .await?;
        if key.revoked {
            let id = super::super::str_of(&created, "id").to_string();
            update(client, &id, key).await?;
        }
        Ok(created)
    }

    pub async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        client.find(Collection::SetupKeys, id).await
    }

    /// Sets what the API can change: `auto_groups` and `revoked`.
    pub async fn update(client: &Client, id: &str, key: &SetupKey) -> Result<Json, NetbirdError> {
        let body = json!({"auto_groups": key.auto_groups, "revoked": key.revoked});
        client
            .write(
                Method::Put,
                Collection::SetupKeys,
                &format!("/api/setup-keys/{id}"),
                Some(&body),
            )
            .await
    }

    pub async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        client.remove(Collection::SetupKeys, id).await
    }

    /// A one-off key with no groups, valid for a day, for one enrolment: what a peer
    /// without a `setup_key` enrols with (and deletes afterwards).
    pub async fn create_single_use(client: &Client, name: &str) -> Result<Json, NetbirdError> {
        let key = SetupKey {
            name: name.to_string(),
            key_type: "one-off".into(),
            usage_limit: 1,
            ephemeral: false,
            auto_groups: Default::default(),
            expires_in: "24h".into(),
            revoked: false,
            rotate_before: None,
        };
        create(client, &key).await
    }
}

#[cfg(feature = "async-http")]
pub use api::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SetupKey {
        SetupKey {
            name: "private-hosts".into(),
            key_type: "reusable".into(),
            usage_limit: 0,
            ephemeral: false,
            auto_groups: BTreeSet::new(),
            expires_in: "720h".into(),
            revoked: false,
            rotate_before: Some("168h".into()),
        }
    }

    #[test]
    fn bad_values_are_named() {
        let mut k = key();
        k.key_type = "one-off".into();
        k.usage_limit = 5;
        k.expires_in = "1h".into();
        let fields: Vec<String> = k.validate().iter().map(|e| e.path_string()).collect();
        assert_eq!(fields, vec!["usage_limit", "expires_in"]);
        let mut k = key();
        k.rotate_before = Some("800h".into());
        assert_eq!(k.validate()[0].path_string(), "rotate_before");
        assert!(key().validate().is_empty());
    }

    #[test]
    fn rotation() {
        let now = parse_time("2026-12-01T00:00:00Z").unwrap();
        let valid = serde_json::json!({"state": "valid", "expires": "2026-12-05T00:00:00Z"});
        assert!(replacement_reason(&valid, Some("168h"), now)
            .unwrap()
            .contains("rotate_before"));
        assert_eq!(replacement_reason(&valid, Some("48h"), now), None);
        assert_eq!(replacement_reason(&valid, None, now), None);
        let expired = serde_json::json!({"state": "expired", "expires": "2026-11-05T00:00:00Z"});
        assert!(replacement_reason(&expired, None, now).is_some());
    }
}
