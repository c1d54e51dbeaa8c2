//! The homelab domain of Tabiri Homelab: one definition per capability, shared by the
//! Terraform provider (`terraform-provider-homelab`) and the Ansible modules
//! (`tabiri.homelab`).
//!
//! Knows nothing of Terraform or Ansible: surfaces map their values to the types here
//! (serde, with schemars for the JSON schema their own schemas and docs derive from) and
//! call the same engine, so a Terraform plan, an Ansible check run and an Ansible diff
//! are the same comparison and the same inputs give the same bytes on disk.
//!
//! Each capability follows one shape: an argument type with `validate() ->
//! Vec<FieldError>`, a reader of the actual state, a pure `plan` comparing the two and an
//! `apply` carrying the plan out.
//!
//! - [`validation`]: field errors with the path of the argument they concern.
//! - [`files`]: atomic local file writes and reads.
//! - [`traefik_rule`]: parser and checker for Traefik v3 router rules.
//! - [`traefik_route`]: the Traefik route capability (`homelab_traefik_route`,
//!   `traefik_route`).

pub mod error;
pub mod files;
pub mod traefik_route;
pub mod traefik_rule;
pub mod validation;

pub use error::Error;
