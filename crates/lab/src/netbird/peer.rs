//! NetBird peers (`homelab_netbird_peer`): a host enrolled from its own side.
//!
//! NetBird creates a peer only when an agent logs in with a setup key, so enrolling is
//! done on the host: `netbird up` there (see [`super::agent`]), then a bounded wait until
//! the peer shows in the API. The peer is matched by the mesh IP the agent itself reports
//! (hostnames are not unique: cloned VMs share one), then named, and put in its groups.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::secret::Secret;
use crate::validation::FieldError;
use crate::validation::Validate;

/// A host enrolled in the mesh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// The setup key to enrol with (e.g. `homelab_netbird_setup_key.private.key`). Without
    /// one, a one-off key is made for this enrolment and deleted right after.
    #[serde(default)]
    pub setup_key: Option<Secret>,
    /// The peer's name in NetBird (its DNS label follows it).
    pub name: String,
    /// Group IDs the peer is in. Groups it joined otherwise (`All`, the key's
    /// `auto_groups`) are left alone.
    #[serde(default)]
    pub groups: BTreeSet<String>,
    /// Whether the agent's SSH server may be used.
    #[serde(default)]
    pub ssh_enabled: bool,
    /// Whether the peer's login expires (needing a new login now and then).
    #[serde(default)]
    pub login_expiration_enabled: bool,
    /// The management URL the agent connects to. Defaults to the provider's
    /// `netbird.management_url`. Reads back as what the agent is connected to, empty when
    /// it is not connected: an agent logged out, down or pointed elsewhere plans an update.
    #[serde(default)]
    pub management_url: Option<String>,
}

impl Peer {
    /// The peer as the API answers it, in the terms of the declaration: `groups` holds
    /// the declared groups the peer is in (a missing one shows as a change, others do
    /// not), `management_url` what the agent says (`agent_url`).
    pub fn from_api(peer: &Json, declared: &Peer, agent_url: String) -> Peer {
        let member_of = super::id_set(peer.get("groups"));
        Peer {
            setup_key: declared.setup_key.clone(),
            name: super::str_of(peer, "name").to_string(),
            groups: declared.groups.intersection(&member_of).cloned().collect(),
            ssh_enabled: super::bool_of(peer, "ssh_enabled"),
            login_expiration_enabled: super::bool_of(peer, "login_expiration_enabled"),
            // The declared spelling when the agent names the same service
            // (`https://x` and `https://x:443`), so only a real difference shows.
            management_url: Some(match &declared.management_url {
                Some(url) if super::same_management_url(&agent_url, url) => url.clone(),
                _ => agent_url,
            }),
        }
    }
}

impl Validate for Peer {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(FieldError::field("name", "must not be empty"));
        }
        if let Some(url) = &self.management_url {
            if let Err(e) = super::check_management_url(url) {
                errors.push(FieldError::field("management_url", e));
            }
        }
        if self.groups.iter().any(|g| g.trim().is_empty()) {
            errors.push(FieldError::field(
                "groups",
                "an empty string is not a group ID",
            ));
        }
        errors
    }
}

/// The computed values a state records: ID, mesh IP, FQDN, connected.
pub fn outputs(peer: &Json) -> Vec<(&'static str, Json)> {
    vec![
        ("id", Json::from(super::str_of(peer, "id"))),
        ("ip", Json::from(super::str_of(peer, "ip"))),
        ("fqdn", Json::from(super::str_of(peer, "dns_label"))),
        ("hostname", Json::from(super::str_of(peer, "hostname"))),
        ("connected", Json::from(super::bool_of(peer, "connected"))),
    ]
}

#[cfg(all(feature = "async-http", feature = "host-api"))]
mod api {
    use std::time::Duration;

    use serde_json::{json, Value as Json};

    use super::Peer;
    use crate::deadline::{Backoff, Deadline, Poll};
    use crate::host::Host;
    use crate::netbird::agent::{self, Enrolment, Status};
    use crate::netbird::client::{Client, Collection, Method};
    use crate::netbird::{group, setup_key, str_of, NetbirdError};
    use crate::secret::Secret;

