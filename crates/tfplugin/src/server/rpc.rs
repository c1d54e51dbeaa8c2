//! The tfplugin6 `Provider` gRPC service: decodes requests against the schemas, runs the
//! generic plan helpers, calls the provider's resources and encodes the answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};

use super::wire;
use crate::cty::{Type, Value};
use crate::diag::{Diagnostic, Diagnostics};
use crate::path::AttrPath;
use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server::Provider as ProviderRpc;
use crate::provider::{
    ApplyRequest, ClientCapabilities, Ctx, DataSource, PlanChange, Provider, Resource,
};
use crate::schema::{write_only, Block, Schema};

struct Typed<T: ?Sized> {
    inner: Arc<T>,
    schema: Schema,
    ty: Type,
    /// Whether the schema has write-only attributes to null in answers (known once, so
    /// the states of every other resource are not walked on each call).
    write_only: bool,
}

fn typed<T: ?Sized>(inner: Arc<T>, schema: Schema) -> Typed<T> {
    let ty = schema.value_type();
    let write_only = write_only::any(&schema.block);
    Typed {
        inner,
        schema,
        ty,
        write_only,
    }
}

impl<T: ?Sized> Typed<T> {
    /// A state to answer with: write-only values never leave the server.
    fn answerable(&self, state: Value) -> Value {
        if self.write_only {
            write_only::nulled(&self.schema.block, state)
        } else {
            state
        }
    }
}

pub struct ProviderService<P: Provider> {
    provider: Arc<P>,
    provider_schema: Schema,
    provider_type: Type,
    resources: HashMap<String, Typed<dyn Resource>>,
    data_sources: HashMap<String, Typed<dyn DataSource>>,
    /// Built once: schemas never change during a run, and Terraform asks repeatedly.
    schema_response: pb::get_provider_schema::Response,
    /// StopProvider cancels this token and installs a fresh one for later calls.
    cancel: Mutex<tokio_util::sync::CancellationToken>,
}

impl<P: Provider> ProviderService<P> {
    /// The GetProviderSchema answer, built once.
    pub(crate) fn schema_response(&self) -> &pb::get_provider_schema::Response {
        &self.schema_response
    }

    pub fn new(provider: P) -> Self {
        let provider_schema = provider.schema();
        let resources: HashMap<_, _> = provider
            .resources()
            .into_iter()
            .map(|r| (r.type_name().to_string(), typed(r.clone(), r.schema())))
            .collect();
        let data_sources: HashMap<_, _> = provider
            .data_sources()
            .into_iter()
            .map(|d| (d.type_name().to_string(), typed(d.clone(), d.schema())))
            .collect();
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(wire::schema(&provider_schema)),
            resource_schemas: resources
                .iter()
                .map(|(name, r)| (name.clone(), wire::schema(&r.schema)))
                .collect(),
            data_source_schemas: data_sources
                .iter()
                .map(|(name, d)| (name.clone(), wire::schema(&d.schema)))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        Self {
            provider_type: provider_schema.value_type(),
            provider: Arc::new(provider),
            provider_schema,
            resources,
            data_sources,
            schema_response,
            cancel: Mutex::new(tokio_util::sync::CancellationToken::new()),
        }
    }

    fn ctx(&self) -> Ctx {
        self.ctx_for(None)
    }

    /// The context of a call whose request carries the client's capabilities.
    fn ctx_for(&self, client: Option<&pb::ClientCapabilities>) -> Ctx {
        let token = self.cancel.lock().map(|t| t.clone()).unwrap_or_default();
        Ctx {
            cancel: token,
            client: client
                .map(|c| ClientCapabilities {
                    write_only_attributes: c.write_only_attributes_allowed,
                    deferral: c.deferral_allowed,
                })
                .unwrap_or_default(),
        }
    }

    fn resource(&self, name: &str) -> Result<&Typed<dyn Resource>, Diagnostics> {
        self.resources.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {name:?}."),
            )
            .into()
        })
    }

    fn data_source(&self, name: &str) -> Result<&Typed<dyn DataSource>, Diagnostics> {
        self.data_sources.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source",
                format!("This provider has no data source {name:?}."),
            )
            .into()
        })
    }
}

