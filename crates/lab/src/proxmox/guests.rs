//! What VMs and containers share: finding a guest, its config with pending values, waiting
//! out config locks, and the power actions (start, clean shutdown with a hard stop after
//! the grace time, reboot) and removal, each awaited as a task.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use super::client::Client;
use super::error::ProxmoxError;
use super::props;
use super::tasks;
use crate::deadline::{Backoff, Deadline};

/// The two guest types, as they appear in API paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Qemu,
    Lxc,
}

impl Kind {
    pub fn path(self) -> &'static str {
        match self {
            Kind::Qemu => "qemu",
            Kind::Lxc => "lxc",
        }
    }

    /// "VM" or "container", for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Qemu => "VM",
            Kind::Lxc => "container",
        }
    }
}

/// Where a guest is and what state it is in.
#[derive(Debug, Clone)]
pub struct Located {
    pub node: String,
    pub status: String,
    pub lock: Option<String>,
    pub template: bool,
}

/// Finds guest `vmid`: from the shared cluster list unless `fresh`, else (or when the list
/// does not have it) from `node_hint` directly. None when it does not exist.
pub async fn locate(
    client: &Client,
    kind: Kind,
    node_hint: &str,
    vmid: u32,
    fresh: bool,
) -> Result<Option<Located>, ProxmoxError> {
    if !fresh {
        if let Some(guest) = client.find_guest(vmid).await? {
            if guest.kind != kind.path() {
                return Err(ProxmoxError::Conflict(format!(
                    "id {vmid} belongs to a {} ({}), not a {}",
                    if guest.kind == "lxc" {
                        "container"
                    } else {
                        "VM"
                    },
                    guest.kind,
                    kind.noun()
                )));
            }
            return Ok(Some(Located {
                node: guest.node,
                status: guest.status,
                lock: guest.lock,
                template: guest.template,
            }));
        }
    }
    // Not in the list (or a fresh answer is needed): ask the node. A guest the credentials
    // may not list is still found here, and a missing one is told apart from an error.
    match client
        .get(
            &format!("/nodes/{node_hint}/{}/{vmid}/status/current", kind.path()),
            &[],
        )
        .await
    {
        Ok(status) => Ok(Some(Located {
            node: node_hint.to_string(),
            status: status
                .get("status")
                .and_then(Json::as_str)
                .unwrap_or("unknown")
                .to_string(),
            lock: status
                .get("lock")
                .and_then(Json::as_str)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
            template: status
                .get("template")
                .and_then(props::json_text)
                .is_some_and(|t| t == "1"),
        })),
        Err(e) if e.is_missing_guest() => {
            // Not on that node: it may have moved (a migration, HA). Ask the cluster.
            client.invalidate_guests().await;
            match client.find_guest(vmid).await? {
                Some(guest) if guest.kind == kind.path() && guest.node != node_hint => {
                    Ok(Some(Located {
                        node: guest.node,
                        status: guest.status,
                        lock: guest.lock,
                        template: guest.template,
                    }))
                }
                _ => Ok(None),
            }
        }
        Err(e) => Err(e),
    }
}

pub async fn exists(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
) -> Result<bool, ProxmoxError> {
    Ok(locate(client, kind, node, vmid, true).await?.is_some())
}

