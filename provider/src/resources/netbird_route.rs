//! `homelab_netbird_route`: a network outside the mesh (the Proxmox LAN) routed through a
//! peer or a group of peers. The capability is `lab::netbird::route`. Import by ID.

use lab::netbird::route::{self, Route};
use lab::netbird::{Client, NetbirdError};
use serde_json::Value as Json;

use super::netbird_object::{ApiObject, NetbirdObjectResource};
use crate::kit::Definition;

pub const TYPE_NAME: &str = "homelab_netbird_route";

pub type NetbirdRouteResource = NetbirdObjectResource<Route>;

#[tfplugin::async_trait]
impl ApiObject for Route {
    const NOUN: &'static str = "route";

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A NetBird network route: a network outside the mesh (e.g. the Proxmox \
                 LAN) reached through a routing peer (`peer`) or every peer of some groups \
                 (`peer_groups`), for the peers of the distribution `groups`. Import by ID.",
            invalid: "Invalid NetBird route",
            ..Definition::default()
        }
    }

    fn from_api(found: &Json, declared: Option<&Self>) -> Self {
        Route::from_api(found, declared)
    }

    async fn create(client: &Client, args: &Self) -> Result<Json, NetbirdError> {
        route::create(client, args).await
    }

    async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        route::read(client, id).await
    }

    async fn update(
        client: &Client,
        id: &str,
        args: &Self,
        _before: Option<&Self>,
    ) -> Result<Json, NetbirdError> {
        route::update(client, id, args).await
    }

    async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        route::delete(client, id).await
    }
}
