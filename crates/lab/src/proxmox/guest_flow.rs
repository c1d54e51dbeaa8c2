//! The steps VMs and containers take the same way once their own parts are planned: the
//! requests of a change (one config request, disk growth, power) sent in that order, an
//! update (read, plan, send, read back, reboot for what waits for the next boot, or warn),
//! and the end of a create (its task awaited; on failure the id kept only if the guest
//! exists). [`vm`](super::vm) and [`lxc`](super::lxc) supply what differs.

use std::collections::BTreeMap;
use std::future::Future;

use serde_json::Value as Json;

use super::client::Client;
use super::error::ProxmoxError;
use super::guests::{self, Kind, Located};
use super::props;
use super::tasks;
use crate::deadline::Deadline;
use crate::validation::FieldError;

/// Failure of a create: the error, and the guest id when a guest exists (so the caller
/// records it and the next apply cleans it up).
#[derive(Debug)]
pub struct CreateFailure {
    pub vmid: Option<u32>,
    pub error: ProxmoxError,
}

impl CreateFailure {
    pub(crate) fn at(vmid: u32) -> impl FnOnce(ProxmoxError) -> CreateFailure {
        move |error| CreateFailure {
            vmid: Some(vmid),
            error,
        }
    }
}

impl From<ProxmoxError> for CreateFailure {
    fn from(error: ProxmoxError) -> Self {
        CreateFailure { vmid: None, error }
    }
}

/// Finds guest `vmid` and reads its config as it will run (pending values applied) and
/// the keys that wait for the next boot; None when it does not exist. With `fresh`, status
/// and lock come from the node instead of the shared cluster list.
pub(crate) async fn read_config(
    client: &Client,
    kind: Kind,
    node_hint: &str,
    vmid: u32,
    fresh: bool,
) -> Result<Option<(Located, BTreeMap<String, String>, Vec<String>)>, ProxmoxError> {
    let Some(found) = guests::locate(client, kind, node_hint, vmid, fresh).await? else {
        return Ok(None);
    };
    let Some((config, pending)) = guests::pending_config(client, kind, &found.node, vmid).await?
    else {
        return Ok(None);
    };
    Ok(Some((found, config, pending)))
}

/// Plan errors met while applying (the guest changed since the plan), as one error.
pub(crate) fn plan_conflict(errors: Vec<FieldError>) -> ProxmoxError {
    ProxmoxError::Conflict(
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Waits for the create (or clone) task of guest `vmid` that `data` names; when the task id
/// was lost (`None`), for the guest's lock to go.
pub(crate) async fn wait_created(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    data: &Option<Json>,
    what: &str,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    match data {
        Some(data) => tasks::wait_data(client, data, what, deadline).await,
        None => guests::wait_unlocked(client, kind, node, vmid, deadline).await,
    }
}

/// A create that failed: the id is kept only when the guest exists (or cannot be told).
pub(crate) async fn failed_create(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    error: ProxmoxError,
) -> CreateFailure {
    let exists = guests::exists(client, kind, node, vmid)
        .await
        .unwrap_or(true);
    CreateFailure {
        vmid: exists.then_some(vmid),
        error,
    }
}

/// A disk to grow.
pub(crate) struct Grow {
    /// PVE's name of the disk (`scsi0`, `rootfs`).
    pub disk: String,
    pub size_gb: f64,
    /// What the growth is called in messages.
    pub what: String,
}

/// The requests a planned change sends, in this order.
pub(crate) struct Requests<'a> {
    pub set: &'a [(String, String)],
    pub delete: &'a [String],
    pub grow: Vec<Grow>,
    /// Start (`Some(true)`) or shut down (`Some(false)`).
    pub power: Option<bool>,
}

/// A guest's planned change, as requests.
pub(crate) trait Planned {
    fn requests(&self, vmid: u32) -> Requests<'_>;
}

/// Sends a change to guest `vmid`: one config request, disk growth, then power, each
/// waiting out config locks until `deadline`.
pub(crate) async fn send(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    requests: &Requests<'_>,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let base = format!("/nodes/{node}/{}/{vmid}", kind.path());
    if !requests.set.is_empty() || !requests.delete.is_empty() {
        let mut params: Vec<(&str, String)> = requests
            .set
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        if !requests.delete.is_empty() {
            params.push(("delete", requests.delete.join(",")));
        }
        let path = format!("{base}/config");
        let what = format!("changing {} {vmid}'s config", kind.noun());
        guests::while_locked(deadline, &what, || client.put(&path, &params)).await?;
    }
    for grow in &requests.grow {
        let path = format!("{base}/resize");
        let params = [
            ("disk", grow.disk.clone()),
            ("size", props::size_arg(grow.size_gb)),
        ];
        let what = &grow.what;
        guests::while_locked(deadline, what, || async {
            let data = client.put(&path, &params).await?;
            tasks::wait_data(client, &data, what, deadline).await
        })
        .await?;
    }
    match requests.power {
        Some(true) => guests::start(client, kind, node, vmid, deadline).await?,
        Some(false) => guests::shutdown(client, kind, node, vmid, deadline).await?,
        None => {}
    }
    Ok(())
}

/// A guest as read, as far as an update needs it.
pub(crate) trait Observed: Sized {
    const KIND: Kind;
    fn node(&self) -> &str;
    fn running(&self) -> bool;
    /// Config keys whose new value waits for the next boot.
    fn pending(&self) -> &[String];
    /// The message for changes that wait for a reboot.
    fn pending_warning(vmid: u32, keys: &[String]) -> String;
    /// Reads the guest with status and lock from its node; None when it does not exist.
    fn read_fresh<'a>(
        client: &'a Client,
        node: &'a str,
        vmid: u32,
    ) -> impl Future<Output = Result<Option<Self>, ProxmoxError>> + Send + 'a;
}

