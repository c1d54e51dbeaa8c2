//! `homelab_proxmox_nodes`: the cluster's nodes with their status and free resources, for
//! placing guests (`lab::proxmox::nodes`). One request.

use lab::proxmox::nodes;
use lab::validation::FieldError;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::Diagnostics;
use tfplugin::schema::Attribute;

use crate::config::proxmox as pve;
use crate::kit::{Backend, Definition, Kit, ManagedDataSource, NoArguments};

pub const TYPE_NAME: &str = "homelab_proxmox_nodes";

pub struct ProxmoxNodesDataSource;

fn computed(name: &str, ty: Type, text: &str) -> Attribute {
    Attribute::computed(name, ty).description(text)
}

#[tfplugin::async_trait]
impl ManagedDataSource for ProxmoxNodesDataSource {
    type Args = NoArguments;

    fn definition() -> Definition {
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
        Definition {
            type_name: TYPE_NAME,
            description: "The nodes of the Proxmox VE cluster with their status and free memory, for \
             placing guests: e.g. `node = data.homelab_proxmox_nodes.all.most_free_memory`. \
             Read with one request.",
            outputs: vec![
                computed("id", Type::String, "The endpoint the nodes were read from."),
                computed("names", strings(), "Every node's name, sorted."),
                computed("online", strings(), "The names of the online nodes, sorted."),
                computed(
                    "most_free_memory",
                    Type::String,
                    "The online node with the most free memory (null when none is online).",
                ),
                computed(
                    "nodes",
                    Type::List(Box::new(node)),
                    "Every node, sorted by name: `name`, `status` (`online`, `offline` or `unknown`), \
                     `online`, `cpus` (threads), `cpu_usage` (0 to 1), `memory_total_mb`, \
                     `memory_free_mb` and `uptime_seconds`. Figures of an offline node are 0.",
                ),
            ],
            backend: Backend::Proxmox,
            ..Definition::default()
        }
    }

    fn check(_: &NoArguments) -> Vec<FieldError> {
        Vec::new()
    }

    async fn read(&self, _: NoArguments, _config: &Value, kit: &Kit) -> Result<Value, Diagnostics> {
        let client = kit.proxmox()?;
        let listed = nodes::list(&client)
            .await
            .map_err(|e| pve::error("Cannot read the Proxmox nodes", &e, &|_| None))?;
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
        kit.state(
            &NoArguments {},
            &[
                ("id", client.endpoint().into()),
                ("names", names.into()),
                ("online", online.into()),
                ("most_free_memory", most_free.into()),
                ("nodes", serde_json::to_value(&listed).unwrap_or_default()),
            ],
            &Value::Null,
        )
    }
}
