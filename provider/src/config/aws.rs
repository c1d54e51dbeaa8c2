//! The provider's `aws` block, the SDK clients `configure` builds from it, and what every
//! AWS resource and data source shares: the "not configured" error naming the block, AWS
//! errors as diagnostics, and the `timeouts` block's wording.

use std::time::Duration;

use lab::aws::{Aws, AwsConfig, AwsError};
use lab::validation::Validate;
use tfplugin::diag::{Diagnostic, Diagnostics};

use super::slot::{cannot_set_up, invalid, Env, ProviderBlock, Slot};
use crate::kit::Timeouts;

/// The `aws` block: read into `lab::aws::AwsConfig`, connected to the SDK clients.
pub struct AwsBlock;

/// The AWS part of the provider's state.
pub type AwsSlot = Slot<AwsBlock>;

#[tfplugin::async_trait]
impl ProviderBlock for AwsBlock {
    type Settings = AwsConfig;
    type Client = Aws;
    const NAME: &'static str = "aws";
    const PRODUCT: &'static str = "AWS";
    const DESCRIPTION: &'static str =
        "AWS access for `homelab_aws_*` and `homelab_route53_*`. Credentials come from the \
         standard AWS chain (environment, shared config and credentials files, SSO, \
         process credentials, instance role) unless `access_key` and `secret_key` are set. \
         Throttling and transient errors are retried by the SDK's standard retry policy.";
    const SENSITIVE: &'static [&'static str] = &["secret_key"];
    const EXAMPLE: &'static str = "  provider \"homelab\" {\n    aws {\n      region = \"eu-west-1\"\n    }\n  }\n\nCredentials come from the standard AWS chain or access_key/secret_key.";

    /// The SDK clients, with the AWS environment variables as fallbacks. Without a block
    /// AWS is not configured, whatever the environment says: nothing is sent anywhere.
    async fn connect(
        settings: AwsConfig,
        written: bool,
        env: Env<'_>,
        _warnings: &mut Diagnostics,
    ) -> Result<Option<Aws>, Diagnostics> {
        if !written {
            return Ok(None);
        }
        let settings = settings.with_env_fallbacks(env);
        let errors = settings.validate();
        if !errors.is_empty() {
            return Err(invalid::<Self>(&errors));
        }
        Aws::connect(&settings)
            .await
            .map(Some)
            .map_err(|e| cannot_set_up::<Self>("", e.to_string()))
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
    use crate::derive;
    use lab::validation::FieldError;
    use tfplugin::cty::{Type, Value};
    use tfplugin::path::AttrPath;

    #[test]
    fn provider_block_marks_secret_key_sensitive() {
        let block = super::super::slot::block::<AwsBlock>();
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
