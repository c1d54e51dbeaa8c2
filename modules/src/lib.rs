//! The `tabiri.homelab` Ansible collection's binary modules.
//!
//! Each module is a thin mapping from its Ansible options to a capability in `lab` (the
//! same engine and the same bytes on disk as the Terraform provider), run by the shared
//! [`runtime`] that implements Ansible's binary module contract. `src/bin/<name>.rs` is
//! one line: `runtime::main(&<name>::MODULE)`.
//!
//! - [`runtime`]: args file, `_ansible_*` keys, output JSON, no_log scrubbing, panics.
//! - [`args`]: argument specs and their checking (types, defaults, choices, groups).
//! - [`backup_job`], [`backup_restore_test`], [`compose_stack`], [`netbird_enroll`], [`traefik_route`], [`prometheus_target`],
//!   [`health_check`], [`docker_logging`]: the
//!   modules, each a `spec()`, a `run(ctx)` and a `documentation()`.
//! - [`docs`]: the collection's sidecar docs and action plugins, from those definitions;
//!   [`lab_docs`] describes the options that are lab fields by the fields' doc comments,
//!   [`fragments`] holds the documentation pieces several modules share.

pub mod args;
pub mod backup_job;
pub mod backup_restore_test;
pub mod compose_stack;
pub mod docker_logging;
pub mod docs;
pub mod fragments;
pub mod health_check;
pub mod lab_docs;
pub mod netbird_enroll;
pub mod prometheus_target;
pub mod runtime;
pub mod traefik_route;

mod common;
