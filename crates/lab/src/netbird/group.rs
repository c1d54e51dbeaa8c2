//! NetBird groups (`homelab_netbird_group`): a name and, optionally, peers declared here.
//!
//! Membership has two writers: a group's own `peers` and each `homelab_netbird_peer`'s
//! `groups`. The API's PUT replaces the whole membership, so every change reads the group
//! first and adds or removes only what this writer owns; members added elsewhere stay.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::validation::FieldError;
use crate::validation::Validate;

/// The group every peer is in; the server keeps it and refuses changes to it.
pub const ALL: &str = "All";

/// A NetBird group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name, unique in the account (e.g. `dmz`, `private`).
    pub name: String,
    /// Peer IDs this group holds because they are declared here. Peers that join from
    /// their own side (`homelab_netbird_peer.groups`, setup key `auto_groups`) are kept
    /// and never removed by this list.
    #[serde(default)]
    pub peers: Option<BTreeSet<String>>,
}

impl Group {
    /// What the group looks like in the terms of the declaration: the declared peers that
    /// are members (a missing one shows as a change; members from elsewhere do not).
    pub fn from_api(group: &Json, declared: Option<&Group>) -> Group {
        let members = super::id_set(group.get("peers"));
        let peers = declared
            .and_then(|d| d.peers.as_ref())
            .map(|wanted| wanted.intersection(&members).cloned().collect());
        Group {
            name: super::str_of(group, "name").to_string(),
            peers,
        }
    }
}

impl Validate for Group {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push(FieldError::field("name", "must not be empty"));
        } else if name != self.name {
            errors.push(FieldError::field(
                "name",
                "must not start or end with spaces",
            ));
        } else if name == ALL {
            errors.push(FieldError::field(
                "name",
                "\"All\" is NetBird's own group of every peer and cannot be managed; read it with data.homelab_netbird_group",
            ));
        }
        if let Some(peers) = &self.peers {
            if peers.iter().any(|p| p.trim().is_empty()) {
                errors.push(FieldError::field(
                    "peers",
                    "an empty string is not a peer ID",
                ));
            }
        }
        errors
    }
}

/// Every member's ID, sorted.
pub fn members(group: &Json) -> Vec<String> {
    let mut members = super::ids_of(group.get("peers"));
    members.sort();
    members
}

/// The membership after a change by one writer: what the server holds, less what this
/// writer dropped, plus what it wants. Order-stable and without duplicates.
pub fn merged_members(current: &[String], dropped: &[String], wanted: &[String]) -> Vec<String> {
    let mut merged: Vec<String> = current
        .iter()
        .filter(|p| !dropped.contains(p) || wanted.contains(p))
        .cloned()
        .collect();
    for peer in wanted {
        if !merged.contains(peer) {
            merged.push(peer.clone());
        }
    }
    merged.sort();
    merged.dedup();
    merged
}

#[cfg(feature = "async-http")]
mod api {
    use serde_json::{json, Value as Json};

    use super::{members, merged_members, Group};
    use crate::netbird::client::{Client, Collection, Method};
    use crate::netbird::NetbirdError;

    /// The body of a PUT: the name, the members, and the resources the group already has
    /// (the PUT replaces those too).
    fn body(name: &str, peers: &[String], current: Option<&Json>) -> Json {
        let resources: Vec<Json> = current
            .and_then(|g| g.get("resources"))
            .and_then(Json::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|r| {
                        Some(
                            json!({"id": r.get("id")?.as_str()?, "type": r.get("type")?.as_str()?}),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({"name": name, "peers": peers, "resources": resources})
    }

    pub async fn create(client: &Client, group: &Group) -> Result<Json, NetbirdError> {
        let peers: Vec<String> = group.peers.iter().flatten().cloned().collect();
        client
            .write(
                Method::Post,
                Collection::Groups,
                Collection::Groups.path(),
                Some(&body(&group.name, &peers, None)),
            )
            .await
    }

    /// The group with this ID from the shared list; `None` when it is gone.
    pub async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        client.find(Collection::Groups, id).await
    }

    /// A group by ID or by name (for import and the data source).
    pub async fn lookup(client: &Client, id_or_name: &str) -> Result<Option<Json>, NetbirdError> {
        let list = client.list(Collection::Groups).await?;
        Ok(list
            .iter()
            .find(|g| super::super::str_of(g, "id") == id_or_name)
            .or_else(|| {
                list.iter()
                    .find(|g| super::super::str_of(g, "name") == id_or_name)
            })
            .cloned())
    }

    /// Renames and sets the declared members, keeping members added elsewhere;
    /// `before` is the previous declaration (its peers no longer declared are removed).
    pub async fn update(
        client: &Client,
        id: &str,
        group: &Group,
        before: Option<&Group>,
    ) -> Result<Json, NetbirdError> {
        let lock = client.group_lock(id);
        let _turn = lock.lock().await;
        let path = format!("/api/groups/{id}");
        let current = client.get(&path).await?;
        let dropped: Vec<String> = before
            .and_then(|b| b.peers.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !group.peers.iter().flatten().any(|w| w == p))
            .collect();
        let wanted: Vec<String> = group.peers.iter().flatten().cloned().collect();
        let peers = merged_members(&members(&current), &dropped, &wanted);
        client
            .write(
                Method::Put,
                Collection::Groups,
                &path,
                Some(&body(&group.name, &peers, Some(&current))),
            )
            .await
    }

    /// Adds `peer` to or removes it from a group, leaving every other member alone.
    /// Returns false when the group does not exist.
    pub async fn set_member(
        client: &Client,
        group_id: &str,
        peer: &str,
        member: bool,
    ) -> Result<bool, NetbirdError> {
        let lock = client.group_lock(group_id);
        let _turn = lock.lock().await;
        let path = format!("/api/groups/{group_id}");
        let current = match client.get(&path).await {
            Ok(current) => current,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        };
        let now = members(&current);
        if now.iter().any(|p| p == peer) == member {
            return Ok(true);
        }
        let single = [peer.to_string()];
        let peers = if member {
            merged_members(&now, &[], &single)
        } else {
            merged_members(&now, &single, &[])
        };
        let name = super::super::str_of(&current, "name").to_string();
        client
            .write(
                Method::Put,
                Collection::Groups,
                &path,
                Some(&body(&name, &peers, Some(&current))),
            )
            .await?;
        Ok(true)
    }

    /// Deletes the group; one already gone is fine. A group a policy, route or setup key
    /// still uses is refused by the server, whose message says which.
    pub async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        client.remove(Collection::Groups, id).await
    }
}

#[cfg(feature = "async-http")]
pub use api::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_from_elsewhere_survive() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merged_members(&s(&["a", "x"]), &s(&["a"]), &s(&["b"])),
            s(&["b", "x"])
        );
        assert_eq!(
            merged_members(&s(&["a"]), &s(&["a"]), &s(&["a"])),
            s(&["a"])
        );
    }

    #[test]
    fn declared_members_only() {
        let api = serde_json::json!({"id": "g1", "name": "dmz", "peers": [{"id": "p1", "name": "a"}, {"id": "p9", "name": "z"}]});
        let declared = Group {
            name: "dmz".into(),
            peers: Some(["p1".to_string(), "p2".to_string()].into()),
        };
        let seen = Group::from_api(&api, Some(&declared));
        assert_eq!(seen.peers, Some(["p1".to_string()].into()));
        assert_eq!(Group::from_api(&api, None).peers, None);
        assert!(!Group {
            name: "All".into(),
            peers: None
        }
        .validate()
        .is_empty());
    }
}
