//! The provider's `ssh` block: defaults for every `host { }` block (user, key, agent,
//! known_hosts, bastion, timeouts), and the one SSH connection pool of the provider
//! process, which every on-host resource shares.

use std::sync::{OnceLock, RwLock};

use lab::host::ssh::SshPool;
use lab::host::target::SshDefaults;
use lab::validation::PathSegment;
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::{Block, NestedBlock};

use crate::derive::{self, Annotations};

/// The block's name in `provider "homelab" { ... }`.
pub const BLOCK: &str = "ssh";

/// Attributes that hold credentials, in this block and in every `host` and `bastion` block.
pub const SENSITIVE: &[&str] = &["private_key", "private_key_passphrase"];

/// The SSH side of the provider's state.
#[derive(Default)]
pub struct SshSlot {
    defaults: RwLock<SshDefaults>,
    /// One connection per host for the whole provider process.
    pub pool: SshPool,
}

pub fn block() -> NestedBlock {
    static BLOCK_SCHEMA: OnceLock<Block> = OnceLock::new();
    let block = BLOCK_SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(SshDefaults))
            .expect("a JSON schema serialises");
        derive::block_from_json_schema(
            "Defaults for every resource's `host { }` block: how to log in, how host keys are \
             checked (`known_hosts`), a bastion, and connection timeouts. Host keys are always \
             verified. One SSH connection per host is shared by every resource on it.",
            &json_schema,
            Annotations {
                sensitive: SENSITIVE,
                blocks: &["bastion"],
                ..Annotations::default()
            },
        )
    });
    NestedBlock::single(BLOCK, block.clone())
}

fn defaults_from(provider_config: &Value) -> Result<Option<SshDefaults>, Diagnostics> {
    let Some(block) = provider_config.get_attr(BLOCK).filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    if !block.is_known() {
        return Ok(None);
    }
    derive::args_from::<SshDefaults>(block, &[])
        .map(Some)
        .map_err(|e| Diagnostic::error("Invalid ssh block", e).into())
}

/// Checks the `ssh` block (unknown values are checked when they are known).
pub fn validate(provider_config: &Value) -> Diagnostics {
    match defaults_from(provider_config) {
        Ok(Some(defaults)) => derive::field_error_diagnostics(
            "Invalid ssh block",
            &defaults.validate(&[PathSegment::Field(BLOCK.into())]),
        ),
        Ok(None) => Diagnostics::new(),
        Err(diags) => diags,
    }
}

impl SshSlot {
    pub fn configure(&self, provider_config: &Value) -> Diagnostics {
        let diags = validate(provider_config);
        if diags.has_errors() {
            return diags;
        }
        match defaults_from(provider_config) {
            Ok(defaults) => {
                *self.defaults.write().expect("lock") = defaults.unwrap_or_default();
                diags
            }
            Err(diags) => diags,
        }
    }

    pub fn defaults(&self) -> SshDefaults {
        self.defaults.read().expect("lock").clone()
    }
}
