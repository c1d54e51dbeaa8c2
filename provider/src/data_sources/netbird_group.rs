//! `homelab_netbird_group` (data source): one group by name or ID, e.g. NetBird's own
//! `All`, which no resource manages.

use lab::netbird::{group, str_of};
use lab::validation::FieldError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::Attribute;

use crate::config::netbird::error;
use crate::kit::{Backend, Definition, Kit, ManagedDataSource};

pub const TYPE_NAME: &str = "homelab_netbird_group";

pub struct NetbirdGroupDataSource;

/// The group to read.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRef {
    /// The group's name or its ID.
    pub name: String,
}

#[tfplugin::async_trait]
impl ManagedDataSource for NetbirdGroupDataSource {
    type Args = GroupRef;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description: "One NetBird group, by name or ID, with its members: e.g. \
                 `data.homelab_netbird_group.all.id` for NetBird's own `All` group in a policy.",
            invalid: "Invalid NetBird group reference",
            outputs: vec![
                Attribute::computed("id", Type::String).description("The group's ID."),
                Attribute::computed("peers", Type::List(Box::new(Type::String)))
                    .description("The member peers' IDs, sorted."),
                Attribute::computed("peers_count", Type::Number)
                    .description("How many peers the group holds."),
            ],
            backend: Backend::Netbird,
            ..Definition::default()
        }
    }

    fn check(args: &GroupRef) -> Vec<FieldError> {
        if args.name.trim().is_empty() {
            vec![FieldError::field("name", "must be a group's name or ID")]
        } else {
            Vec::new()
        }
    }

    async fn read(&self, args: GroupRef, _config: &Value, kit: &Kit) -> Result<Value, Diagnostics> {
        let client = kit.netbird()?;
        let found = group::lookup(&client, &args.name)
            .await
            .map_err(|e| error("Cannot read the NetBird group", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "NetBird group not found",
                    format!("no group has the name or ID {:?}", args.name),
                ))
            })?;
        let members = group::members(&found);
        kit.state(
            &args,
            &[
                ("id", json!(str_of(&found, "id"))),
                ("peers_count", json!(members.len())),
                ("peers", json!(members)),
            ],
            &Value::Null,
        )
    }
}
