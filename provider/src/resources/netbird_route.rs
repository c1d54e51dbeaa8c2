//! `homelab_netbird_route`: a network outside the mesh (the Proxmox LAN) routed through a
//! peer or a group of peers. The capability is `lab::netbird::route`. Import by ID.

use lab::netbird::route::Route;

use super::netbird_object::{plain_api_object, NetbirdObjectResource};
use crate::kit::Definition;

pub const TYPE_NAME: &str = "homelab_netbird_route";

pub type NetbirdRouteResource = NetbirdObjectResource<Route>;

plain_api_object!(
    Route,
    route,
    "route",
    Definition {
        type_name: TYPE_NAME,
        description: "A NetBird network route: a network outside the mesh (e.g. the Proxmox \
             LAN) reached through a routing peer (`peer`) or every peer of some groups \
             (`peer_groups`), for the peers of the distribution `groups`. Import by ID.",
        invalid: "Invalid NetBird route",
        ..Definition::default()
    }
);