/// The config as the guest will run it (pending values applied, pending deletes gone) and
/// the keys that wait for the next boot, from `GET .../pending`. None when the guest is gone.
pub async fn pending_config(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
) -> Result<Option<(BTreeMap<String, String>, Vec<String>)>, ProxmoxError> {
    match client
        .get(
            &format!("/nodes/{node}/{}/{vmid}/pending", kind.path()),
            &[],
        )
        .await
    {
        Ok(data) => Ok(Some(effective_config(&data))),
        Err(e) if e.is_missing_guest() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The config with pending values applied, and the keys that are pending.
pub fn effective_config(pending: &Json) -> (BTreeMap<String, String>, Vec<String>) {
    let mut config = BTreeMap::new();
    let mut keys = Vec::new();
    for item in pending.as_array().into_iter().flatten() {
        let Some(key) = item.get("key").and_then(Json::as_str) else {
            continue;
        };
        if key == "digest" {
            continue;
        }
        let deleted = item
            .get("delete")
            .and_then(props::json_text)
            .is_some_and(|d| d != "0");
        if deleted {
            keys.push(key.to_string());
            continue;
        }
        if let Some(value) = item.get("pending").and_then(props::json_text) {
            keys.push(key.to_string());
            config.insert(key.to_string(), value);
        } else if let Some(value) = item.get("value").and_then(props::json_text) {
            config.insert(key.to_string(), value);
        }
    }
    (config, keys)
}

/// `scsi2` sorts before `scsi10`.
pub fn natural_key(key: &str) -> (String, u32) {
    let split = key.find(|c: char| c.is_ascii_digit()).unwrap_or(key.len());
    (key[..split].to_string(), key[split..].parse().unwrap_or(0))
}

/// Runs `op` again while PVE answers that the config is locked (a backup, a clone, a
/// migration in progress), with backoff, until `deadline`.
pub async fn while_locked<T, F, Fut>(
    deadline: &Deadline,
    what: &str,
    mut op: F,
) -> Result<T, ProxmoxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProxmoxError>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(300), Duration::from_secs(5));
    loop {
        match op().await {
            Err(e) if e.is_lock_conflict() => {
                let seen = e.pve_message().unwrap_or_default().to_string();
                tracing::debug!("{what}: config locked ({seen}); waiting");
                if !deadline.sleep(backoff.next_delay()).await {
                    return Err(deadline
                        .ended(format!("{what}: the config lock to be released"), seen)
                        .into());
                }
            }
            other => return other,
        }
    }
}

/// POSTs a power action (safe to repeat after a network error: a second start answers
/// "already running", which callers accept) and waits for the task the answer names.
pub async fn post_task(
    client: &Client,
    path: &str,
    params: &[(&str, String)],
    what: &str,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let data = client
        .call(
            super::client::Method::Post,
            path,
            params,
            super::client::Repeat::Safe,
            None,
        )
        .await?;
    tasks::wait_data(client, &data, what, deadline).await
}

