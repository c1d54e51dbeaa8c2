//! Worker tasks. Most changes in PVE answer with a UPID and do their work in a task; the
//! change is done only when `/nodes/{node}/tasks/{upid}/status` says `stopped` with
//! `exitstatus` `OK` (or `WARNINGS: n`). Anything else is an error carrying the end of the
//! task log, where PVE writes why.

use std::time::Duration;

use serde_json::Value as Json;

use super::client::Client;
use super::error::ProxmoxError;
use crate::deadline::{Backoff, Deadline};

/// A task id: `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upid {
    pub raw: String,
    pub node: String,
    pub kind: String,
    pub id: String,
}

impl Upid {
    pub fn parse(text: &str) -> Option<Upid> {
        let mut parts = text.split(':');
        if parts.next()? != "UPID" {
            return None;
        }
        let node = parts.next()?.to_string();
        let _pid = parts.next()?;
        let _pstart = parts.next()?;
        let _start = parts.next()?;
        let kind = parts.next()?.to_string();
        let id = parts.next()?.to_string();
        if node.is_empty() {
            return None;
        }
        Some(Upid {
            raw: text.to_string(),
            node,
            kind,
            id,
        })
    }
}

/// Lines of the task log kept for an error.
const LOG_TAIL: usize = 20;

/// Waits until the task `upid` stops, at most until `deadline`. `what` names the change
/// ("clone of template 9000 to VM 101") for the error.
pub async fn wait(
    client: &Client,
    upid: &str,
    what: &str,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let parsed = Upid::parse(upid).ok_or_else(|| ProxmoxError::Protocol {
        method: "GET".into(),
        path: "/nodes/{node}/tasks/{upid}/status".into(),
        message: format!("{upid:?} is not a task id (UPID)"),
    })?;
    let path = format!("/nodes/{}/tasks/{}/status", parsed.node, upid);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        let status = client.get(&path, &[]).await?;
        let state = status.get("status").and_then(Json::as_str).unwrap_or("");
        if state == "stopped" {
            let exit = status
                .get("exitstatus")
                .and_then(Json::as_str)
                .unwrap_or("unknown")
                .to_string();
            if exit == "OK" || exit.starts_with("WARNINGS") {
                return Ok(());
            }
            let log = tail(client, &parsed).await;
            return Err(ProxmoxError::Task {
                what: what.to_string(),
                upid: upid.to_string(),
                exitstatus: exit,
                log,
            });
        }
        if !deadline.sleep(backoff.next_delay()).await {
            return Err(deadline
                .ended(
                    format!("{what} (task {upid}; it keeps running in Proxmox)"),
                    format!("task status {state:?}"),
                )
                .into());
        }
    }
}

/// Waits for the task a call answered with, when it answered with one (`data` is a UPID);
/// calls that finish at once answer null.
pub async fn wait_data(
    client: &Client,
    data: &Json,
    what: &str,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    match data.as_str() {
        Some(upid) if upid.starts_with("UPID:") => wait(client, upid, what, deadline).await,
        _ => Ok(()),
    }
}

async fn tail(client: &Client, upid: &Upid) -> Vec<String> {
    let path = format!("/nodes/{}/tasks/{}/log", upid.node, upid.raw);
    let Ok(data) = client
        .get(
            &path,
            &[("start", "0".to_string()), ("limit", "5000".to_string())],
        )
        .await
    else {
        return Vec::new();
    };
    let lines: Vec<String> = data
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|line| line.get("t").and_then(Json::as_str))
                .filter(|t| !t.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let skip = lines.len().saturating_sub(LOG_TAIL);
    lines.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upids() {
        let u = Upid::parse("UPID:pve1:000003E8:00001B58:6B07688F:qmclone:9000:root@pam:").unwrap();
        assert_eq!(u.node, "pve1");
        assert_eq!(u.kind, "qmclone");
        assert_eq!(u.id, "9000");
        assert!(Upid::parse("nope").is_none());
    }
}
