//! Generated protobuf/gRPC code (prost + tonic), built from `proto/` by
//! `build.rs`.
//!
//! - [`tfplugin6`]: Terraform plugin protocol 6.9. The provider implements
//!   [`tfplugin6::provider_server::Provider`] and serves it with
//!   [`tfplugin6::provider_server::ProviderServer`];
//!   [`tfplugin6::provider_client::ProviderClient`] lets tests act as
//!   Terraform.
//! - [`plugin`]: go-plugin's auxiliary services that Terraform expects next
//!   to the provider: `GRPCController` (Shutdown), `GRPCStdio` (stdout/stderr
//!   forwarding) and `GRPCBroker`, each with server and client.
//! - [`google::protobuf`]: the well-known types used above
//!   (`Timestamp`, for ephemeral resource renewal times).
//!   `google.protobuf.Empty` maps to `()`.
//!
//! This module only holds wire types; it knows nothing of homelabs.

/// Terraform plugin protocol 6 (minor version 9), package `tfplugin6`.
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's auxiliary services, package `plugin`
/// (e.g. `/plugin.GRPCController/Shutdown`).
pub mod plugin {
    tonic::include_proto!("plugin");
}

/// Protobuf well-known types referenced by the protocols above.
pub mod google {
    /// Package `google.protobuf`.
    pub mod protobuf {
        tonic::include_proto!("google.protobuf");
    }
}

/// Encoded `FileDescriptorSet` of every proto compiled into this module
/// (including imported well-known types), without source info. Useful for
/// gRPC reflection or decoding messages dynamically.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tfplugin_descriptor.bin"));

impl From<std::time::SystemTime> for google::protobuf::Timestamp {
    /// Converts a wall-clock time, normalising pre-epoch times so that
    /// `nanos` is always in `0..1_000_000_000`. Saturates at `i64` seconds.
    fn from(time: std::time::SystemTime) -> Self {
        match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => Self {
                seconds: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                nanos: after.subsec_nanos() as i32,
            },
            Err(err) => {
                let before = err.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => Self {
                        seconds: -secs,
                        nanos: 0,
                    },
                    n => Self {
                        seconds: -secs.saturating_add(1),
                        nanos: (1_000_000_000 - n) as i32,
                    },
                }
            }
        }
    }
}
