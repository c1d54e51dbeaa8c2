//! `homelab_netbird_setup_key`: a NetBird setup key. The capability is
//! `lab::netbird::setup_key`; this file maps Terraform values to it and plans the
//! replacements the API forces: a key revoked behind Terraform's back cannot be
//! un-revoked, and one that expired, is used up, or expires within `rotate_before` is
//! of no use to the next host.

use lab::netbird::setup_key::{self, SetupKey};
use lab::netbird::str_of;
use serde_json::{json, Value as Json};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::provider::PlanChange;
use tfplugin::schema::Attribute;

use crate::config::netbird::{error, id_of};
use crate::kit::{Applied, Backend, Current, Definition, Failure, Kit, ManagedResource, Op};

pub const TYPE_NAME: &str = "homelab_netbird_setup_key";

pub struct NetbirdSetupKeyResource;

/// The outputs of a key as the API answers it; `key` is the one kept from creation.
fn outputs(api: &Json, key: Json) -> Vec<(&'static str, Json)> {
    vec![
        ("id", json!(str_of(api, "id"))),
        ("key", key),
        ("expires", json!(str_of(api, "expires"))),
        ("state", json!(str_of(api, "state"))),
        ("valid", json!(lab::netbird::bool_of(api, "valid"))),
        (
            "used_times",
            json!(api.get("used_times").and_then(Json::as_i64).unwrap_or(0)),
        ),
    ]
}

fn state_from(
    kit: &Kit,
    key: &SetupKey,
    api: &Json,
    clear_key: Json,
) -> Result<Value, Diagnostics> {
    kit.state(key, &outputs(api, clear_key), &Value::Null)
}

