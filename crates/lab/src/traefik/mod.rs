//! The Traefik route capability: one file per route in a Traefik file-provider directory.
//!
//! Each route is a router and its load-balanced service, written as `<name>.toml` into
//! the directory Traefik's file provider watches. Terraform (`homelab_traefik_route`) and
//! Ansible (`traefik_route`) both drive it through the same steps:
//!
//! 1. [`TraefikRoute::validate`] the arguments (the rule through [`rule`]);
//! 2. [`read_route_file`] the actual state;
//! 3. [`plan`] the change (this is Terraform's plan, Ansible's check and diff mode);
//! 4. [`apply`] it, then optionally `wait_until_routed` / `wait_until_unrouted`.
//!
//! Files we write start with an ownership header line ([`HEADER_PREFIX`]); a file without
//! it was written by someone else and is only overwritten or deleted when the caller says
//! it owns the path ([`Ownership::Owned`], e.g. a Terraform resource that imported it).
//!
//! `route.rs` holds the arguments and their checks, `file.rs` the file (render, read
//! back, plan, apply), `rule.rs` the rule parser, `wait.rs` the wait for Traefik's API.

mod file;
mod route;
pub mod rule;
#[cfg(any(feature = "async-http", feature = "blocking-http"))]
mod wait;

pub use file::*;
pub use route::*;
#[cfg(any(feature = "async-http", feature = "blocking-http"))]
pub use wait::*;