/// What the server supports. `plan_destroy`: PlanResourceChange answers destroy plans (a
/// null proposed state is echoed back with the prior private state). Schema optional:
/// every schema is built when the server starts, so no RPC needs GetProviderSchema first.
/// Moving state between resource types is not implemented.
fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        move_resource_state: false,
    }
}

/// Write-only values set in a configuration the client cannot keep out of state: an
/// error at each, naming the Terraform that can (validate runs before anything else).
fn write_only_refused(block: &Block, config: &Value, client: ClientCapabilities) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if client.write_only_attributes {
        return diags;
    }
    for path in write_only::set_paths(block, config) {
        diags.push(
            Diagnostic::error(
                "Write-only attribute needs Terraform 1.11 or newer",
                format!(
                    "`{path}` is write-only: its value is used and never stored in state. \
                     This Terraform did not say it supports write-only attributes (Terraform \
                     1.11 and newer do), so the value would be lost. Upgrade Terraform, or \
                     use the attribute's sensitive form, which older versions keep in state."
                ),
            )
            .at(path),
        );
    }
    diags
}

fn unsupported(what: &str) -> Vec<pb::Diagnostic> {
    wire::diagnostics(
        &Diagnostic::error(
            format!("{what} is not supported by this provider"),
            format!(
                "The provider does not implement {what}; no resource or function here uses it."
            ),
        )
        .into(),
    )
}

/// Warns about deprecated top-level attributes that the configuration sets.
fn deprecation_warnings(block: &Block, config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for attribute in &block.attributes {
        if let Some(message) = &attribute.deprecation {
            if config
                .get_attr(&attribute.name)
                .is_some_and(|v| !v.is_null())
            {
                diags.push(
                    Diagnostic::warning(
                        format!("Attribute {} is deprecated", attribute.name),
                        message.clone(),
                    )
                    .at(AttrPath::attr(attribute.name.clone())),
                );
            }
        }
    }
    diags
}

type RpcResult<T> = Result<Response<T>, Status>;

