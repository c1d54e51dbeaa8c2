//! The provider's `aws` block, the SDK clients `configure` builds from it, and what every
//! AWS resource and data source shares: the "not configured" error naming the block, AWS
//! errors as diagnostics, and the `timeouts` block's wording.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use lab::aws::{Aws, AwsConfig, AwsError};
use lab::validation::{FieldError, PathSegment};
use tfplugin::cty::Value;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::path::AttrPath;
use tfplugin::schema::{Block, NestedBlock};

use crate::derive::{self, Annotations};
use crate::kit::Timeouts;

/// The block's name in `provider "homelab" { ... }`.
pub const BLOCK: &str = "aws";

/// What `configure` made of the `aws` block.
enum Configured {
    /// Ready clients.
    Ready(Arc<Aws>),
    /// The block is there but could not be used; the reason was reported by `configure`.
    Failed(String),
    /// The block holds values that are unknown until apply.
    Unknown,
}

/// The AWS part of the provider's state: empty until `configure` sees an `aws` block.
#[derive(Default)]
pub struct AwsSlot(RwLock<Option<Configured>>);

/// The `aws` block's schema, derived from `lab::aws::AwsConfig`.
pub use crate::derive::{args_from, unknowns_to_null};

pub fn block() -> NestedBlock {
    static BLOCK_SCHEMA: OnceLock<Block> = OnceLock::new();
    let block = BLOCK_SCHEMA.get_or_init(|| {
        let json_schema = serde_json::to_value(schemars::schema_for!(AwsConfig))
            .expect("a JSON schema serialises");
        derive::block_from_json_schema(
            "AWS access for `homelab_aws_*` and `homelab_route53_*`. Credentials come from the \
             standard AWS chain (environment, shared config and credentials files, SSO, \
             process credentials, instance role) unless `access_key` and `secret_key` are set. \
             Throttling and transient errors are retried by the SDK's standard retry policy.",
            &json_schema,
            Annotations {
                sensitive: &["secret_key"],
                ..Annotations::default()
            },
        )
    });
    NestedBlock::single(BLOCK, block.clone())
}

fn config_from(block: &Value) -> Result<AwsConfig, String> {
    args_from::<AwsConfig>(block, &[])
}

/// Checks the `aws` block at validate time (unknown values are checked at configure).
pub fn validate(provider_config: &Value) -> Diagnostics {
    let Some(block) = provider_config.get_attr(BLOCK).filter(|b| !b.is_null()) else {
        return Diagnostics::new();
    };
    if !block.is_known() {
        return Diagnostics::new();
    }
    match config_from(block) {
        Ok(config) => block_diagnostics(&config.validate()),
        Err(e) => Diagnostic::error("Invalid aws block", e).into(),
    }
}

fn block_diagnostics(errors: &[FieldError]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for error in errors {
        let mut path = AttrPath::attr(BLOCK);
        for segment in &error.path {
            if let PathSegment::Field(name) = segment {
                path = path.then_attr(name.clone());
            }
        }
        diags.push(Diagnostic::error("Invalid aws block", format!("aws.{error}")).at(path));
    }
    diags
}

impl AwsSlot {
    /// Builds the SDK clients from the `aws` block (with the AWS environment variables as
    /// fallbacks). No block, no clients, and nothing is sent anywhere.
    pub async fn configure(&self, provider_config: &Value) -> Diagnostics {
        let Some(block) = provider_config.get_attr(BLOCK).filter(|b| !b.is_null()) else {
            *self.0.write().expect("lock") = None;
            return Diagnostics::new();
        };
        if !block.is_known() {
            *self.0.write().expect("lock") = Some(Configured::Unknown);
            return Diagnostics::new();
        }
        let config = match config_from(block) {
            Ok(config) => config.with_env_fallbacks(|name| std::env::var(name).ok()),
            Err(e) => {
                *self.0.write().expect("lock") = Some(Configured::Failed(e.clone()));
                return Diagnostic::error("Invalid aws block", e).into();
            }
        };
        let errors = config.validate();
        if !errors.is_empty() {
            *self.0.write().expect("lock") =
                Some(Configured::Failed("the aws block is invalid".into()));
            return block_diagnostics(&errors);
        }
        match Aws::connect(&config).await {
            Ok(aws) => {
                *self.0.write().expect("lock") = Some(Configured::Ready(Arc::new(aws)));
                Diagnostics::new()
            }
            Err(e) => {
                let text = e.to_string();
                *self.0.write().expect("lock") = Some(Configured::Failed(text.clone()));
                Diagnostic::error("Cannot set up AWS access", text)
                    .at(AttrPath::attr(BLOCK))
                    .into()
            }
        }
    }

    /// The clients, or an error naming the `aws` block for `type_name` to show.
    pub fn clients(&self, type_name: &str) -> Result<Arc<Aws>, Diagnostics> {
        let guard = self.0.read().expect("lock");
        match &*guard {
            Some(Configured::Ready(aws)) => Ok(aws.clone()),
            Some(Configured::Failed(reason)) => Err(Diagnostic::error(
                "AWS is not configured",
                format!("{type_name} needs the provider's `aws` block, which could not be used: {reason}"),
            )
            .into()),
            Some(Configured::Unknown) => Err(Diagnostic::error(
                "AWS is not configured",
                format!(
                    "{type_name} needs the provider's `aws` block, whose values are not known until apply; \
                     set them from variables or constants"
                ),
            )
            .into()),
            None => Err(Diagnostic::error(
                "AWS is not configured",
                format!(
                    "{type_name} needs AWS access: add an `aws` block to the provider, e.g.\n\n  \
                     provider \"homelab\" {{\n    aws {{\n      region = \"eu-west-1\"\n    }}\n  }}\n\n\
                     Credentials come from the standard AWS chain or access_key/secret_key."
                ),
            )
            .into()),
        }
    }
}

/// An AWS failure as a diagnostic: the summary says what we were doing, the detail carries
/// AWS's code and message.
pub fn error(summary: &str, error: AwsError) -> Diagnostics {
    Diagnostic::error(summary, error.to_string()).into()
}

/// The `timeouts` block of AWS resources: `(operation, default)`.
pub fn timeouts(operations: Vec<(&'static str, Duration)>) -> Timeouts {
    Timeouts {
        description: "How long operations may take, as durations (`30s`, `10m`, `1h30m`).",
        operations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin::cty::Type;

    #[test]
    fn provider_block_marks_secret_key_sensitive() {
        let block = block();
        assert!(block.block.get("secret_key").unwrap().sensitive);
        assert!(!block.block.get("access_key").unwrap().sensitive);
        assert_eq!(block.at_most(), Some(1));
    }

    #[derive(serde::Deserialize)]
    struct Pair {
        a: String,
        b: String,
    }

    #[test]
    fn validation_skips_unknown_values() {
        let ty = Type::Object(
            [
                ("a".to_string(), Type::String),
                ("b".to_string(), Type::String),
            ]
            .into(),
        );
        let value = Value::object([("a", Value::unknown()), ("b", Value::String("bad".into()))]);
        let check = |p: &Pair| {
            let mut errors = Vec::new();
            if p.a != "good" {
                errors.push(FieldError::field("a", "not good"));
            }
            if p.b != "good" {
                errors.push(FieldError::field("b", "not good"));
            }
            errors
        };
        let diags = derive::validate_known(
            "Invalid",
            &value,
            &ty,
            &[],
            check,
            derive::field_error_diagnostics,
        );
        assert_eq!(diags.0.len(), 1);
        assert_eq!(diags.0[0].attribute, Some(AttrPath::attr("b")));
    }
}