/// The result of an update.
#[derive(Debug)]
pub struct Updated<A> {
    /// The guest as read at the end.
    pub actual: A,
    /// Things the user should know (changes waiting for a reboot).
    pub warnings: Vec<String>,
}

/// Implements [`Observed`] for a guest type whose module has `read` and `pending_warning`.
macro_rules! observed {
    ($actual:ty, $kind:expr) => {
        impl $crate::proxmox::guest_flow::Observed for $actual {
            const KIND: $crate::proxmox::guests::Kind = $kind;

            fn node(&self) -> &str {
                &self.node
            }

            fn running(&self) -> bool {
                <$actual>::running(self)
            }

            fn pending(&self) -> &[String] {
                &self.pending
            }

            fn pending_warning(vmid: u32, keys: &[String]) -> String {
                pending_warning(vmid, keys)
            }

            fn read_fresh<'a>(
                client: &'a $crate::proxmox::client::Client,
                node: &'a str,
                vmid: u32,
            ) -> impl std::future::Future<
                Output = Result<Option<Self>, $crate::proxmox::error::ProxmoxError>,
            > + Send
                   + 'a {
                read(client, node, vmid, true)
            }
        }
    };
}
pub(crate) use observed;

/// Brings guest `vmid` to what `plan` asks of it as read: sends the change, reads it back
/// and, when Proxmox keeps some of it for the next boot of a running guest, reboots it
/// (`reboot`) or returns a warning saying so.
pub(crate) async fn update<A: Observed, C: Planned>(
    client: &Client,
    node: &str,
    vmid: u32,
    reboot: bool,
    plan: impl FnOnce(&A) -> Result<C, Vec<FieldError>>,
    deadline: &Deadline,
) -> Result<Updated<A>, ProxmoxError> {
    let noun = A::KIND.noun();
    let actual = A::read_fresh(client, node, vmid).await?.ok_or_else(|| {
        ProxmoxError::Conflict(format!("{noun} {vmid} no longer exists on {node}"))
    })?;
    let changes = plan(&actual).map_err(plan_conflict)?;
    send(
        client,
        A::KIND,
        actual.node(),
        vmid,
        &changes.requests(vmid),
        deadline,
    )
    .await?;
    let mut warnings = Vec::new();
    let mut after = A::read_fresh(client, actual.node(), vmid)
        .await?
        .ok_or_else(|| {
            ProxmoxError::Conflict(format!("{noun} {vmid} disappeared during the update"))
        })?;
    if after.running() && !after.pending().is_empty() {
        if reboot {
            guests::reboot(client, A::KIND, after.node(), vmid, deadline).await?;
            after = A::read_fresh(client, after.node(), vmid)
                .await?
                .ok_or_else(|| {
                    ProxmoxError::Conflict(format!("{noun} {vmid} disappeared during the reboot"))
                })?;
        } else {
            warnings.push(A::pending_warning(vmid, after.pending()));
        }
    }
    Ok(Updated {
        actual: after,
        warnings,
    })
}
