//! Terraform plugin protocol 6, server side: everything a provider needs to be started
//! by Terraform and answer its RPCs. Knows nothing of any particular provider.
//!
//! - [`cty`]: types and values, msgpack and JSON wire forms.
//! - [`schema`], [`plan`], [`diag`], [`path`]: describing resources and planning changes.
//! - [`provider`]: the traits a provider implements.
//! - [`server`]: handshake, AutoMTLS, gRPC services.
pub mod client;
pub mod cty;
pub mod diag;
mod object_ops;
pub mod path;
pub mod plan;
pub mod proto;
pub mod provider;
pub mod schema;
pub mod serde_bridge;
pub mod server;

pub use provider::async_trait;