/// Sends a create (or clone) request for guest `id`, which the caller holds the id lock
/// for. A request is not sent twice blindly: after a network error that may have reached
/// Proxmox, the guest is looked up; if it exists, the request was carried out (`None`:
/// wait for its lock instead of a task id), otherwise it is sent again. An "already
/// exists" answer to a repeat means the first one did land late: the guest is ours.
pub async fn post_create(
    client: &Client,
    kind: Kind,
    node: &str,
    id: u32,
    path: &str,
    params: &[(&str, String)],
) -> Result<Option<Json>, ProxmoxError> {
    let mut repeated = false;
    let mut backoff = Backoff::new(Duration::from_millis(300), Duration::from_secs(2));
    for _ in 0..4 {
        match client.post(path, params).await {
            Ok(data) => return Ok(Some(data)),
            Err(
                e @ ProxmoxError::Transport {
                    maybe_sent: true, ..
                },
            ) => {
                tokio::time::sleep(backoff.next_delay()).await;
                if exists(client, kind, node, id).await? {
                    return Ok(None);
                }
                tracing::debug!(
                    path,
                    "create request lost on the network; sending it again: {e}"
                );
                repeated = true;
            }
            Err(e) if repeated && e.is_id_taken() => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    client.post(path, params).await.map(Some)
}

/// Waits until the guest's lock is gone (a create or clone whose task id was lost).
pub async fn wait_unlocked(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let mut backoff = Backoff::new(Duration::from_millis(300), Duration::from_secs(3));
    loop {
        let Some(found) = locate(client, kind, node, vmid, true).await? else {
            return Err(ProxmoxError::Conflict(format!(
                "{} {vmid} disappeared while it was being created",
                kind.noun()
            )));
        };
        let Some(lock) = found.lock else {
            return Ok(());
        };
        if !deadline.sleep(backoff.next_delay()).await {
            return Err(deadline
                .ended(
                    format!("{} {vmid}'s lock ({lock}) to be released", kind.noun()),
                    format!("lock {lock}"),
                )
                .into());
        }
    }
}

/// Posts a power action and waits for its task, waiting out config locks until `deadline`.
async fn power_action(
    client: &Client,
    path: &str,
    params: &[(&str, String)],
    what: &str,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    while_locked(deadline, what, || {
        post_task(client, path, params, what, deadline)
    })
    .await
}

/// A power action refused because the guest is already where it was sent (PVE's answer
/// contains `state`, e.g. "already running") has done its work.
fn done_when(result: Result<(), ProxmoxError>, state: &str) -> Result<(), ProxmoxError> {
    match result {
        Err(e) if e.pve_message().is_some_and(|m| m.contains(state)) => Ok(()),
        other => other,
    }
}

fn base(kind: Kind, node: &str, vmid: u32) -> String {
    format!("/nodes/{node}/{}/{vmid}", kind.path())
}

pub async fn start(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let path = format!("{}/status/start", base(kind, node, vmid));
    let what = format!("start of {} {vmid}", kind.noun());
    let result = power_action(client, &path, &[], &what, deadline).await;
    client.invalidate_guests().await;
    done_when(result, "already running")
}

/// Longest clean shutdown asked of a guest before it is stopped hard.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(180);

fn grace(deadline: &Deadline) -> Duration {
    SHUTDOWN_GRACE
        .min(deadline.remaining().saturating_sub(Duration::from_secs(10)))
        .max(Duration::from_secs(1))
}

/// A clean shutdown, stopped hard (`forceStop`) when the guest has not powered off within
/// the grace time or before the deadline, whichever is nearer. If the shutdown task fails
/// anyway, a stop follows.
pub async fn shutdown(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let path = format!("{}/status/shutdown", base(kind, node, vmid));
    let what = format!("shutdown of {} {vmid}", kind.noun());
    let params = [
        ("timeout", grace(deadline).as_secs().to_string()),
        ("forceStop", "1".to_string()),
    ];
    let result = power_action(client, &path, &params, &what, deadline).await;
    client.invalidate_guests().await;
    match done_when(result, "not running") {
        Err(ProxmoxError::Task { .. }) => {
            let stop = format!("{}/status/stop", base(kind, node, vmid));
            let what = format!("stop of {} {vmid}", kind.noun());
            let result = power_action(client, &stop, &[], &what, deadline).await;
            done_when(result, "not running")
        }
        other => other,
    }
}

/// Reboots a running guest so its pending changes take effect: a clean shutdown (at most
/// the grace time, or what is left before the deadline) and a start. A guest that does not
/// power off in that time is an error naming it; nothing is killed.
pub async fn reboot(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let path = format!("{}/status/reboot", base(kind, node, vmid));
    let grace = grace(deadline);
    let what = format!(
        "reboot of {} {vmid} to apply pending changes (clean shutdown allowed {}s, bounded by {})",
        kind.noun(),
        grace.as_secs(),
        deadline.name()
    );
    let params = [("timeout", grace.as_secs().to_string())];
    let result = power_action(client, &path, &params, &what, deadline).await;
    client.invalidate_guests().await;
    result
}

/// Shuts the guest down if it runs and destroys it with its disks, waiting out config locks
/// (a running backup) until `deadline`. A guest that does not exist is already gone.
pub async fn destroy(
    client: &Client,
    kind: Kind,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let Some(found) = locate(client, kind, node, vmid, true).await? else {
        return Ok(());
    };
    let node = found.node;
    if found.status == "running" || found.status == "paused" {
        shutdown(client, kind, &node, vmid, deadline).await?;
    }
    let path = base(kind, &node, vmid);
    let what = format!("removal of {} {vmid}", kind.noun());
    let params = [
        ("purge", "1".to_string()),
        ("destroy-unreferenced-disks", "1".to_string()),
    ];
    let remove = || async {
        let data = client.delete(&path, &params).await?;
        tasks::wait_data(client, &data, &what, deadline).await
    };
    let mut result = while_locked(deadline, &what, remove).await;
    if result
        .as_ref()
        .err()
        .and_then(ProxmoxError::pve_message)
        .is_some_and(|m| m.contains("running"))
    {
        // Started again in between: stop it and try once more.
        shutdown(client, kind, &node, vmid, deadline).await?;
        result = while_locked(deadline, &what, remove).await;
    }
    client.invalidate_guests().await;
    match result {
        Err(e) if e.is_missing_guest() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_values_count_and_are_reported() {
        let pending = serde_json::json!([
            {"key": "cores", "value": "4", "pending": "2"},
            {"key": "memory", "value": 4096},
            {"key": "tags", "value": "a", "delete": 1}
        ]);
        let (config, keys) = effective_config(&pending);
        assert_eq!(config["cores"], "2");
        assert_eq!(config["memory"], "4096");
        assert!(!config.contains_key("tags"));
        assert_eq!(keys, vec!["cores".to_string(), "tags".to_string()]);
    }

    #[test]
    fn natural_order() {
        let mut keys = vec!["scsi10", "scsi2", "ide0"];
        keys.sort_by_key(|k| natural_key(k));
        assert_eq!(keys, vec!["ide0", "scsi2", "scsi10"]);
    }
}