    /// The peer with this ID from the shared list; `None` when it is gone.
    pub async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        client.find(Collection::Peers, id).await
    }

    /// The peer whose mesh IP is `ip`, read now.
    pub async fn find_by_ip(client: &Client, ip: &str) -> Result<Option<Json>, NetbirdError> {
        let peers = client.list_fresh(Collection::Peers).await?;
        Ok(peers.into_iter().find(|p| str_of(p, "ip") == ip))
    }

    /// Waits, within `deadline`, until the peer the agent reports shows in the API.
    async fn wait_for(
        client: &Client,
        status: &Status,
        deadline: &Deadline,
    ) -> Result<Json, NetbirdError> {
        let what = format!(
            "the peer with mesh IP {} to show in the NetBird API",
            status.ip
        );
        deadline
            .poll(
                &what,
                Backoff::new(Duration::from_millis(200), Duration::from_secs(3)),
                || async {
                    Ok::<_, NetbirdError>(match find_by_ip(client, &status.ip).await? {
                        Some(peer) => Poll::Done(peer),
                        None => Poll::Pending("no peer with that IP yet".to_string()),
                    })
                },
            )
            .await
    }

    /// Sets name, SSH and login expiration (the API's PUT takes all of them).
    pub async fn configure(
        client: &Client,
        id: &str,
        peer: &Peer,
        current: &Json,
    ) -> Result<Json, NetbirdError> {
        let body = json!({
            "name": peer.name,
            "ssh_enabled": peer.ssh_enabled,
            "login_expiration_enabled": peer.login_expiration_enabled,
            "inactivity_expiration_enabled": crate::netbird::bool_of(current, "inactivity_expiration_enabled"),
        });
        client
            .write(
                Method::Put,
                Collection::Peers,
                &format!("/api/peers/{id}"),
                Some(&body),
            )
            .await
    }

    /// Puts the peer in `wanted` groups and takes it out of `dropped` ones.
    pub async fn set_groups(
        client: &Client,
        id: &str,
        wanted: &[String],
        dropped: &[String],
    ) -> Result<(), NetbirdError> {
        for group_id in wanted {
            if !group::set_member(client, group_id, id, true).await? {
                return Err(NetbirdError::Conflict(format!(
                    "group {group_id} does not exist (groups takes group IDs, e.g. homelab_netbird_group.private.id)"
                )));
            }
        }
        for group_id in dropped.iter().filter(|g| !wanted.contains(g)) {
            group::set_member(client, group_id, id, false).await?;
        }
        Ok(())
    }

    /// What an enrolment ended with.
    pub struct Enrolled {
        pub peer: Json,
        /// Whether the agent had to be brought up.
        pub changed: bool,
    }

    /// Enrols the agent on `host` with `url` and waits for its peer in the API. Without a
    /// key in `peer`, a one-off key is made and deleted afterwards, whatever happened.
    /// When the peer never shows, the agent is taken off the mesh again, so nothing is
    /// left enrolled.
    pub async fn enrol(
        client: &Client,
        host: &dyn Host,
        url: &str,
        peer: &Peer,
        deadline: &Deadline,
    ) -> Result<Enrolled, NetbirdError> {
        // Adopted as it is: no key is made (or spent) for an agent enrolled already.
        let before = agent::status(host).await?;
        if before.connected_to(url) {
            let found = wait_for(client, &before, deadline).await?;
            return Ok(Enrolled {
                peer: found,
                changed: false,
            });
        }
        let mut made_key = None;
        let key = match &peer.setup_key {
            Some(key) => key.clone(),
            None => {
                let created =
                    setup_key::create_single_use(client, &format!("enrol {}", peer.name)).await?;
                made_key = Some(str_of(&created, "id").to_string());
                Secret::new(str_of(&created, "key"))
            }
        };
        let result = enrol_with(client, host, url, &key, deadline).await;
        if let Some(id) = made_key {
            setup_key::delete(client, &id).await?;
        }
        result
    }

    async fn enrol_with(
        client: &Client,
        host: &dyn Host,
        url: &str,
        key: &Secret,
        deadline: &Deadline,
    ) -> Result<Enrolled, NetbirdError> {
        let enrolment = agent::enrol(host, url, Some(key), None).await?;
        let changed = matches!(enrolment, Enrolment::Enrolled(_));
        match wait_for(client, enrolment.status(), deadline).await {
            Ok(peer) => Ok(Enrolled { peer, changed }),
            Err(e) => {
                if changed {
                    // Not left half enrolled: an agent whose peer the API never showed
                    // holds no identity afterwards.
                    if let Err(cleanup) = agent::leave(host).await {
                        tracing::warn!(
                            "taking the agent off the mesh after a failed enrolment: {cleanup}"
                        );
                    }
                }
                Err(e)
            }
        }
    }

    /// Takes the host off the mesh and deletes its peer; a peer already gone is fine.
    pub async fn remove(client: &Client, host: &dyn Host, id: &str) -> Result<(), NetbirdError> {
        agent::leave(host).await?;
        delete(client, id).await
    }

    pub async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        client.remove(Collection::Peers, id).await
    }
}

#[cfg(all(feature = "async-http", feature = "host-api"))]
pub use api::*;
