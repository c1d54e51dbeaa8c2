//! AWS connection settings and the SDK clients built from them.
//!
//! Credentials come from the standard AWS chain (environment, shared config and
//! credentials files with `profile`, SSO, process credentials, web identity, container and
//! instance roles) unless static keys are given. `endpoint` (or `AWS_ENDPOINT_URL`) points
//! both EC2 and Route 53 at a compatible service, which is how tests reach moto.

use std::fmt;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::config::{Credentials, Region};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AwsError;
use crate::secret::Secret;
use crate::validation::FieldError;
use crate::validation::Validate;

/// How to reach AWS. Every field is optional: what is left out comes from the standard
/// AWS configuration (environment variables, `~/.aws/config`, SSO, instance role).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The AWS region, e.g. `eu-west-1`. Falls back to `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// then the profile's region.
    #[serde(default)]
    pub region: Option<String>,
    /// A named profile from the shared AWS config and credentials files (SSO profiles
    /// included). Falls back to `AWS_PROFILE`.
    #[serde(default)]
    pub profile: Option<String>,
    /// A static access key ID; set together with `secret_key`. Falls back to the standard
    /// credential chain (`AWS_ACCESS_KEY_ID`, profile, SSO, instance role).
    #[serde(default)]
    pub access_key: Option<String>,
    /// The secret access key belonging to `access_key`. Never logged.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    /// An endpoint URL overriding the EC2 and Route 53 endpoints, for EC2/Route 53-compatible
    /// services (moto, LocalStack). Falls back to `AWS_ENDPOINT_URL`; leave unset against
    /// real AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl AwsConfig {
    /// Fills unset fields from the environment variables users know from the AWS CLI.
    /// (The SDK reads most of them itself; doing it here makes the effective settings
    /// visible and lets `validate` check them.)
    pub fn with_env_fallbacks(mut self, env: impl Fn(&str) -> Option<String>) -> Self {
        let nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if self.region.is_none() {
            self.region = nonempty("AWS_REGION").or_else(|| nonempty("AWS_DEFAULT_REGION"));
        }
        if self.endpoint.is_none() {
            self.endpoint = nonempty("AWS_ENDPOINT_URL");
        }
        self
    }
}

impl Validate for AwsConfig {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match (&self.access_key, &self.secret_key) {
            (Some(_), None) => errors.push(FieldError::field(
                "secret_key",
                "must be set together with access_key",
            )),
            (None, Some(_)) => errors.push(FieldError::field(
                "access_key",
                "must be set together with secret_key",
            )),
            _ => {}
        }
        if let Some(region) = &self.region {
            let ok = !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                errors.push(FieldError::field(
                    "region",
                    format!("{region:?} is not an AWS region name like \"eu-west-1\""),
                ));
            }
        }
        if let Some(endpoint) = &self.endpoint {
            match url::Url::parse(endpoint) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
                _ => errors.push(FieldError::field(
                    "endpoint",
                    format!("{endpoint:?} is not an http(s) URL"),
                )),
            }
        }
        errors
    }
}

/// The SDK clients for one provider configuration.
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub route53: aws_sdk_route53::Client,
    /// The region in use, for messages.
    pub region: String,
    /// Where requests go, for messages: the override or `AWS (region)`.
    pub endpoint: String,
}

impl fmt::Debug for Aws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aws")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Aws {
    /// Builds the clients. Nothing is sent yet: credentials are resolved on the first call.
    pub async fn connect(config: &AwsConfig) -> Result<Aws, AwsError> {
        let errors = config.validate();
        if !errors.is_empty() {
            return Err(AwsError::Invalid {
                what: "aws configuration".into(),
                errors,
            });
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let (Some(access_key), Some(secret_key)) = (&config.access_key, &config.secret_key) {
            loader = loader.credentials_provider(Credentials::new(
                access_key,
                secret_key.expose(),
                None,
                None,
                "homelab-provider-aws-block",
            ));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint.trim_end_matches('/'));
        }
        let shared = loader.load().await;
        let Some(region) = shared.region().map(|r| r.to_string()) else {
            return Err(AwsError::Invalid {
                what: "aws configuration".into(),
                errors: vec![FieldError::field(
                    "region",
                    "no region is set: set region in the aws block, AWS_REGION, or the profile's region",
                )],
            });
        };
        let endpoint = match &config.endpoint {
            Some(url) => url.clone(),
            None => format!("AWS ({region})"),
        };
        // Route 53 is global: its API lives in us-east-1 whatever region EC2 uses.
        let route53_config = aws_sdk_route53::config::Builder::from(&shared)
            .region(Region::new("us-east-1"))
            .build();
        Ok(Aws {
            ec2: aws_sdk_ec2::Client::new(&shared),
            route53: aws_sdk_route53::Client::from_conf(route53_config),
            region,
            endpoint,
        })
    }

    /// Turns an SDK error into ours: the AWS code and message when AWS answered, the
    /// transport failure (with its causes) otherwise.
    pub fn api_error<E, R>(&self, operation: &'static str, error: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        if let Some(code) = error.code() {
            return AwsError::Api {
                operation,
                endpoint: self.endpoint.clone(),
                code: code.to_string(),
                message: error.message().unwrap_or("(no message)").to_string(),
            };
        }
        AwsError::Transport {
            operation,
            endpoint: self.endpoint.clone(),
            detail: aws_sdk_ec2::error::DisplayErrorContext(&error).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_fallbacks_fill_only_unset_fields() {
        let env = |name: &str| match name {
            "AWS_DEFAULT_REGION" => Some("eu-central-1".to_string()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:5000".to_string()),
            _ => None,
        };
        let config = AwsConfig::default().with_env_fallbacks(env);
        assert_eq!(config.region.as_deref(), Some("eu-central-1"));
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        let config = AwsConfig {
            region: Some("eu-west-1".into()),
            ..AwsConfig::default()
        }
        .with_env_fallbacks(env);
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn validation_pairs_keys_and_checks_endpoint() {
        let config = AwsConfig {
            access_key: Some("AKIA".into()),
            endpoint: Some("localhost:5000".into()),
            region: Some("EU West".into()),
            ..AwsConfig::default()
        };
        let text: Vec<String> = config.validate().iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with("secret_key:"));
        assert!(text.iter().any(|t| t.starts_with("endpoint:")));
        assert!(text.iter().any(|t| t.starts_with("region:")));
    }

    #[test]
    fn secret_key_never_prints() {
        let config = AwsConfig {
            access_key: Some("AKIA".into()),
            secret_key: Some(Secret::new("hunter2")),
            ..AwsConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
