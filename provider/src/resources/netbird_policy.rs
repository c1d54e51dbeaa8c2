//! `homelab_netbird_policy`: a NetBird access policy with several rules. The capability
//! (checks, the API body, reading answers back in the declared order) is
//! `lab::netbird::policy`. Import by ID.

use lab::netbird::policy::{self, Policy};
use lab::netbird::{Client, NetbirdError};
use serde_json::Value as Json;

use super::netbird_object::{ApiObject, NetbirdObjectResource};
use crate::kit::{Definition, ErrorPaths};

pub const TYPE_NAME: &str = "homelab_netbird_policy";

pub type NetbirdPolicyResource = NetbirdObjectResource<Policy>;

#[tfplugin::async_trait]
impl ApiObject for Policy {
    const NOUN: &'static str = "policy";

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A NetBird access control policy: one or more rules, each letting source \
                 groups reach destination groups over a protocol and ports. Rules are matched \
                 by name and lists compared as sets, so the server's own ordering never shows \
                 as a change. Ports are for `tcp` and `udp` only. Import by ID; the server's \
                 answer leaves out of a rule the source groups an earlier rule of the policy \
                 already names, so after an import such a policy plans one in-place update \
                 that restores what the configuration says.",
            invalid: "Invalid NetBird policy",
            // Inside `rules = [{ ... }]`, the deepest place Terraform up to 1.14 can underline.
            errors: ErrorPaths::TopLevel,
            ..Definition::default()
        }
    }

    fn from_api(found: &Json, declared: Option<&Self>) -> Self {
        Policy::from_api(found, declared)
    }

    async fn create(client: &Client, args: &Self) -> Result<Json, NetbirdError> {
        policy::create(client, args).await
    }

    async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        policy::read(client, id).await
    }

    async fn update(
        client: &Client,
        id: &str,
        args: &Self,
        _before: Option<&Self>,
    ) -> Result<Json, NetbirdError> {
        policy::update(client, id, args).await
    }

    async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError> {
        policy::delete(client, id).await
    }
}
