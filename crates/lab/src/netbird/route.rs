//! NetBird network routes (`homelab_netbird_route`): a network outside the mesh (the
//! Proxmox LAN, say) reached through a routing peer or a group of routing peers, for the
//! peers of the distribution groups.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::validation::FieldError;
use crate::validation::Validate;

/// A NetBird network route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The route's identifier (1 to 40 characters), as the dashboard shows it.
    pub network_id: String,
    /// What the network is, as the dashboard shows it.
    #[serde(default)]
    pub description: String,
    /// The network, in CIDR notation (`192.168.10.0/24`).
    pub network: String,
    /// The routing peer's ID. Set this or `peer_groups`.
    #[serde(default)]
    pub peer: Option<String>,
    /// Group IDs whose peers all route the network (high availability). Set this or `peer`.
    #[serde(default)]
    pub peer_groups: Option<BTreeSet<String>>,
    /// Distribution group IDs: the peers that get the route.
    pub groups: BTreeSet<String>,
    /// Masquerade traffic to the network behind the routing peer's own address.
    #[serde(default = "crate::defaults::yes")]
    pub masquerade: bool,
    /// Route priority, 1 (highest) to 9999.
    #[serde(default = "default_metric")]
    pub metric: i64,
    /// Whether the route is in force.
    #[serde(default = "crate::defaults::yes")]
    pub enabled: bool,
    /// Keep the route in the peers' tables when the network becomes unreachable.
    #[serde(default)]
    pub keep_route: bool,
}

fn default_metric() -> i64 {
    9999
}

/// Checks CIDR notation: an address and a prefix length that fits it.
fn check_cidr(text: &str) -> Result<(), String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not in CIDR notation (e.g. \"192.168.10.0/24\")"))?;
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IP address"))?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(p) if p <= bits => Ok(()),
        _ => Err(format!(
            "/{prefix} is not a prefix length for {address} (0 to {bits})"
        )),
    }
}

impl Route {
    /// The API's request body (`RouteRequest`).
    pub fn to_api(&self) -> Json {
        let mut body = json!({
            "network_id": self.network_id,
            "description": self.description,
            "network": self.network,
            "enabled": self.enabled,
            "masquerade": self.masquerade,
            "metric": self.metric,
            "groups": self.groups,
            "keep_route": self.keep_route,
        });
        if let Some(peer) = &self.peer {
            body["peer"] = json!(peer);
        }
        if let Some(groups) = self.peer_groups.as_ref().filter(|g| !g.is_empty()) {
            body["peer_groups"] = json!(groups);
        }
        body
    }

    /// The route as the API answers it, lists in the declared order.
    pub fn from_api(route: &Json, declared: Option<&Route>) -> Route {
        use super::{bool_of, id_set, str_of};
        let peer = Some(str_of(route, "peer"))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let peer_groups = id_set(route.get("peer_groups"));
        // Unset and empty are the same to the server.
        let peer_groups = match (
            peer_groups.is_empty(),
            declared.and_then(|d| d.peer_groups.as_ref()),
        ) {
            (true, Some(d)) if d.is_empty() => Some(BTreeSet::new()),
            (true, _) => None,
            (false, _) => Some(peer_groups),
        };
        Route {
            network_id: str_of(route, "network_id").to_string(),
            description: str_of(route, "description").to_string(),
            network: str_of(route, "network").to_string(),
            peer,
            peer_groups,
            groups: id_set(route.get("groups")),
            masquerade: bool_of(route, "masquerade"),
            metric: route
                .get("metric")
                .and_then(Json::as_i64)
                .unwrap_or_default(),
            enabled: bool_of(route, "enabled"),
            keep_route: bool_of(route, "keep_route"),
        }
    }
}

impl Validate for Route {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let id_len = self.network_id.chars().count();
        if !(1..=40).contains(&id_len) {
            errors.push(FieldError::field(
                "network_id",
                "must be 1 to 40 characters",
            ));
        }
        if let Err(e) = check_cidr(&self.network) {
            errors.push(FieldError::field("network", e));
        }
        let groups_given = self.peer_groups.as_ref().is_some_and(|g| !g.is_empty());
        match (&self.peer, groups_given) {
            (Some(_), true) => errors.push(FieldError::field(
                "peer_groups",
                "set either peer or peer_groups, not both",
            )),
            (None, false) => errors.push(FieldError::field(
                "peer",
                "a route needs a routing peer: set peer (a peer ID) or peer_groups",
            )),
            _ => {}
        }
        if self.groups.is_empty() {
            errors.push(FieldError::field(
                "groups",
                "needs at least one distribution group ID (the peers that get the route)",
            ));
        }
        if !(1..=9999).contains(&self.metric) {
            errors.push(FieldError::field(
                "metric",
                format!("{} is outside 1 to 9999", self.metric),
            ));
        }
        errors
    }
}

#[cfg(feature = "async-http")]
mod api {
    use serde_json::Value as Json;

    use super::Route;
    use crate::netbird::client::{Client, Collection};
    use crate::netbird::NetbirdError;

    pub async fn create(client: &Client, object: &Route) -> Result<Json, NetbirdError> {
        client.create(Collection::Routes, &object.to_api()).await
    }

    pub async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        client.find(Collection::Routes, id).await
    }

    pub async fn update(client: &Client, id: &str, object: &Route) -> Result<Json, NetbirdError> {
        client
            .replace(Collection::Routes, id, &object.to_api())
            .await
    }

    pub async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        client.remove(Collection::Routes, id).await
    }
}

#[cfg(feature = "async-http")]
pub use api::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        let route = Route {
            network_id: "proxmox-lan".into(),
            description: String::new(),
            network: "192.168.10.0/33".into(),
            peer: None,
            peer_groups: None,
            groups: BTreeSet::new(),
            masquerade: true,
            metric: 0,
            enabled: true,
            keep_route: false,
        };
        let paths: Vec<String> = route
            .validate()
            .iter()
            .map(FieldError::path_string)
            .collect();
        assert_eq!(paths, vec!["network", "peer", "groups", "metric"]);
    }
}
