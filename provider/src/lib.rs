//! The `tabiri/homelab` Terraform provider: the provider configuration and one module per
//! resource or data source, each mapping Terraform values to a capability in `lab`.
//! Protocol work lives in `tfplugin`; domain work lives in `lab`.

pub mod config;
pub mod data_sources;
pub mod derive;
pub mod docs;
pub mod host;
pub mod kit;
pub mod resources;
pub mod timeouts;

use std::sync::Arc;

use tfplugin::cty::Value;
use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Block, Schema};

/// The registry address Terraform knows the provider by.
pub const ADDRESS: &str = "registry.terraform.io/tabiri/homelab";

/// The provider. Resources hold an `Arc` of the state `configure` fills from the provider
/// blocks (`config::ProviderState`).
#[derive(Default)]
pub struct HomelabProvider {
    state: Arc<config::ProviderState>,
}

impl HomelabProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

#[tfplugin::async_trait]
impl Provider for HomelabProvider {
    fn type_name(&self) -> &str {
        "homelab"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(
                "The `homelab` provider describes a whole homelab in HCL: Traefik routes and \
                 Prometheus targets on hosts reached locally or over SSH (`ssh` block), \
                 Proxmox guests (`proxmox` block), AWS instances, security groups and \
                 Route 53 records (`aws` block), and the NetBird mesh: groups, setup keys, \
                 policies, routes and enrolled hosts (`netbird` block); restic backup jobs that \
                 prove themselves on those hosts. Every block is optional: configure what the \
                 lab uses; a resource whose block is missing fails at plan naming it.",
            )
            .block(config::ssh::block())
            .block(config::slot::block::<config::aws::AwsBlock>())
            .block(config::slot::block::<config::proxmox::ProxmoxBlock>())
            .block(config::slot::block::<config::netbird::NetbirdBlock>()),
        )
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        let state = &self.state;
        vec![
            kit::resource(
                resources::traefik_route::TraefikRouteResource::default(),
                state.clone(),
            ),
            kit::resource(
                resources::prometheus_target::PrometheusTargetResource::default(),
                state.clone(),
            ),
            kit::resource(
                resources::compose_stack::ComposeStackResource,
                state.clone(),
            ),
            kit::resource(resources::backup_job::BackupJobResource, state.clone()),
            kit::resource(
                resources::netbird_group::NetbirdGroupResource::default(),
                state.clone(),
            ),
            kit::resource(
                resources::netbird_setup_key::NetbirdSetupKeyResource,
                state.clone(),
            ),
            kit::resource(
                resources::netbird_policy::NetbirdPolicyResource::default(),
                state.clone(),
            ),
            kit::resource(
                resources::netbird_route::NetbirdRouteResource::default(),
                state.clone(),
            ),
            kit::resource(resources::netbird_peer::NetbirdPeerResource, state.clone()),
            kit::resource(resources::aws_instance::AwsInstanceResource, state.clone()),
            kit::resource(
                resources::aws_security_group::AwsSecurityGroupResource,
                state.clone(),
            ),
            kit::resource(
                resources::route53_record::Route53RecordResource,
                state.clone(),
            ),
            kit::resource(
                resources::proxmox_vm::ProxmoxVmResource::new(state.clone()),
                state.clone(),
            ),
            kit::resource(
                resources::proxmox_lxc::ProxmoxLxcResource::new(state.clone()),
                state.clone(),
            ),
            kit::resource(
                resources::proxmox_backup_job::ProxmoxBackupJobResource,
                state.clone(),
            ),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        let state = &self.state;
        vec![
            kit::data_source(data_sources::aws_ami::AwsAmiDataSource, state.clone()),
            kit::data_source(
                data_sources::route53_zone::Route53ZoneDataSource,
                state.clone(),
            ),
            kit::data_source(
                data_sources::proxmox_nodes::ProxmoxNodesDataSource,
                state.clone(),
            ),
            kit::data_source(
                data_sources::backup_snapshots::BackupSnapshotsDataSource,
                state.clone(),
            ),
            kit::data_source(
                data_sources::netbird_group::NetbirdGroupDataSource,
                state.clone(),
            ),
            kit::data_source(
                data_sources::netbird_peers::NetbirdPeersDataSource,
                state.clone(),
            ),
        ]
    }

    async fn validate_config(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        diags.extend(config::slot::validate::<config::aws::AwsBlock>(config));
        diags.extend(config::slot::validate::<config::proxmox::ProxmoxBlock>(
            config,
        ));
        diags.extend(config::slot::validate::<config::netbird::NetbirdBlock>(
            config,
        ));
        diags.extend(config::ssh::validate(config));
        diags
    }

    async fn configure(&self, config: &Value, _ctx: &Ctx) -> Diagnostics {
        let mut diags = Diagnostics::new();
        diags.extend(self.state.aws.configure(config).await);
        diags.extend(self.state.proxmox.configure(config).await);
        diags.extend(self.state.netbird.configure(config).await);
        diags.extend(self.state.ssh.configure(config));
        diags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schemas are derived at first use; a derivation that panics (a misnamed block, a type
    /// with no Terraform equivalent) must fail here, not in the first `terraform` run.
    #[test]
    fn every_schema_builds() {
        let provider = HomelabProvider::new();
        assert!(provider
            .schema()
            .block
            .blocks
            .iter()
            .any(|b| b.type_name == "ssh"));
        for resource in provider.resources() {
            resource.schema();
        }
        for data_source in provider.data_sources() {
            data_source.schema();
        }
        let route = provider
            .resources()
            .into_iter()
            .find(|r| r.type_name() == "homelab_traefik_route")
            .expect("the route resource");
        let schema = route.schema();
        let host = schema
            .block
            .blocks
            .iter()
            .find(|b| b.type_name == "host")
            .expect("host block");
        assert!(host.block.blocks.iter().any(|b| b.type_name == "bastion"));
        let key = host.block.get("private_key").expect("private_key");
        assert!(key.sensitive);
    }
}
