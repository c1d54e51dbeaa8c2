//! AWS: EC2 instances, security groups, AMI lookups and Route 53 records, through the
//! official AWS SDK for Rust (feature `aws`).
//!
//! - [`client`]: the connection settings ([`AwsConfig`]: region, profile, static keys,
//!   endpoint override) and the SDK clients built from them with the standard credential
//!   chain ([`Aws`]). Throttling and transient errors are retried by the SDK's standard
//!   retry policy; every other error becomes an [`AwsError::Api`] carrying the AWS error
//!   code and message.
//! - [`instance`]: `homelab_aws_instance`: launch, wait until running, stop/modify/start
//!   for in-place changes, terminate.
//! - [`security_group`]: `homelab_aws_security_group`: exactly the declared rules, applied
//!   as the difference (revoke what is extra, authorise what is missing).
//! - [`route53`]: `homelab_route53_record` and the `homelab_route53_zone` lookup.
//! - [`ami`]: the `homelab_aws_ami` lookup.
//!
//! Like every capability: argument types with `validate()`, a reader of the actual state, a
//! pure `plan`, and the calls that carry the plan out. Nothing here knows Terraform.

pub mod ami;
pub mod client;
pub mod instance;
pub mod route53;
pub mod security_group;

use std::collections::BTreeMap;

pub use client::{Aws, AwsConfig};

/// The SDK crates, for callers (tests) that need a raw call the capabilities do not offer.
pub mod sdk {
    pub use aws_sdk_ec2 as ec2;
    pub use aws_sdk_route53 as route53;
}

use crate::validation::FieldError;

/// What can go wrong talking to AWS.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The arguments are invalid; every problem is listed with its path.
    #[error("invalid {what}: {}", join(errors))]
    Invalid {
        what: String,
        errors: Vec<FieldError>,
    },

    /// AWS (or the service at the endpoint) refused a call: its own error code and message.
    #[error("{operation} failed at {endpoint}: {code}: {message}")]
    Api {
        operation: &'static str,
        endpoint: String,
        code: String,
        message: String,
    },

    /// A call failed without an answer from AWS (connection refused, DNS, TLS, timeout
    /// after the SDK's retries).
    #[error("{operation} failed at {endpoint}: {detail}")]
    Transport {
        operation: &'static str,
        endpoint: String,
        detail: String,
    },

    /// Something that must exist does not (an AMI lookup with no match, a zone by name).
    #[error("{0}")]
    NotFound(String),

    /// An object is in the way that this resource did not create.
    #[error("{0}")]
    AlreadyExists(String),

    /// A query matched several objects where one was expected.
    #[error("{0}")]
    Ambiguous(String),

    /// A wait ran out (or was stopped); says what it waited for, the timeout and the
    /// last state seen.
    #[error(transparent)]
    Timeout(#[from] crate::deadline::WaitEnded),
}

impl AwsError {
    /// The AWS error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether AWS said the object does not exist (`InvalidInstanceID.NotFound`,
    /// `InvalidGroup.NotFound`, `NoSuchHostedZone`...).
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|c| {
            c.ends_with(".NotFound") || c.starts_with("NoSuch") || c == "InvalidGroupId.Malformed"
        })
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Tags as AWS wants them.
pub(crate) fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags as we keep them. AWS-reserved `aws:` tags are not the user's and are left out.
pub(crate) fn tags_map(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// Brings an EC2 resource's tags to `desired`: creates or overwrites what differs and
/// deletes keys no longer declared.
pub(crate) async fn sync_tags(
    aws: &Aws,
    resource_id: &str,
    actual: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let stale: Vec<_> = actual
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
        .collect();
    if !stale.is_empty() {
        aws.ec2
            .delete_tags()
            .resources(resource_id)
            .set_tags(Some(stale))
            .send()
            .await
            .map_err(|e| aws.api_error("DeleteTags", e))?;
    }
    let changed: BTreeMap<String, String> = desired
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        aws.ec2
            .create_tags()
            .resources(resource_id)
            .set_tags(Some(ec2_tags(&changed)))
            .send()
            .await
            .map_err(|e| aws.api_error("CreateTags", e))?;
    }
    Ok(())
}

/// Checks tag keys and values against EC2's limits.
pub(crate) fn validate_tags(tags: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    use crate::validation::PathSegment;
    if tags.len() > 50 {
        errors.push(FieldError::field("tags", "at most 50 tags are allowed"));
    }
    for (key, value) in tags {
        let path = vec![
            PathSegment::Field("tags".into()),
            PathSegment::Key(key.clone()),
        ];
        if key.is_empty() || key.chars().count() > 128 {
            errors.push(FieldError::new(
                path.clone(),
                "tag keys are 1 to 128 characters",
            ));
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            errors.push(FieldError::new(
                path.clone(),
                "tag keys starting with \"aws:\" are reserved for AWS",
            ));
        }
        if value.chars().count() > 256 {
            errors.push(FieldError::new(
                path,
                "tag values are at most 256 characters",
            ));
        }
    }
}
