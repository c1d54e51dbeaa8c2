//! The `tabiri/homelab` Terraform provider: the provider configuration and one module per
//! resource or data source, each mapping Terraform values to a capability in `lab`.
//! Protocol work lives in `tfplugin`; domain work lives in `lab`.

pub mod derive;
pub mod docs;
pub mod resources;

use std::sync::Arc;

use tfplugin::cty::Value;
use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource, Provider, Resource};
use tfplugin::schema::{Block, Schema};

/// The registry address Terraform knows the provider by.
pub const ADDRESS: &str = "registry.terraform.io/tabiri/homelab";

#[derive(Default)]
pub struct HomelabProvider;

impl HomelabProvider {
    pub fn new() -> Self {
        Self
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
                "The `homelab` provider describes a whole homelab (Traefik routes first; \
                 Proxmox, AWS and NetBird blocks follow) in HCL. Every block is optional: \
                 configure what the lab uses.",
            ),
        )
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(resources::traefik_route::TraefikRouteResource)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }

    async fn configure(&self, _config: &Value, _ctx: &Ctx) -> Diagnostics {
        Diagnostics::new()
    }
}