macro_rules! try_diags {
    ($expr:expr, $resp:ident) => {
        match $expr {
            Ok(v) => v,
            Err(diags) => {
                // Some responses carry only diagnostics, others more fields.
                #[allow(clippy::needless_update)]
                let response = pb::$resp::Response {
                    diagnostics: wire::diagnostics(&diags),
                    ..Default::default()
                };
                return Ok(Response::new(response));
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> ProviderRpc for ProviderService<P> {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .resources
                .keys()
                .map(|name| pb::get_metadata::ResourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|name| pb::get_metadata::DataSourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let request = request.into_inner();
        let config = try_diags!(
            wire::decode(
                request.config.as_ref(),
                &self.provider_type,
                "provider configuration"
            ),
            validate_provider_config
        );
        let mut diags = deprecation_warnings(&self.provider_schema.block, &config);
        diags.extend(self.provider.validate_config(&config).await);
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let request = request.into_inner();
        let resource = try_diags!(self.resource(&request.type_name), validate_resource_config);
        let config = try_diags!(
            wire::decode(
                request.config.as_ref(),
                &resource.ty,
                "resource configuration"
            ),
            validate_resource_config
        );
        let client = self.ctx_for(request.client_capabilities.as_ref()).client;
        let mut diags = deprecation_warnings(&resource.schema.block, &config);
        diags.extend(write_only_refused(&resource.schema.block, &config, client));
        diags.extend(resource.inner.validate(&config).await);
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let request = request.into_inner();
        let source = try_diags!(
            self.data_source(&request.type_name),
            validate_data_resource_config
        );
        let config = try_diags!(
            wire::decode(
                request.config.as_ref(),
                &source.ty,
                "data source configuration"
            ),
            validate_data_resource_config
        );
        let mut diags = deprecation_warnings(&source.schema.block, &config);
        diags.extend(source.inner.validate(&config).await);
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let request = request.into_inner();
        let resource = try_diags!(self.resource(&request.type_name), upgrade_resource_state);
        let raw = request.raw_state.unwrap_or_default();
        if raw.json.is_empty() {
            let diags: Diagnostics = if raw.flatmap.is_empty() {
                Diagnostics::new()
            } else {
                Diagnostic::error(
                    "Legacy state format",
                    "This state was written in the pre-0.12 flatmap format, which this provider does not read. Re-import the resource.",
                )
                .into()
            };
            return Ok(Response::new(pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: wire::diagnostics(&diags),
            }));
        }
        let json: serde_json::Value = try_diags!(
            serde_json::from_slice(&raw.json).map_err(|e| Diagnostics::from(Diagnostic::error(
                "Stored state is not JSON",
                format!("{e}")
            ))),
            upgrade_resource_state
        );
        let upgraded = try_diags!(
            resource.inner.upgrade_state(request.version, json),
            upgrade_resource_state
        );
        let bytes = serde_json::to_vec(&upgraded).unwrap_or_default();
        let value = try_diags!(
            crate::cty::json::decode(&bytes, &resource.ty).map_err(|e| Diagnostics::from(
                Diagnostic::error(
                    "Stored state does not match the schema",
                    format!(
                        "{} state (schema version {}): {e}",
                        request.type_name, request.version
                    )
                )
            )),
            upgrade_resource_state
        );
        let encoded = try_diags!(
            wire::encode(&value, &resource.ty, "upgraded state"),
            upgrade_resource_state
        );
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: Some(encoded),
            diagnostics: Vec::new(),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        // No resource declares an identity; an empty answer tells clients exactly that.
        Ok(Response::new(Default::default()))
    }

    async fn upgrade_resource_identity(
        &self,
        _request: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            diagnostics: unsupported("Resource identity"),
            ..Default::default()
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let request = request.into_inner();
        let config = try_diags!(
            wire::decode(
                request.config.as_ref(),
                &self.provider_type,
                "provider configuration"
            ),
            configure_provider
        );
        let diags = self
            .provider
            .configure(&config, &self.ctx_for(request.client_capabilities.as_ref()))
            .await;
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: wire::diagnostics(&diags),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let request = request.into_inner();
        let resource = try_diags!(self.resource(&request.type_name), read_resource);
        let state = try_diags!(
            wire::decode(
                request.current_state.as_ref(),
                &resource.ty,
                "current state"
            ),
            read_resource
        );
        let ctx = self.ctx_for(request.client_capabilities.as_ref());
        let outcome = resource.inner.read(&state, &request.private, &ctx).await;
        let read = resource.answerable(outcome.state);
        let new_state = try_diags!(
            wire::encode(&read, &resource.ty, "new state"),
            read_resource
        );
        Ok(Response::new(pb::read_resource::Response {
            new_state: Some(new_state),
            diagnostics: wire::diagnostics(&outcome.diagnostics),
            private: outcome.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let request = request.into_inner();
        let resource = try_diags!(self.resource(&request.type_name), plan_resource_change);
        let ty = &resource.ty;
        let prior = try_diags!(
            wire::decode(request.prior_state.as_ref(), ty, "prior state"),
            plan_resource_change
        );
        let proposed = try_diags!(
            wire::decode(request.proposed_new_state.as_ref(), ty, "proposed state"),
            plan_resource_change
        );
        let config = try_diags!(
            wire::decode(request.config.as_ref(), ty, "configuration"),
            plan_resource_change
        );
        if proposed.is_null() {
            // Destroy: nothing to plan; Terraform only needs the null echoed back.
            return Ok(Response::new(pb::plan_resource_change::Response {
                planned_state: request.proposed_new_state,
                planned_private: request.prior_private,
                ..Default::default()
            }));
        }
        let generic = crate::plan::plan(&resource.schema.block, &prior, &proposed, &config);
        let ctx = self.ctx_for(request.client_capabilities.as_ref());
        let mut change = PlanChange {
            prior: &prior,
            config: &config,
            planned: generic.planned,
            requires_replace: generic.requires_replace,
            private: request.prior_private,
            ctx: &ctx,
        };
        let diags = resource.inner.modify_plan(&mut change).await;
        if diags.has_errors() {
            return Ok(Response::new(pb::plan_resource_change::Response {
                diagnostics: wire::diagnostics(&diags),
                ..Default::default()
            }));
        }
        let planned = resource.answerable(change.planned);
        let planned = try_diags!(
            wire::encode(&planned, ty, "planned state"),
            plan_resource_change
        );
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(planned),
            requires_replace: change.requires_replace.iter().map(wire::path).collect(),
            planned_private: change.private,
            diagnostics: wire::diagnostics(&diags),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let request = request.into_inner();
        let resource = try_diags!(self.resource(&request.type_name), apply_resource_change);
        let ty = &resource.ty;
        let prior = try_diags!(
            wire::decode(request.prior_state.as_ref(), ty, "prior state"),
            apply_resource_change
        );
        let planned = try_diags!(
            wire::decode(request.planned_state.as_ref(), ty, "planned state"),
            apply_resource_change
        );
        let config = try_diags!(
            wire::decode(request.config.as_ref(), ty, "configuration"),
            apply_resource_change
        );
        let ctx = self.ctx();
        let apply = ApplyRequest {
            prior: &prior,
            planned: &planned,
            config: &config,
            private: &request.planned_private,
            ctx: &ctx,
        };
        let outcome = if planned.is_null() {
            let diagnostics = resource.inner.delete(apply).await;
            // A failed delete keeps the prior state so the object is not forgotten.
            let state = if diagnostics.has_errors() {
                prior.clone()
            } else {
                Value::Null
            };
            crate::provider::Outcome {
                state,
                private: request.planned_private.clone(),
                diagnostics,
            }
        } else if prior.is_null() {
            resource.inner.create(apply).await
        } else {
            resource.inner.update(apply).await
        };
        let applied = resource.answerable(outcome.state);
        let new_state = try_diags!(
            wire::encode(&applied, ty, "new state"),
            apply_resource_change
        );
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: Some(new_state),
            private: outcome.private,
            diagnostics: wire::diagnostics(&outcome.diagnostics),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let request = request.into_inner();
        let resource = try_diags!(self.resource(&request.type_name), import_resource_state);
        let ctx = self.ctx_for(request.client_capabilities.as_ref());
        let state = try_diags!(
            resource.inner.import(&request.id, &ctx).await,
            import_resource_state
        );
        let state = resource.answerable(state);
        let encoded = try_diags!(
            wire::encode(&state, &resource.ty, "imported state"),
            import_resource_state
        );
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: vec![pb::import_resource_state::ImportedResource {
                type_name: request.type_name,
                state: Some(encoded),
                ..Default::default()
            }],
            ..Default::default()
        }))
    }

    async fn move_resource_state(
        &self,
        _request: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: unsupported("Moving resource state between types"),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let request = request.into_inner();
        let source = try_diags!(self.data_source(&request.type_name), read_data_source);
        let config = try_diags!(
            wire::decode(request.config.as_ref(), &source.ty, "configuration"),
            read_data_source
        );
        let ctx = self.ctx_for(request.client_capabilities.as_ref());
        let outcome = source.inner.read(&config, &ctx).await;
        let state = try_diags!(
            wire::encode(&outcome.state, &source.ty, "data source state"),
            read_data_source
        );
        Ok(Response::new(pb::read_data_source::Response {
            state: Some(state),
            diagnostics: wire::diagnostics(&outcome.diagnostics),
            ..Default::default()
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: unsupported("Ephemeral resources"),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        _request: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: unsupported("Ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        _request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: unsupported("Ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        _request: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: unsupported("Ephemeral resources"),
        }))
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        let name = request.into_inner().name;
        Ok(Response::new(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!(
                    "function {name:?} is not supported by this provider: it defines no functions"
                ),
                function_argument: None,
            }),
        }))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        if let Ok(mut token) = self.cancel.lock() {
            token.cancel();
            *token = tokio_util::sync::CancellationToken::new();
        }
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests;
