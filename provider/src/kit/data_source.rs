//! Data sources: the [`ManagedDataSource`] trait and [`Lookup`], its one adapter to
//! tfplugin's `DataSource`.

use std::sync::Arc;

use lab::validation::FieldError;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tfplugin::cty::Value;
use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource, Outcome};
use tfplugin::schema::Schema;

use super::*;
use crate::config::ProviderState;

/// The argument type of a data source that takes none.
#[derive(serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// A data source, written with the kit: its definition (outputs, backend), its argument
/// type and checks, and its read.
#[tfplugin::async_trait]
pub trait ManagedDataSource: Send + Sync + 'static {
    type Args: DeserializeOwned + JsonSchema + Send + Sync;
    fn definition() -> Definition;
    fn check(args: &Self::Args) -> Vec<FieldError>;
    /// The data source's state for `args` (checked); `config` is what Terraform sent.
    async fn read(&self, args: Self::Args, config: &Value, kit: &Kit)
        -> Result<Value, Diagnostics>;
}

/// The adapter from a [`ManagedDataSource`] to tfplugin's `DataSource`.
pub struct Lookup<D: ManagedDataSource> {
    data_source: D,
    kit: Kit,
}

/// `data_source` as tfplugin's `DataSource`, its schema derived once here.
pub fn data_source<D: ManagedDataSource>(
    data_source: D,
    provider: Arc<ProviderState>,
) -> Arc<dyn DataSource> {
    Arc::new(Lookup {
        data_source,
        kit: Kit::new::<D::Args>(D::definition(), provider),
    })
}

#[tfplugin::async_trait]
impl<D: ManagedDataSource> DataSource for Lookup<D> {
    fn type_name(&self) -> &str {
        self.kit.definition.type_name
    }

    fn schema(&self) -> Schema {
        self.kit.schema.clone()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        self.kit.validate::<D::Args>(config, D::check)
    }

    async fn read(&self, config: &Value, _ctx: &Ctx) -> Outcome {
        let read = async {
            self.kit.backend_ready(false)?;
            let args: D::Args = self.kit.args(config)?;
            let errors = D::check(&args);
            if !errors.is_empty() {
                return Err(self.kit.field_errors(&errors));
            }
            self.data_source.read(args, config, &self.kit).await
        };
        match read.await {
            Ok(state) => Outcome::ok(state),
            Err(diags) => Outcome::failed(diags),
        }
    }
}
