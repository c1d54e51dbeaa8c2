//! The `homelab_aws_ami` lookup: an AMI by owners and name pattern.

use aws_sdk_ec2::types::{Filter, Image};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Aws, AwsError};
use crate::validation::FieldError;
use crate::validation::Validate;

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmiLookup {
    /// Account IDs or aliases (`amazon`, `aws-marketplace`, `self`) that own the image,
    /// e.g. `["099720109477"]` for Canonical.
    pub owners: Vec<String>,
    /// The image name; `*` matches any characters and `?` one, e.g.
    /// `ubuntu/images/hvm-ssd/ubuntu-*`.
    #[serde(default)]
    pub name: Option<String>,
    /// With several matches, take the newest by creation date. When false, several matches
    /// are an error.
    #[serde(default)]
    pub most_recent: bool,
}

impl Validate for AmiLookup {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.owners.is_empty() {
            errors.push(FieldError::field(
                "owners",
                "name at least one owner (an account ID, or amazon, aws-marketplace, self)",
            ));
        }
        for (i, owner) in self.owners.iter().enumerate() {
            if owner.trim().is_empty() {
                errors.push(FieldError::item("owners", i, "must not be empty"));
            }
        }
        if self.name.as_deref() == Some("") {
            errors.push(FieldError::field("name", "must not be empty"));
        }
        errors
    }
}

/// An AMI found by a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ami {
    pub id: String,
    pub name: String,
    pub creation_date: String,
    pub owner_id: String,
    pub architecture: String,
    pub root_device_name: String,
    pub description: String,
}

impl From<&Image> for Ami {
    fn from(image: &Image) -> Self {
        let s = |v: Option<&str>| v.unwrap_or_default().to_string();
        Ami {
            id: s(image.image_id()),
            name: s(image.name()),
            creation_date: s(image.creation_date()),
            owner_id: s(image.owner_id()),
            architecture: image
                .architecture()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            root_device_name: s(image.root_device_name()),
            description: s(image.description()),
        }
    }
}

/// Picks the result (pure): one match, or the newest with `most_recent` (ties broken by
/// name, then ID, so the answer is stable).
pub fn choose(lookup: &AmiLookup, mut found: Vec<Ami>) -> Result<Ami, AwsError> {
    let what = || {
        format!(
            "owners {:?}{}",
            lookup.owners,
            lookup
                .name
                .as_ref()
                .map(|n| format!(" and name {n:?}"))
                .unwrap_or_default()
        )
    };
    match found.len() {
        0 => Err(AwsError::NotFound(format!(
            "no AMI matches {}; check the owners and the name pattern",
            what()
        ))),
        1 => Ok(found.remove(0)),
        n if !lookup.most_recent => Err(AwsError::Ambiguous(format!(
            "{n} AMIs match {}: make the name pattern more specific, or set most_recent = true",
            what()
        ))),
        _ => {
            found.sort_by(|a, b| {
                (&a.creation_date, &a.name, &a.id).cmp(&(&b.creation_date, &b.name, &b.id))
            });
            Ok(found.pop().expect("not empty"))
        }
    }
}

/// Looks the AMI up.
pub async fn lookup(aws: &Aws, lookup: &AmiLookup) -> Result<Ami, AwsError> {
    let mut request = aws
        .ec2
        .describe_images()
        .set_owners(Some(lookup.owners.clone()))
        .filters(Filter::builder().name("state").values("available").build());
    if let Some(name) = &lookup.name {
        request = request.filters(Filter::builder().name("name").values(name).build());
    }
    let output = request
        .send()
        .await
        .map_err(|e| aws.api_error("DescribeImages", e))?;
    choose(lookup, output.images().iter().map(Ami::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ami(id: &str, name: &str, date: &str) -> Ami {
        Ami {
            id: id.into(),
            name: name.into(),
            creation_date: date.into(),
            owner_id: "099720109477".into(),
            architecture: "x86_64".into(),
            root_device_name: "/dev/sda1".into(),
            description: String::new(),
        }
    }

    #[test]
    fn most_recent_picks_the_newest_and_ambiguity_is_an_error() {
        let found = vec![
            ami("ami-2", "ubuntu-noble", "2024-06-01T00:00:00.000Z"),
            ami("ami-1", "ubuntu-jammy", "2024-01-01T00:00:00.000Z"),
        ];
        let mut lookup = AmiLookup {
            owners: vec!["amazon".into()],
            name: Some("ubuntu-*".into()),
            most_recent: false,
        };
        let error = choose(&lookup, found.clone()).unwrap_err().to_string();
        assert!(
            error.contains("2 AMIs match") && error.contains("most_recent"),
            "{error}"
        );
        lookup.most_recent = true;
        assert_eq!(choose(&lookup, found).unwrap().id, "ami-2");
        assert!(choose(&lookup, vec![])
            .unwrap_err()
            .to_string()
            .starts_with("no AMI matches"));
    }
}
