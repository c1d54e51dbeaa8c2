//! `homelab_netbird_group`: a NetBird group. The capability (membership merged with what
//! peers add from their side) is `lab::netbird::group`. Import by ID or by name.

use lab::netbird::group::{self, Group};
use lab::netbird::{Client, NetbirdError};
use serde_json::Value as Json;

use super::netbird_object::{ApiObject, NetbirdObjectResource};
use crate::kit::Definition;

pub const TYPE_NAME: &str = "homelab_netbird_group";

pub type NetbirdGroupResource = NetbirdObjectResource<Group>;

#[tfplugin::async_trait]
impl ApiObject for Group {
    const NOUN: &'static str = "group";

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A NetBird group: the unit policies, routes and setup keys speak of (a \
                 lab's zones: public, DMZ, private, management). Members come from `peers` \
                 here and from each `homelab_netbird_peer`'s `groups`; each writer adds and \
                 removes only its own, so neither clobbers the other. Import by ID or by name.",
            invalid: "Invalid NetBird group",
            ..Definition::default()
        }
    }

    fn from_api(found: &Json, declared: Option<&Self>) -> Self {
        Group::from_api(found, declared)
    }

    async fn create(client: &Client, args: &Self) -> Result<Json, NetbirdError> {
        group::create(client, args).await
    }

    async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        group::read(client, id).await
    }

    async fn lookup(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        group::lookup(client, id).await
    }

    async fn update(
        client: &Client,
        id: &str,
        args: &Self,
        before: Option<&Self>,
    ) -> Result<Json, NetbirdError> {
        group::update(client, id, args, before).await
    }

    async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        group::delete(client, id).await
    }
}
