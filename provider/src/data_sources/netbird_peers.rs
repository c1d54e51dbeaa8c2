//! `homelab_netbird_peers`: the account's peers, filtered by name, group and connection.
//! One request (the shared peer list), whatever the number of peers.

use lab::netbird::client::Collection;
use lab::netbird::{bool_of, ids_of, str_of};
use lab::validation::FieldError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::schema::Attribute;

use crate::config::netbird::error;
use crate::kit::{Backend, Definition, Kit, ManagedDataSource};

pub const TYPE_NAME: &str = "homelab_netbird_peers";

pub struct NetbirdPeersDataSource;

/// Which peers to list; every filter given must match.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerFilter {
    /// Peers whose name contains this text.
    #[serde(default)]
    pub name: Option<String>,
    /// Peers in the group with this ID.
    #[serde(default)]
    pub group: Option<String>,
    /// Only connected (true) or only disconnected (false) peers.
    #[serde(default)]
    pub connected: Option<bool>,
}

fn matches(peer: &Json, filter: &PeerFilter) -> bool {
    filter
        .name
        .as_ref()
        .is_none_or(|n| str_of(peer, "name").contains(n.as_str()))
        && filter
            .group
            .as_ref()
            .is_none_or(|g| ids_of(peer.get("groups")).contains(g))
        && filter
            .connected
            .is_none_or(|c| bool_of(peer, "connected") == c)
}

#[tfplugin::async_trait]
impl ManagedDataSource for NetbirdPeersDataSource {
    type Args = PeerFilter;

    fn definition() -> Definition {
        let peer = Type::Object(
            [
                ("id", Type::String),
                ("name", Type::String),
                ("ip", Type::String),
                ("fqdn", Type::String),
                ("hostname", Type::String),
                ("connected", Type::Bool),
                ("groups", Type::List(Box::new(Type::String))),
            ]
            .into_iter()
            .map(|(k, t)| (k.to_string(), t))
            .collect(),
        );
        Definition {
            type_name: TYPE_NAME,
            description: "The NetBird account's peers, filtered by name (substring), group ID \
                 and connection, sorted by name. Read with one request.",
            invalid: "Invalid NetBird peer filter",
            outputs: vec![
                Attribute::computed("ids", Type::List(Box::new(Type::String)))
                    .description("The matching peers' IDs, in the order of `peers`."),
                Attribute::computed("peers", Type::List(Box::new(peer))).description(
                    "The matching peers: `id`, `name`, `ip` (mesh), `fqdn`, `hostname`, \
                     `connected` and `groups` (IDs).",
                ),
            ],
            backend: Backend::Netbird,
            ..Definition::default()
        }
    }

    fn check(_: &PeerFilter) -> Vec<FieldError> {
        Vec::new()
    }

    async fn read(
        &self,
        filter: PeerFilter,
        _config: &Value,
        kit: &Kit,
    ) -> Result<Value, Diagnostics> {
        let client = kit.netbird()?;
        let listed = client
            .list(Collection::Peers)
            .await
            .map_err(|e| error("Cannot list the NetBird peers", e))?;
        let mut peers: Vec<Json> = listed
            .iter()
            .filter(|p| matches(p, &filter))
            .map(|p| {
                let mut groups = ids_of(p.get("groups"));
                groups.sort();
                json!({
                    "id": str_of(p, "id"), "name": str_of(p, "name"), "ip": str_of(p, "ip"),
                    "fqdn": str_of(p, "dns_label"), "hostname": str_of(p, "hostname"),
                    "connected": bool_of(p, "connected"), "groups": groups,
                })
            })
            .collect();
        peers.sort_by(|a, b| str_of(a, "name").cmp(str_of(b, "name")));
        let ids: Vec<&str> = peers.iter().map(|p| str_of(p, "id")).collect();
        kit.state(
            &filter,
            &[("ids", json!(ids)), ("peers", json!(peers))],
            &Value::Null,
        )
    }
}
