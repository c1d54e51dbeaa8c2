//! `homelab_netbird_peer`: enrols a host in the mesh from Terraform. The capability
//! (the agent on the host, the bounded wait for the peer, group membership) is
//! `lab::netbird::peer` and `lab::netbird::agent`; this file maps Terraform values to it.
//!
//! Drift has two sides: the peer in the API (deleted: planned again, so the host
//! re-enrols) and the agent on the host (logged out, down or pointed at another
//! management URL: `management_url` reads back as what the agent is connected to, so the
//! plan shows an update that enrols it again).

use std::time::Duration;

use lab::netbird::agent;
use lab::netbird::peer::{self, Peer};
use lab::netbird::{str_of, Client, NetbirdError};
use serde_json::Value as Json;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use crate::config::netbird::{error, id_of};
use crate::host;
use crate::kit::{
    Applied, Backend, Current, Definition, Failure, Kit, ManagedResource, Op, Timeouts,
};

pub const TYPE_NAME: &str = "homelab_netbird_peer";

pub struct NetbirdPeerResource;

/// The URL the agent is to use: the peer's own, else the provider's.
fn management_url(peer: &Peer, client: &Client) -> String {
    peer.management_url
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| client.url().to_string())
}

fn state_from(kit: &Kit, peer: &Peer, api: &Json, keep: &Value) -> Result<Value, Diagnostics> {
    kit.state(peer, &peer::outputs(api), keep)
}

fn failed(doing: &str, e: NetbirdError) -> Diagnostics {
    error(&format!("Cannot {doing} the NetBird peer"), e)
}

/// Names the peer, sets SSH and login expiration, and puts it in its groups; then the
/// peer as the API has it.
async fn configure(
    client: &Client,
    id: &str,
    peer: &Peer,
    current: &Json,
    dropped_groups: &[String],
) -> Result<Json, NetbirdError> {
    let differs = str_of(current, "name") != peer.name
        || lab::netbird::bool_of(current, "ssh_enabled") != peer.ssh_enabled
        || lab::netbird::bool_of(current, "login_expiration_enabled")
            != peer.login_expiration_enabled;
    if differs {
        peer::configure(client, id, peer, current).await?;
    }
    let wanted: Vec<String> = peer.groups.iter().cloned().collect();
    peer::set_groups(client, id, &wanted, dropped_groups).await?;
    client.get(&format!("/api/peers/{id}")).await
}

impl NetbirdPeerResource {
    /// Enrols (or adopts the agent's enrolment) and configures the peer. `replaces` is a
    /// peer ID of this host's earlier enrolment, deleted once a new one exists.
    async fn converge(
        &self,
        op: &Op<'_, Peer>,
        replaces: Option<&str>,
    ) -> Result<Applied, Failure> {
        let client = op.kit.netbird()?;
        let on = op.host().host.as_ref();
        let url = management_url(&op.args, &client);
        let mut wanted = op.args.clone();
        wanted.management_url = Some(url.clone());
        let enrolled = peer::enrol(&client, on, &url, &wanted, &op.deadline)
            .await
            .map_err(|e| failed("enrol", e))?;
        let id = str_of(&enrolled.peer, "id").to_string();
        let prior_groups: std::collections::BTreeSet<String> = op
            .kit
            .args::<Peer>(op.prior)
            .map(|p| p.groups)
            .unwrap_or_default();
        let dropped: Vec<String> = prior_groups
            .into_iter()
            .filter(|g| !wanted.groups.contains(g))
            .collect();
        let kept = |diagnostics: Diagnostics| {
            let outputs: Vec<(&str, Value)> = peer::outputs(&enrolled.peer)
                .into_iter()
                .map(|(k, v)| {
                    let value = match v {
                        Json::Bool(b) => Value::Bool(b),
                        Json::String(s) => Value::String(s),
                        _ => Value::Null,
                    };
                    (k, value)
                })
                .collect();
            Failure::Kept {
                state: op.fallback_state(&outputs),
                diagnostics,
            }
        };
        if let Some(old) = replaces.filter(|old| *old != id) {
            if let Err(e) = peer::delete(&client, old).await {
                return Err(kept(failed("delete the earlier enrolment of", e)));
            }
        }
        let now = configure(&client, &id, &wanted, &enrolled.peer, &dropped)
            .await
            .map_err(|e| kept(failed("configure", e)))?;
        Ok(state_from(op.kit, &wanted, &now, op.planned)?.into())
    }
}

