//! The cluster's nodes (`GET /nodes`): name, status and what is free, for placement.

use serde::Serialize;
use serde_json::Value as Json;

use super::client::Client;
use super::error::ProxmoxError;

const MIB: f64 = 1024.0 * 1024.0;

/// One node as `/nodes` reports it. Figures of an offline node are 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    /// `online`, `offline` or `unknown`.
    pub status: String,
    pub online: bool,
    /// CPU threads.
    pub cpus: u64,
    /// CPU load, 0 to 1.
    pub cpu_usage: f64,
    pub memory_total_mb: u64,
    pub memory_free_mb: u64,
    pub uptime_seconds: u64,
}

/// The nodes, sorted by name.
pub async fn list(client: &Client) -> Result<Vec<Node>, ProxmoxError> {
    let data = client.get("/nodes", &[]).await?;
    Ok(parse(&data))
}

fn parse(data: &Json) -> Vec<Node> {
    let number = |item: &Json, key: &str| item.get(key).and_then(Json::as_f64).unwrap_or(0.0);
    let mut nodes: Vec<Node> = data
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let name = item.get("node")?.as_str()?.to_string();
                    let status = item
                        .get("status")
                        .and_then(Json::as_str)
                        .unwrap_or("unknown")
                        .to_string();
                    let total = number(item, "maxmem");
                    let used = number(item, "mem");
                    Some(Node {
                        online: status == "online",
                        name,
                        status,
                        cpus: number(item, "maxcpu") as u64,
                        cpu_usage: number(item, "cpu"),
                        memory_total_mb: (total / MIB) as u64,
                        memory_free_mb: ((total - used).max(0.0) / MIB) as u64,
                        uptime_seconds: number(item, "uptime") as u64,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_online_and_offline_nodes() {
        let data = serde_json::json!([
            {"node": "pve2", "status": "offline"},
            {"node": "pve1", "status": "online", "maxmem": 8589934592u64, "mem": 2147483648u64, "maxcpu": 4, "cpu": 0.02, "uptime": 3600}
        ]);
        let nodes = parse(&data);
        assert_eq!(nodes[0].name, "pve1");
        assert_eq!(nodes[0].memory_free_mb, 6144);
        assert!(!nodes[1].online);
        assert_eq!(nodes[1].memory_free_mb, 0);
    }
}
