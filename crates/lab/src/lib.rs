//! The homelab domain of Tabiri Homelab: one definition per capability, shared by the
//! Terraform provider (`terraform-provider-homelab`) and the Ansible modules
//! (`tabiri.homelab`).
//!
//! Knows nothing of Terraform or Ansible: surfaces map their values to the types here
//! (serde, with schemars for the JSON schema their own schemas and docs derive from) and
//! call the same engine, so a Terraform plan, an Ansible check run and an Ansible diff
//! are the same comparison and the same inputs give the same bytes on disk.
//!
//! Each capability follows one shape: an argument type implementing
//! [`validation::Validate`] (every problem at once, each at its path), a reader of the
//! actual state, a pure `plan` comparing the two and an `apply` carrying the plan out.
//!
//! - `aws` (feature `aws`): EC2 instances, security groups, AMI lookups and Route 53
//!   records through the official AWS SDK (`homelab_aws_*`, `homelab_route53_*`).
//! - [`backup`]: restic backup jobs that prove themselves: dumps with pipefail, stale
//!   locks, heartbeats, metrics, restore drills (`homelab_backup_job`, `backup_job`).
//! - [`compose`]: Docker Compose stacks on a host (`homelab_compose_stack`).
//! - [`deadline`]: the one deadline type of every wait, naming its setting and carrying
//!   the caller's stop signal.
//! - [`validation`]: field errors with the path of the argument they concern.
//! - [`defaults`]: serde defaults the argument types share.
//! - [`secret`]: the type for passwords and tokens, which never prints.
//! - [`files`]: atomic local file writes and reads.
//! - `host` (feature `hosts`): the one `Host` every on-host capability acts through, local
//!   or over SSH (russh), with one shared connection per host.
//! - [`file_plan`]: plan and apply for capabilities that manage one whole file.
//! - `http` (feature `blocking-http`): a small blocking HTTP(S) client, no async runtime.
//! - [`traefik`]: the Traefik route capability (`homelab_traefik_route`,
//!   `traefik_route`) and its parser and checker for Traefik v3 router rules.
//! - [`netbird`]: the NetBird mesh: groups, setup keys, policies, routes, peers enrolled
//!   from the host (`homelab_netbird_*`, `netbird_enroll`).
//! - [`prometheus_target`]: Prometheus file_sd scrape targets (`prometheus_target`).
//! - `health_check` (feature `blocking-http`): HTTP(S) and TCP health checks with retries
//!   (`health_check`).
//! - [`docker_logging`]: json-file log rotation in dockerd's daemon.json
//!   (`docker_logging`).
//! - `proxmox` (feature `async-http`): the Proxmox VE API client and the VM, container and
//!   node capabilities (`homelab_proxmox_vm`, `homelab_proxmox_lxc`, `homelab_proxmox_nodes`).
//!
//! Features: `async-http` (default) gives the async Traefik waits over reqwest and tokio,
//! for the Terraform provider; `blocking-http` gives `http`, `health_check` and
//! the blocking Traefik waits, for the Ansible modules, which turn `async-http` off;
//! `aws` (default) gives `aws` over the AWS SDK for Rust, which the modules leave off.

#[cfg(feature = "aws")]
pub mod aws;
pub mod backup;
pub mod compose;
pub mod deadline;
pub mod defaults;
pub mod docker_logging;
pub mod duration;
pub mod error;
pub mod file_plan;
pub mod files;
#[cfg(feature = "blocking-http")]
pub mod health_check;
#[cfg(feature = "host-api")]
pub mod host;
#[cfg(feature = "blocking-http")]
pub mod http;
pub mod netbird;
pub mod prometheus_target;
#[cfg(feature = "async-http")]
pub mod proxmox;
pub mod secret;
pub mod traefik;
pub mod validation;

pub use error::Error;
