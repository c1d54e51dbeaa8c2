//! The one adapter for NetBird objects that are an ID plus their arguments (groups,
//! policies, routes): create, read back in the declaration's terms, update, delete and
//! import, through the `lab::netbird` module of each. A resource file says only what is
//! its own ([`ApiObject`]).

use std::marker::PhantomData;

use lab::netbird::{str_of, Client, NetbirdError};
use lab::validation::Validate;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value as Json};
use tfplugin::cty::{Type, Value};
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::Attribute;

use crate::config::netbird::{error, id_of};
use crate::kit::{Applied, Current, Definition, Failure, Kit, ManagedResource, Op};

/// A NetBird object managed by ID.
#[tfplugin::async_trait]
pub trait ApiObject:
    DeserializeOwned + Serialize + JsonSchema + Validate + Send + Sync + 'static
{
    /// What it is, in messages (`group`).
    const NOUN: &'static str;
    /// The definition without `outputs` and `backend`, which every such object shares.
    fn definition() -> Definition;
    /// The API's answer in the declaration's terms (`declared` is none on import).
    fn from_api(found: &Json, declared: Option<&Self>) -> Self;
    async fn create(client: &Client, args: &Self) -> Result<Json, NetbirdError>;
    async fn read(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError>;
    /// What an import ID names (by ID unless the object says otherwise).
    async fn lookup(client: &Client, id: &str) -> Result<Option<Json>, NetbirdError> {
        Self::read(client, id).await
    }
    async fn update(
        client: &Client,
        id: &str,
        args: &Self,
        before: Option<&Self>,
    ) -> Result<Json, NetbirdError>;
    async fn delete(client: &Client, id: &str) -> Result<(), NetbirdError>;
}

/// Implements [`ApiObject`] for `$object` whose lab module `lab::netbird::$module` has the
/// plain `create`, `read`, `update` and `delete` (an update that needs nothing of the prior
/// object, a lookup by ID): only the noun and the definition are the resource's own.
macro_rules! plain_api_object {
    ($object:ident, $module:ident, $noun:literal, $definition:expr) => {
        #[tfplugin::async_trait]
        impl $crate::resources::netbird_object::ApiObject for $object {
            const NOUN: &'static str = $noun;

            fn definition() -> $crate::kit::Definition {
                $definition
            }

            fn from_api(found: &serde_json::Value, declared: Option<&Self>) -> Self {
                $object::from_api(found, declared)
            }

            async fn create(
                client: &lab::netbird::Client,
                args: &Self,
            ) -> Result<serde_json::Value, lab::netbird::NetbirdError> {
                lab::netbird::$module::create(client, args).await
            }

            async fn read(
                client: &lab::netbird::Client,
                id: &str,
            ) -> Result<Option<serde_json::Value>, lab::netbird::NetbirdError> {
                lab::netbird::$module::read(client, id).await
            }

            async fn update(
                client: &lab::netbird::Client,
                id: &str,
                args: &Self,
                _before: Option<&Self>,
            ) -> Result<serde_json::Value, lab::netbird::NetbirdError> {
                lab::netbird::$module::update(client, id, args).await
            }

            async fn delete(
                client: &lab::netbird::Client,
                id: &str,
            ) -> Result<(), lab::netbird::NetbirdError> {
                lab::netbird::$module::delete(client, id).await
            }
        }
    };
}
pub(crate) use plain_api_object;

pub struct NetbirdObjectResource<O>(PhantomData<O>);

impl<O> Default for NetbirdObjectResource<O> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

fn state_from<O: ApiObject>(kit: &Kit, object: &O, id: &str) -> Result<Value, Diagnostics> {
    kit.state(object, &[("id", json!(id))], &Value::Null)
}

fn failed<O: ApiObject>(doing: &str, e: NetbirdError) -> Diagnostics {
    error(&format!("Cannot {doing} the NetBird {}", O::NOUN), e)
}

#[tfplugin::async_trait]
impl<O: ApiObject> ManagedResource for NetbirdObjectResource<O> {
    type Args = O;

    fn definition() -> Definition {
        let mut definition = O::definition();
        definition.outputs.insert(
            0,
            Attribute::computed("id", Type::String).description(format!("The {}'s ID.", O::NOUN)),
        );
        definition.backend = crate::kit::Backend::Netbird;
        definition
    }

    async fn create(&self, op: Op<'_, O>) -> Result<Applied, Failure> {
        let client = op.kit.netbird()?;
        let created = O::create(&client, &op.args).await.map_err(|e| {
            let conflict = e.status() == Some(409);
            let mut diags = failed::<O>("create", e);
            if conflict {
                diags.push(Diagnostic::error(
                    format!("NetBird {} exists", O::NOUN),
                    format!(
                        "One with this name exists already. Import it to manage it here: terraform import <address> <its ID{}>",
                        if O::NOUN == "group" { " or name" } else { "" }
                    ),
                ));
            }
            diags
        })?;
        Ok(state_from(op.kit, &op.args, str_of(&created, "id"))?.into())
    }

    async fn update(&self, op: Op<'_, O>) -> Result<Applied, Failure> {
        let client = op.kit.netbird()?;
        let id = id_of(op.prior).unwrap_or_default().to_string();
        let before = op.kit.args::<O>(op.prior).ok();
        O::update(&client, &id, &op.args, before.as_ref())
            .await
            .map_err(|e| failed::<O>("update", e))?;
        Ok(state_from(op.kit, &op.args, &id)?.into())
    }

    async fn delete(&self, op: Op<'_, ()>) -> Result<(), Diagnostics> {
        let client = op.kit.netbird()?;
        let Some(id) = id_of(op.prior) else {
            return Ok(());
        };
        O::delete(&client, id)
            .await
            .map_err(|e| failed::<O>("delete", e))
    }

    async fn read(&self, current: Current<'_>) -> Result<Option<Value>, Diagnostics> {
        let client = current.kit.netbird()?;
        let Some(id) = id_of(current.state) else {
            return Ok(None);
        };
        let Some(found) = O::read(&client, id)
            .await
            .map_err(|e| failed::<O>("read", e))?
        else {
            // Deleted behind Terraform's back: the plan creates it again.
            return Ok(None);
        };
        let declared = current.kit.args::<O>(current.state).ok();
        state_from(current.kit, &O::from_api(&found, declared.as_ref()), id).map(Some)
    }

    async fn import(&self, id: &str, kit: &Kit) -> Result<Value, Diagnostics> {
        let client = kit.netbird()?;
        let found = O::lookup(&client, id)
            .await
            .map_err(|e| failed::<O>("import", e))?
            .ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    format!("Cannot import the NetBird {}", O::NOUN),
                    format!("no {} has the ID {id:?}", O::NOUN),
                ))
            })?;
        state_from(kit, &O::from_api(&found, None), str_of(&found, "id"))
    }
}