#[tfplugin::async_trait]
impl ManagedResource for NetbirdPeerResource {
    type Args = Peer;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "A host enrolled in the NetBird mesh. Over `host` (SSH), the installed \
                 agent is brought up with the setup key in its environment (never on a command \
                 line), the peer is awaited in the API (bounded by `timeouts.create`) and matched \
                 by the mesh IP the agent reports, then named, given `ssh_enabled` and put in \
                 `groups`. An agent already connected to the management URL is adopted, not \
                 enrolled again. A peer deleted in the API plans a new enrolment; an agent \
                 logged out, down or connected elsewhere plans an update. Destroy takes the agent \
                 down, logs it out and deletes the peer. Import with `[user@]address[:port]:peer_id`; \
                 the first apply after an import records `setup_key` (an in-place update that \
                 changes nothing on the host or in NetBird).",
            invalid: "Invalid NetBird peer",
            sensitive: &["setup_key"],
            chosen: &["management_url"],
            outputs: vec![
                Attribute::computed("id", Type::String).description("The peer's ID."),
                Attribute::computed("ip", Type::String).description("The peer's mesh IP."),
                Attribute::computed("fqdn", Type::String)
                    .description("The peer's DNS name in the mesh (`nextcloud.netbird.cloud`)."),
                Attribute::computed("hostname", Type::String)
                    .description("The host's own hostname, as the agent reported it."),
                Attribute::computed("connected", Type::Bool)
                    .description("Whether the peer was connected to the management service when last read."),
            ],
            timeouts: Some(Timeouts {
                description: "How long each operation may take, as durations (`30s`, `5m`). The \
                     wait for an enrolled peer to show in the API ends within them, with an error \
                     naming the timeout.",
                operations: vec![
                    ("create", Duration::from_secs(300)),
                    ("update", Duration::from_secs(300)),
                    ("delete", Duration::from_secs(120)),
                ],
            }),
            on_host: true,
            backend: Backend::Netbird,
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, kit: &Kit) -> Diagnostics {
        // The agent's URL defaults to the provider's: planned as such, so an agent that
        // reads back connected elsewhere (or nowhere) differs from it.
        let unset = change
            .config
            .get_attr("management_url")
            .is_none_or(Value::is_null);
        if unset && !change.planned.is_null() {
            if let Some(client) = kit.provider.netbird.ready() {
                change
                    .planned
                    .set_attr("management_url", Value::String(client.url().to_string()));
            }
        }
        Diagnostics::new()
    }

    async fn create(&self, op: Op<'_, Peer>) -> Result<Applied, Failure> {
        self.converge(&op, None).await
    }

    async fn update(&self, op: Op<'_, Peer>) -> Result<Applied, Failure> {
        let prior_id = id_of(op.prior).map(str::to_string);
        self.converge(&op, prior_id.as_deref()).await
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let client = op.kit.netbird()?;
        let Some(id) = id_of(op.prior) else {
            return Ok(());
        };
        peer::remove(&client, op.host().host.as_ref(), id)
            .await
            .map_err(|e| failed("remove", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let client = current.kit.netbird()?;
        let Some(id) = id_of(current.state) else {
            return Ok(None);
        };
        let Some(found) = peer::read(&client, id)
            .await
            .map_err(|e| failed("read", e))?
        else {
            // Deleted in the API: the plan enrols the host again.
            return Ok(None);
        };
        let status = agent::status(current.host().host.as_ref())
            .await
            .map_err(|e| failed("read", e))?;
        let declared = current.kit.args::<Peer>(current.state)?;
        let observed = Peer::from_api(&found, &declared, status.enrolled_url());
        state_from(current.kit, &observed, &found, current.state).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let (mut located, peer_id, on) =
            host::locate_named_import(&kit.provider, id, "admin@10.0.20.11:<peer ID>")?;
        let client = kit.netbird()?;
        let found = peer::read(&client, &peer_id)
            .await
            .map_err(|e| failed("import", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the NetBird peer",
                    format!("no peer has the ID {peer_id:?}"),
                ))
            })?;
        let status = agent::status(on.host.as_ref())
            .await
            .map_err(|e| failed("import", e))?;
        if status.ip != str_of(&found, "ip") {
            return Err(Diagnostic::error(
                "Cannot import the NetBird peer",
                format!(
                    "peer {peer_id} has mesh IP {}, but the agent on {} reports {:?} ({}): that host is not this peer",
                    str_of(&found, "ip"),
                    on.host.name(),
                    status.ip,
                    status.summary()
                ),
            )
            .into());
        }
        // Every group but All, which no one declares.
        let all_groups: std::collections::BTreeSet<String> = found
            .get("groups")
            .and_then(Json::as_array)
            .map(|groups| {
                groups
                    .iter()
                    .filter(|g| str_of(g, "name") != lab::netbird::group::ALL)
                    .map(|g| str_of(g, "id").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let declared = Peer {
            setup_key: None,
            name: String::new(),
            groups: all_groups,
            ssh_enabled: false,
            login_expiration_enabled: false,
            management_url: None,
        };
        let observed = Peer::from_api(&found, &declared, status.enrolled_url());
        located.set_attr(
            host::PUBLIC_KEY,
            on.public_key().await.map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the NetBird peer",
                    e.to_string(),
                ))
            })?,
        );
        state_from(kit, &observed, &found, &located)
    }
}