fn kept_key(state: &Value) -> Json {
    state
        .get_attr("key")
        .and_then(Value::as_str)
        .map(|k| json!(k))
        .unwrap_or(Json::Null)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[tfplugin::async_trait]
impl ManagedResource for NetbirdSetupKeyResource {
    type Args = SetupKey;

    fn definition() -> Definition {
        Definition {
            type_name: TYPE_NAME,
            description:
                "A NetBird setup key, for enrolling hosts (`homelab_netbird_peer.setup_key`). \
                 The key itself is shown by the server only when it is created: it is kept in \
                 the state (sensitive) and never read again, so an imported key has no `key`. \
                 Only `auto_groups` and `revoked` change in place; a key revoked behind \
                 Terraform's back, expired, used up, or expiring within `rotate_before` is \
                 replaced. Import by ID.",
            invalid: "Invalid NetBird setup key",
            requires_replace: &["name", "type", "usage_limit", "ephemeral", "expires_in"],
            outputs: vec![
                Attribute::computed("id", Type::String).description("The key's ID."),
                Attribute::computed("key", Type::String)
                    .description(
                        "The setup key, as agents take it. Sensitive; null after an import.",
                    )
                    .sensitive(),
                Attribute::computed("expires", Type::String)
                    .description("When the key expires (RFC 3339)."),
                Attribute::computed("state", Type::String).description(
                    "`valid`, `expired`, `revoked` or `overused`, as the server says.",
                ),
                Attribute::computed("valid", Type::Bool)
                    .description("Whether the key can enrol a host now."),
                Attribute::computed("used_times", Type::Number)
                    .description("How many hosts enrolled with the key."),
            ],
            backend: Backend::Netbird,
            ..Definition::default()
        }
    }

    async fn plan(&self, change: &mut PlanChange<'_>, _kit: &Kit) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let prior = change.prior;
        if prior.is_null() || change.planned.is_null() {
            return diags;
        }
        let revoked = |v: &Value| v.get_attr("revoked").and_then(Value::as_bool);
        if revoked(prior) == Some(true) && revoked(&change.planned) == Some(false) {
            change.requires_replace.push(AttrPath::attr("revoked"));
        }
        let text = |name: &str| prior.get_attr(name).and_then(Value::as_str).unwrap_or("");
        let observed = json!({"state": text("state"), "expires": text("expires")});
        let rotate = change
            .planned
            .get_attr("rotate_before")
            .and_then(Value::as_str)
            .map(str::to_string);
        let replacing = !change.requires_replace.is_empty();
        if let Some(reason) = setup_key::replacement_reason(&observed, rotate.as_deref(), now()) {
            for output in ["expires", "key", "id", "state", "valid", "used_times"] {
                change.planned.set_attr(output, Value::unknown());
            }
            change.requires_replace.push(AttrPath::attr("expires"));
            diags.push(Diagnostic::warning(
                "NetBird setup key will be replaced",
                format!("{reason}: a new key is created and the old one deleted."),
            ));
        } else if !replacing {
            // The key is never read again: an imported key stays without one rather than
            // showing a change on every plan.
            change
                .planned
                .set_attr("key", prior.get_attr("key").cloned().unwrap_or(Value::Null));
        }
        diags
    }

    async fn create(&self, op: Op<'_, SetupKey>) -> Result<Applied, Failure> {
        let client = op.kit.netbird()?;
        let created = setup_key::create(&client, &op.args)
            .await
            .map_err(|e| error("Cannot create the NetBird setup key", e))?;
        let clear = json!(str_of(&created, "key"));
        // `create` revoked it afterwards when asked: read what the server holds now.
        let now = match setup_key::read(&client, str_of(&created, "id")).await {
            Ok(Some(now)) => now,
            _ => created,
        };
        Ok(state_from(op.kit, &op.args, &now, clear)?.into())
    }

    async fn update(&self, op: Op<'_, SetupKey>) -> Result<Applied, Failure> {
        let client = op.kit.netbird()?;
        let id = id_of(op.prior).unwrap_or_default().to_string();
        let updated = setup_key::update(&client, &id, &op.args)
            .await
            .map_err(|e| error("Cannot update the NetBird setup key", e))?;
        Ok(state_from(op.kit, &op.args, &updated, kept_key(op.prior))?.into())
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let client = op.kit.netbird()?;
        let Some(id) = id_of(op.prior) else {
            return Ok(());
        };
        setup_key::delete(&client, id)
            .await
            .map_err(|e| error("Cannot delete the NetBird setup key", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let client = current.kit.netbird()?;
        let Some(id) = id_of(current.state) else {
            return Ok(None);
        };
        let Some(found) = setup_key::read(&client, id)
            .await
            .map_err(|e| error("Cannot read the NetBird setup key", e))?
        else {
            return Ok(None);
        };
        let declared = current.kit.args::<SetupKey>(current.state)?;
        state_from(
            current.kit,
            &SetupKey::from_api(&found, &declared),
            &found,
            kept_key(current.state),
        )
        .map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let client = kit.netbird()?;
        let found = setup_key::read(&client, id)
            .await
            .map_err(|e| error("Cannot import the NetBird setup key", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    "Cannot import the NetBird setup key",
                    format!("no setup key has the ID {id:?}"),
                ))
            })?;
        // What the server cannot say (the duration asked for) is read from the expiry:
        // the whole days between the last update and the expiry.
        let updated = setup_key::parse_time(str_of(&found, "updated_at"));
        let expires = setup_key::parse_time(str_of(&found, "expires"));
        let days = match (updated, expires) {
            (Some(u), Some(e)) if e > u => ((e - u) as f64 / 86_400.0).round().max(1.0) as u64,
            _ => 30,
        };
        let base = SetupKey {
            name: String::new(),
            key_type: String::new(),
            usage_limit: 0,
            ephemeral: false,
            auto_groups: Default::default(),
            expires_in: format!("{}h", days * 24),
            revoked: false,
            rotate_before: None,
        };
        state_from(kit, &SetupKey::from_api(&found, &base), &found, Json::Null)
    }
}
