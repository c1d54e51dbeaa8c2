//! The traits a provider implements. The server turns RPCs into calls on these, after
//! decoding values against the schema and running the generic plan helpers.

use std::sync::Arc;

pub use tokio_util::sync::CancellationToken;
pub use tonic::async_trait;

use crate::cty::Value;
use crate::diag::Diagnostics;
use crate::path::AttrPath;
use crate::schema::Schema;

/// What every call gets: a token that StopProvider cancels, so long waits end promptly,
/// and what the calling Terraform said it supports.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub cancel: CancellationToken,
    pub client: ClientCapabilities,
}

/// What the calling Terraform supports, from the request's `client_capabilities`. Terraform
/// 1.10 and older send none, and RPCs that carry none (apply, upgrade) read as all false.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// Write-only attributes (Terraform 1.11+).
    pub write_only_attributes: bool,
    /// The provider may defer a change to a later run. The provider never does: every
    /// unknown it cannot plan with is an error naming what to set, which holds on every
    /// Terraform, so the answer never carries a `deferred` the client did not allow.
    pub deferral: bool,
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's local name, the prefix of its resource types (`homelab`).
    fn type_name(&self) -> &str;
    fn schema(&self) -> Schema;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
    async fn validate_config(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Called once per run with the provider block; values may still be unknown on
    /// plans that depend on other resources.
    async fn configure(&self, config: &Value, ctx: &Ctx) -> Diagnostics;
}

/// A plan in progress: the generic helpers have filled `planned` and `requires_replace`;
/// the resource may refine both (computed values it can already know, normalisation).
pub struct PlanChange<'a> {
    pub prior: &'a Value,
    pub config: &'a Value,
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
    pub private: Vec<u8>,
    pub ctx: &'a Ctx,
}

pub struct ApplyRequest<'a> {
    pub prior: &'a Value,
    pub planned: &'a Value,
    pub config: &'a Value,
    pub private: &'a [u8],
    pub ctx: &'a Ctx,
}

/// The result of create, update or read. A failing create may still return a state, so
/// Terraform records what exists (tainted) and a later apply or destroy can finish.
pub struct Outcome {
    pub state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

impl Outcome {
    pub fn ok(state: Value) -> Self {
        Self {
            state,
            private: Vec::new(),
            diagnostics: Diagnostics::new(),
        }
    }

    /// A successful read or write that carries the private state through unchanged.
    pub fn with_private(state: Value, private: &[u8]) -> Self {
        Self {
            state,
            private: private.to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }

    /// A read or write that failed without changing anything: the state (and private
    /// state) stay what Terraform had, so nothing is forgotten.
    pub fn unchanged(state: &Value, private: &[u8], diagnostics: Diagnostics) -> Self {
        Self {
            state: state.clone(),
            private: private.to_vec(),
            diagnostics,
        }
    }

    pub fn failed(diagnostics: Diagnostics) -> Self {
        Self {
            state: Value::Null,
            private: Vec::new(),
            diagnostics,
        }
    }
}

#[async_trait]
pub trait Resource: Send + Sync {
    /// The full type name, e.g. `homelab_traefik_route`.
    fn type_name(&self) -> &str;
    fn schema(&self) -> Schema;

    /// Checks a configuration that may still hold unknown values.
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn modify_plan(&self, _change: &mut PlanChange<'_>) -> Diagnostics {
        Diagnostics::new()
    }

    async fn create(&self, request: ApplyRequest<'_>) -> Outcome;
    async fn update(&self, request: ApplyRequest<'_>) -> Outcome;
    async fn delete(&self, request: ApplyRequest<'_>) -> Diagnostics;

    /// Reads the actual state; a null state means the object is gone.
    async fn read(&self, state: &Value, private: &[u8], ctx: &Ctx) -> Outcome;

    /// Turns an import ID into a stub state; Terraform then calls `read` to fill it.
    async fn import(&self, id: &str, _ctx: &Ctx) -> Result<Value, Diagnostics> {
        Err(crate::diag::Diagnostic::error(
            "Import not supported",
            format!("{} cannot be imported (ID {id:?}).", self.type_name()),
        )
        .into())
    }

    /// Rewrites stored state (as JSON) written under an older schema version into the
    /// current version's shape. The default accepts only the current version.
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        let current = self.schema().version;
        if version == current {
            Ok(state)
        } else {
            Err(crate::diag::Diagnostic::error(
                "Unsupported state version",
                format!(
                    "State of {} has schema version {version}; this provider reads version {current}. Use the provider release that wrote it, or a newer one.",
                    self.type_name()
                ),
            )
            .into())
        }
    }
}

#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &str;
    fn schema(&self) -> Schema;
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, config: &Value, ctx: &Ctx) -> Outcome;
}
