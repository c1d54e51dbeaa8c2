//! `homelab_proxmox_nodes`: the cluster's nodes with their status and free resources, for
//! placing guests (`lab::proxmox::nodes`). One request.

use std::sync::{Arc, OnceLock};

use lab::proxmox::nodes;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, Outcome};
use tfplugin::schema::{Attribute, Block, Schema};
use tfplugin::serde_bridge;

use crate::config::proxmox as pve;
use crate::config::ProviderState;

pub const TYPE_NAME: &str = "homelab_proxmox_nodes";

pub struct ProxmoxNodesDataSource {
    state: Arc<ProviderState>,
}

impl ProxmoxNodesDataSource {
    pub fn new(state: Arc<ProviderState>) -> Self {
        Self { state }
    }
}

fn computed(name: &str, ty: Type, text: &str) -> Attribute {
    Attribute::computed(name, ty).description(text)
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let strings = || Type::List(Box::new(Type::String));
        let node = Type::Object(
            [
                ("name", Type::String),
                ("status", Type::String),
                ("online", Type::Bool),
                ("cpus", Type::Number),
                ("cpu_usage", Type::Number),
                ("memory_total_mb", Type::Number),
                ("memory_free_mb", Type::Number),
                ("uptime_seconds", Type::Number),
            ]
            .into_iter()
            .map(|(k, t)| (k.to_string(), t))
            .collect(),
        );
        let nodes = computed(
            "nodes",
            Type::List(Box::new(node)),
            "Every node, sorted by name: `name`, `status` (`online`, `offline` or `unknown`), \
             `online`, `cpus` (threads), `cpu_usage` (0 to 1), `memory_total_mb`, \
             `memory_free_mb` and `uptime_seconds`. Figures of an offline node are 0.",
        );
        let block = Block::new(
            "The nodes of the Proxmox VE cluster with their status and free memory, for \
             placing guests: e.g. `node = data.homelab_proxmox_nodes.all.most_free_memory`. \
             Read with one request.",
        )
        .attribute(computed(
            "id",
            Type::String,
            "The endpoint the nodes were read from.",
        ))
        .attribute(computed("names", strings(), "Every node's name, sorted."))
        .attribute(computed(
            "online",
            strings(),
            "The names of the online nodes, sorted.",
        ))
        .attribute(computed(
            "most_free_memory",
            Type::String,
            "The online node with the most free memory (null when none is online).",
        ))
        .attribute(nodes);
        Schema::new(0, block)
    })
}

#[tfplugin::async_trait]
impl DataSource for ProxmoxNodesDataSource {
    fn type_name(&self) -> &str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().clone()
    }

    async fn read(&self, _config: &Value, ctx: &Ctx) -> Outcome {
        let client = match self.state.proxmox.client(TYPE_NAME) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let listed = match pve::cancellable(ctx, "reading the nodes", nodes::list(&client)).await {
            Ok(Ok(list)) => list,
            Ok(Err(e)) => {
                return Outcome::failed(pve::error("Cannot read the Proxmox nodes", &e, &|_| None))
            }
            Err(d) => return Outcome::failed(d),
        };
        let names: Vec<&str> = listed.iter().map(|n| n.name.as_str()).collect();
        let online: Vec<&str> = listed
            .iter()
            .filter(|n| n.online)
            .map(|n| n.name.as_str())
            .collect();
        let most_free = listed
            .iter()
            .filter(|n| n.online)
            .max_by_key(|n| (n.memory_free_mb, std::cmp::Reverse(n.name.clone())))
            .map(|n| n.name.clone());
        let json = serde_json::json!({
            "id": client.endpoint(),
            "names": names,
            "online": online,
            "most_free_memory": most_free,
            "nodes": listed,
        });
        match serde_bridge::from_json(&json, &schema().value_type()) {
            Ok(state) => Outcome::ok(state),
            Err(e) => Outcome::failed(Diagnostics::from(Diagnostic::error(
                "Cannot record the nodes",
                e,
            ))),
        }
    }
}
